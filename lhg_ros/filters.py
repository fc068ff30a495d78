"""Signal filters shared by the speaker pose pipeline and the listener motion output."""

import math

import numpy as np


class OneEuroFilter:
    """The One-Euro filter (Casiez, Roussel and Vogel, CHI 2012) on a vector signal.

    A low-pass filter whose cutoff rises with speed: ``min_cutoff`` (Hz) removes jitter when
    the head is still, ``beta`` lets fast movements through with little lag. Time comes from
    the samples' own timestamps, so uneven frame intervals are handled.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.05, d_cutoff: float = 1.0,
                 max_gap_s: float = 1.0):
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError('cutoffs must be positive and beta non-negative')
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.max_gap_s = max_gap_s
        self.resets = 0  # restarts because time jumped
        self.reset()

    def reset(self) -> None:
        self._t: float | None = None
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None

    @staticmethod
    def _alpha(cutoff, dt: float):
        tau = 1.0 / (2.0 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self._t is None:
            self._t, self._x, self._dx = t, x.copy(), np.zeros_like(x)
            return x.copy()
        dt = t - self._t
        if dt == 0:  # a repeated stamp adds nothing
            return self._x.copy()
        if dt < 0 or dt > self.max_gap_s:  # time jumped: start again from this sample
            self.resets += 1
            self._t, self._x, self._dx = t, x.copy(), np.zeros_like(x)
            return x.copy()
        dx = (x - self._x) / dt
        self._dx = self._dx + self._alpha(self.d_cutoff, dt) * (dx - self._dx)
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        self._x = self._x + self._alpha(cutoff, dt) * (x - self._x)
        self._t = t
        return self._x.copy()
