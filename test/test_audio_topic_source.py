"""audio_features_node with ``source:=topic``: the real audio_common 4.0.10 messages
(``AudioStamped{header, audio: Audio{audio_data: AudioData, info: AudioInfo}}``) over DDS, and
the ros-drivers 0.3 layout (``AudioDataStamped{header, audio: AudioData{uint8[] data}}``, which
has no wheel) through the decoder with stand-in objects of that layout."""

import subprocess
import time
from importlib.util import find_spec
from types import SimpleNamespace as Msg

import numpy as np
import pytest

from conftest import node_command, spin_until
from lhg_ros.features.audio import FEATURE_DIM, num_frames
from lhg_ros.sources.audio import AudioMessageStream, samples_from_audio_message

needs_audio_common = pytest.mark.skipif(
    find_spec('audio_common_msgs') is None,
    reason='audio_common_msgs 4.x is not installed (scripts/install_launch_wheels.sh, '
           '../shared/wheels/ros2-launch)')

NOW = 1_800_000_000.0  # a wall clock
ROW_S = 0.01  # one feature row per 10 ms
# PortAudio format code -> AudioData field, as audio_common 4.x fills them.
FIELDS = {1: 'float32_data', 2: 'int32_data', 8: 'int16_data', 16: 'int8_data',
          32: 'uint8_data'}


def stamp(seconds):
    nanoseconds = int(round(seconds * 1e9))
    return Msg(sec=nanoseconds // 1_000_000_000, nanosec=nanoseconds % 1_000_000_000)


def audio_stamped(samples, rate, code, first_sample_time, channels=None, field=None):
    """A real ``audio_common_msgs/AudioStamped`` carrying (n, channels) ``samples``."""
    from audio_common_msgs.msg import AudioStamped

    from lhg_ros.nodes.common import stamp_from_seconds

    samples = np.asarray(samples)
    if samples.ndim == 1:
        samples = samples[:, np.newaxis]
    msg = AudioStamped()
    msg.header.stamp = stamp_from_seconds(first_sample_time)
    msg.audio.info.format = code
    msg.audio.info.channels = samples.shape[1] if channels is None else channels
    msg.audio.info.rate = rate
    msg.audio.info.chunk = len(samples)
    setattr(msg.audio.audio_data, field or FIELDS[code], samples.ravel())
    return msg


# ---------------------------------------------------------------- decoding, no DDS


@needs_audio_common
@pytest.mark.parametrize('code, dtype', [(1, np.float32), (2, np.int32), (8, np.int16),
                                         (16, np.int8), (32, np.uint8)])
def test_every_audio_common_4_format_decodes_to_its_samples_channels_and_rate(code, dtype):
    info = np.iinfo(dtype) if np.dtype(dtype).kind in 'iu' else None
    values = (np.array([[0.5, -0.25], [0.125, 0.0], [-1.0, 0.75]], np.float32) if info is None
              else np.array([[info.min, info.max], [0, 1], [info.max, info.min]], dtype))
    samples, rate = samples_from_audio_message(audio_stamped(values, 44100, code, NOW),
                                               'S16LE', 16000, 1)
    assert rate == 44100 and samples.dtype == dtype
    np.testing.assert_array_equal(samples, values)


def test_the_0_3_layout_decodes_with_the_configured_format_rate_and_channels():
    """ros-drivers audio_common 0.3 (AudioData{uint8[] data}, AudioDataStamped{header, audio}):
    raw bytes, described only by the node's topic.* parameters."""
    pcm = np.array([[1, -1], [300, -300], [32767, -32768]], dtype='<i2')
    stamped = Msg(header=Msg(stamp=stamp(NOW - 0.1)), audio=Msg(data=pcm.tobytes()))
    samples, rate = samples_from_audio_message(stamped, 'S16LE', 22050, 2)
    assert rate == 22050
    np.testing.assert_array_equal(samples, pcm)
    stream = AudioMessageStream('S16LE', 22050, 2)
    assert stream.chunk(stamped, NOW).first_sample_time == pytest.approx(NOW - 0.1, abs=1e-6)
    # Unstamped AudioData: taken as captured just before it arrived.
    chunk = stream.chunk(Msg(data=pcm.tobytes()), NOW)
    assert chunk.first_sample_time == pytest.approx(NOW - 3 / 22050)
    for bad, reason in [(pcm.tobytes()[:-1], 'not a whole number of S16LE frames'),
                        (b'', r'no samples \(data is empty\)')]:
        with pytest.raises(ValueError, match=reason):
            stream.chunk(Msg(data=bad), NOW)


def malformed_messages(now, last_stamp):
    """(what is wrong, the message, the reason the node gives) for a 16 kHz mono int16 stream."""
    good = np.zeros(320, np.int16)
    return [
        ('unknown format code', audio_stamped(good, 16000, 4, now, field='int16_data'),
         'unknown PortAudio sample format 4'),
        ('samples not divisible by channels', audio_stamped(good, 16000, 8, now, channels=3),
         '320 samples do not split into 3 channel'),
        ('empty data', audio_stamped(good[:0], 16000, 8, now), r'no samples \(int16_data'),
        ('rate change', audio_stamped(np.zeros(960, np.int16), 48000, 8, now),
         'the stream is 16000 Hz with 1 channel.*this message 48000 Hz'),
        ('channel change', audio_stamped(np.zeros((320, 2), np.int16), 16000, 8, now),
         'this message 16000 Hz with 2'),
        ('data in the wrong field', audio_stamped(good.astype(np.float32), 16000, 8, now,
                                                  field='float32_data'),
         'format 8 carries its samples in int16_data, but float32_data holds 320'),
        ('stamp 0', audio_stamped(good, 16000, 8, 0.0), 'the stamp is 0'),
        ('stamp far in the future', audio_stamped(good, 16000, 8, now + 3600), 'in the future'),
        ('stamp far in the past', audio_stamped(good, 16000, 8, now - 300), 's old'),
        ('stamp going backwards', audio_stamped(good, 16000, 8, last_stamp - 0.5),
         "before the previous message's"),
    ]


@needs_audio_common
def test_malformed_messages_are_refused_with_their_reason_and_leave_the_stream_as_it_was():
    stream = AudioMessageStream('S16LE', 16000, 1)
    speech = (np.sin(np.arange(640) / 5.0) * 8000).astype(np.int16)
    first = stream.chunk(audio_stamped(speech[:320], 16000, 8, NOW - 0.04), NOW - 0.02)
    assert first.first_sample_time == pytest.approx(NOW - 0.04, abs=1e-6)
    for what, msg, reason in malformed_messages(NOW, NOW - 0.04):
        with pytest.raises(ValueError, match=reason):
            stream.chunk(msg, NOW)
        assert (stream.sample_rate, stream.channels) == (16000, 1), what
    chunk = stream.chunk(audio_stamped(speech[320:], 16000, 8, NOW - 0.02), NOW)
    np.testing.assert_array_equal(chunk.samples.ravel(), speech[320:])
    assert chunk.first_sample_time == pytest.approx(NOW - 0.02, abs=1e-6)


# ---------------------------------------------------------------- over DDS


class AudioTalker:
    """An rclpy node in the test process: publishes AudioStamped on ``audio`` and records the
    node's features and its /diagnostics status."""

    def __init__(self, context):
        import rclpy
        from audio_common_msgs.msg import AudioStamped
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.executors import SingleThreadedExecutor
        from sensor_msgs.msg import Image

        from lhg_ros.nodes.common import rows_from_image, seconds_from_stamp, sensor_qos

        self.node = rclpy.create_node('audio_talker', context=context)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.blocks = []  # (header stamp, rows)
        self.statuses = []
        # Reliable both ways, so the comparison sees every chunk and every row.
        self.pub = self.node.create_publisher(AudioStamped, 'audio', sensor_qos(True, 100))
        self.features = self.node.create_subscription(Image, 'audio_features', lambda m: (
            self.blocks.append((seconds_from_stamp(m.header.stamp),
                                rows_from_image(m, FEATURE_DIM)))), sensor_qos(True, 100))
        self.node.create_subscription(DiagnosticArray, '/diagnostics', lambda m: (
            self.statuses.extend(s for s in m.status
                                 if s.name.startswith('audio_features_node'))), 10)

    def wait_for(self, proc):
        connected = spin_until(self.executor, lambda: (
            self.pub.get_subscription_count() > 0 and self.features.get_publisher_count() > 0
            or proc.poll() is not None), timeout_s=30.0)
        assert connected and proc.poll() is None, proc.stdout.read() if proc.poll() else ''
        spin_until(self.executor, lambda: False, timeout_s=0.5)  # both ends matched

    def publish_at_capture_pace(self, messages):
        """Publish (message, capture time of its last sample) pairs as a capturer would."""
        for msg, captured in messages:
            while time.time() < captured:
                self.executor.spin_once(timeout_sec=min(0.005, captured - time.time()))
            self.pub.publish(msg)

    def rows(self):
        return np.concatenate([rows for _, rows in self.blocks]) if self.blocks else \
            np.zeros((0, FEATURE_DIM), np.float32)

    def close(self):
        self.executor.shutdown()
        self.node.destroy_node()


@pytest.fixture
def talker(rclpy_context):
    talker = AudioTalker(rclpy_context)
    yield talker
    talker.close()


def start_topic_node(child_processes):
    # VAD off: these tests compare features; the speaking flag is covered by the file tests.
    return child_processes(node_command('audio_features_node', source='topic', reliable='true',
                                        vad__enabled='false'))


def chunked(samples, rate, code, frames_per_chunk, first_sample_time, latency_s=0.3):
    """AudioStamped chunks of (n, channels) samples, each with when to publish it: once its
    last sample is captured, plus a capture pipeline's latency."""
    return [(audio_stamped(samples[k:k + frames_per_chunk], rate, code,
                           first_sample_time + k / rate),
             first_sample_time + min(k + frames_per_chunk, len(samples)) / rate + latency_s)
            for k in range(0, len(samples), frames_per_chunk)]


def assert_stamps_follow_the_headers(blocks, first_sample_time):
    """Block k's stamp is the capture time of its first row: the first header's stamp plus
    10 ms per row before it."""
    rows_before = np.cumsum([0] + [len(rows) for _, rows in blocks[:-1]])
    np.testing.assert_allclose([s for s, _ in blocks], first_sample_time + rows_before * ROW_S,
                               atol=1e-5, rtol=0)


# (sox options, dtype read back, PortAudio format code, frames per message)
SPEECH_FORMATS = {
    'int16 48 kHz stereo': (['-r', '48000', '-c', '2', '-b', '16'], 'int16', 8, 960),
    'float32 16 kHz mono': (['-r', '16000', '-c', '1', '-e', 'floating-point', '-b', '32'],
                            'float32', 1, 512),
    'int32 44.1 kHz mono': (['-r', '44100', '-c', '1', '-b', '32'], 'int32', 2, 1024),
}


@pytest.mark.ros
@needs_audio_common
@pytest.mark.parametrize('layout', list(SPEECH_FORMATS))
def test_speech_as_audio_stamped_gives_the_file_sources_features_stamped_by_the_headers(
        layout, speech, tmp_path, talker, child_processes):
    """Real speech (espeak-ng), 2.5 s of it, as AudioStamped chunks at capture pace: the node's
    features equal those of the file source reading the same samples, and their stamps come
    from the headers (capture times, 0.3 s before the messages are sent), not from when the
    messages arrived."""
    import soundfile as sf

    from lhg_ros.features.audio_frontend import extract_audio_file

    sox_options, dtype, code, frames_per_chunk = SPEECH_FORMATS[layout]
    path = tmp_path / 'speech.wav'
    subprocess.run(['sox', str(speech[0]), *sox_options, str(path), 'trim', '1.0', '2.5'],
                   check=True)
    samples, rate = sf.read(str(path), dtype=dtype, always_2d=True)
    reference = extract_audio_file(path, vad=False).frames

    proc = start_topic_node(child_processes)
    talker.wait_for(proc)
    first_sample_time = time.time()
    talker.publish_at_capture_pace(chunked(samples, rate, code, frames_per_chunk,
                                           first_sample_time))
    spin_until(talker.executor, lambda: len(talker.rows()) >= len(reference) - 5, 10.0)
    spin_until(talker.executor, lambda: False, timeout_s=0.3)  # nothing more may come
    assert proc.poll() is None, proc.stdout.read()

    rows = talker.rows()
    # The file source flushes the resampler at the end of the file; a stream keeps its last
    # few milliseconds until more audio comes.
    assert len(reference) - 5 <= len(rows) <= len(reference), (len(rows), len(reference))
    if rate == 16000:
        assert len(rows) == len(reference) == num_frames(len(samples))
    np.testing.assert_allclose(rows, reference[:len(rows)], atol=1e-5, rtol=0)
    assert_stamps_follow_the_headers(talker.blocks, first_sample_time)


@pytest.mark.ros
@needs_audio_common
def test_malformed_messages_are_dropped_counted_on_diagnostics_and_the_stream_goes_on(
        speech, tmp_path, talker, child_processes):
    """In the middle of a 16 kHz int16 speech stream come ten bad messages (unknown format,
    samples that do not split into the channels, no samples, a rate or channel change, samples
    in the wrong field, stamps 0 / far ahead / far back / backwards). Each is dropped and
    counted on /diagnostics with a reason, and the node's features equal the file source's
    features of the good speech alone: nothing of the bad messages got into the stream."""
    import soundfile as sf
    from diagnostic_msgs.msg import DiagnosticStatus

    from lhg_ros.features.audio_frontend import extract_audio_file

    path = tmp_path / 'speech.wav'
    subprocess.run(['sox', str(speech[0]), str(path), 'trim', '1.0', '2.0'], check=True)
    samples, rate = sf.read(str(path), dtype='int16', always_2d=True)
    assert rate == 16000
    reference = extract_audio_file(path, vad=False).frames

    proc = start_topic_node(child_processes)
    talker.wait_for(proc)
    start = time.time()
    good = chunked(samples, rate, 8, 320, start)  # 20 ms chunks
    burst_at = 40
    now, last_stamp = start + (burst_at + 1) * 0.02, start + burst_at * 0.02
    burst = [(msg, good[burst_at][1]) for _, msg, _ in malformed_messages(now, last_stamp)]
    talker.publish_at_capture_pace(good[:burst_at + 1] + burst + good[burst_at + 1:])
    expected = num_frames(len(samples))
    spin_until(talker.executor, lambda: len(talker.rows()) >= expected, 10.0)

    def dropped_since_start():
        values = {kv.key: kv.value for kv in talker.statuses[-1].values} \
            if talker.statuses else {}
        return int(values.get('audio chunks dropped since start', -1))

    spin_until(talker.executor, lambda: dropped_since_start() == len(burst), 5.0)
    spin_until(talker.executor, lambda: False, timeout_s=0.3)  # nothing more may come
    assert proc.poll() is None, proc.stdout.read()

    rows = talker.rows()
    assert len(rows) == len(reference) == expected
    np.testing.assert_allclose(rows, reference, atol=1e-5, rtol=0)
    assert_stamps_follow_the_headers(talker.blocks, start)
    assert dropped_since_start() == len(burst)
    values = [{kv.key: kv.value for kv in s.values} for s in talker.statuses]
    assert sum(int(v['audio chunks dropped']) for v in values) == len(burst)
    warned = [s for s in talker.statuses if s.level == DiagnosticStatus.WARN]
    assert warned and all('audio chunk(s) dropped: ' in s.message for s in warned)
    assert "before the previous message's" in values[-1]['last drop reason']


@pytest.mark.ros
@needs_audio_common
def test_the_4_x_audio_data_type_is_refused_at_start_up_naming_the_type_to_use(child_processes):
    """audio_common 4.x's AudioData has no info block: nothing could decode it."""
    proc = child_processes(node_command('audio_features_node', source='topic',
                                        topic__message_type='AudioData'))
    assert proc.wait(timeout=30) == 1
    assert 'use topic.message_type AudioStamped' in proc.stdout.read()
