"""The paper's 18-d head-motion feature: 6 DoF [pitch, yaw, roll, x, y, z] (radians, metres)
plus causal first and second differences, per video frame. Training and the listener node use
this one definition."""

import numpy as np

from lhg_ros.features.dynamics import (
    CausalDifferences,
    with_causal_differences,
    with_causal_differences_batch,
)
from lhg_ros.rates import MOTION_RATE

DOF_NAMES = ('pitch', 'yaw', 'roll', 'x', 'y', 'z')
POSE_DIM = len(DOF_NAMES)
MOTION_DIM = 3 * POSE_DIM


def motion_features(poses: np.ndarray) -> np.ndarray:
    """(n, 6) poses of a whole sequence -> (n, 18) motion features."""
    poses = np.asarray(poses, dtype=np.float32)
    if poses.ndim != 2 or poses.shape[1] != POSE_DIM:
        raise ValueError(f'expected (n, {POSE_DIM}) poses {DOF_NAMES}, got {poses.shape}')
    return with_causal_differences(poses)


def batch_motion_features(poses):
    """(B, T, 6) poses, numpy or torch (training's batches) -> (B, T, 18), as
    :func:`motion_features` on each sequence."""
    return with_causal_differences_batch(poses)


class MotionFeatureStream(CausalDifferences):
    """Online form of :func:`motion_features`: ``update`` with (n, 6) poses as they come."""

    def __init__(self):
        super().__init__(POSE_DIM)


class SlowMeanRemover:
    """Poses minus their slow running mean (a first-order low-pass of ``time_constant_s``,
    started at the first pose): what is left is how the head moves, not where the camera put
    it. Online and offline alike: ``update`` on any split of a sequence gives the same rows."""

    def __init__(self, time_constant_s: float, rate: float = MOTION_RATE):
        self.alpha = 1.0 - np.exp(-1.0 / (time_constant_s * rate))
        self._mean = None

    def update(self, poses: np.ndarray) -> np.ndarray:
        poses = np.asarray(poses, dtype=np.float64)
        out = np.empty_like(poses)
        for i, pose in enumerate(poses):
            self._mean = pose.copy() if self._mean is None else (
                self._mean + self.alpha * (pose - self._mean))
            out[i] = pose - self._mean
        return out
