"""Audio sources: a WAV/FLAC file (paced in real time or as fast as possible) or a microphone.

A source hands out :class:`AudioChunk` s: raw samples with the capture time of their first
sample, on the clock the caller passes in (the node's ROS clock).
"""

import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lhg_ros.console import quiet_stderr

Clock = Callable[[], float]


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
    as a microphone would deliver them. Otherwise each ``read()`` returns the next ``block_s``
    seconds at once, stamped as if the file had been captured from the first read on.
    """

    def __init__(self, path: str | Path, clock: Clock = time.time, realtime: bool = True,
                 loop: bool = False, block_s: float = 0.5):
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
        self.finished = False

    def read(self) -> list[AudioChunk]:
        now = self._clock()
        if self._start is None:
            self._start = now
        if self.finished:
            return []
        if self._realtime:
            wanted = int((now - self._start) * self.sample_rate) - self._samples_read
        else:
            wanted = self._block
        chunks = []
        while wanted > 0 and not self.finished:
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
                    self.finished = True
        return chunks

    def close(self) -> None:
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
    """Captures 16-bit audio with PyAudio; the capture callback only queues the samples."""

    def __init__(self, device: str = '', sample_rate: int = 0, channels: int = 1,
                 chunk_s: float = 0.01, clock: Clock = time.time, max_queued_s: float = 2.0):
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
            self.dropped_chunks = 0
            self._clock = clock
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
            self.dropped_chunks += 1
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


# PortAudio sample-format constants, as carried by audio_common_msgs/AudioInfo.format.
_PORTAUDIO_FORMATS = {1: 'float32_data', 2: 'int32_data', 8: 'int16_data', 16: 'int8_data',
                      32: 'uint8_data'}
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


def samples_from_audio_message(msg, sample_format: str, sample_rate: int,
                               channels: int) -> tuple[np.ndarray, int]:
    """Samples and rate of an ``audio_common_msgs`` message, in either of its two variants.

    ``AudioStamped`` (typed arrays with an ``info`` block) describes itself; ``AudioData`` and
    ``AudioDataStamped`` (raw bytes) are decoded with the configured format, rate and channels.
    Raises ``ValueError`` for a message that cannot be audio.
    """
    audio = getattr(msg, 'audio', msg)
    info = getattr(audio, 'info', None)
    if info is not None and hasattr(audio, 'audio'):  # typed-array variant
        field = _PORTAUDIO_FORMATS.get(int(info.format))
        if field is None:
            raise ValueError(f'unsupported PortAudio sample format {info.format}')
        values = np.asarray(getattr(audio.audio, field))
        if info.channels < 1 or len(values) % info.channels:
            raise ValueError(f'{len(values)} samples do not split into {info.channels} channels')
        return values.reshape(-1, info.channels), int(info.rate)
    if hasattr(audio, 'data'):
        return decode_pcm(audio.data, sample_format, channels), sample_rate
    raise ValueError(f'{type(msg).__name__} carries no audio data')
