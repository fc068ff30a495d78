"""audio_features_node: speaker audio -> 81-d FBank features (32FC1 Image) and is_speaking.

Sources (parameter ``source``): ``file`` (WAV/FLAC/OGG, real-time pace or as fast as possible),
``microphone`` (PyAudio), ``topic`` (``audio_common_msgs`` on ``audio``: the audio_common 4.x
``AudioStamped`` / ``Audio``, or the ros-drivers 0.3 ``AudioDataStamped`` / ``AudioData``).
Capture callbacks only queue samples and wake the node (a guard condition), which then
computes and publishes at once: a frame's features leave the node as soon as its last sample
is in, not at the next poll. A timer polls as well (``publish_period_s``), for what no wake-up
brought and to start a file once its subscribers are there. Dropped audio (malformed or badly
stamped messages, a full queue) is counted on /diagnostics.
"""

import importlib
import queue
import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import Bool

from lhg_ros.features.audio import STATIC_DIM
from lhg_ros.features.audio_frontend import SpeakerAudioFrontEnd
from lhg_ros.features.spectrogram import SpectrogramImage
from lhg_ros.nodes.common import (
    StartupError,
    SubscriberWait,
    declare,
    flush,
    image_from_rows,
    mono8_image,
    run,
    sensor_qos,
)
from lhg_ros.sources.audio import (
    PCM_FORMATS,
    TOPIC_RATE_RANGE,
    AudioChunk,
    AudioMessageStream,
    AudioSourceError,
    FileAudioSource,
    MicrophoneSource,
)

SOURCES = ('file', 'microphone', 'topic')
# audio_common 4.x describes its own samples; the ros-drivers 0.3 types need topic.sample_*.
TOPIC_TYPES = ('AudioStamped', 'Audio', 'AudioDataStamped', 'AudioData')


class TopicAudioSource:
    """Audio from an ``audio_common_msgs`` topic; the callback only checks and queues chunks."""

    def __init__(self, node: Node, message_type: str, sample_format: str, sample_rate: int,
                 channels: int, max_queued: int = 200, notify=None):
        try:
            msg_type = getattr(importlib.import_module('audio_common_msgs.msg'), message_type)
        except (ImportError, AttributeError):
            raise StartupError(
                f"source 'topic' with type '{message_type}' needs the audio_common_msgs package "
                'with that message (AudioStamped, Audio: audio_common 4.x; AudioDataStamped, '
                'AudioData: ros-drivers 0.3): apt install ros-$ROS_DISTRO-audio-common-msgs, or '
                "use source 'microphone' or 'file'") from None
        if message_type == 'AudioData' and 'data' not in msg_type.get_fields_and_field_types():
            raise StartupError("the installed audio_common_msgs is audio_common 4.x, whose "
                               'AudioData carries no format, rate or channels: use '
                               'topic.message_type AudioStamped (or Audio)')
        self._node = node
        self._notify = notify
        self._stream = AudioMessageStream(sample_format, sample_rate, channels)
        self._queue: queue.Queue = queue.Queue(maxsize=max_queued)
        self.finished = False
        self.dropped = 0
        self.drop_reason = ''
        # Best effort matches any publisher; the depth rides out a busy executor (50 chunks).
        node.create_subscription(msg_type, 'audio', self._on_audio, sensor_qos(depth=50))

    @property
    def sample_rate(self) -> int | None:
        """The stream's rate, known once the first message is accepted."""
        return self._stream.sample_rate

    def _on_audio(self, msg) -> None:
        try:
            chunk = self._stream.chunk(msg, self._node.get_clock().now().nanoseconds * 1e-9)
            self._queue.put_nowait(chunk)
        except ValueError as exc:
            self._drop(str(exc))
        except queue.Full:
            self._drop('the node fell behind the audio topic')
        else:
            if self._notify is not None:
                self._notify()

    def _drop(self, reason: str) -> None:
        self.dropped += 1
        self.drop_reason = reason
        self._node.get_logger().warning(f'dropped an audio message: {reason}',
                                        throttle_duration_sec=5.0)

    def read(self) -> list[AudioChunk]:
        chunks = []
        while not self._queue.empty():
            chunks.append(self._queue.get_nowait())
        return chunks

    def close(self) -> None:
        pass


class AudioFeaturesNode(Node):
    NODE_NAME = 'audio_features_node'

    def __init__(self, **node_options):
        super().__init__(self.NODE_NAME, **node_options)
        source = declare(self, 'source', 'file', 'where the speaker audio comes from',
                         choices=SOURCES)
        self.frame_id = declare(self, 'frame_id', 'speaker_microphone',
                                'header.frame_id of the published features')
        period = declare(self, 'publish_period_s', 0.01,
                         'how often the node polls its source (s): a file waiting for its '
                         'subscribers, or audio that no wake-up announced; every source '
                         'wakes the node as soon as audio is in, so features do not wait '
                         'for this', value_range=(0.005, 0.5))
        self._latency_log = None
        log_path = declare(self, 'latency_log', '', 'CSV file to write each published '
                           "message's stamp and publish time to (lhg-ros latency-report); "
                           'empty = off')
        if log_path:
            from lhg_ros.latency_log import FeaturesLatencyLog

            try:
                self._latency_log = FeaturesLatencyLog(log_path)
            except OSError as exc:
                raise StartupError(f'cannot write latency_log: {exc}') from None
        self.exit_at_end = declare(self, 'file.exit_at_end', False,
                                   'shut the node down when a non-looping file has been read')
        self._source_kind = source
        # The sources' capture threads and callbacks trigger it (thread-safe); its callback
        # runs in this node's executor, as the timer's does.
        self._wake = self.create_guard_condition(self._drain)
        self._setup_source(source)
        vad = None
        if declare(self, 'vad.enabled', True, 'run Silero voice activity detection'):
            from lhg_ros.features.vad import VoiceActivityDetector

            try:
                vad = VoiceActivityDetector(
                    threshold=declare(self, 'vad.threshold', 0.5,
                                      'speech probability that starts speech',
                                      value_range=(0.05, 0.95)),
                    hangover_s=declare(self, 'vad.hangover_s', 0.3,
                                       'silence that must pass before speech ends (s)',
                                       value_range=(0.0, 3.0)))
            except FileNotFoundError as exc:
                raise StartupError(str(exc)) from None
        self._vad = vad
        self._frontend: SpeakerAudioFrontEnd | None = None
        reliable = declare(self, 'reliable', False,
                           'publish features with reliable instead of best-effort QoS')
        # Reliable keeps the last second for late acknowledgements: with 10 (100 ms), a
        # subscriber that stalled longer on a loaded machine lost rows it was promised.
        qos = sensor_qos(reliable, depth=100 if reliable else 10)
        self._features_pub = self.create_publisher(Image, 'audio_features', qos)
        self._wait = SubscriberWait(self, self._features_pub, 'audio_features')
        self._speaking_pub = self.create_publisher(Bool, 'is_speaking', 10)
        self._spectrogram = None
        if declare(self, 'publish_spectrogram', False,
                   'publish a scrolling log-mel image on audio_features/spectrogram (mono8)'):
            self._spectrogram = SpectrogramImage(STATIC_DIM)
            self._spectrogram_pub = self.create_publisher(Image, 'audio_features/spectrogram',
                                                          qos)
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self._dropped_before = 0
        self._speaking_sent: bool | None = None
        self.frames_published = 0
        self._timer = self.create_timer(period, self._on_timer)
        self.create_timer(1.0, self._publish_diagnostics)

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _declare_source_parameters(self) -> dict:
        """All source parameters, declared whatever the source, so `ros2 param` lists them."""
        return {
            'file.path': declare(self, 'file.path', '', 'audio file to read (WAV, FLAC, OGG)'),
            'file.realtime': declare(self, 'file.realtime', True,
                                     'pace the file in real time (false: as fast as possible)'),
            'file.loop': declare(self, 'file.loop', False, 'start again at the end'),
            'microphone.device': declare(
                self, 'microphone.device', '',
                "input device: '' (default), an index or a name substring"),
            'microphone.sample_rate': declare(
                self, 'microphone.sample_rate', 0, "capture rate in Hz; 0 = the device's default",
                value_range=(0, 192000)),
            'microphone.channels': declare(self, 'microphone.channels', 1,
                                           'channels to capture (averaged to mono)',
                                           value_range=(1, 8)),
            'topic.message_type': declare(
                self, 'topic.message_type', 'AudioStamped',
                'audio_common_msgs type on the audio topic: AudioStamped or Audio (audio_common '
                '4.x, any format, rate and channels), AudioDataStamped or AudioData (0.3)',
                choices=TOPIC_TYPES),
            'topic.sample_format': declare(self, 'topic.sample_format', 'S16LE',
                                           "sample format of the 0.3 layout's raw bytes",
                                           choices=tuple(PCM_FORMATS)),
            'topic.sample_rate': declare(self, 'topic.sample_rate', 16000,
                                         'sample rate of the 0.3 layout (Hz)',
                                         value_range=TOPIC_RATE_RANGE),
            'topic.channels': declare(self, 'topic.channels', 1,
                                      'channels of the 0.3 layout (averaged to mono)',
                                      value_range=(1, 8)),
        }

    def _setup_source(self, source: str) -> None:
        p = self._declare_source_parameters()
        try:
            if source == 'file':
                if not p['file.path']:
                    raise StartupError("source 'file' needs the parameter file.path")
                self.source = FileAudioSource(p['file.path'], clock=self._now,
                                              realtime=p['file.realtime'], loop=p['file.loop'],
                                              notify=self._wake.trigger)
                self.get_logger().info(f"reading '{p['file.path']}' "
                                       f'({self.source.duration_s:.1f} s, '
                                       f'{self.source.sample_rate} Hz)')
            elif source == 'microphone':
                self.source = MicrophoneSource(
                    device=p['microphone.device'], sample_rate=p['microphone.sample_rate'],
                    channels=p['microphone.channels'], clock=self._now,
                    notify=self._wake.trigger)
                self.get_logger().info(f"capturing '{self.source.device_name}' at "
                                       f'{self.source.sample_rate} Hz')
            else:
                self.source = TopicAudioSource(
                    self, p['topic.message_type'], p['topic.sample_format'],
                    p['topic.sample_rate'], p['topic.channels'], notify=self._wake.trigger)
        except AudioSourceError as exc:
            raise StartupError(str(exc)) from None

    def _on_timer(self) -> None:
        if self._source_kind == 'file' and not self._wait.ready():
            return
        self._drain()

    def _drain(self) -> None:
        """Features of all the audio in, published; the end of a file."""
        if self._timer.is_canceled():
            return  # (a wake-up after the end of the file)
        for chunk in self.source.read():
            began = time.perf_counter()
            if self._frontend is None:
                self._frontend = SpeakerAudioFrontEnd(self.source.sample_rate,
                                                      chunk.samples.shape[-1], self._vad)
            self._publish(self._frontend.accept(chunk.samples, chunk.first_sample_time), began)
        if self.source.finished:
            self._timer.cancel()
            if self._frontend is not None:
                self._publish(self._frontend.finish())
            self.get_logger().info(f'end of the audio file: {self.frames_published} frames '
                                   'published')
            if self.exit_at_end:
                # The last messages must reach every reliable subscriber before the exit.
                flush([self._features_pub, self._speaking_pub])
                raise SystemExit(0)

    def _publish(self, block, began: float | None = None) -> None:
        """``began``: perf_counter when its audio was handed over (for the latency log)."""
        if len(block.frames):
            self._features_pub.publish(image_from_rows(block.frames, block.stamp, self.frame_id))
            self.frames_published += len(block.frames)
            if self._latency_log is not None:
                work = float('nan') if began is None else time.perf_counter() - began
                self._latency_log.write(block.stamp, len(block.frames), self._now(), work)
            if self._spectrogram is not None:
                self._spectrogram.push(block.frames[:, :STATIC_DIM])
                self._spectrogram_pub.publish(
                    mono8_image(self._spectrogram.image(), block.stamp, self.frame_id))
        # With the features, or on its own when it changes (chunks of 5 ms: not every one
        # completes a frame).
        if block.speaking is not None and (len(block.frames)
                                           or block.speaking != self._speaking_sent):
            self._speaking_pub.publish(Bool(data=block.speaking))
            self._speaking_sent = block.speaking

    def _publish_diagnostics(self) -> None:
        dropped = self.source.dropped - self._dropped_before  # this period's, not since start
        self._dropped_before = self.source.dropped
        status = DiagnosticStatus(name=f'{self.get_name()}: speaker audio',
                                  hardware_id=self.frame_id)
        if dropped:
            status.level = DiagnosticStatus.WARN
            status.message = f'{dropped} audio chunk(s) dropped: {self.source.drop_reason}'
        else:
            status.level, status.message = DiagnosticStatus.OK, 'no audio dropped'
        values = {'source': self._source_kind, 'sample rate': self.source.sample_rate or '',
                  'frames published': self.frames_published, 'audio chunks dropped': dropped,
                  'audio chunks dropped since start': self.source.dropped,
                  'last drop reason': self.source.drop_reason}
        status.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics_pub.publish(array)

    def destroy_node(self) -> None:
        if getattr(self, 'source', None) is not None:  # (start-up may have failed before)
            self.source.close()
        if getattr(self, '_latency_log', None) is not None:
            self._latency_log.close()
        super().destroy_node()


def main(args=None) -> int:
    return run(AudioFeaturesNode, args)

