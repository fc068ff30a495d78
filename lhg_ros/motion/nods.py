"""Nods, defined once: the listener node reports them and the evaluation scores them."""

import math
from collections import deque

import numpy as np


class NodDetector:
    """A nod is the pitch going down (positive) by at least ``min_amplitude`` and coming back
    by at least half of that, within ``max_duration_s``. ``update`` returns True at the frame
    that completes a nod."""

    def __init__(self, rate: float, min_amplitude: float = math.radians(3.0),
                 max_duration_s: float = 1.2):
        self.rate, self.min_amplitude = rate, min_amplitude
        self.max_frames = int(max_duration_s * rate)
        self._history: deque = deque(maxlen=self.max_frames)
        self._cooldown = 0
        self.last_nod_frames = 0  # frames from the start of the last nod to its completion

    def update(self, pitch: float) -> bool:
        self._history.append(pitch)
        if self._cooldown:
            self._cooldown -= 1
            return False
        values = np.array(self._history)
        peak = int(np.argmax(values))
        start_low = values[:peak + 1].min() if peak else values[0]
        rise = values[peak] - start_low
        fall = values[peak] - values[-1]
        if rise >= self.min_amplitude and fall >= 0.5 * rise and peak < len(values) - 1:
            # The nod starts where the pitch last left its low on the way up (within a fifth of
            # the rise), not at the low itself, which slow sway can put long before.
            rising = values[:peak + 1]
            start = int(np.flatnonzero(rising <= start_low + 0.2 * rise)[-1])
            self.last_nod_frames = len(values) - 1 - start
            self._history.clear()
            self._cooldown = int(0.3 * self.rate)
            return True
        return False
