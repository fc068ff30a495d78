"""Offline autoregressive generation of listener motion over a whole recording, with any
backend. The first second can be the real listener's motion (warm-up, as in the paper)."""

import numpy as np

from lhg_ros.backends.base import Backend
from lhg_ros.features.motion import MotionFeatureStream


def generate(backend: Backend, audio: np.ndarray, speaker_motion: np.ndarray,
             warmup_poses: np.ndarray | None = None, warmup_s: float = 1.0) -> np.ndarray:
    """Listener poses (T, 6) for a recording.

    ``audio`` (4T, 81) speaker features, ``speaker_motion`` (T, 18); ``warmup_poses`` (>= T0, 6)
    the real listener's poses, used as the listener input for the first ``warmup_s`` (rounded
    up to whole steps). Without them the listener starts from the training data's mean pose.
    After the warm-up, each step's prediction becomes the next step's listener input. Frames
    past the last whole step are dropped.
    """
    c = backend.config
    f, per_step = c.frames_per_step, c.audio_per_step
    steps = min(len(speaker_motion) // f, len(audio) // per_step)
    if steps == 0:
        raise ValueError(f'a recording needs at least {f} motion frames and {per_step} audio '
                         f'frames; got {len(speaker_motion)} and {len(audio)}')
    mean_pose = np.asarray(backend.info['normalization']['motion']['mean'][:c.pose_dim],
                           dtype=np.float32)
    warmup_frames = 0
    if warmup_poses is not None:
        warmup_frames = min(len(warmup_poses), steps * f,
                            int(np.ceil(warmup_s * c.motion_rate / f)) * f)
    poses = np.empty((steps * f, c.pose_dim), dtype=np.float32)
    listener_features = MotionFeatureStream()
    state = backend.initial_state()
    current = np.tile(mean_pose, (f, 1))  # the listener's poses for this step's frames
    for k in range(steps):
        frames = slice(k * f, (k + 1) * f)
        if k * f < warmup_frames:
            current = np.asarray(warmup_poses[frames], dtype=np.float32)
        poses[frames] = current
        predicted, state = backend.step(audio[k * per_step:(k + 1) * per_step],
                                        speaker_motion[frames],
                                        listener_features.update(current), state)
        current = predicted
    return poses
