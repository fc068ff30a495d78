"""Audio sources: a WAV/FLAC file (paced in real time or as fast as possible) or a microphone,
and the decoding of ``audio_common_msgs`` messages (4.x and 0.3 layouts, duck-typed: no ROS
import here) for the node's topic source.

A source hands out :class:`AudioChunk` s: raw samples with the capture time of their first
sample, on the clock the caller passes in (the node's ROS clock). Given ``notify``, the
microphone and a real-time file deliver their samples in chunks of ``CHUNK_S`` from a thread
of their own and call it on each, so that the node publishes a frame's features as soon as
its last sample is in rather than at its next poll.
"""

import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lhg_ros.console import quiet_stderr
from lhg_ros.stamps import StampWindow

Clock = Callable[[], float]
# A delivered chunk's length (s): 5 ms divides the features' 25 ms window and 10 ms hop, so
# every feature frame is complete at the end of a chunk, not part-way through one (with 10 ms
# chunks each frame would wait 5 ms for the rest of its chunk).
CHUNK_S = 0.005


class AudioSourceError(RuntimeError):
    """The source cannot start; the message says why and what to do."""


@dataclass
class AudioChunk:
    samples: np.ndarray  # (n, channels), any PCM dtype
    first_sample_time: float  # seconds on the caller's clock


def wav_truncation(path: Path) -> str | None:
    """For a RIFF/WAVE file whose data chunk is shorter than its header says (a copy or a
    recording cut short): what is missing; None for a whole file or another format."""
    import struct

    with open(path, 'rb') as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b'RIFF' or head[8:12] != b'WAVE':
            return None
        size = path.stat().st_size
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return None
            name, length = chunk[:4], struct.unpack('<I', chunk[4:])[0]
            if name == b'data':
                held = size - f.tell()
                if length != 0xFFFFFFFF and held < length:  # (streamed WAVs write -1)
                    return (f'its header promises {length} bytes of samples, the file holds '
                            f'{held} ({100 * held / max(length, 1):.0f}%)')
                return None
            f.seek(length + (length & 1), 1)


class FileAudioSource:
    """Reads an audio file in blocks.

    ``realtime``: each ``read()`` returns the samples whose time has come since the first read,
    as a microphone would deliver them; with ``notify``, the first ``read()`` starts a thread
    that delivers them as a microphone does, ``chunk_s`` at a time when its last sample is due,
    and calls ``notify`` for each (``read()`` then returns what it queued). Otherwise each
    ``read()`` returns the next ``block_s`` seconds at once, stamped as if the file had been
    captured from the first read on.
    """

    def __init__(self, path: str | Path, clock: Clock = time.time, realtime: bool = True,
                 loop: bool = False, block_s: float = 0.5,
                 notify: Callable[[], None] | None = None, chunk_s: float = CHUNK_S):
        import soundfile as sf

        self.path = Path(path)
        if not self.path.exists():
            raise AudioSourceError(f"audio file '{self.path}' does not exist")
        if not self.path.is_file():
            raise AudioSourceError(f"'{self.path}' is a directory, not an audio file")
        truncated = wav_truncation(self.path)
        if truncated:
            raise AudioSourceError(f"audio file '{self.path}' is truncated: {truncated}")
        try:
            self._file = sf.SoundFile(str(self.path))
        except Exception as exc:  # noqa: BLE001 - libsndfile raises several types
            reason = str(exc).rstrip('.')
            raise AudioSourceError(f"cannot read audio file '{self.path}': {reason}. "
                                   'WAV, FLAC and OGG are supported.') from None
        self.sample_rate = self._file.samplerate
        self.channels = self._file.channels
        self.duration_s = self._file.frames / self.sample_rate
        self._clock = clock
        self._realtime = realtime
        self._loop = loop
        self._block = max(1, int(block_s * self.sample_rate))
        self._start: float | None = None
        self._samples_read = 0
        self._ended = False
        self.dropped, self.drop_reason = 0, ''  # (as every source has; a file drops nothing)
        self._notify = notify if realtime else None
        self._chunk_s = chunk_s
        self._queue: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def finished(self) -> bool:
        """The whole file has been handed out (a looping file never is)."""
        return self._ended and self._queue.empty()

    def read(self) -> list[AudioChunk]:
        now = self._clock()
        if self._start is None:
            self._start = now
            if self._notify is not None:
                self._thread = threading.Thread(target=self._deliver, daemon=True,
                                                name='file audio')
                self._thread.start()
        if self._notify is not None:
            chunks = []
            while not self._queue.empty():
                chunks.append(self._queue.get_nowait())
            return chunks
        if self._ended:
            return []
        if self._realtime:
            return self._take(int((now - self._start) * self.sample_rate) - self._samples_read)
        return self._take(self._block)

    def _take(self, wanted: int) -> list[AudioChunk]:
        chunks = []
        while wanted > 0 and not self._ended:
            block = self._file.read(wanted, dtype='float32', always_2d=True)
            if len(block):
                chunks.append(AudioChunk(block, self._start + self._samples_read /
                                         self.sample_rate))
                self._samples_read += len(block)
                wanted -= len(block)
            if self._file.tell() >= self._file.frames:
                if self._loop:
                    self._file.seek(0)
                else:
                    self._ended = True
        return chunks

    def _deliver(self) -> None:
        """The capture thread: each chunk when its last sample is due (chunk ends on a grid of
        ``chunk_s`` from the start), queued before ``notify`` is called."""
        index = 0
        while not self._ended and not self._stop.is_set():
            index += 1
            end = math.ceil(index * self._chunk_s * self.sample_rate - 1e-6)  # (float error)
            wait = self._start + end / self.sample_rate - self._clock()
            if wait > 0 and self._stop.wait(wait):
                return
            for chunk in self._take(end - self._samples_read):
                self._queue.put(chunk)
            self._notify()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        self._file.close()


def list_input_devices(audio) -> list[tuple[int, str, int, int]]:
    """(index, name, input channels, default rate) of every capture device PortAudio sees."""
    devices = []
    for index in range(audio.get_device_count()):
        info = audio.get_device_info_by_index(index)
        if info['maxInputChannels'] > 0:
            devices.append((index, info['name'], int(info['maxInputChannels']),
                            int(info['defaultSampleRate'])))
    return devices


def find_input_device(devices: list[tuple[int, str, int, int]], spec: str) -> int:
    """Index of the device named by ``spec``: '' (the first), an index, or a name substring."""
    listing = '; '.join(f'[{i}] {name}' for i, name, _, _ in devices) or 'none found'
    if not devices:
        raise AudioSourceError(f'no audio input device found (input devices: {listing}); plug '
                               'in a microphone or use source:=file')
    spec = spec.strip()
    if not spec:
        return devices[0][0]
    if spec.isdigit():
        if int(spec) in [d[0] for d in devices]:
            return int(spec)
    else:
        matches = [i for i, name, _, _ in devices if spec.lower() in name.lower()]
        if matches:
            return matches[0]
    raise AudioSourceError(f"no audio input device matches '{spec}'; input devices: {listing}")


class MicrophoneSource:
    """Captures 16-bit audio with PyAudio; the capture callback only queues the samples
    (``chunk_s`` at a time) and calls ``notify``."""

    def __init__(self, device: str = '', sample_rate: int = 0, channels: int = 1,
                 chunk_s: float = CHUNK_S, clock: Clock = time.time, max_queued_s: float = 2.0,
                 notify: Callable[[], None] | None = None):
        try:
            import pyaudio
        except ImportError:
            raise AudioSourceError('PyAudio is not installed: apt install portaudio19-dev && '
                                   'pip install pyaudio') from None
        with quiet_stderr():
            self._audio = pyaudio.PyAudio()
        try:
            devices = list_input_devices(self._audio)
            index = find_input_device(devices, device)
            info = next(d for d in devices if d[0] == index)
            self.device_name = info[1]
            self.sample_rate = sample_rate or info[3]
            self.channels = min(channels, info[2])
            chunk = max(1, int(chunk_s * self.sample_rate))
            self._queue: queue.Queue = queue.Queue(maxsize=max(1, int(max_queued_s / chunk_s)))
            self.dropped = 0
            self.drop_reason = ''
            self._clock = clock
            self._notify = notify
            self._stream = self._audio.open(
                format=pyaudio.paInt16, channels=self.channels, rate=self.sample_rate,
                input=True, input_device_index=index, frames_per_buffer=chunk,
                stream_callback=self._on_audio)
        except AudioSourceError:
            self._audio.terminate()
            raise
        except Exception as exc:  # noqa: BLE001 - PortAudio reports errors as OSError/ValueError
            self._audio.terminate()
            raise AudioSourceError(f"cannot open audio input '{device}' at "
                                   f'{sample_rate or "default"} Hz: {exc}') from None
        self.finished = False

    def _on_audio(self, data, frame_count, time_info, status):
        import pyaudio

        samples = np.frombuffer(data, dtype=np.int16).reshape(-1, self.channels)
        chunk = AudioChunk(samples.copy(), self._clock() - frame_count / self.sample_rate)
        try:
            self._queue.put_nowait(chunk)
        except queue.Full:  # the consumer stalled: drop rather than block the audio thread
            self.dropped += 1
            self.drop_reason = 'the node fell behind the microphone'
        if self._notify is not None:
            self._notify()
        return None, pyaudio.paContinue

    def read(self) -> list[AudioChunk]:
        chunks = []
        while True:
            try:
                chunks.append(self._queue.get_nowait())
            except queue.Empty:
                return chunks

    def close(self) -> None:
        self._stream.stop_stream()
        self._stream.close()
        self._audio.terminate()


# audio_common 4.x: AudioInfo.format is a PortAudio sample-format code, and the samples sit in
# the AudioData array of that type.
PORTAUDIO_FORMATS = {1: ('float32_data', np.float32), 2: ('int32_data', np.int32),
                     8: ('int16_data', np.int16), 16: ('int8_data', np.int8),
                     32: ('uint8_data', np.uint8)}
TOPIC_RATE_RANGE = (8000, 192000)  # Hz; resampled to 16 kHz
PCM_FORMATS = {'S16LE': '<i2', 'S32LE': '<i4', 'F32LE': '<f4', 'U8': 'u1', 'S8': 'i1'}


def decode_pcm(data: bytes, sample_format: str, channels: int) -> np.ndarray:
    """Interleaved PCM bytes -> (n, channels) samples; ``ValueError`` when they do not fit."""
    if sample_format not in PCM_FORMATS:
        raise ValueError(f"unknown sample format '{sample_format}'; known: "
                         + ', '.join(PCM_FORMATS))
    dtype = np.dtype(PCM_FORMATS[sample_format])
    frame_bytes = dtype.itemsize * channels
    if len(data) % frame_bytes:
        raise ValueError(f'{len(data)} bytes are not a whole number of {sample_format} frames '
                         f'of {channels} channel(s)')
    return np.frombuffer(bytes(data), dtype=dtype).reshape(-1, channels)


def _samples_described_by_info(audio_data, info) -> tuple[np.ndarray, int]:
    """The samples of an audio_common 4.x ``Audio`` (``audio_data`` + ``info``)."""
    if info.format not in PORTAUDIO_FORMATS:
        known = ', '.join(f'{code} {np.dtype(dtype).name}'
                          for code, (_, dtype) in PORTAUDIO_FORMATS.items())
        raise ValueError(f'unknown PortAudio sample format {info.format} (known: {known})')
    field, dtype = PORTAUDIO_FORMATS[info.format]
    misplaced = [name for name, _ in PORTAUDIO_FORMATS.values()
                 if name != field and len(getattr(audio_data, name))]
    if misplaced:
        raise ValueError(f'format {info.format} carries its samples in {field}, but '
                         f'{misplaced[0]} holds {len(getattr(audio_data, misplaced[0]))} values')
    values = np.asarray(getattr(audio_data, field), dtype=dtype)
    if not len(values):
        raise ValueError(f'no samples ({field} is empty)')
    if info.channels < 1 or len(values) % info.channels:
        raise ValueError(f'{len(values)} samples do not split into {info.channels} channel(s)')
    low, high = TOPIC_RATE_RANGE
    if not low <= info.rate <= high:
        raise ValueError(f'sample rate {info.rate} Hz is outside {low}..{high} Hz')
    return values.reshape(-1, info.channels), int(info.rate)


def samples_from_audio_message(msg, sample_format: str, sample_rate: int,
                               channels: int) -> tuple[np.ndarray, int]:
    """Samples (n, channels) and rate of an ``audio_common_msgs`` message of either layout.

    audio_common 4.x (``AudioStamped``, ``Audio``): typed arrays described by ``info`` (PortAudio
    format code, channels, rate). ros-drivers 0.3 (``AudioDataStamped``, ``AudioData``): raw
    bytes, decoded with the configured format, rate and channels.
    Raises ``ValueError`` saying why a message cannot be audio.
    """
    audio = getattr(msg, 'audio', msg)  # the stamped types hold the audio in ``audio``
    if hasattr(audio, 'audio_data'):
        return _samples_described_by_info(audio.audio_data, audio.info)
    if not hasattr(audio, 'data'):
        raise ValueError(f'{type(msg).__name__} carries no audio_common audio')
    samples = decode_pcm(audio.data, sample_format, channels)
    if not len(samples):
        raise ValueError('no samples (data is empty)')
    return samples, sample_rate


class AudioMessageStream:
    """One stream of ``audio_common_msgs`` messages -> :class:`AudioChunk` s.

    The first accepted message fixes the stream's rate and channels. A stamped message's
    header stamp is the capture time of its first sample, trusted only within ``stamps`` of
    the caller's clock and only while it moves forward; unstamped messages are taken as
    captured just before they arrived. ``chunk`` raises ``ValueError`` with the reason for a
    message that must be dropped; a dropped message leaves the stream as it was.
    """

    def __init__(self, sample_format: str, sample_rate: int, channels: int,
                 stamps: StampWindow | None = None):
        self._configured = (sample_format, sample_rate, channels)  # for the 0.3 layout
        self.stamps = stamps or StampWindow()
        self.sample_rate: int | None = None
        self.channels: int | None = None
        self._last_stamp = -np.inf

    def chunk(self, msg, now: float) -> AudioChunk:
        samples, rate = samples_from_audio_message(msg, *self._configured)
        channels = samples.shape[1]
        if self.sample_rate is not None and (rate, channels) != (self.sample_rate,
                                                                  self.channels):
            raise ValueError(f'the stream is {self.sample_rate} Hz with {self.channels} '
                             f'channel(s), this message {rate} Hz with {channels} (restart the '
                             'node for a new stream)')
        header = getattr(msg, 'header', None)
        if header is None:
            first_sample_time = now - len(samples) / rate
        else:
            first_sample_time = header.stamp.sec + header.stamp.nanosec * 1e-9
            if not self.stamps.accept(first_sample_time, now):
                raise ValueError(self.stamps.last_reason)
            if first_sample_time <= self._last_stamp:
                raise ValueError(f'the stamp is {self._last_stamp - first_sample_time:.3g} s '
                                 "before the previous message's")
            self._last_stamp = first_sample_time
        self.sample_rate, self.channels = rate, channels
        return AudioChunk(samples, first_sample_time)
