"""Voice activity: is the speaker talking? Silero VAD (ONNX, run with onnxruntime) + hangover.

The Silero VAD model (v6, ``silero_vad.onnx`` of the silero-vad 6.2.3 wheel, MIT licence in
``silero/LICENSE``) ships inside this package, so that voice activity needs neither torch (which
the silero-vad package imports) nor a download; it runs with onnxruntime on 32 ms windows.
"""

from pathlib import Path

import numpy as np

from lhg_ros.features.audio import SAMPLE_RATE

WINDOW = 512  # samples at 16 kHz the model takes per call (32 ms)
CONTEXT = 64  # samples of the previous window the model sees in front of each window
WINDOW_SECONDS = WINDOW / SAMPLE_RATE
SILERO_MODEL = Path(__file__).resolve().parent / 'silero' / 'silero_vad.onnx'


def silero_model_path() -> Path:
    """Path of the Silero ONNX model shipped with lhg_ros."""
    if not SILERO_MODEL.is_file():
        raise FileNotFoundError(f'{SILERO_MODEL} is missing: reinstall lhg_ros (or set '
                                'vad.enabled to false)')
    return SILERO_MODEL


class SileroVad:
    """Speech probability for every complete 32 ms window of a 16 kHz stream."""

    def __init__(self, model_path: Path | None = None, threads: int = 1):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(model_path or silero_model_path()),
                                             sess_options=options,
                                             providers=['CPUExecutionProvider'])
        self._sr = np.array(SAMPLE_RATE, dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)

    def accept(self, samples: np.ndarray) -> np.ndarray:
        """16 kHz mono float samples -> probabilities of the windows completed by them."""
        buffer = np.concatenate((self._pending, np.asarray(samples, dtype=np.float32)))
        count = len(buffer) // WINDOW
        probabilities = np.empty(count, dtype=np.float32)
        for i in range(count):
            window = buffer[i * WINDOW:(i + 1) * WINDOW]
            model_input = np.concatenate((self._context, window))[None]
            prob, self._state = self._session.run(
                None, {'input': model_input, 'state': self._state, 'sr': self._sr})
            probabilities[i] = prob.item()
            self._context = window[-CONTEXT:]
        self._pending = buffer[count * WINDOW:]
        return probabilities


class SpeechGate:
    """Speaking / not-speaking from speech probabilities, with hysteresis and hangover.

    Speech starts after ``min_speech_s`` of windows above ``threshold``; it ends only after
    ``hangover_s`` of windows below ``threshold - 0.15``, so the short pauses between words do
    not end a turn.
    """

    def __init__(self, threshold: float = 0.5, min_speech_s: float = 0.064,
                 hangover_s: float = 0.3, window_s: float = WINDOW_SECONDS):
        if not 0.0 < threshold < 1.0:
            raise ValueError(f'threshold must be in (0, 1), got {threshold}')
        self.threshold = threshold
        self.release_threshold = max(threshold - 0.15, 0.01)
        self._onset_windows = max(1, round(min_speech_s / window_s))
        self._hangover_windows = max(1, round(hangover_s / window_s))
        self.speaking = False
        self._run = 0  # consecutive windows that argue for a change of state

    def update(self, probability: float) -> bool:
        if self.speaking:
            self._run = self._run + 1 if probability < self.release_threshold else 0
            if self._run >= self._hangover_windows:
                self.speaking, self._run = False, 0
        else:
            self._run = self._run + 1 if probability >= self.threshold else 0
            if self._run >= self._onset_windows:
                self.speaking, self._run = True, 0
        return self.speaking


class VoiceActivityDetector:
    """Silero probabilities through a :class:`SpeechGate`: one flag per 32 ms window."""

    def __init__(self, threshold: float = 0.5, min_speech_s: float = 0.064,
                 hangover_s: float = 0.3, model_path: Path | None = None):
        self._vad = SileroVad(model_path)
        self._gate = SpeechGate(threshold, min_speech_s, hangover_s)

    @property
    def speaking(self) -> bool:
        return self._gate.speaking

    def accept(self, samples16k: np.ndarray) -> np.ndarray:
        """Flags (bool array) for the windows completed by these samples."""
        return np.array([self._gate.update(p) for p in self._vad.accept(samples16k)], dtype=bool)
