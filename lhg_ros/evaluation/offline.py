"""Listener motion for a whole recording, offline, through the same runtime as listener_node
(warm-up, a step every ``frames_per_step`` frames, the same policy step), for the rule policy
or a model."""

import numpy as np

from lhg_ros.features.motion_features import MOTION_RATE, POSE_DIM
from lhg_ros.motion.model_policy import ModelPolicy
from lhg_ros.motion.rules import RuleListener
from lhg_ros.motion.runtime import ListenerRuntime
from lhg_ros.rates import motion_stride


def make_policy(policy: str = 'model', checkpoint: str | None = None, backend: str = 'auto',
                expressiveness: float = 1.0, seed: int | None = 0, style: str = ''):
    """The rule policy, or a model (the shipped one unless ``checkpoint``) on ``backend``,
    sampled at ``expressiveness`` from ``seed`` (None or negative: a new seed), in ``style``
    (lhg_ros.network.style; empty: the model's default)."""
    if policy == 'rules':
        return RuleListener()
    from lhg_ros.backends import load_backend
    from lhg_ros.models import resolve_checkpoint

    return ModelPolicy(load_backend(backend, resolve_checkpoint(checkpoint)),
                       expressiveness=expressiveness,
                       seed=None if seed is None or seed < 0 else seed, style=style)


def frame_flags(speaking: np.ndarray, frames: int, rows_per_frame: int) -> np.ndarray:
    """Per motion frame, the voice activity decision of its last audio row (what the node's
    latest is_speaking says when the frame is cut)."""
    speaking = np.asarray(speaking, dtype=bool)
    last = np.minimum((np.arange(frames) + 1) * rows_per_frame - 1, len(speaking) - 1)
    return speaking[last]


def run_policy(policy, audio: np.ndarray, speaker_poses: np.ndarray,
               speaking: np.ndarray | None = None, warmup_s: float = 1.0,
               warmup_poses: np.ndarray | None = None) -> np.ndarray:
    """Relative listener poses (T, 6) at the policy's motion rate, for audio features (100 Hz,
    81 columns), speaker poses (T', 6) at 25 Hz and, optionally, the voice activity per audio
    row: what listener_node would command, frame by frame (before joint limits).
    ``warmup_poses``: the listener's relative poses (at the policy's rate) during the warm-up.
    """
    rate = getattr(policy, 'motion_rate', MOTION_RATE)
    every = motion_stride(rate)
    speaker_poses = np.asarray(speaker_poses)[::every]
    per_frame = round(100.0 / rate)
    frames = min(len(speaker_poses), len(audio) // per_frame)
    flags = None if speaking is None else frame_flags(speaking, frames, per_frame)
    runtime = ListenerRuntime(policy, warmup_s, rate, warmup_poses=warmup_poses)
    out = np.zeros((frames, POSE_DIM))
    if warmup_poses is not None:
        out[:min(frames, runtime.warmup_frames)] = warmup_poses[:min(frames,
                                                                    runtime.warmup_frames)]
    for t in range(frames):
        predicted = runtime.push(audio[per_frame * t:per_frame * (t + 1)], speaker_poses[t],
                                 None if flags is None else bool(flags[t]))
        if predicted is not None:
            end = min(frames, t + 1 + len(predicted))
            out[t + 1:end] = predicted[:end - t - 1]
    return out
