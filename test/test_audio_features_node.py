"""audio_features_node over real DDS, run as the installed executable (the topic source:
test_audio_topic_source.py)."""

import time

import numpy as np
import pytest

from conftest import node_command, spin_until
from lhg_ros.features.audio import FEATURE_DIM, num_frames

pytestmark = pytest.mark.ros


def start_node(child_processes, *params):
    return child_processes(node_command('audio_features_node', **dict(
        p.split(':=', 1) for p in params)))


def test_a_wav_file_at_real_time_pace_publishes_every_frame_in_order(
        speech, speech_samples, rclpy_context, child_processes):
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import Image
    from std_msgs.msg import Bool

    from lhg_ros.nodes.common import rows_from_image, seconds_from_stamp

    path, start_s, end_s = speech
    node = rclpy.create_node('feature_sink', context=rclpy_context)
    executor = SingleThreadedExecutor(context=rclpy_context)
    executor.add_node(node)
    blocks, speaking = [], []
    node.create_subscription(Image, 'audio_features', lambda m: blocks.append(
        (seconds_from_stamp(m.header.stamp), rows_from_image(m, FEATURE_DIM), time.time())), 50)
    node.create_subscription(Bool, 'is_speaking', lambda m: speaking.append(
        (m.data, time.time())), 50)
    # Reliable QoS so the count is exact; the default (best effort) is what robots use.
    proc = start_node(child_processes, f'file.path:={path}', 'reliable:=true',
                      'file.exit_at_end:=true')
    expected = num_frames(len(speech_samples))
    started = time.time()
    try:
        spin_until(executor, lambda: sum(len(r) for _, r, _ in blocks) >= expected
                   or proc.poll() is not None, timeout_s=end_s + 15)
        spin_until(executor, lambda: False, timeout_s=0.5)  # late messages
    finally:
        executor.shutdown()
        node.destroy_node()
    assert proc.wait(timeout=10) == 0, proc.stdout.read()

    assert sum(len(rows) for _, rows, _ in blocks) == expected
    stamps = np.array([s for s, _, _ in blocks])
    sizes = np.array([len(r) for _, r, _ in blocks])
    assert (np.diff(stamps) > 0).all(), 'stamps must increase'
    # Each block starts 10 ms per row after the previous one: no gaps, no overlaps.
    np.testing.assert_allclose(np.diff(stamps), sizes[:-1] * 0.01, atol=1e-6)
    # Real-time pace: the last frame arrives about when the file has played.
    played = blocks[-1][2] - started
    assert (end_s + 1.5) * 0.8 < played < end_s + 1.5 + 5.0
    assert all(np.isfinite(r).all() for _, r, _ in blocks)
    # Each frame leaves as soon as its audio is in (the source wakes the node), not at the next
    # 10 ms poll (median 6-7 ms from the end of a message's last 25 ms window to its arrival
    # here, DDS included); the node's clock is this machine's.
    complete = stamps + (sizes - 1) * 0.01 + 0.025
    late = np.array([t for _, _, t in blocks]) - complete
    assert np.median(late) < 0.0045, f'features arrive {1000 * np.median(late):.1f} ms late'
    # The speaking flag went up during the speech and was down before it.
    first_true = next(t for flag, t in speaking if flag)
    assert any(not flag for flag, _ in speaking)
    assert start_s - 0.5 < first_true - started < start_s + 2.5


def test_a_missing_file_stops_the_node_at_start_up_with_its_name(child_processes):
    proc = start_node(child_processes, 'file.path:=/no/such/speech.wav')
    assert proc.wait(timeout=30) == 1
    assert "audio file '/no/such/speech.wav' does not exist" in proc.stdout.read()


def test_an_unknown_microphone_fails_naming_the_devices_that_exist(child_processes):
    proc = start_node(child_processes, 'source:=microphone', 'microphone.device:=No Such Mic')
    assert proc.wait(timeout=30) == 1
    output = proc.stdout.read()
    assert 'input devices:' in output, output


def test_a_bad_source_name_lists_the_valid_ones(child_processes):
    proc = start_node(child_processes, 'source:=bluetooth')
    assert proc.wait(timeout=30) == 1
    assert 'must be one of: file, microphone, topic' in proc.stdout.read()


def test_audio_bytes_decode_or_fail_with_the_reason():
    from lhg_ros.sources.audio import decode_pcm

    pcm = np.array([[1, -1], [300, -300]], dtype='<i2')
    np.testing.assert_array_equal(decode_pcm(pcm.tobytes(), 'S16LE', 2), pcm)
    with pytest.raises(ValueError, match='not a whole number of S16LE frames'):
        decode_pcm(pcm.tobytes()[:-1], 'S16LE', 2)
    with pytest.raises(ValueError, match="unknown sample format 'MP3'"):
        decode_pcm(b'', 'MP3', 1)

