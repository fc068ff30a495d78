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
            self._history.clear()
            self._cooldown = int(0.3 * self.rate)
            return True
        return False
