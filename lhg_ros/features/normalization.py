"""Feature normalisation: statistics fitted at training time and saved with the model, or a
causal running estimate for models trained that way."""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FeatureStats:
    """Per-dimension mean and standard deviation; ``apply`` maps features to zero mean, unit
    variance. Dimensions that never varied (std below ``min_std``) are only centred."""

    mean: np.ndarray
    std: np.ndarray
    count: int = 0

    MIN_STD = 1e-5

    def __post_init__(self):
        mean = np.asarray(self.mean, dtype=np.float32)
        std = np.asarray(self.std, dtype=np.float32)
        if mean.shape != std.shape or mean.ndim != 1:
            raise ValueError(f'mean {mean.shape} and std {std.shape} must be equal 1-D shapes')
        if not (np.isfinite(mean).all() and np.isfinite(std).all()):
            raise ValueError('feature statistics contain NaN or inf')
        object.__setattr__(self, 'mean', mean)
        object.__setattr__(self, 'std', np.maximum(std, self.MIN_STD))

    @property
    def dim(self) -> int:
        return len(self.mean)

    def apply(self, frames: np.ndarray) -> np.ndarray:
        frames = np.asarray(frames, dtype=np.float32)
        if frames.shape[-1] != self.dim:
            raise ValueError(f'features have {frames.shape[-1]} dims, statistics have {self.dim}')
        return (frames - self.mean) / self.std

    def to_dict(self) -> dict:
        return {'mean': self.mean.tolist(), 'std': self.std.tolist(), 'count': self.count}

    @classmethod
    def from_dict(cls, data: dict) -> 'FeatureStats':
        try:
            return cls(np.array(data['mean']), np.array(data['std']), int(data.get('count', 0)))
        except KeyError as exc:
            raise ValueError(f'feature statistics lack {exc.args[0]!r}') from None


class StatsAccumulator:
    """Mean and variance over many sequences in one pass (float64 sums, Chan's merge)."""

    def __init__(self, dim: int):
        self.dim = dim
        self.count = 0
        self._mean = np.zeros(dim)
        self._m2 = np.zeros(dim)

    def add(self, frames: np.ndarray) -> None:
        frames = np.asarray(frames, dtype=np.float64).reshape(-1, self.dim)
        n = len(frames)
        if n == 0:
            return
        mean = frames.mean(axis=0)
        m2 = ((frames - mean) ** 2).sum(axis=0)
        total = self.count + n
        delta = mean - self._mean
        self._mean += delta * n / total
        self._m2 += m2 + delta ** 2 * self.count * n / total
        self.count = total

    def stats(self) -> FeatureStats:
        if self.count == 0:
            raise ValueError('no frames were added')
        return FeatureStats(self._mean, np.sqrt(self._m2 / self.count), self.count)


class RunningNormalizer:
    """Causal normalisation with statistics that follow the stream.

    The mean and variance are exponential moving averages with time constant ``window_s``;
    until that much has been seen they are plain cumulative averages, so the first frames are
    not dominated by the initial guess. Output for frame t depends only on frames up to t.
    """

    def __init__(self, dim: int, window_s: float = 10.0, frame_rate: float = 100.0):
        if window_s <= 0:
            raise ValueError(f'window_s must be positive, got {window_s}')
        self.dim = dim
        self._horizon = window_s * frame_rate
        self.count = 0
        self._mean = np.zeros(dim)
        self._var = np.zeros(dim)

    def apply(self, frames: np.ndarray) -> np.ndarray:
        frames = np.asarray(frames, dtype=np.float64).reshape(-1, self.dim)
        out = np.empty_like(frames, dtype=np.float32)
        for i, frame in enumerate(frames):
            self.count += 1
            rate = 1.0 / min(self.count, self._horizon)
            delta = frame - self._mean
            self._mean += rate * delta
            self._var = (1.0 - rate) * (self._var + rate * delta ** 2)  # 0 after frame 1
            std = np.sqrt(np.maximum(self._var, FeatureStats.MIN_STD ** 2))
            out[i] = (frame - self._mean) / std
        return out
