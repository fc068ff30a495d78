"""The real-time listener, without ROS: aligns stamped input streams onto the motion frame
grid, steps a policy (the model or the rules) every three frames, and detects nods.

Gap rules (documented in the README):

* audio rows missing for a motion frame (audio late or lost) are replaced by the features of
  digital silence, and the frame is counted as ``audio_gaps``;
* the speaker's face lost: the last pose is held for ``hold_s``, then eases toward the neutral
  speaker pose with a 0.5 s time constant (differences then decay to zero, as for a still head).
"""

import math
from collections import deque

import numpy as np

from lhg_ros.features.audio import FEATURE_DIM, STATIC_DIM
from lhg_ros.features.motion import POSE_DIM, MotionFeatureStream

SILENCE_LOG = math.log(float(np.finfo(np.float32).eps))  # Kaldi's floor: -15.94


def silence_features(rows: int) -> np.ndarray:
    """Feature rows of digital silence (log floor, no change)."""
    frames = np.zeros((rows, FEATURE_DIM), dtype=np.float32)
    frames[:, :STATIC_DIM] = SILENCE_LOG
    return frames


class ModelPolicy:
    """A backend's model as a policy: poses relative to the training data's mean listener
    pose, which is taken as neutral."""

    def __init__(self, backend):
        self.backend = backend
        c = backend.config
        self.frames_per_step, self.audio_per_motion = c.frames_per_step, c.audio_per_motion
        motion = backend.info['normalization']['motion']['mean']
        self.neutral_pose = np.asarray(motion[:POSE_DIM], dtype=np.float64)
        self.speaker_neutral = self.neutral_pose  # one set of motion statistics for both
        self.reset()

    def reset(self) -> None:
        self._state = self.backend.initial_state()

    def step(self, audio, speaker, listener, speaking=None) -> np.ndarray:
        poses, self._state = self.backend.step(audio, speaker, listener, self._state)
        return poses - self.neutral_pose


class StreamAligner:
    """Keeps recent audio rows and speaker poses by capture time and cuts them into motion
    frames: frame k covers [origin + k / rate, origin + (k + 1) / rate)."""

    def __init__(self, motion_rate: float = 25.0, audio_rate: float = 100.0,
                 hold_s: float = 0.5, keep_s: float = 5.0, neutral_speaker=None):
        self.motion_rate, self.audio_rate = motion_rate, audio_rate
        self.per_frame = round(audio_rate / motion_rate)
        self.hold_s = hold_s
        self._audio: deque = deque(maxlen=int(keep_s * audio_rate))
        self._poses: deque = deque(maxlen=int(keep_s * 60))
        self.neutral_speaker = (np.zeros(POSE_DIM) if neutral_speaker is None
                                else np.asarray(neutral_speaker, float))
        self._speaker = self.neutral_speaker.copy()
        self.audio_gaps = 0
        self.latest_audio_stamp = -math.inf

    def add_audio(self, rows: np.ndarray, first_stamp: float) -> None:
        for i, row in enumerate(rows):
            self._audio.append((first_stamp + i / self.audio_rate, row))
        self.latest_audio_stamp = max(self.latest_audio_stamp,
                                      first_stamp + (len(rows) - 1) / self.audio_rate)

    def add_speaker_pose(self, pose: np.ndarray, stamp: float) -> None:
        self._poses.append((stamp, np.asarray(pose, dtype=np.float64)))

    def frame(self, start: float) -> tuple[np.ndarray, np.ndarray]:
        """(audio rows (4, 81), speaker pose (6,)) for the motion frame starting at ``start``."""
        end = start + 1.0 / self.motion_rate
        half_row = 0.5 / self.audio_rate
        rows = [row for stamp, row in self._audio if start - half_row <= stamp < end - half_row]
        if len(rows) >= self.per_frame:
            audio = np.stack(rows[-self.per_frame:])
        else:
            self.audio_gaps += 1
            audio = silence_features(self.per_frame)
            if rows:
                audio[-len(rows):] = np.stack(rows)
        seen = [(stamp, pose) for stamp, pose in self._poses if stamp < end]
        if seen and end - seen[-1][0] <= self.hold_s:
            self._speaker = seen[-1][1]
        else:  # no face for a while: ease toward neutral
            alpha = 1.0 - math.exp(-1.0 / (self.motion_rate * 0.5))
            self._speaker = self._speaker + alpha * (self.neutral_speaker - self._speaker)
        return audio, self._speaker.copy()


class ListenerRuntime:
    """Frames in, listener poses out: every ``frames_per_step`` frames the policy predicts the
    next ones. During the first ``warmup_s`` the policy runs (building its state) but the
    listener stays at neutral, as the paper's model is warmed up before it speaks."""

    def __init__(self, policy, warmup_s: float = 1.0, motion_rate: float = 25.0):
        self.policy = policy
        self.rate = motion_rate
        self.warmup_frames = int(round(warmup_s * motion_rate))
        self.reset()

    def reset(self) -> None:
        self.policy.reset()
        self.frames = 0
        self._audio, self._speaker = [], []
        self._speaker_features = MotionFeatureStream()
        self._listener_features = MotionFeatureStream()
        self._next_relative = np.zeros((self.policy.frames_per_step, POSE_DIM))

    def push(self, audio: np.ndarray, speaker_pose: np.ndarray,
             speaking: bool | None = None) -> np.ndarray | None:
        """Add one motion frame's inputs; returns the poses (relative to neutral) of the next
        ``frames_per_step`` frames when a step completes, else None. ``speaking``: the latest
        voice activity decision, when one is known."""
        self._audio.append(audio)
        self._speaker.append(speaker_pose)
        self.frames += 1
        f = self.policy.frames_per_step
        if len(self._speaker) < f:
            return None
        audio = np.concatenate(self._audio).astype(np.float32)
        speaker = self._speaker_features.update(np.stack(self._speaker)).astype(np.float32)
        # The listener's input is what it did during these frames.
        executed = self.policy.neutral_pose + self._next_relative
        listener = self._listener_features.update(executed).astype(np.float32)
        self._audio, self._speaker = [], []
        relative = self.policy.step(audio, speaker, listener, speaking=speaking)
        if self.frames < self.warmup_frames:
            relative = np.zeros_like(relative)
        self._next_relative = np.asarray(relative, dtype=np.float64)
        return self._next_relative.copy()
