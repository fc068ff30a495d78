"""rosbag2 recordings: ``lhg-ros generate --bag`` on bags written here with rosbags (real
espeak-ng speech, a real face video), and the bag ``lhg-ros demo`` records."""

import math
import shutil
import subprocess

import numpy as np
import pytest

from conftest import BIN

rosbags = pytest.importorskip('rosbags', reason='rosbags is not installed (the tools extra)')

WALL_CLOCK = 1_733_400_000.25  # a recording's stamps: wall-clock time, not 0
CAMERA_DELAY_S = 2.0


def _time(types, at: float):
    sec = math.floor(at)
    return types['builtin_interfaces/msg/Time'](sec=sec, nanosec=int((at - sec) * 1e9))


def _header(types, at: float, frame_id: str):
    return types['std_msgs/msg/Header'](stamp=_time(types, at), frame_id=frame_id)


def _write(path, store, messages) -> None:
    """A rosbag2 MCAP bag of (topic, type, log time s, message)."""
    from rosbags.rosbag2 import StoragePlugin, Writer

    with Writer(path, version=8, storage_plugin=StoragePlugin.MCAP) as writer:
        connections = {}
        for topic, msgtype, log_time, msg in messages:
            if topic not in connections:
                connections[topic] = writer.add_connection(topic, msgtype, typestore=store)
            writer.write(connections[topic], int(log_time * 1e9),
                         store.serialize_cdr(msg, msgtype))


def _store():
    from lhg_ros.data.bag import make_typestore

    return make_typestore()


def _audio_messages(store, samples16k, rate=48000, chunk=1024, start=WALL_CLOCK):
    """The speech as a robot's capturer sends it: int16 at ``rate`` in ``chunk``-sample
    AudioStamped messages, logged 5 ms after their last sample."""
    import soxr

    from lhg_ros.data.bag import audio_stamped_messages

    pcm = (np.clip(soxr.resample(samples16k, 16000, rate), -1, 1) * 32767).astype(np.int16)
    for log_time, msg in audio_stamped_messages(store, pcm, rate, start, chunk, 'mic'):
        yield '/audio', 'audio_common_msgs/msg/AudioStamped', log_time + 0.005, msg


def _camera_messages(store, video, delay_s=CAMERA_DELAY_S, start=WALL_CLOCK):
    """The video's frames from ``delay_s`` on as a 29.97 fps JPEG CompressedImage camera,
    stamped at their time in the video."""
    from lhg_ros.data.bag import compressed_camera_messages

    for log_time, msg in compressed_camera_messages(store, video, start, from_s=delay_s):
        yield '/camera/image_raw/compressed', 'sensor_msgs/msg/CompressedImage', log_time, msg


def _generate(*args, timeout=300):
    return subprocess.run([str(BIN / 'lhg-ros'), 'generate', '--no-video', *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def _row(stdout: str, name: str) -> str:
    return next(line for line in stdout.splitlines() if line.startswith(name))[
        len(name):].strip()


def _joint_rms_difference_deg(a_times, a, b_times, b, after_s=0.0) -> float:
    grid = np.arange(max(a_times[0], b_times[0], after_s), min(a_times[-1], b_times[-1]),
                     0.02)
    diffs = [np.interp(grid, a_times, a[:, j]) - np.interp(grid, b_times, b[:, j])
             for j in range(a.shape[1])]
    return float(np.degrees(np.sqrt(np.mean(np.square(diffs)))))


@pytest.fixture(scope='module')
def speaker_video(speech, tmp_path_factory):
    """The speaker's face for the whole of the ``speech`` fixture, at 29.97 fps."""
    import soundfile as sf

    from lhg_ros.synthetic.speaker_scene import speaker_motion, write_face_video

    _, rolls, shifts = speaker_motion(sf.info(str(speech[0])).duration, fps=29.97)
    return write_face_video(tmp_path_factory.mktemp('camera') / 'speaker.mp4', rolls, shifts,
                            fps=29.97)


@pytest.fixture(scope='module')
def robot_bag(speech_samples, speaker_video, tmp_path_factory):
    """As a robot records: 48 kHz int16 AudioStamped in 1024-sample chunks and a 29.97 fps
    CompressedImage camera that starts 2 s after the audio, wall-clock stamps."""
    store = _store()
    path = tmp_path_factory.mktemp('robot') / 'session'
    messages = [*_audio_messages(store, speech_samples), *_camera_messages(store, speaker_video)]
    _write(path, store, sorted(messages, key=lambda m: m[2]))
    return path


def test_a_robot_bag_replays_like_the_same_material_from_files(robot_bag, speech,
                                                               speaker_video, tmp_path):
    # The rule policy, which neither samples nor keeps a state a small difference changes for
    # good: the bag's first 2 s have no camera, and once its inputs have differed the model
    # takes another course of the head (another nod decision), not the same one replayed.
    rules = ('--policy', 'rules')
    bag = _generate('--bag', robot_bag, *rules, '--out', tmp_path / 'bag')
    assert bag.returncode == 0, bag.stdout + bag.stderr
    files = _generate('--audio', speech[0], '--video', speaker_video, *rules, '--out',
                      tmp_path / 'files')
    assert files.returncode == 0, files.stdout + files.stderr
    # What the bag gave: its topics, their rates, where the camera starts, the face share.
    assert _row(bag.stdout, 'audio ') == _row(files.stdout, 'audio ')
    assert '/audio (AudioStamped)' in bag.stdout and '46.9/s, 0 gaps' in bag.stdout
    assert '/camera/image_raw/compressed (CompressedImage)' in bag.stdout
    assert 'at 29.97/s' in bag.stdout
    assert _row(bag.stdout, 'camera span').startswith('+2.00 ..')
    assert _row(bag.stdout, 'face found') == '100% of camera frames'
    assert _row(files.stdout, 'face found') == '100% of video frames'
    # The listener moves as it does on the files once the camera has started.
    a, b = np.load(tmp_path / 'bag' / 'listener.npz'), np.load(tmp_path / 'files' /
                                                                 'listener.npz')
    difference = _joint_rms_difference_deg(a['times'], a['joints'], b['times'], b['joints'],
                                           after_s=CAMERA_DELAY_S + 1.0)
    moved = float(np.degrees(np.std(b['joints'], axis=0)).max())
    assert moved > 0.5, 'the listener moves at all'
    assert difference < 0.5, f'{difference:.2f} deg RMS from the replay of the files'
    assert abs(a['times'][-1] - b['times'][-1]) < 0.1


def test_recorded_speaker_poses_and_ros4hri_face_frames_are_used(speech_samples, tmp_path):
    """head_pose_node's PoseStamped and a REP-155 detector's face frame on /tf give the
    speaker's head; the pose written is the pose read back."""
    from lhg_ros.data.bag import read_bag

    store = _store()
    types = store.types
    audio = list(_audio_messages(store, speech_samples[:16000 * 4]))
    pitch = 0.2  # the speaker nods down 0.2 rad about its own y axis
    # In the camera body frame, a speaker facing the camera is turned by 180 deg about z.
    half = np.array([np.cos(pitch / 2), 0.0, np.sin(pitch / 2), 0.0])  # (w, x, y, z) about y
    face_to_camera = np.array([0.0, 0.0, 0.0, 1.0])  # 180 deg about z
    w1, x1, y1, z1 = face_to_camera
    w2, x2, y2, z2 = half
    q = [w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2, w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
         w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2, w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2]
    rotation = types['geometry_msgs/msg/Quaternion'](w=q[0], x=q[1], y=q[2], z=q[3])
    poses, frames = [], []
    for k in range(75):  # 25 Hz for 3 s
        at = WALL_CLOCK + 0.5 + k / 25
        position = types['geometry_msgs/msg/Point'](x=1.0, y=0.1, z=0.0)
        poses.append(('/speaker/head_pose', 'geometry_msgs/msg/PoseStamped', at, types[
            'geometry_msgs/msg/PoseStamped'](header=_header(types, at, 'speaker_camera'),
                                             pose=types['geometry_msgs/msg/Pose'](
                                                 position=position, orientation=rotation))))
        translation = types['geometry_msgs/msg/Vector3'](x=1.0, y=0.1, z=0.0)
        transform = types['geometry_msgs/msg/TransformStamped'](
            header=_header(types, at, 'camera'), child_frame_id='face_abc',
            transform=types['geometry_msgs/msg/Transform'](translation=translation,
                                                           rotation=rotation))
        frames.append(('/tf', 'tf2_msgs/msg/TFMessage', at,
                       types['tf2_msgs/msg/TFMessage'](transforms=[transform])))
    _write(tmp_path / 'poses', store, sorted(audio + poses, key=lambda m: m[2]))
    _write(tmp_path / 'tf', store, sorted(audio + frames, key=lambda m: m[2]))
    from_poses = read_bag(tmp_path / 'poses')
    from_tf = read_bag(tmp_path / 'tf')
    for recording, topic in ((from_poses, '/speaker/head_pose'), (from_tf, '/tf')):
        assert recording.speaker.name == topic
        assert len(recording.poses) == 75
        np.testing.assert_allclose(recording.poses[:, 0], pitch, atol=1e-6)  # pitch
        np.testing.assert_allclose(recording.poses[:, 1:3], 0.0, atol=1e-6)  # yaw, roll
        np.testing.assert_allclose(recording.pose_times[0], 0.5, atol=1e-6)
        assert 0.7 < recording.face_share < 0.85  # 3 s (and 0.2 s either side) of 4 s


def test_untrusted_stamps_cannot_blow_up_the_replay(speech_samples, tmp_path):
    """Stamps of 0, going backwards, jumping hours ahead and a 30 s chunk are dropped and
    counted; the rest still replays, and the replayed span stays the audio's."""
    from lhg_ros.data.bag import read_bag

    store = _store()
    audio = list(_audio_messages(store, speech_samples[:16000 * 3]))
    hostile = []
    for topic, msgtype, log_time, msg in _audio_messages(store, speech_samples[:16000],
                                                         start=WALL_CLOCK + 3.0):
        hostile.append((topic, msgtype, log_time, msg))
    zero = hostile[0][3]
    zero.header.stamp.sec, zero.header.stamp.nanosec = 0, 0
    hostile[1][3].header.stamp.sec -= 2  # backwards
    hostile[2][3].header.stamp.sec += 7200  # two hours ahead
    huge = next(_audio_messages(store, np.resize(speech_samples, 16000 * 30), chunk=48000 * 30,
                                start=WALL_CLOCK + 3.1))
    messages = audio + hostile[:3] + [huge]
    _write(tmp_path / 'hostile', store, messages)
    recording = read_bag(tmp_path / 'hostile')
    assert recording.audio.used == len(audio)
    dropped = recording.audio.dropped
    assert sum(dropped.values()) == 4
    assert dropped['a stamp of 0 (an unset header)'] == 1
    assert dropped['a stamp before the previous chunk ended'] == 1
    assert dropped['a chunk of more than 10 s'] == 1
    assert recording.audio_s == pytest.approx(3.0, abs=0.03)
    assert recording.blocks[-1].stamp < 3.1


def test_the_ros_drivers_audio_data_layout_replays(speech_samples, tmp_path):
    """ros-drivers' audio_capture (AudioData {uint8[] data} on /audio, AudioInfo on
    /audio_info): the bag's own definitions decide the layout, AudioInfo the format."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    from lhg_ros.data.bag import read_bag

    store = get_typestore(Stores.ROS2_HUMBLE)
    store.register({**get_types_from_msg('uint8[] data', 'audio_common_msgs/msg/AudioData'),
                    **get_types_from_msg('uint8 channels\nuint32 sample_rate\n'
                                         'string sample_format\nuint32 bitrate\n'
                                         'string coding_format',
                                         'audio_common_msgs/msg/AudioInfo')})
    types = store.types
    pcm = (np.clip(speech_samples[:16000 * 3], -1, 1) * 32767).astype('<i2')
    messages = [('/audio_info', 'audio_common_msgs/msg/AudioInfo', WALL_CLOCK,
                 types['audio_common_msgs/msg/AudioInfo'](
                     channels=1, sample_rate=16000, sample_format='S16LE', bitrate=0,
                     coding_format='wave'))]
    for first in range(0, len(pcm), 320):
        part = pcm[first:first + 320]
        messages.append(('/audio', 'audio_common_msgs/msg/AudioData',
                         WALL_CLOCK + (first + len(part)) / 16000,
                         types['audio_common_msgs/msg/AudioData'](
                             data=np.frombuffer(part.tobytes(), np.uint8))))
    _write(tmp_path / 'ros_drivers', store, messages)
    recording = read_bag(tmp_path / 'ros_drivers')
    assert recording.audio.used == len(messages) - 1
    assert not recording.audio.dropped
    assert recording.audio_s == pytest.approx(3.0, abs=0.01)
    frames = sum(len(b.rows) for b in recording.blocks)
    assert 295 <= frames <= 300  # 10 ms frames of 3 s


def _one_line_error(result) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'Traceback' not in result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    return lines[0]


def test_bags_that_cannot_be_replayed_say_why_in_one_line(robot_bag, speaker_video, tmp_path):
    store = _store()
    types = store.types
    camera_only = tmp_path / 'camera_only'
    _write(camera_only, store, list(_camera_messages(store, speaker_video, delay_s=9.0)))
    line = _one_line_error(_generate('--bag', camera_only, '--out', tmp_path / 'o1'))
    assert 'no audio in' in line
    assert '/camera/image_raw/compressed (sensor_msgs/msg/CompressedImage)' in line

    other_type = tmp_path / 'other_type'
    _write(other_type, store, [('/audio', 'std_msgs/msg/String', WALL_CLOCK,
                                types['std_msgs/msg/String'](data='hello'))])
    line = _one_line_error(_generate('--bag', other_type, '--out', tmp_path / 'o2'))
    assert 'no audio in' in line and '/audio (std_msgs/msg/String)' in line
    line = _one_line_error(_generate('--bag', other_type, '--audio-topic', '/audio', '--out',
                                     tmp_path / 'o3'))
    assert '--audio-topic /audio has type std_msgs/msg/String, not audio' in line

    mcap = next(robot_bag.glob('*.mcap'))
    truncated = tmp_path / 'truncated.mcap'
    truncated.write_bytes(mcap.read_bytes()[:mcap.stat().st_size // 2])
    line = _one_line_error(_generate('--bag', truncated, '--out', tmp_path / 'o4'))
    assert line.startswith(f"lhg-ros generate: cannot read bag '{truncated}'")

    not_a_bag = tmp_path / 'not_a_bag'
    not_a_bag.mkdir()
    line = _one_line_error(_generate('--bag', not_a_bag, '--out', tmp_path / 'o5'))
    assert f"'{not_a_bag}' is not a rosbag2 folder (no metadata.yaml" in line


def test_a_folder_holding_only_the_mcap_file_replays(robot_bag, tmp_path):
    """A recording copied without its metadata.yaml (one .mcap in a folder) still replays."""
    lone = tmp_path / 'copied'
    lone.mkdir()
    shutil.copy(next(robot_bag.glob('*.mcap')), lone)
    result = _generate('--bag', lone, '--policy', 'rules', '--out', tmp_path / 'o')
    assert result.returncode == 0, result.stdout + result.stderr
    assert '/audio (AudioStamped)' in result.stdout


def _foxglove_decodes_every_message(bag, topics):
    """Foxglove's MCAP reader and ROS 2 decoder (the libraries Foxglove is built on) read
    every message of the bag with the schemas it carries."""
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    counts = {}
    with open(next(bag.glob('*.mcap')), 'rb') as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        assert reader.get_header().profile == 'ros2'
        for _, channel, _, decoded in reader.iter_decoded_messages():
            counts[channel.topic] = counts.get(channel.topic, 0) + 1
            if channel.topic == '/audio':
                assert decoded.audio.info.format == 8 and len(decoded.audio.audio_data.int16_data)
    assert set(counts) == set(topics) and min(counts.values()) > 0


@pytest.mark.ros
@pytest.mark.slow
def test_the_demo_records_a_bag_that_generate_replays_to_the_same_commands(
        speech, face_video, tmp_path):
    """The bag holds what the run needs to be replayed: the same commands again. With the
    rule policy, which is deterministic: the model samples, so one late message in the live
    run sends its course elsewhere (the model's live/replay match is
    test_pipeline_equivalence's, nod by nod)."""
    from rosbags.rosbag2 import Reader

    from lhg_ros.data.bag import deserialize, make_typestore

    out = tmp_path / 'demo'
    demo = subprocess.run([str(BIN / 'lhg-ros'), 'demo', '--audio', str(speech[0]), '--video',
                           str(face_video[0]), '--no-compare', '--no-video', '--policy',
                           'rules', '--output', str(out)], capture_output=True, text=True,
                          timeout=240)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert f'wrote {out / "bag"}' in demo.stdout
    with Reader(out / 'bag') as reader:
        topics = {c.topic: c.msgtype for c in reader.connections}
        assert {'/audio': 'audio_common_msgs/msg/AudioStamped',
                '/audio_features': 'sensor_msgs/msg/Image',
                '/speaker/head_pose': 'geometry_msgs/msg/PoseStamped',
                '/joint_states': 'sensor_msgs/msg/JointState',
                '/diagnostics': 'diagnostic_msgs/msg/DiagnosticArray'}.items() <= topics.items()
        store = make_typestore(reader.connections)
        joints = [deserialize(store, raw, c.msgtype) for c, _, raw in reader.messages(
            [c for c in reader.connections if c.topic == '/joint_states'])]
        first_audio = next(deserialize(store, raw, c.msgtype) for c, _, raw in
                           reader.messages([c for c in reader.connections
                                            if c.topic == '/audio']))
    _foxglove_decodes_every_message(out / 'bag', topics)
    start = first_audio.header.stamp.sec + first_audio.header.stamp.nanosec * 1e-9
    demo_times = np.array([m.header.stamp.sec + m.header.stamp.nanosec * 1e-9
                           for m in joints]) - start
    demo_positions = np.array([m.position for m in joints])
    replayed = _generate('--bag', out / 'bag', '--policy', 'rules', '--no-compare', '--out',
                         tmp_path / 'generate')
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert '/speaker/head_pose (PoseStamped)' in replayed.stdout
    result = np.load(tmp_path / 'generate' / 'listener.npz')
    difference = _joint_rms_difference_deg(demo_times, demo_positions, result['times'],
                                           result['joints'])
    assert float(np.degrees(np.std(demo_positions, axis=0)).max()) > 0.3, 'the head moved'
    assert difference <= 0.5, f'{difference:.2f} deg RMS from the demo'
    shutil.rmtree(out)
