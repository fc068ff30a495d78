"""Nods, defined once: the listener node reports them and the evaluation scores them."""

import math
from collections import deque

import numpy as np


class NodDetector:
    """Online, for the node's ``listener/nod``: a nod is the pitch going down (positive) by at
    least ``min_amplitude`` (by default :data:`PROMINENCE_DEG`, the size every measure counts
    a nod from) and coming back by at least half of that, within ``max_duration_s``.
    ``update`` returns True at the frame that completes a nod."""

    def __init__(self, rate: float, min_amplitude: float | None = None,
                 max_duration_s: float = 1.2):
        self.rate = rate
        self.min_amplitude = (math.radians(PROMINENCE_DEG) if min_amplitude is None
                              else min_amplitude)
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


# The nod, as every measure counts it (evaluation, the starter corpus's targets, the demo): a
# peak of the pitch (positive: head down) above its running median over ``MEDIAN_S``, at least
# ``PROMINENCE_DEG`` prominent, ``WIDTH_S`` wide at half its prominence and ``SPACING_S`` from
# the next. The running median removes slow posture and sway, so slow drift is never a nod.
MEDIAN_S = 2.0
PROMINENCE_DEG = 2.0
WIDTH_S = (0.1, 1.5)
SPACING_S = 0.4


def detect_nods(pitch, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """(peak times in s, sizes in deg) of the nods in a pitch track (radians) at ``rate``."""
    from scipy.ndimage import median_filter
    from scipy.signal import find_peaks

    pitch = np.degrees(np.asarray(pitch, dtype=np.float64))
    if len(pitch) < 3:
        return np.zeros(0), np.zeros(0)
    size = max(1, int(round(MEDIAN_S * rate))) | 1
    excursion = pitch - median_filter(pitch, size=size, mode='nearest')
    peaks, props = find_peaks(excursion, prominence=PROMINENCE_DEG,
                              width=(WIDTH_S[0] * rate, WIDTH_S[1] * rate),
                              distance=max(1, int(round(SPACING_S * rate))))
    return peaks / rate, props['prominences']
