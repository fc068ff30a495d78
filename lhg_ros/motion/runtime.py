"""The real-time listener, without ROS: steps a policy (the model or the rules) every few
motion frames on aligned input (lhg_ros.motion.alignment) and gives the listener's poses."""

import numpy as np

from lhg_ros.features.motion_features import POSE_DIM, MotionFeatureStream, SlowMeanRemover


class ListenerRuntime:
    """Frames in, listener poses out: every ``frames_per_step`` frames the policy predicts the
    next ones. During the first ``warmup_s`` the policy runs (building its state) but the
    listener stays at neutral, as the paper's model is warmed up before it speaks; offline,
    ``warmup_poses`` (relative to neutral) can be the real listener's poses of that time
    instead, as in the paper's evaluation."""

    def __init__(self, policy, warmup_s: float = 1.0, motion_rate: float | None = None,
                 warmup_poses: np.ndarray | None = None):
        self.policy = policy
        self.rate = motion_rate or getattr(policy, 'motion_rate', 25.0)
        self.warmup_frames = int(round(warmup_s * self.rate))
        self.warmup_poses = None if warmup_poses is None else np.asarray(warmup_poses, float)
        self.reset()

    def reset(self) -> None:
        self.policy.reset()
        self.frames = 0
        self._audio, self._speaker, self._speaking = [], [], []
        self._speaker_features = MotionFeatureStream()
        highpass = getattr(self.policy, 'speaker_highpass_s', 0.0)
        self._speaker_mean = SlowMeanRemover(highpass, self.rate) if highpass > 0 else None
        self._listener_features = MotionFeatureStream()
        self._next_relative = self._warmup(0)

    def _warmup(self, first: int) -> np.ndarray:
        """Relative poses of frames first .. first + frames_per_step during the warm-up."""
        f = self.policy.frames_per_step
        out = np.zeros((f, POSE_DIM))
        if self.warmup_poses is not None:
            part = self.warmup_poses[first:first + f]
            out[:len(part)] = part
        return out

    def push(self, audio: np.ndarray, speaker_pose: np.ndarray,
             speaking: bool | None = None) -> np.ndarray | None:
        """Add one motion frame's inputs; returns the poses (relative to neutral) of the next
        ``frames_per_step`` frames when a step completes, else None. ``speaking``: the latest
        voice activity decision, when one is known."""
        self._audio.append(audio)
        self._speaker.append(speaker_pose)
        self._speaking.append(speaking)
        self.frames += 1
        f = self.policy.frames_per_step
        if len(self._speaker) < f:
            return None
        audio = np.concatenate(self._audio).astype(np.float32)
        speaker = np.stack(self._speaker)
        if self._speaker_mean is not None:
            speaker = self._speaker_mean.update(speaker)
        speaker = self._speaker_features.update(speaker).astype(np.float32)
        # The listener's input is what it did during these frames.
        executed = self.policy.neutral_pose + self._next_relative
        listener = self._listener_features.update(executed).astype(np.float32)
        flags = None if any(s is None for s in self._speaking) else list(self._speaking)
        self._audio, self._speaker, self._speaking = [], [], []
        relative = self.policy.step(audio, speaker, listener, speaking=flags)
        if self.frames < self.warmup_frames:
            relative = self._warmup(self.frames)
        self._next_relative = np.asarray(relative, dtype=np.float64)
        return self._next_relative.copy()
