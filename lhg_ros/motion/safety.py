"""What stands between any motion source and the motors: limits, smoothing, a watchdog.

Whatever comes in (NaN, jumps, stalls), the output positions stay within the joint limits and
move with bounded velocity and acceleration; when inputs stop or the gate closes, the head
returns smoothly to neutral.
"""

import math

import numpy as np


class MotionLimiter:
    """Follows joint targets like a critically damped spring, then bounds the motion.

    Each update (fixed period ``dt``) chooses an acceleration toward the target (spring of
    natural frequency ``omega``), limits it to ``max_acceleration``, limits the velocity to
    ``max_velocity`` and to what can still brake at ``max_acceleration`` before a position
    limit, and integrates. The output is the trajectory itself: differences of successive
    outputs divided by ``dt`` never exceed the limits.
    """

    def __init__(self, lower, upper, max_velocity, max_acceleration, dt: float,
                 start=None, omega: float = 2 * math.pi * 3.0):
        self.lower, self.upper = np.asarray(lower, float), np.asarray(upper, float)
        self.max_velocity = np.asarray(max_velocity, float)
        self.max_acceleration = np.asarray(max_acceleration, float)
        if dt <= 0:
            raise ValueError('dt must be positive')
        self.dt = dt
        self.omega = omega
        start = (self.lower + self.upper) / 2 if start is None else np.asarray(start, float)
        self.position = np.clip(start, self.lower, self.upper)
        self.velocity = np.zeros_like(self.position)
        self._target = self.position.copy()
        self.rejected_targets = 0

    def _braking_speed(self, distance: np.ndarray, dt: float) -> np.ndarray:
        """Fastest speed from which the joint still stops within ``distance`` (>= 0), with the
        discrete step included: v dt + v^2 / (2 a) <= distance."""
        a = self.max_acceleration
        return a * (-dt + np.sqrt(dt * dt + 2.0 * np.maximum(distance, 0.0) / a))

    def update(self, target, omega: float | None = None, dt: float | None = None) -> np.ndarray:
        """One period toward ``target``; non-finite entries keep the previous target. ``dt``:
        the real time since the last command when it is not the nominal period (a command sent
        early), at most 4 periods; the limits then hold over that time."""
        target = np.asarray(target, dtype=float)
        finite = np.isfinite(target)
        if not finite.all():
            self.rejected_targets += 1
        self._target = np.clip(np.where(finite, target, self._target), self.lower, self.upper)
        w = self.omega if omega is None else omega
        a_max = self.max_acceleration
        dt = self.dt if dt is None else min(max(float(dt), 0.0), 4.0 * self.dt)
        wanted = w * w * (self._target - self.position) - 2.0 * w * self.velocity
        velocity = self.velocity + np.clip(wanted, -a_max, a_max) * dt
        limit_up = np.minimum(self.max_velocity,
                              self._braking_speed(self.upper - self.position, dt))
        limit_down = np.minimum(self.max_velocity,
                                self._braking_speed(self.position - self.lower, dt))
        # Stay within what the acceleration limit can reach from the current velocity.
        low = np.maximum(-limit_down, self.velocity - a_max * dt)
        high = np.minimum(limit_up, self.velocity + a_max * dt)
        velocity = np.clip(velocity, np.minimum(low, high), high)
        self.position = np.clip(self.position + velocity * dt, self.lower, self.upper)
        self.velocity = velocity
        return self.position.copy()


class Watchdog:
    """Tells whether inputs are fresh: each input kind must have arrived within
    ``timeout_s``."""

    def __init__(self, timeout_s: float):
        self.timeout_s = timeout_s
        self._last: dict[str, float] = {}

    def feed(self, kind: str, now: float) -> None:
        self._last[kind] = now

    def stale(self, now: float, kinds=('audio',)) -> list[str]:
        """The kinds that have not arrived within the timeout (or never)."""
        return [k for k in kinds if now - self._last.get(k, -math.inf) > self.timeout_s]


def return_omega(seconds: float) -> float:
    """Spring frequency that brings a critically damped joint within 1% of neutral in
    ``seconds`` (settling time about 6.64 / omega)."""
    return 6.64 / max(seconds, 1e-3)
