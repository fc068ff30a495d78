"""Speaker audio features of the paper: 81-d log-mel FBank frames every 10 ms.

Options (kaldi-native-fbank, its ``OnlineFbank``), exactly as the paper's method needs them:

==========================  =================================================================
16 kHz mono                 other rates are resampled with soxr, channels averaged
25 ms frames, 10 ms shift   400-sample Hamming window, 160-sample hop, 512-point FFT
``snip_edges=True``         frame ``k`` covers samples ``[160 k, 160 k + 400)``: no padding and no
                            look-ahead, so the online stream equals the offline result exactly
26 log-mel bins             Kaldi mel scale (``1127 ln(1 + f / 700)``), 20 Hz to 8 kHz
+ log power                 ``use_energy``: log of the frame's raw energy (before pre-emphasis and
                            windowing), as column 0; total 27 static dims
``dither=0``                deterministic features (Kaldi's default adds noise)
pre-emphasis 0.97, DC off   Kaldi defaults
log floor                   float32 epsilon, so silence gives finite values, never -inf
sample scale                samples in [-1, 1) are multiplied by 32768 first, as Kaldi reads
                            16-bit PCM; this shifts the log power and log-mel values by a constant
+ causal d1, d2             ``d_t = f_t - f_{t-1}`` (see :mod:`lhg_ros.features.dynamics`) -> 81
==========================  =================================================================

Column order: ``[log_power, mel_0 .. mel_25, d1 (27), d2 (27)]``.
"""

import math
from dataclasses import dataclass

import numpy as np

from lhg_ros.features.dynamics import CausalDifferences
from lhg_ros.rates import FRAME_RATE, FRAME_SHIFT, SAMPLE_RATE  # noqa: F401 (the features' rates)

FRAME_LENGTH = 400  # samples, 25 ms
NUM_MEL_BINS = 26
STATIC_DIM = NUM_MEL_BINS + 1
FEATURE_DIM = 3 * STATIC_DIM
PCM16_SCALE = 32768.0
_FLOAT32 = np.dtype(np.float32)
_PCM16_SCALE_F32 = np.float32(PCM16_SCALE)  # (a float32 scalar multiplies faster)
_POP_EVERY = 64  # frames kept in kaldi-native-fbank before they are released


def fbank_options():
    """The kaldi-native-fbank options of the table above."""
    import kaldi_native_fbank as knf

    opts = knf.FbankOptions()
    opts.frame_opts.samp_freq = SAMPLE_RATE
    opts.frame_opts.frame_length_ms = 1000.0 * FRAME_LENGTH / SAMPLE_RATE
    opts.frame_opts.frame_shift_ms = 1000.0 * FRAME_SHIFT / SAMPLE_RATE
    opts.frame_opts.window_type = 'hamming'
    opts.frame_opts.dither = 0.0
    opts.frame_opts.snip_edges = True
    opts.mel_opts.num_bins = NUM_MEL_BINS
    opts.use_energy = True
    opts.raw_energy = True
    return opts


def num_frames(num_samples: int) -> int:
    """How many 10 ms frames ``num_samples`` samples at 16 kHz give."""
    return 0 if num_samples < FRAME_LENGTH else 1 + (num_samples - FRAME_LENGTH) // FRAME_SHIFT


def to_mono_float(samples: np.ndarray, channels: int = 1) -> tuple[np.ndarray, int]:
    """Interleaved or (n, channels) samples of any PCM dtype -> mono float32, full scale 1.

    Integer samples are scaled by their type's full range; non-finite values become 0 (a
    faulty driver must not poison the features) and are counted. Returns (mono, bad_count).
    """
    samples = np.asarray(samples)
    if samples.dtype == np.float32 and samples.ndim == 1 and channels == 1:
        mono = samples  # the microphone/file fast path: nothing to convert
    elif samples.dtype.kind in 'iu':
        half_range = float(2 ** (8 * samples.dtype.itemsize - 1))
        offset = half_range if samples.dtype.kind == 'u' else 0.0  # unsigned PCM is centred
        mono = (samples.astype(np.float32) - offset) / half_range
    elif samples.dtype.kind == 'f':
        mono = samples.astype(np.float32, copy=False)
    else:
        raise TypeError(f'audio samples must be integer or float, got {samples.dtype}')
    if mono.ndim == 1 and channels > 1:
        if len(mono) % channels:
            raise ValueError(f'{len(mono)} interleaved samples do not split into {channels} '
                             'channels')
        mono = mono.reshape(-1, channels)
    if mono.ndim == 2:
        mono = mono.mean(axis=1)
    elif mono.ndim != 1:
        raise ValueError(f'expected 1-D or (n, channels) samples, got shape {mono.shape}')
    if np.isfinite(mono.sum()):  # the common case first: one reduction, no temporaries
        return mono, 0
    bad = ~np.isfinite(mono)
    return np.where(bad, np.float32(0.0), mono), int(bad.sum())


class Resampler:
    """Streaming conversion of any input rate to 16 kHz with soxr (identity at 16 kHz)."""

    def __init__(self, input_rate: int, output_rate: int = SAMPLE_RATE):
        if input_rate <= 0:
            raise ValueError(f'sample rate must be positive, got {input_rate}')
        self.input_rate = int(input_rate)
        self.output_rate = int(output_rate)
        self._stream = None
        self.identity = self.input_rate == self.output_rate
        if not self.identity:
            import soxr

            self._stream = soxr.ResampleStream(self.input_rate, self.output_rate, 1,
                                               dtype='float32', quality='HQ')

    def __call__(self, mono: np.ndarray, last: bool = False) -> np.ndarray:
        if self._stream is None:
            return mono
        return self._stream.resample_chunk(mono, last=last)


@dataclass(slots=True)
class AudioFeatureChunk:
    """Feature rows produced by one call, with the 16 kHz samples they came from."""

    frames: np.ndarray  # (n, 81) float32
    first_frame: int  # index of frames[0] in the stream (frame k starts at k * 10 ms)
    samples: np.ndarray  # the new 16 kHz float32 samples (for voice activity)
    input_samples: int  # samples per channel taken in, at the input rate


class AudioFeatureStream:
    """Online 81-d features from audio chunks of any size, rate and channel count.

    Any chunking of a signal gives the same frames as one call on the whole signal.
    """

    def __init__(self, input_rate: int = SAMPLE_RATE, channels: int = 1):
        import kaldi_native_fbank as knf

        self.channels = int(channels)
        self._resampler = Resampler(input_rate)
        self._fbank = knf.OnlineFbank(fbank_options())
        self._dynamics = CausalDifferences(STATIC_DIM)
        self._plain = self._resampler.identity and self.channels == 1  # no conversion
        self._next_frame = 0
        self._popped = 0
        self.nonfinite_samples = 0

    @property
    def frames_emitted(self) -> int:
        return self._next_frame

    def accept(self, samples: np.ndarray, last: bool = False) -> AudioFeatureChunk:
        """Add samples; return every frame that became complete. ``last`` flushes the resampler."""
        if (self._plain and type(samples) is np.ndarray and samples.dtype is _FLOAT32
                and samples.ndim == 1 and math.isfinite(samples.dot(samples))):
            mono16k = mono = samples  # the microphone/file fast path: nothing to convert
        else:  # (a dot product overflows for huge finite samples; to_mono_float is exact)
            mono, bad = to_mono_float(samples, self.channels)
            self.nonfinite_samples += bad
            mono16k = self._resampler(mono, last=last)
        fbank = self._fbank
        if len(mono16k):
            # The binding takes a sequence of floats: a memoryview of the scaled samples is
            # its fastest form (an array is read element by element, a list costs a copy).
            fbank.accept_waveform(SAMPLE_RATE, memoryview(mono16k * _PCM16_SCALE_F32))
        first = self._next_frame
        ready = fbank.num_frames_ready
        if ready == first + 1:  # one 10 ms chunk, one frame: the fast path
            frames = self._dynamics.update_row(fbank.get_frame(first)).reshape(1, FEATURE_DIM)
        else:
            frames = self._dynamics.update(np.array(
                [fbank.get_frame(i) for i in range(first, ready)],
                dtype=np.float32).reshape(-1, STATIC_DIM))
        self._next_frame = ready
        if ready - self._popped >= _POP_EVERY:  # keep memory bounded on endless streams
            fbank.pop(ready - self._popped)
            self._popped = ready
        return AudioFeatureChunk(frames, first, mono16k, len(mono))


def compute_audio_features(samples: np.ndarray, sample_rate: int, channels: int = 1) -> np.ndarray:
    """Offline 81-d features of a whole recording: the online stream in one call."""
    return AudioFeatureStream(sample_rate, channels).accept(samples, last=True).frames


SILENCE_LOG = math.log(float(np.finfo(np.float32).eps))  # Kaldi's floor: -15.94


def silence_features(rows: int) -> np.ndarray:
    """Feature rows of digital silence (log floor, no change)."""
    frames = np.zeros((rows, FEATURE_DIM), dtype=np.float32)
    frames[:, :STATIC_DIM] = SILENCE_LOG
    return frames
