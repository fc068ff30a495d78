"""The real-time listener, without ROS: aligns stamped input streams onto the motion frame
grid, steps a policy (the model or the rules) every three frames, and detects nods.

Gap rules (documented in the README):

* audio rows missing for a motion frame (audio late or lost) are replaced by the features of
  digital silence, and the frame is counted as ``audio_gaps``;
* the speaker's face lost: the last pose is held for ``hold_s``, then eases toward the neutral
  speaker pose with a 0.5 s time constant (differences then decay to zero, as for a still head);
  when the face comes back, the pose glides to it. Easing and gliding never move faster than
  the speaker was seen to move, so a gap never invents motion (offline resampling of
  recordings uses the same rules, :func:`lhg_ros.data.extract.resample_poses`).
"""

import math

import numpy as np

from lhg_ros.features.audio import FEATURE_DIM, STATIC_DIM
from lhg_ros.features.pose_features import POSE_DIM, MotionFeatureStream, SlowMeanRemover
from lhg_ros.model import mixture
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

    A mixture model's prediction is sampled (lhg_ros.model.mixture) at ``expressiveness`` (0:
    the most likely motion; 1: as learned), from a random generator that ``reset`` restarts
    from ``seed`` (None: a fresh seed each time), so a seeded run is reproducible.

    A model with styles (lhg_ros.model.style) listens in ``style``: a shipped style's name, the
    path of a style file, or a vector ('' : the model's default). :meth:`set_style` changes it
    while running: the vector the model sees eases to the new one with a time constant of
    ``STYLE_EASE_S``, so the change shows from the next step on and the head does not jump.

    Guard rails: a prediction that is not finite is counted, the model state is reset (it may
    hold the NaN), and the last good pose is held for ``hold_steps`` steps, then neutral.
    """

    STYLE_EASE_S = 0.25

    def __init__(self, backend, hold_steps: int = 4, expressiveness: float = 1.0,
                 seed: int | None = None, style=''):
        if not (math.isfinite(expressiveness) and expressiveness >= 0):
            raise ValueError(f'expressiveness must be a number >= 0, got {expressiveness}')
        self.backend = backend
        self.expressiveness, self.seed = float(expressiveness), seed
        c = backend.config
        self.mixtures = c.mixtures
        self.frames_per_step, self.audio_per_motion = c.frames_per_step, c.audio_per_motion
        # A mixture's course covers this many frames; a step commands its first frames_per_step.
        self._predicted_frames = c.predicted_frames
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
        bound = info.get('listener_bound')
        self._bound = None if bound is None else np.asarray(bound, dtype=np.float64)
        self.hold_steps = hold_steps
        self.nonfinite_predictions = 0
        self._style_keep = math.exp(-c.step_seconds / self.STYLE_EASE_S)
        self.style_name, self._style_target = self._resolve(style)
        self._style = self._style_target
        self.reset()

    def _resolve(self, style) -> tuple[str, np.ndarray | None]:
        from lhg_ros.model.style import resolve_style

        if not self.backend.config.style_dim:
            resolve_style(style if isinstance(style, str) else 'vector', self.backend.info)
            return '', None
        if isinstance(style, str):
            return resolve_style(style, self.backend.info)
        vector = np.asarray(style, dtype=np.float32).reshape(-1)
        if vector.shape != (self.backend.config.style_dim,) or not np.isfinite(vector).all():
            raise ValueError(f'a style vector must be {self.backend.config.style_dim} finite '
                             'numbers')
        return 'vector', vector

    def set_style(self, style) -> str:
        """Listen in another style from the next step on (a name, a style file's path or a
        vector); returns its name. A style that cannot be used raises StyleError (ValueError)
        and leaves the current one."""
        self.style_name, self._style_target = self._resolve(style)
        return self.style_name

    @property
    def style_vector(self) -> np.ndarray | None:
        """The style vector the model sees now (easing toward the one set)."""
        return None if self._style is None else self._style.copy()

    def reset(self) -> None:
        self._state = self.backend.initial_state()
        self._style = self._style_target  # (a new conversation starts in the style set)
        self._rng = np.random.default_rng(self.seed)
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
        if self._style is not None:
            self._style = self._style_target + self._style_keep * (self._style
                                                                   - self._style_target)
        prediction, self._state = self.backend.step(audio, speaker, listener, self._state,
                                                    self._style)
        poses = np.asarray(prediction, dtype=np.float64)
        if self.mixtures and not np.isfinite(poses).all():  # the guard below takes it
            poses = np.full((self.frames_per_step, POSE_DIM), np.nan)
        elif self.mixtures:
            poses = mixture.sample(poses, self._predicted_frames, POSE_DIM,
                                   self.expressiveness, self._rng)[:self.frames_per_step]
            if self._bound is not None:
                poses = np.clip(poses, self.neutral_pose - self._bound,
                                self.neutral_pose + self._bound)
        relative = poses - self.neutral_pose
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


class SpeakerGapFiller:
    """The speaker pose of each motion frame from the latest face seen: followed while fresh,
    held ``hold_s`` after the face is lost, then eased toward ``neutral`` (time constant
    ``ease_s``); when a face is seen again after easing began, the pose glides to it (time
    constant ``return_s``) before following again.

    Easing and gliding never move faster than this speaker was seen to move (the peak speed
    of each DoF between consecutive faces, forgotten over ``memory_s``; at least ``MIN_SPEED``,
    at most ``MAX_SPEED``, rad/s for the angles and m/s for the position): what fills a gap is
    never mistaken for motion."""

    MIN_SPEED = np.array([0.15, 0.15, 0.15, 0.05, 0.05, 0.05])  # about 9 deg/s, 5 cm/s
    MAX_SPEED = np.array([0.5, 0.5, 0.5, 0.2, 0.2, 0.2])  # about 29 deg/s, 0.2 m/s

    def __init__(self, rate: float, hold_s: float = 0.5, neutral=None, ease_s: float = 0.5,
                 return_s: float = 0.15, memory_s: float = 10.0):
        self.rate, self.hold_s = rate, hold_s
        self.neutral = (np.zeros(POSE_DIM) if neutral is None
                        else np.asarray(neutral, dtype=np.float64))
        self._ease = 1.0 - math.exp(-1.0 / (rate * ease_s))
        self._return = 1.0 - math.exp(-1.0 / (rate * return_s))
        self._memory_s = memory_s
        self.value = self.neutral.copy()
        self.peak_speed = self.MIN_SPEED.copy()
        self._last: tuple[float, np.ndarray] | None = None  # the last face: (time, pose)
        self._following = False
        self._seen = False  # a face in this stream yet

    def update(self, pose: np.ndarray | None, seen_at: float, end: float) -> np.ndarray:
        """The pose of the frame ending at ``end``, given the latest face pose seen before it
        (None: none yet) and when it was seen."""
        if pose is not None and end - seen_at <= self.hold_s:
            pose = np.asarray(pose, dtype=np.float64)
            self._measure(pose, seen_at)
            if self._following or not self._seen:  # (the first face is taken as it is)
                self.value, self._following, self._seen = pose, True, True
            else:  # the face is back: glide to it, then follow
                self._move(pose, self._return)
                self._following = bool((np.abs(pose - self.value) <= self._cap()).all())
        else:
            self._following = False
            self._move(self.neutral, self._ease)
        return self.value.copy()

    def _measure(self, pose: np.ndarray, seen_at: float) -> None:
        """Peak speed between consecutive faces (not across gaps longer than the hold)."""
        if self._last is not None and seen_at > self._last[0]:
            dt = seen_at - self._last[0]
            decay = math.exp(-dt / self._memory_s)
            if dt <= self.hold_s:
                speed = np.abs(pose - self._last[1]) / dt
                self.peak_speed = np.maximum(speed, self.peak_speed * decay)
        if self._last is None or seen_at > self._last[0]:
            self._last = (seen_at, pose)

    def _cap(self) -> np.ndarray:
        return np.clip(self.peak_speed, self.MIN_SPEED, self.MAX_SPEED) / self.rate

    def _move(self, target: np.ndarray, fraction: float) -> None:
        cap = self._cap()
        self.value = self.value + np.clip(fraction * (target - self.value), -cap, cap)


class StampedBuffer:
    """Rows by capture time, oldest first, in preallocated arrays: appends and lookups cost
    O(log n) with no Python loop over what is kept, whatever a message holds.

    Stamps only go forward; a row stamped at or before the newest kept (a restarted source, a
    clock that jumped back) starts a new timeline: the rows from its stamp on are dropped.
    """

    def __init__(self, width: int, keep: int, dtype=np.float32):
        self.keep = int(keep)
        self._stamps = np.empty(2 * self.keep)
        self._rows = np.empty((2 * self.keep, width), dtype=dtype)
        self._n = 0
        self.rewinds = 0

    def __len__(self) -> int:
        return self._n

    @property
    def newest_stamp(self) -> float:
        return float(self._stamps[self._n - 1]) if self._n else -math.inf

    def extend(self, stamps: np.ndarray, rows: np.ndarray) -> None:
        """Append rows (n, width) stamped ``stamps`` (increasing)."""
        stamps, rows = stamps[-self.keep:], rows[-self.keep:]
        m = len(stamps)
        if not m:
            return
        if self._n and stamps[0] <= self._stamps[self._n - 1]:
            self._n = int(np.searchsorted(self._stamps[:self._n], stamps[0], 'left'))
            self.rewinds += 1
        if self._n + m > len(self._stamps):  # full: keep the newest, amortised O(1)
            kept = self.keep - m
            self._stamps[:kept] = self._stamps[self._n - kept:self._n]
            self._rows[:kept] = self._rows[self._n - kept:self._n]
            self._n = kept
        self._stamps[self._n:self._n + m] = stamps
        self._rows[self._n:self._n + m] = rows
        self._n += m

    def between(self, low: float, high: float) -> np.ndarray:
        """The rows stamped in [low, high), oldest first (a view)."""
        stamps = self._stamps[:self._n]
        i, j = np.searchsorted(stamps, (low, high), 'left')
        return self._rows[i:j]

    def latest_before(self, t: float):
        """(stamp, row) of the newest row stamped before ``t``; None when there is none."""
        i = int(np.searchsorted(self._stamps[:self._n], t, 'left'))
        return (float(self._stamps[i - 1]), self._rows[i - 1]) if i else None


class StreamAligner:
    """Keeps recent audio rows and speaker poses by capture time and cuts them into motion
    frames: frame k covers [origin + k / rate, origin + (k + 1) / rate)."""

    def __init__(self, motion_rate: float = 25.0, audio_rate: float = 100.0,
                 hold_s: float = 0.5, keep_s: float = 5.0, neutral_speaker=None):
        self.motion_rate, self.audio_rate = motion_rate, audio_rate
        self.per_frame = round(audio_rate / motion_rate)
        self._audio = StampedBuffer(FEATURE_DIM, int(keep_s * audio_rate))
        self._poses = StampedBuffer(POSE_DIM, int(keep_s * 60), dtype=np.float64)
        self._speaker = SpeakerGapFiller(motion_rate, hold_s, neutral_speaker)
        self._row_offsets = np.arange(int(keep_s * audio_rate)) / audio_rate
        self.audio_gaps = 0

    @property
    def neutral_speaker(self) -> np.ndarray:
        return self._speaker.neutral

    @property
    def latest_audio_stamp(self) -> float:
        """Capture time of the newest audio row's first sample (-inf before any)."""
        return self._audio.newest_stamp

    @property
    def latest_pose_stamp(self) -> float:
        return self._poses.newest_stamp

    def add_audio(self, rows: np.ndarray, first_stamp: float) -> None:
        skip = max(0, len(rows) - len(self._row_offsets))  # more than is kept: the newest
        self._audio.extend(first_stamp + skip / self.audio_rate
                           + self._row_offsets[:len(rows) - skip], rows[skip:])

    def add_speaker_pose(self, pose: np.ndarray, stamp: float) -> None:
        self._poses.extend(np.array([stamp]), np.asarray(pose, dtype=np.float64)[None])

    def frame(self, start: float) -> tuple[np.ndarray, np.ndarray]:
        """(audio rows (4, 81), speaker pose (6,)) for the motion frame starting at ``start``."""
        end = start + 1.0 / self.motion_rate
        half_row = 0.5 / self.audio_rate
        rows = self._audio.between(start - half_row, end - half_row)
        if len(rows) >= self.per_frame:
            audio = rows[-self.per_frame:].copy()
        else:
            self.audio_gaps += 1
            audio = silence_features(self.per_frame)
            if len(rows):
                audio[-len(rows):] = rows
        seen = self._poses.latest_before(end)
        if seen is not None:
            speaker = self._speaker.update(seen[1], seen[0], end)
        else:
            speaker = self._speaker.update(None, -math.inf, end)
        return audio, speaker


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
