"""The avatar head's geometry (as in urdf/listener_head.urdf) and its pose from the neck
joints, for the MarkerArray avatar and for rendering the demo video."""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Part:
    name: str
    shape: str  # 'sphere' or 'box'
    centre: tuple[float, float, float]  # metres in the head frame (x forward, y left, z up)
    size: tuple[float, float, float]  # diameters / box edges, metres
    colour: tuple[float, float, float]  # RGB 0..1


SKIN, NOSE = (0.93, 0.78, 0.66), (0.86, 0.66, 0.55)
DARK, WHITE = (0.12, 0.12, 0.14), (0.97, 0.97, 0.97)
HEAD_PARTS = (
    Part('head', 'sphere', (0.0, 0.0, 0.12), (0.20, 0.20, 0.20), SKIN),
    Part('nose', 'sphere', (0.105, 0.0, 0.11), (0.03, 0.025, 0.025), NOSE),
    Part('left_eye', 'sphere', (0.085, 0.035, 0.145), (0.032, 0.032, 0.032), WHITE),
    Part('right_eye', 'sphere', (0.085, -0.035, 0.145), (0.032, 0.032, 0.032), WHITE),
    Part('left_pupil', 'sphere', (0.099, 0.035, 0.145), (0.014, 0.014, 0.014), DARK),
    Part('right_pupil', 'sphere', (0.099, -0.035, 0.145), (0.014, 0.014, 0.014), DARK),
    Part('mouth', 'box', (0.092, 0.0, 0.075), (0.01, 0.05, 0.008), DARK),
)


def head_rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """The neck chain yaw (z) -> pitch (y) -> roll (x): R = Rz(yaw) Ry(pitch) Rx(roll)."""
    import transforms3d

    return transforms3d.euler.euler2mat(roll, pitch, yaw, 'sxyz')


def neck_angles(names, positions) -> tuple[float, float, float]:
    """(yaw, pitch, roll) from joint names/positions; joints not present count as 0."""
    values = dict(zip(names, positions, strict=False))
    return (values.get('neck_yaw', 0.0), values.get('neck_pitch', 0.0),
            values.get('neck_roll', 0.0))
