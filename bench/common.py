"""Shared set-up of the benchmarks: one core, real speech, timing helpers, a table."""

import os

# One core, one thread: set before numpy, torch or onnxruntime load their thread pools.
for var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS', 'NUMEXPR_NUM_THREADS'):
    os.environ.setdefault(var, '1')

import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

SPEECH = ('Thanks for coming today. I wanted to tell you about the trip we took last summer, '
          'when we drove along the coast for almost two weeks and stopped in every small town.')


def pin_to_one_core() -> int:
    """Run on the first CPU this process may use; returns its number."""
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def speech_16k(seconds: float) -> np.ndarray:
    """Real speech (espeak-ng, resampled by sox to 16 kHz) repeated to ``seconds``."""
    import soundfile as sf

    with tempfile.TemporaryDirectory() as tmp:
        raw, wav = Path(tmp) / 'raw.wav', Path(tmp) / 'speech.wav'
        subprocess.run(['espeak-ng', '-s', '160', '-w', str(raw), SPEECH], check=True)
        subprocess.run(['sox', str(raw), '-r', '16000', '-c', '1', str(wav)], check=True)
        samples, _ = sf.read(str(wav), dtype='float32')
    return np.resize(samples, int(seconds * 16000))


def best_of(repeats: int, run) -> float:
    """Fastest wall time of ``run()`` over ``repeats`` tries (least disturbed by noise)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def percentiles_us(samples_s: list[float]) -> tuple[float, float]:
    values = np.array(samples_s) * 1e6
    return float(np.percentile(values, 50)), float(np.percentile(values, 99))

