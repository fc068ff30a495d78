"""audio_features_node: speaker audio -> 81-d FBank features (32FC1 Image) and is_speaking.

Sources (parameter ``source``): ``file`` (WAV/FLAC/OGG, real-time pace or as fast as possible),
``microphone`` (PyAudio), ``topic`` (``audio_common_msgs``, where that package is installed).
A timer drains the source and publishes; capture callbacks only queue samples.
"""

import importlib
import queue

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
    seconds_from_stamp,
    sensor_qos,
)
from lhg_ros.sources.audio import (
    PCM_FORMATS,
    AudioChunk,
    AudioSourceError,
    FileAudioSource,
    MicrophoneSource,
    samples_from_audio_message,
)

SOURCES = ('file', 'microphone', 'topic')
TOPIC_TYPES = ('AudioStamped', 'AudioDataStamped', 'AudioData')


class TopicAudioSource:
    """Audio from an ``audio_common_msgs`` topic; the callback only queues the samples."""

    def __init__(self, node: Node, message_type: str, sample_format: str, sample_rate: int,
                 channels: int, max_queued: int = 200):
        try:
            msg_type = getattr(importlib.import_module('audio_common_msgs.msg'), message_type)
        except (ImportError, AttributeError):
            raise StartupError(
                f"source 'topic' with type '{message_type}' needs the audio_common_msgs package "
                'with that message: apt install ros-$ROS_DISTRO-audio-common-msgs, or use '
                "source 'microphone' or 'file'") from None
        self._node = node
        self._format, self._rate, self._channels = sample_format, sample_rate, channels
        self._queue: queue.Queue = queue.Queue(maxsize=max_queued)
        self.sample_rate = None  # known once the first message arrives
        self.finished = False
        self.dropped = 0
        node.create_subscription(msg_type, 'audio', self._on_audio, sensor_qos())

    def _on_audio(self, msg) -> None:
        try:
            samples, rate = samples_from_audio_message(msg, self._format, self._rate,
                                                       self._channels)
            if self.sample_rate is not None and rate != self.sample_rate:
                raise ValueError(f'sample rate changed from {self.sample_rate} to {rate} Hz')
        except ValueError as exc:
            self._node.get_logger().warning(f'dropped a malformed audio message: {exc}',
                                            throttle_duration_sec=5.0)
            return
        self.sample_rate = rate
        header = getattr(msg, 'header', None)
        now = self._node.get_clock().now().nanoseconds * 1e-9
        start = seconds_from_stamp(header.stamp) if header is not None and header.stamp.sec \
            else now - len(samples) / rate
        try:
            self._queue.put_nowait(AudioChunk(samples, start))
        except queue.Full:
            self.dropped += 1

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
                         'how often available features are published (s); features wait '
                         'up to this long after their 10 ms of audio is in',
                         value_range=(0.005, 0.5))
        self._latency_log = None
        log_path = declare(self, 'latency_log', '', 'CSV file to write each published '
                           "message's stamp and publish time to (lhg-ros latency-report); "
                           'empty = off')
        if log_path:
            from lhg_ros.evaluation.latency import FeaturesLatencyLog

            try:
                self._latency_log = FeaturesLatencyLog(log_path)
            except OSError as exc:
                raise StartupError(f'cannot write latency_log: {exc}') from None
        self.exit_at_end = declare(self, 'file.exit_at_end', False,
                                   'shut the node down when a non-looping file has been read')
        self._source_kind = source
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
        qos = sensor_qos(declare(self, 'reliable', False,
                                 'publish features with reliable instead of best-effort QoS'))
        self._features_pub = self.create_publisher(Image, 'audio_features', qos)
        self._wait = SubscriberWait(self, self._features_pub, 'audio_features')
        self._speaking_pub = self.create_publisher(Bool, 'is_speaking', 10)
        self._spectrogram = None
        if declare(self, 'publish_spectrogram', False,
                   'publish a scrolling log-mel image on audio_features/spectrogram (mono8)'):
            self._spectrogram = SpectrogramImage(STATIC_DIM)
            self._spectrogram_pub = self.create_publisher(Image, 'audio_features/spectrogram',
                                                          qos)
        self.frames_published = 0
        self._timer = self.create_timer(period, self._on_timer)

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
            'topic.message_type': declare(self, 'topic.message_type', 'AudioStamped',
                                          'audio_common_msgs message type on the audio topic',
                                          choices=TOPIC_TYPES),
            'topic.sample_format': declare(self, 'topic.sample_format', 'S16LE',
                                           'sample format of AudioData bytes',
                                           choices=tuple(PCM_FORMATS)),
            'topic.sample_rate': declare(self, 'topic.sample_rate', 16000,
                                         'sample rate of AudioData (Hz)',
                                         value_range=(8000, 192000)),
            'topic.channels': declare(self, 'topic.channels', 1, 'channels of AudioData',
                                      value_range=(1, 8)),
        }

    def _setup_source(self, source: str) -> None:
        p = self._declare_source_parameters()
        try:
            if source == 'file':
                if not p['file.path']:
                    raise StartupError("source 'file' needs the parameter file.path")
                self.source = FileAudioSource(p['file.path'], clock=self._now,
                                              realtime=p['file.realtime'], loop=p['file.loop'])
                self.get_logger().info(f"reading '{p['file.path']}' "
                                       f'({self.source.duration_s:.1f} s, '
                                       f'{self.source.sample_rate} Hz)')
            elif source == 'microphone':
                self.source = MicrophoneSource(
                    device=p['microphone.device'], sample_rate=p['microphone.sample_rate'],
                    channels=p['microphone.channels'], clock=self._now)
                self.get_logger().info(f"capturing '{self.source.device_name}' at "
                                       f'{self.source.sample_rate} Hz')
            else:
                self.source = TopicAudioSource(
                    self, p['topic.message_type'], p['topic.sample_format'],
                    p['topic.sample_rate'], p['topic.channels'])
        except AudioSourceError as exc:
            raise StartupError(str(exc)) from None

    def _on_timer(self) -> None:
        if self._source_kind == 'file' and not self._wait.ready():
            return
        for chunk in self.source.read():
            if self._frontend is None:
                self._frontend = SpeakerAudioFrontEnd(self.source.sample_rate,
                                                      chunk.samples.shape[-1], self._vad)
            self._publish(self._frontend.accept(chunk.samples, chunk.first_sample_time))
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

    def _publish(self, block) -> None:
        if len(block.frames):
            self._features_pub.publish(image_from_rows(block.frames, block.stamp, self.frame_id))
            self.frames_published += len(block.frames)
            if self._latency_log is not None:
                self._latency_log.write(block.stamp, len(block.frames), self._now())
            if self._spectrogram is not None:
                self._spectrogram.push(block.frames[:, :STATIC_DIM])
                self._spectrogram_pub.publish(
                    mono8_image(self._spectrogram.image(), block.stamp, self.frame_id))
        if block.speaking is not None:
            self._speaking_pub.publish(Bool(data=block.speaking))

    def destroy_node(self) -> None:
        if getattr(self, 'source', None) is not None:  # (start-up may have failed before)
            self.source.close()
        if getattr(self, '_latency_log', None) is not None:
            self._latency_log.close()
        super().destroy_node()


def main(args=None) -> int:
    return run(AudioFeaturesNode, args)

