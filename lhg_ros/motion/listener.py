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
from lhg_ros.features.motion import POSE_DIM, MotionFeatureStream, SlowMeanRemover
from lhg_ros.motion.speech import EnergySpeechDetector

SILENCE_LOG = math.log(float(np.finfo(np.float32).eps))  # Kaldi's floor: -15.94


def silence_features(rows: int) -> np.ndarray:
    """Feature rows of digital silence (log floor, no change)."""
    frames = np.zeros((rows, FEATURE_DIM), dtype=np.float32)
    frames[:, :STATIC_DIM] = SILENCE_LOG
    return frames


class ModelPolicy:
    """A backend's model as a policy: poses relative to the training data's mean listener
    pose, which is taken as neutral (for ``relative_to_rest`` models: relative to the
    listener's rest, which is neutral on a robot).

    What the model sees: the speaker's features, the speaker's motion (with the speaker's mean
    pose of the training data as the neutral it eases to when the face is lost) and, for
    models trained with it, the voice activity decision per frame: the node's is_speaking when
    known, else an energy detector on the features (a fallback the model was not trained on).

    Guard rails: a prediction that is not finite is counted, the model state is reset (it may
    hold the NaN), and the last good pose is held for ``hold_steps`` steps, then neutral.
    """

    def __init__(self, backend, hold_steps: int = 4):
        self.backend = backend
        c = backend.config
        self.frames_per_step, self.audio_per_motion = c.frames_per_step, c.audio_per_motion
        self.motion_rate = c.motion_rate
        self.uses_voice_activity = c.voice_activity
        self.speaker_highpass_s = c.speaker_highpass_s
        info = backend.info
        motion = info['normalization']['motion']['mean']
        self.neutral_pose = np.asarray(info.get('listener_neutral', motion[:POSE_DIM]),
                                       dtype=np.float64)
        self.relative_to_rest = c.relative_to_rest
        self.speaker_neutral = np.asarray(info.get('speaker_neutral', motion[:POSE_DIM]),
                                          dtype=np.float64)
        self.hold_steps = hold_steps
        self.nonfinite_predictions = 0
        self.reset()

    def reset(self) -> None:
        self._state = self.backend.initial_state()
        self._detector = EnergySpeechDetector()
        self._held = np.zeros((self.frames_per_step, POSE_DIM))
        self._bad_steps = 0

    def _voice_column(self, audio: np.ndarray, speaking) -> np.ndarray:
        if speaking is None:
            flags = [self._detector.update(float(p)) for p in audio[:, 0]]
        else:
            flags = np.repeat(np.broadcast_to(np.asarray(speaking, dtype=bool),
                                              (self.frames_per_step,)), self.audio_per_motion)
        return np.asarray(flags, dtype=np.float32)[:, None]

    def step(self, audio, speaker, listener, speaking=None) -> np.ndarray:
        if self.uses_voice_activity:
            audio = np.concatenate([audio, self._voice_column(audio, speaking)], axis=1)
        poses, self._state = self.backend.step(audio, speaker, listener, self._state)
        relative = np.asarray(poses, dtype=np.float64) - self.neutral_pose
        self.last_raw = relative
        if np.isfinite(relative).all():
            self._bad_steps = 0
            self._held = relative
            return relative
        self.nonfinite_predictions += 1
        self._bad_steps += 1
        self._state = self.backend.initial_state()
        if self._bad_steps > self.hold_steps:
            return np.zeros_like(self._held)
        return np.tile(self._held[-1], (self.frames_per_step, 1))


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
