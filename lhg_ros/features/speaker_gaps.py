"""The speaker's pose through gaps in the face track: held, eased to neutral, glided back
(the rules of lhg_ros.motion.alignment), online and offline alike."""

import math

import numpy as np

from lhg_ros.features.motion_features import POSE_DIM


class SpeakerGapFiller:
    """The speaker pose of each motion frame from the latest face seen: followed while fresh,
    held ``hold_s`` after the face is lost, then eased toward ``neutral`` (time constant
    ``ease_s``); when a face is seen again after easing began, the pose glides to it (time
    constant ``return_s``) before following again.

    Easing and gliding never move faster than this speaker was seen to move (the peak speed
    of each DoF between consecutive faces, forgotten over ``memory_s``; at least ``MIN_SPEED``,
    at most ``MAX_SPEED``, rad/s for the angles and m/s for the position): what fills a gap is
    never mistaken for motion."""

    MIN_SPEED = np.array([0.15, 0.15, 0.15, 0.05, 0.05, 0.05])  # about 9 deg/s, 5 cm/s
    MAX_SPEED = np.array([0.5, 0.5, 0.5, 0.2, 0.2, 0.2])  # about 29 deg/s, 0.2 m/s

    def __init__(self, rate: float, hold_s: float = 0.5, neutral=None, ease_s: float = 0.5,
                 return_s: float = 0.15, memory_s: float = 10.0):
        self.rate, self.hold_s = rate, hold_s
        self.neutral = (np.zeros(POSE_DIM) if neutral is None
                        else np.asarray(neutral, dtype=np.float64))
        self._ease = 1.0 - math.exp(-1.0 / (rate * ease_s))
        self._return = 1.0 - math.exp(-1.0 / (rate * return_s))
        self._memory_s = memory_s
        self.value = self.neutral.copy()
        self.peak_speed = self.MIN_SPEED.copy()
        self._last: tuple[float, np.ndarray] | None = None  # the last face: (time, pose)
        self._following = False
        self._seen = False  # a face in this stream yet

    def update(self, pose: np.ndarray | None, seen_at: float, end: float) -> np.ndarray:
        """The pose of the frame ending at ``end``, given the latest face pose seen before it
        (None: none yet) and when it was seen."""
        if pose is not None and end - seen_at <= self.hold_s:
            pose = np.asarray(pose, dtype=np.float64)
            self._measure(pose, seen_at)
            if self._following or not self._seen:  # (the first face is taken as it is)
                self.value, self._following, self._seen = pose, True, True
            else:  # the face is back: glide to it, then follow
                self._move(pose, self._return)
                self._following = bool((np.abs(pose - self.value) <= self._cap()).all())
        else:
            self._following = False
            self._move(self.neutral, self._ease)
        return self.value.copy()

    def _measure(self, pose: np.ndarray, seen_at: float) -> None:
        """Peak speed between consecutive faces (not across gaps longer than the hold)."""
        if self._last is not None and seen_at > self._last[0]:
            dt = seen_at - self._last[0]
            decay = math.exp(-dt / self._memory_s)
            if dt <= self.hold_s:
                speed = np.abs(pose - self._last[1]) / dt
                self.peak_speed = np.maximum(speed, self.peak_speed * decay)
        if self._last is None or seen_at > self._last[0]:
            self._last = (seen_at, pose)

    def _cap(self) -> np.ndarray:
        return np.clip(self.peak_speed, self.MIN_SPEED, self.MAX_SPEED) / self.rate

    def _move(self, target: np.ndarray, fraction: float) -> None:
        cap = self._cap()
        self.value = self.value + np.clip(fraction * (target - self.value), -cap, cap)
