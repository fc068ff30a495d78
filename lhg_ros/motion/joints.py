"""From the listener's 6-DoF head motion to robot joints, through configuration."""

from dataclasses import dataclass

import numpy as np

from lhg_ros.features.motion_features import DOF_NAMES


@dataclass(frozen=True)
class JointSpec:
    """One joint: which degree of freedom drives it, how, and its limits (SI units)."""

    name: str
    dof: str  # one of DOF_NAMES
    sign: float = 1.0
    gain: float = 1.0
    offset: float = 0.0  # joint position for a zero degree of freedom (neutral)
    lower: float = -0.5
    upper: float = 0.5
    max_velocity: float = 2.0
    max_acceleration: float = 8.0

    def __post_init__(self):
        problems = []
        if self.dof not in DOF_NAMES:
            problems.append(f"dof '{self.dof}' is not one of {', '.join(DOF_NAMES)}")
        if not self.lower < self.upper:
            problems.append(f'lower {self.lower} must be below upper {self.upper}')
        elif not self.lower <= self.offset <= self.upper:
            problems.append(f'offset (neutral) {self.offset} is outside [{self.lower}, '
                            f'{self.upper}]')
        if self.max_velocity <= 0 or self.max_acceleration <= 0:
            problems.append('max_velocity and max_acceleration must be positive')
        if problems:
            raise ValueError(f"joint '{self.name}': " + '; '.join(problems))


# The RViz avatar's neck (urdf/listener_head.urdf): REP-103 signs, so a positive pitch (nod
# down) is a positive rotation about the neck's y axis.
DEFAULT_JOINTS = (
    JointSpec('neck_yaw', 'yaw', lower=-0.8, upper=0.8, max_velocity=2.0, max_acceleration=8.0),
    JointSpec('neck_pitch', 'pitch', lower=-0.5, upper=0.6, max_velocity=2.0,
              max_acceleration=10.0),
    JointSpec('neck_roll', 'roll', lower=-0.4, upper=0.4, max_velocity=1.5,
              max_acceleration=6.0),
)


def joints_from_lists(names, dofs, signs, gains, offsets, lowers, uppers, velocities,
                      accelerations) -> tuple[JointSpec, ...]:
    """Joint specs from parallel lists (how ROS parameters carry them)."""
    columns = [names, dofs, signs, gains, offsets, lowers, uppers, velocities, accelerations]
    if len({len(c) for c in columns}) != 1:
        raise ValueError('joint parameter lists must all have one entry per joint; lengths: '
                         + ', '.join(str(len(c)) for c in columns))
    return tuple(JointSpec(n, d, float(s), float(g), float(o), float(lo), float(hi), float(v),
                           float(a)) for n, d, s, g, o, lo, hi, v, a in zip(*columns, strict=True))


class JointMap:
    def __init__(self, joints=DEFAULT_JOINTS):
        if not joints:
            raise ValueError('at least one joint is needed')
        self.joints = tuple(joints)
        self.names = [j.name for j in self.joints]
        self._index = np.array([DOF_NAMES.index(j.dof) for j in self.joints])
        self._scale = np.array([j.sign * j.gain for j in self.joints])
        self.neutral = np.array([j.offset for j in self.joints])
        self.lower = np.array([j.lower for j in self.joints])
        self.upper = np.array([j.upper for j in self.joints])
        self.max_velocity = np.array([j.max_velocity for j in self.joints])
        self.max_acceleration = np.array([j.max_acceleration for j in self.joints])

    def targets(self, pose: np.ndarray) -> np.ndarray:
        """6-DoF pose (relative to the listener's neutral) -> joint targets (may exceed
        limits; the limiter clamps them)."""
        return self.neutral + self._scale * np.asarray(pose, dtype=np.float64)[self._index]
