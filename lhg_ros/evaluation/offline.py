"""Listener motion for a whole recording, offline, through the same runtime as listener_node
(warm-up at neutral, a step every three frames), for the rule policy or a model."""

import numpy as np

from lhg_ros.features.motion import POSE_DIM
from lhg_ros.motion.listener import ListenerRuntime, ModelPolicy
from lhg_ros.motion.rules import RuleListener


def make_policy(checkpoint: str | None = None, backend: str = 'onnxruntime'):
    if not checkpoint:
        return RuleListener()
    from lhg_ros.backends import load_backend

    return ModelPolicy(load_backend(backend, checkpoint))


def run_policy(policy, audio: np.ndarray, speaker_poses: np.ndarray,
               warmup_s: float = 1.0, rate: float = 25.0) -> np.ndarray:
    """Relative listener poses (T, 6) for audio features (>= 4T, 81) and speaker poses (T, 6):
    what listener_node would command, frame by frame (before joint limits)."""
    runtime = ListenerRuntime(policy, warmup_s, rate)
    frames = min(len(speaker_poses), len(audio) // 4)
    out = np.zeros((frames, POSE_DIM))
    for t in range(frames):
        predicted = runtime.push(audio[4 * t:4 * t + 4], speaker_poses[t])
        if predicted is not None:
            end = min(frames, t + 1 + len(predicted))
            out[t + 1:end] = predicted[:end - t - 1]
    return out
