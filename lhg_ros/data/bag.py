"""rosbag2 recordings (a bag folder, or one ``.mcap`` / ``.db3`` file) without ROS, through
``rosbags``: reading a robot's session for ``lhg-ros generate --bag`` and writing the demo's.

Reading finds the speaker's audio (``audio_common_msgs``), a camera (``sensor_msgs/Image`` or
``CompressedImage``) or recorded speaker poses (``geometry_msgs/PoseStamped`` as head_pose_node
publishes, or REP-155 face frames on ``/tf``) and turns them into what the offline replay
(:mod:`lhg_ros.motion.replay`) takes: audio feature blocks from the audio node's front-end
and head poses from the head-pose tracker, all placed by their header stamps, on a time axis
that starts at the first audio sample.

Every stamp is untrusted: a message whose stamp is 0, goes backwards, jumps far ahead or whose
chunk is huge is dropped and counted with the reason, so one message can never make the replay
run for hours or hold gigabytes.
"""

import math
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lhg_ros.features.motion_features import POSE_DIM

AUDIO_TYPES = ('audio_common_msgs/msg/AudioStamped', 'audio_common_msgs/msg/Audio',
               'audio_common_msgs/msg/AudioDataStamped', 'audio_common_msgs/msg/AudioData')
CAMERA_TYPES = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')
POSE_TYPE, TF_TYPE = 'geometry_msgs/msg/PoseStamped', 'tf2_msgs/msg/TFMessage'

MAX_CHUNK_S = 10.0  # longer audio messages are dropped (no capturer sends such chunks)
MAX_GAP_S = 30.0  # audio stamped further ahead ends the replayed part of the recording
MAX_IMAGE_BYTES = 64 << 20  # larger images are dropped before decoding
MAX_IMAGE_PIXELS = 4096 * 4096
STAMP_SLACK_S = 0.05  # overlap or gap between audio chunks tolerated as stamping jitter
OUTSIDE_AUDIO_S = 1.0  # frames and poses further outside the audio are not processed

# audio_common 4.x (mgonzs13/audio_common, MIT), used when the bag does not carry the
# definitions itself: the installed package's .msg files, else the copies vendored here.
AUDIO_COMMON_MSGS = ('AudioInfo', 'AudioData', 'Audio', 'AudioStamped')
VENDORED_MSGS = Path(__file__).resolve().parent / 'msg' / 'audio_common_msgs'


class BagError(RuntimeError):
    """The bag cannot be replayed; the message says why (one line)."""


def _audio_common_msg_folder() -> Path:
    import os

    ament = os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep)
    prefixes = [Path(sys.prefix)] + [Path(p) for p in ament if p]
    for prefix in prefixes:
        folder = prefix / 'share' / 'audio_common_msgs' / 'msg'
        if all((folder / f'{name}.msg').is_file() for name in AUDIO_COMMON_MSGS):
            return folder
    return VENDORED_MSGS


def audio_common_types() -> dict:
    """rosbags type definitions of audio_common 4.x, parsed from its .msg files."""
    from rosbags.typesys import get_types_from_msg

    folder = _audio_common_msg_folder()
    types = {}
    for name in AUDIO_COMMON_MSGS:
        text = (folder / f'{name}.msg').read_text(encoding='utf-8')
        types.update(get_types_from_msg(text, f'audio_common_msgs/msg/{name}'))
    return types


def make_typestore(connections=()):
    """ROS 2 Humble's types, the definitions a bag carries for types beyond them (the bag
    knows best which audio_common layout it recorded), and audio_common 4.x for the rest."""
    from rosbags.interfaces import MessageDefinitionFormat
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_HUMBLE)
    types = {}
    for connection in connections:
        if (connection.msgtype in store.fielddefs or connection.msgtype in types
                or connection.msgdef.format != MessageDefinitionFormat.MSG
                or not connection.msgdef.data):
            continue
        try:
            parsed = get_types_from_msg(connection.msgdef.data, connection.msgtype)
        except Exception:  # noqa: BLE001, S112 - a definition we cannot parse: type unused
            continue
        types.update({k: v for k, v in parsed.items() if k not in store.fielddefs})
    types.update({k: v for k, v in audio_common_types().items() if k not in types})
    store.register(types)
    return store


def deserialize(store, raw, typename: str):
    """A CDR message of ``typename``. rmw's serialization may leave bytes after the message
    (rclpy's ``serialize_message`` of a JointState gives 8 more than it holds), which
    rosbags' own ``deserialize_cdr`` refuses; they are ignored here, as ROS does."""
    from rosbags.serde import SerdeError

    try:
        return store.deserialize_cdr(raw, typename)
    except SerdeError as exc:
        if 'size mismatch' not in str(exc):
            raise
    msgdef = store.get_msgdef(typename)
    read = msgdef.deserialize_cdr_le if raw[1] else msgdef.deserialize_cdr_be
    return read(memoryview(raw)[4:], 0, msgdef.cls, store)[0]


@dataclass
class TopicUse:
    """What one topic of the bag gave the replay."""

    name: str
    msgtype: str
    messages: int = 0  # messages read
    used: int = 0  # messages accepted
    first: float = math.nan  # first and last accepted stamp (s, the bag's clock)
    last: float = math.nan
    gaps: int = 0  # audio: chunks that started later than the previous one ended
    gap_s: float = 0.0
    dropped: Counter = field(default_factory=Counter)  # reason -> messages

    def accept(self, stamp: float) -> None:
        self.used += 1
        if not self.used - 1:
            self.first = stamp
        self.last = stamp

    @property
    def rate(self) -> float:
        """Accepted messages per second over the stamps they span."""
        span = self.last - self.first
        return (self.used - 1) / span if self.used > 1 and span > 0 else 0.0

    def drops(self) -> str:
        if not self.dropped:
            return 'none dropped'
        reason, count = self.dropped.most_common(1)[0]
        total = sum(self.dropped.values())
        return f'{total} dropped (most: {count} x {reason})'


@dataclass
class BagRecording:
    """A bag turned into the replay's inputs; times in seconds from the first audio sample."""

    path: Path
    topics: dict  # every topic of the bag: name -> (type, messages)
    audio: TopicUse
    blocks: list  # AudioBlock s, as the audio node would have published them
    audio_s: float  # from the first audio sample to the last
    start_stamp: float  # the first audio sample's stamp on the bag's clock
    speaker: TopicUse | None = None  # the camera or pose topic used
    pose_times: np.ndarray | None = None  # (n,) camera frames or poses
    poses: np.ndarray | None = None  # (n, 6), NaN rows where no face was seen
    face_share: float = 0.0  # camera: frames with a face; poses: audio time with a pose nearby
    fps: float = 0.0  # camera frames (or poses) per second
    audio16k: np.ndarray | None = None  # int16 16 kHz mono, with keep_audio (gaps closed)


def describe_topics(topics: dict) -> str:
    return ', '.join(f'{name} ({msgtype})' for name, (msgtype, _) in sorted(topics.items())) \
        or 'none'


def _stamp(header) -> float:
    return header.stamp.sec + header.stamp.nanosec * 1e-9


def _pick(topics: dict, wanted: str | None, types: tuple, what: str, option: str,
          bag: Path) -> str | None:
    """The topic to use for ``what``: ``wanted`` (checked), else the one of the preferred type
    (earlier in ``types``) with most messages; None when the bag has none."""
    if wanted:
        name = wanted if wanted in topics else f'/{wanted.lstrip("/")}'
        if name not in topics:
            raise BagError(f'{option} {wanted}: no such topic in {bag}; its topics: '
                           f'{describe_topics(topics)}')
        if topics[name][0] not in types:
            raise BagError(f'{option} {name} has type {topics[name][0]}, not {what} ('
                           + ', '.join(t.split('/')[-1] for t in types) + ')')
        return name
    candidates = [(types.index(t), -count, name) for name, (t, count) in topics.items()
                  if t in types and count]
    return min(candidates)[2] if candidates else None


class _AudioReader:
    """audio_common messages -> the audio node's feature blocks, placed by header stamps."""

    def __init__(self, use: TopicUse, raw_format: tuple[str, int, int], keep_audio: bool):
        from lhg_ros.features.vad import VoiceActivityDetector

        self.use, self.raw_format = use, raw_format
        self.detector = VoiceActivityDetector()
        self.frontend = None
        self.blocks = []  # AudioBlock s with absolute times
        self.rate = self.channels = None
        self.end = -math.inf  # stamp where the last accepted chunk ended
        self.samples = 0
        self.keep_audio = keep_audio
        self.audio16k = []  # int16 16 kHz blocks, for the MP4's sound track

    def add(self, msg, log_time: float) -> None:
        from lhg_ros.features.audio_frontend import SpeakerAudioFrontEnd
        from lhg_ros.motion.replay import AudioBlock
        from lhg_ros.sources.audio import samples_from_audio_message

        use = self.use
        use.messages += 1
        try:
            samples, rate = samples_from_audio_message(msg, *self.raw_format)
        except ValueError as exc:
            use.dropped[str(exc)] += 1
            return
        duration = len(samples) / rate
        if duration > MAX_CHUNK_S:
            use.dropped[f'a chunk of more than {MAX_CHUNK_S:g} s'] += 1
            return
        if self.rate is not None and (rate, samples.shape[1]) != (self.rate, self.channels):
            use.dropped[f'{rate} Hz / {samples.shape[1]} channel(s) in a {self.rate} Hz / '
                        f'{self.channels} channel(s) stream'] += 1
            return
        header = getattr(msg, 'header', None)
        # Unstamped audio: captured just before it was recorded (as the node takes it).
        stamp = _stamp(header) if header is not None else log_time - duration
        if not math.isfinite(stamp) or stamp <= 0.0:
            use.dropped['a stamp of 0 (an unset header)'] += 1
            return
        if self.frontend is not None:
            if stamp < self.end - STAMP_SLACK_S:
                use.dropped['a stamp before the previous chunk ended'] += 1
                return
            if stamp > self.end + MAX_GAP_S:
                use.dropped[f'a stamp more than {MAX_GAP_S:g} s after the previous chunk '
                            '(the rest is not replayed)'] += 1
                return
            if stamp > self.end + STAMP_SLACK_S:
                use.gaps += 1
                use.gap_s += stamp - self.end
        else:
            self.rate, self.channels = rate, samples.shape[1]
            self.frontend = SpeakerAudioFrontEnd(rate, self.channels, self.detector)
        use.accept(stamp)
        self.end = max(self.end, stamp + duration)
        self.samples += len(samples)
        block = self.frontend.accept(samples, stamp)
        self._keep_audio()
        if len(block.frames):
            # The node publishes a chunk's frames once the chunk has arrived, at its end.
            self.blocks.append(AudioBlock(stamp + duration, block.frames, block.stamp,
                                          block.speaking))

    def finish(self) -> None:
        from lhg_ros.motion.replay import AudioBlock

        if self.frontend is not None:
            block = self.frontend.finish()
            self._keep_audio()
            if len(block.frames):
                self.blocks.append(AudioBlock(self.end, block.frames, block.stamp,
                                              block.speaking))


    def _keep_audio(self) -> None:
        if self.keep_audio:
            samples = np.clip(self.frontend.last_samples16k, -1.0, 1.0)
            self.audio16k.append((samples * 32767).astype(np.int16))


def _rgb(msg) -> np.ndarray:
    """(H, W, 3) uint8 of an Image or CompressedImage; ``ValueError`` saying why not."""
    from lhg_ros.sources.video import rgb_from_image_fields

    if hasattr(msg, 'encoding'):  # sensor_msgs/Image
        if msg.height * msg.width > MAX_IMAGE_PIXELS or len(msg.data) > MAX_IMAGE_BYTES:
            raise ValueError(f'an image of {msg.width}x{msg.height} (too large)')
        return rgb_from_image_fields(msg.encoding, msg.height, msg.width, msg.step,
                                     msg.data.tobytes())
    import cv2

    if len(msg.data) > MAX_IMAGE_BYTES:
        raise ValueError(f'a compressed image of {len(msg.data)} bytes (too large)')
    header = bytes(msg.data[:32])
    if not (header.startswith(b'\xff\xd8') or header.startswith(b'\x89PNG')):
        raise ValueError(f"a compressed image that is neither JPEG nor PNG ('{msg.format}')")
    bgr = cv2.imdecode(np.asarray(msg.data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"a compressed image that does not decode ('{msg.format}')")
    if bgr.shape[0] * bgr.shape[1] > MAX_IMAGE_PIXELS:
        raise ValueError(f'an image of {bgr.shape[1]}x{bgr.shape[0]} (too large)')
    return np.ascontiguousarray(bgr[..., ::-1])


class _SpeakerReader:
    """Camera frames (through the head-pose tracker, every frame, as ``generate --video``) or
    recorded poses -> (stamp, 6-DoF or NaN) in stamp order."""

    def __init__(self, use: TopicUse, window: tuple[float, float], face_selection: str):
        self.use, self.window = use, window
        self.times, self.poses = [], []
        self.tracker = None
        self.face_selection = face_selection
        self.following = None

    def _place(self, stamp: float) -> bool:
        use = self.use
        if not math.isfinite(stamp) or stamp <= 0.0:
            use.dropped['a stamp of 0 (an unset header)'] += 1
        elif self.times and stamp <= self.times[-1]:
            use.dropped['a stamp not after the previous one'] += 1
        elif not self.window[0] - OUTSIDE_AUDIO_S <= stamp <= self.window[1] + OUTSIDE_AUDIO_S:
            use.dropped['a stamp outside the audio'] += 1
        else:
            return True
        return False

    def add_image(self, msg) -> None:
        from lhg_ros.console import quiet_stderr
        from lhg_ros.features.head_tracking import SpeakerHeadTracker
        from lhg_ros.filters import OneEuroFilter

        self.use.messages += 1
        stamp = _stamp(msg.header)
        if not self._place(stamp):
            return
        try:
            rgb = _rgb(msg)
        except ValueError as exc:
            self.use.dropped[str(exc)] += 1
            return
        with quiet_stderr():  # MediaPipe's notes, on its first frames
            if self.tracker is None:  # as generate's offline extraction (extract_video_file)
                self.tracker = SpeakerHeadTracker(smoothing=OneEuroFilter(1.5, 0.3),
                                                  face_selection=self.face_selection)
            pose = self.tracker.process(rgb, stamp)
        self._keep(stamp, pose.dof() if pose is not None else np.full(POSE_DIM, np.nan))

    def add_pose(self, orientation, position, stamp: float) -> None:
        from lhg_ros.features.landmark_pose import dof_from_camera_pose

        values = [orientation.w, orientation.x, orientation.y, orientation.z,
                  position.x, position.y, position.z]
        if not np.all(np.isfinite(values)) or abs(np.linalg.norm(values[:4]) - 1.0) > 0.05:
            self.use.dropped['NaN or a non-unit quaternion'] += 1
            return
        if self._place(stamp):
            self._keep(stamp, dof_from_camera_pose(values[:4], values[4:]))

    def add_pose_message(self, msg) -> None:
        self.use.messages += 1
        self.add_pose(msg.pose.orientation, msg.pose.position, _stamp(msg.header))

    def add_tf(self, msg) -> None:
        """REP-155 face frames: the followed face's ``face_<id>`` transform."""
        from lhg_ros.ros4hri import FACE_FRAME_PREFIX, Following

        self.use.messages += 1
        faces = {t.child_frame_id[len(FACE_FRAME_PREFIX):]: t for t in msg.transforms
                 if t.child_frame_id.startswith(FACE_FRAME_PREFIX)}
        if not faces:
            return
        self.following = self.following or Following()
        face = self.following.update(sorted(faces))
        if face is not None:
            transform = faces[face]
            self.add_pose(transform.transform.rotation, transform.transform.translation,
                          _stamp(transform.header))

    def _keep(self, stamp: float, dof: np.ndarray) -> None:
        self.use.accept(stamp)
        self.times.append(stamp)
        self.poses.append(dof)

    def close(self) -> None:
        if self.tracker is not None:
            self.tracker.close()


def _raw_audio_format(reader, store, topics: dict) -> tuple[str, int, int]:
    """Sample format, rate and channels for the ros-drivers 0.3 layout (raw bytes): from an
    ``AudioInfo`` of that layout in the bag (audio_capture's ``audio_info``), else S16LE,
    16 kHz, mono (audio_capture's defaults)."""
    formats = {'S16LE', 'S32LE', 'F32LE', 'U8', 'S8'}
    for connection in reader.connections:
        if connection.msgtype != 'audio_common_msgs/msg/AudioInfo':
            continue
        for _, _, raw in reader.messages([connection]):
            info = deserialize(store, raw, connection.msgtype)
            if hasattr(info, 'sample_format') and info.sample_format in formats:
                return info.sample_format, int(info.sample_rate), int(info.channels)
            break
    return 'S16LE', 16000, 1


def read_bag(path, audio_topic: str | None = None, image_topic: str | None = None,
             pose_topic: str | None = None, face_selection: str = 'continuity',
             keep_audio: bool = False, progress=None) -> BagRecording:
    """The replay's inputs from a rosbag2 recording; ``BagError`` (one line) when it has no
    usable audio or cannot be read. ``keep_audio``: also the audio at 16 kHz (for a video).
    ``progress(done, total)`` is called as messages are read."""
    from rosbags.rosbag2 import Reader

    bag = Path(path)
    if not bag.exists():
        raise BagError(f"bag '{bag}' does not exist")
    if bag.is_dir() and not (bag / 'metadata.yaml').is_file():
        files = sorted(bag.glob('*.mcap')) + sorted(bag.glob('*.db3'))
        if len(files) != 1:  # (one file and no metadata: a recording copied without it)
            raise BagError(f"'{bag}' is not a rosbag2 folder (no metadata.yaml, "
                           f'{len(files)} .mcap / .db3 files); give the bag\'s folder or '
                           'its .mcap / .db3 file')
        bag = files[0]
    try:
        with Reader(bag) as reader:
            return _read(reader, bag, audio_topic, image_topic, pose_topic, face_selection,
                         keep_audio, progress)
    except BagError:
        raise
    except Exception as exc:  # noqa: BLE001 - rosbags, mcap and sqlite raise many types
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BagError(f"cannot read bag '{bag}': {reason}") from None


def _read(reader, bag, audio_topic, image_topic, pose_topic, face_selection, keep_audio,
          progress):
    topics = {c.topic: (c.msgtype, 0) for c in reader.connections}
    for c in reader.connections:
        topics[c.topic] = (c.msgtype, topics[c.topic][1] + c.msgcount)
    audio_name = _pick(topics, audio_topic, AUDIO_TYPES, 'audio', '--audio-topic', bag)
    if audio_name is None:
        raise BagError(f'no audio in {bag} (audio_common_msgs AudioStamped, Audio, AudioData '
                       f'or AudioDataStamped); its topics: {describe_topics(topics)}')
    speaker_name = None
    if image_topic:
        speaker_name = _pick(topics, image_topic, CAMERA_TYPES, 'a camera', '--image-topic', bag)
    elif pose_topic:
        speaker_name = _pick(topics, pose_topic, (POSE_TYPE, TF_TYPE), 'speaker poses',
                             '--pose-topic', bag)
    else:  # what the listener saw live (recorded poses) before re-tracking a camera
        speaker_name = (_pick(topics, None, (POSE_TYPE,), '', '', bag)
                        or _pick(topics, None, CAMERA_TYPES, '', '', bag)
                        or ('/tf' if topics.get('/tf', ('',))[0] == TF_TYPE else None))
    store = make_typestore(reader.connections)
    total = topics[audio_name][1] + (topics[speaker_name][1] if speaker_name else 0)
    done = [0]

    def messages(name):
        connections = [c for c in reader.connections if c.topic == name]
        for connection, log_ns, raw in reader.messages(connections):
            done[0] += 1
            if progress is not None and done[0] % 200 == 0:
                progress(done[0], total)
            try:
                msg = deserialize(store, raw, connection.msgtype)
            except Exception:  # noqa: BLE001 - a corrupt message is dropped, not fatal
                yield None, log_ns * 1e-9
                continue
            yield msg, log_ns * 1e-9

    audio = TopicUse(audio_name, topics[audio_name][0])
    audio_reader = _AudioReader(audio, _raw_audio_format(reader, store, topics), keep_audio)
    for msg, log_time in messages(audio_name):
        if msg is None:
            audio.messages += 1
            audio.dropped['a message that does not deserialize'] += 1
        else:
            audio_reader.add(msg, log_time)
    audio_reader.finish()
    if not audio_reader.blocks:
        reason = audio.drops() if audio.messages else 'no messages'
        raise BagError(f'no usable audio on {audio_name} in {bag}: {reason}')
    start = audio.first
    audio_s = audio_reader.end - start
    recording = BagRecording(bag, topics, audio, audio_reader.blocks, audio_s, start)
    if keep_audio:
        recording.audio16k = np.concatenate(audio_reader.audio16k)
    for block in recording.blocks:
        block.arrival -= start
        block.stamp -= start
    if speaker_name is None:
        return recording
    use = TopicUse(speaker_name, topics[speaker_name][0])
    speaker = _SpeakerReader(use, (start, audio_reader.end), face_selection)
    try:
        for msg, _ in messages(speaker_name):
            if msg is None:
                use.messages += 1
                use.dropped['a message that does not deserialize'] += 1
            elif use.msgtype in CAMERA_TYPES:
                speaker.add_image(msg)
            elif use.msgtype == TF_TYPE:
                speaker.add_tf(msg)
            else:
                speaker.add_pose_message(msg)
    finally:
        speaker.close()
    recording.speaker = use
    if speaker.times:
        recording.pose_times = np.array(speaker.times) - start
        recording.poses = np.array(speaker.poses).reshape(-1, POSE_DIM)
        recording.fps = use.rate
        found = ~np.isnan(recording.poses[:, 0])
        if use.msgtype in CAMERA_TYPES:
            recording.face_share = float(found.mean())
        else:
            recording.face_share = covered_share(recording.pose_times[found], audio_s)
    return recording


def covered_share(times: np.ndarray, duration_s: float, within_s: float = 0.2) -> float:
    """Share of [0, ``duration_s``] that has one of ``times`` within ``within_s``."""
    if not len(times) or duration_s <= 0:
        return 0.0
    grid = np.arange(0.0, duration_s, 0.04)
    after = np.clip(np.searchsorted(times, grid), 1, len(times) - 1) if len(times) > 1 else None
    if after is None:
        nearest = np.abs(grid - times[0])
    else:
        nearest = np.minimum(np.abs(grid - times[after - 1]), np.abs(grid - times[after]))
    return float((nearest <= within_s).mean())


def _header(types, at: float, frame_id: str):
    sec = math.floor(at)
    return types['std_msgs/msg/Header'](
        stamp=types['builtin_interfaces/msg/Time'](sec=sec, nanosec=int((at - sec) * 1e9)),
        frame_id=frame_id)


def audio_stamped_messages(store, samples: np.ndarray, rate: int, stamp: float, chunk: int,
                           frame_id: str = 'microphone'):
    """``samples`` (n,) or (n, channels) int16 as audio_common 4.x ``AudioStamped`` messages of
    ``chunk`` samples, the first captured at ``stamp``: (log time s, message), each logged when
    its last sample was captured, as a capturer publishes them."""
    samples = np.asarray(samples, dtype=np.int16)
    samples = samples.reshape(len(samples), -1)
    types = store.types
    empty = {name: np.zeros(0, dtype=dtype) for name, dtype in
             (('float32_data', np.float32), ('int32_data', np.int32),
              ('int8_data', np.int8), ('uint8_data', np.uint8))}
    for first in range(0, len(samples), chunk):
        part = samples[first:first + chunk]
        at = stamp + first / rate
        data = types['audio_common_msgs/msg/AudioData'](int16_data=part.reshape(-1), **empty)
        info = types['audio_common_msgs/msg/AudioInfo'](
            format=8, channels=part.shape[1], rate=rate, chunk=len(part))  # 8: paInt16
        yield at + len(part) / rate, types['audio_common_msgs/msg/AudioStamped'](
            header=_header(types, at, frame_id),
            audio=types['audio_common_msgs/msg/Audio'](audio_data=data, info=info))


def compressed_camera_messages(store, video, start: float, from_s: float = 0.0,
                               frame_id: str = 'camera'):
    """A video file's frames from ``from_s`` on as a JPEG ``CompressedImage`` camera stamped
    ``start`` + their time in the video: (log time s, message), logged 30 ms after capture.
    For making a robot-like recording from files (tests, benchmarks)."""
    import cv2

    types = store.types
    capture = cv2.VideoCapture(str(video))
    fps, index = capture.get(cv2.CAP_PROP_FPS), 0
    try:
        while (frame := capture.read())[0]:
            t, index = index / fps, index + 1
            if t < from_s:
                continue
            jpeg = cv2.imencode('.jpg', frame[1], [cv2.IMWRITE_JPEG_QUALITY, 90])[1]
            yield start + t + 0.03, types['sensor_msgs/msg/CompressedImage'](
                header=_header(types, start + t, frame_id), format='jpeg',
                data=jpeg.reshape(-1))
    finally:
        capture.release()


class BagWriter:
    """A rosbag2 MCAP bag (``ros2 bag info``, Foxglove and ``read_bag`` open it) of messages
    already in CDR, of rosbags messages, and of audio written as
    ``audio_common_msgs/msg/AudioStamped``."""

    def __init__(self, path):
        from rosbags.rosbag2 import StoragePlugin, Writer

        self.store = make_typestore()
        # Version 8 is the oldest rosbags writes and what Jazzy's rosbag2 writes itself.
        self._writer = Writer(Path(path), version=8, storage_plugin=StoragePlugin.MCAP)
        self._writer.open()
        self._connections = {}

    def write(self, topic: str, msgtype: str, log_time_ns: int, cdr: bytes) -> None:
        if topic not in self._connections:
            self._connections[topic] = self._writer.add_connection(topic, msgtype,
                                                                   typestore=self.store)
        self._writer.write(self._connections[topic], int(log_time_ns), cdr)

    def write_message(self, topic: str, msgtype: str, log_time: float, msg) -> None:
        """A message of this writer's type store, logged at ``log_time`` (s)."""
        self.write(topic, msgtype, round(log_time * 1e9), self.store.serialize_cdr(msg, msgtype))

    def write_audio(self, topic: str, samples: np.ndarray, rate: int, stamp: float,
                    chunk: int, frame_id: str = 'microphone') -> int:
        """:func:`audio_stamped_messages` into the bag; returns the number of messages."""
        count = 0
        for log_time, msg in audio_stamped_messages(self.store, samples, rate, stamp, chunk,
                                                    frame_id):
            self.write_message(topic, 'audio_common_msgs/msg/AudioStamped', log_time, msg)
            count += 1
        return count

    def close(self) -> None:
        self._writer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
