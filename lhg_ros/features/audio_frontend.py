"""The speaker audio front-end: raw chunks with capture times in, stamped 81-d features and a
speaking flag out. Used by ``audio_features_node`` and by offline extraction alike."""

from dataclasses import dataclass

import numpy as np

from lhg_ros.features.audio import (
    FRAME_LENGTH,
    FRAME_RATE,
    FRAME_SHIFT,
    SAMPLE_RATE,
    AudioFeatureStream,
)
from lhg_ros.features.vad import WINDOW, VoiceActivityDetector


class StreamClock:
    """Capture time of any sample of a stream, from the times a source reports per chunk.

    Reported times can only be late (scheduling delay), so the earliest consistent anchor is
    kept. When the stream falls behind by more than ``max_error_s`` (lost samples, a drifting
    sound card), the clock re-anchors to the source.
    """

    def __init__(self, sample_rate: float, max_error_s: float = 0.05):
        self.sample_rate = float(sample_rate)
        self.max_error_s = max_error_s
        self._anchor: float | None = None  # capture time of sample 0
        self.reanchors = 0

    def observe(self, first_sample_index: int, first_sample_time: float) -> None:
        estimate = first_sample_time - first_sample_index / self.sample_rate
        if self._anchor is None or estimate < self._anchor:
            self._anchor = estimate
        elif estimate - self._anchor > self.max_error_s:
            self._anchor = estimate
            self.reanchors += 1

    def time_of(self, sample_index: float) -> float:
        if self._anchor is None:
            raise RuntimeError('no chunk observed yet')
        return self._anchor + sample_index / self.sample_rate


@dataclass
class FeatureBlock:
    frames: np.ndarray  # (n, 81) float32, one row per 10 ms
    first_frame: int  # stream index of frames[0]
    stamp: float  # capture time of the first sample of frames[0], seconds
    speaking: bool | None  # voice activity after this block; None when VAD is off


class SpeakerAudioFrontEnd:
    def __init__(self, input_rate: int, channels: int = 1,
                 vad: VoiceActivityDetector | None = None):
        self.input_rate = input_rate
        self._features = AudioFeatureStream(input_rate, channels)
        self._vad = vad
        self._clock = StreamClock(input_rate)
        self._samples_in = 0
        self._last_stamp = -np.inf
        self.last_samples16k = np.zeros(0, dtype=np.float32)  # the 16 kHz audio of the last call

    @property
    def nonfinite_samples(self) -> int:
        return self._features.nonfinite_samples

    @property
    def reanchors(self) -> int:
        return self._clock.reanchors

    def accept(self, samples: np.ndarray, first_sample_time: float) -> FeatureBlock:
        """Add one chunk whose first sample was captured at ``first_sample_time``."""
        self._clock.observe(self._samples_in, first_sample_time)
        return self._process(samples, last=False)

    def finish(self) -> FeatureBlock:
        """End of stream: flush the resampler's last samples into frames."""
        return self._process(np.zeros(0, dtype=np.float32), last=True)

    def _process(self, samples: np.ndarray, last: bool) -> FeatureBlock:
        chunk = self._features.accept(samples, last=last)
        self._samples_in += chunk.input_samples
        # Frame k starts at 16 kHz sample 160 k, i.e. at input sample 160 k * rate / 16000.
        start_sample = chunk.first_frame * FRAME_SHIFT * self.input_rate / SAMPLE_RATE
        # Stamps never run backwards, even when the clock moved its anchor earlier.
        stamp = max(self._clock.time_of(start_sample), self._last_stamp)
        if len(chunk.frames):
            self._last_stamp = stamp + len(chunk.frames) / FRAME_RATE
        self.last_samples16k = chunk.samples
        speaking = None
        if self._vad is not None:
            self._vad.accept(chunk.samples)
            speaking = self._vad.speaking
        return FeatureBlock(chunk.frames, chunk.first_frame, stamp, speaking)


@dataclass
class AudioFeatureTrack:
    """Features of a whole recording, as the node would have published them."""

    frames: np.ndarray  # (n, 81)
    speaking: np.ndarray | None  # (n,) bool: voice activity known at the end of each frame
    duration_s: float
    sample_rate: int

    @property
    def times(self) -> np.ndarray:
        """Start time of each frame in seconds from the start of the recording."""
        return np.arange(len(self.frames)) / FRAME_RATE


def frame_voice_activity(window_flags: np.ndarray, frame_count: int) -> np.ndarray:
    """Per-frame speaking flags from per-window (32 ms) flags: each frame takes the state after
    the last window that ended with it (causal; False before the first window ends)."""
    ends = np.arange(frame_count) * FRAME_SHIFT + FRAME_LENGTH
    window = ends // WINDOW - 1
    padded = np.concatenate(([False], np.asarray(window_flags, dtype=bool)))
    return padded[np.clip(window + 1, 0, len(padded) - 1)]


def extract_audio_file(path, vad: bool = True, block_s: float = 1.0) -> AudioFeatureTrack:
    """81-d features (and voice activity) of an audio file through the node's own code path."""
    from lhg_ros.sources.audio import FileAudioSource

    source = FileAudioSource(path, clock=lambda: 0.0, realtime=False, block_s=block_s)
    try:
        frontend = SpeakerAudioFrontEnd(source.sample_rate, source.channels)
        detector = VoiceActivityDetector() if vad else None
        blocks, windows = [], []
        while not source.finished:
            for chunk in source.read():
                block = frontend.accept(chunk.samples, chunk.first_sample_time)
                blocks.append(block.frames)
                if detector is not None:
                    windows.append(detector.accept(frontend.last_samples16k))
        blocks.append(frontend.finish().frames)
        if detector is not None:
            windows.append(detector.accept(frontend.last_samples16k))
    finally:
        source.close()
    frames = np.concatenate(blocks)
    speaking = frame_voice_activity(np.concatenate(windows), len(frames)) if vad else None
    return AudioFeatureTrack(frames, speaking, source.duration_s, source.sample_rate)
