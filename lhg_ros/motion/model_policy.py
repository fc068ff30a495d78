"""A backend's model as the listener policy: its inputs, its sampling, its style."""

import math

import numpy as np

from lhg_ros.features.motion_features import POSE_DIM
from lhg_ros.motion.speech import EnergySpeechDetector
from lhg_ros.network import mixture


class ModelPolicy:
    """A backend's model as a policy: poses relative to the training data's mean listener
    pose, which is taken as neutral (for ``relative_to_rest`` models: relative to the
    listener's rest, which is neutral on a robot).

    What the model sees: the speaker's features, the speaker's motion (with the speaker's mean
    pose of the training data as the neutral it eases to when the face is lost) and, for
    models trained with it, the voice activity decision per frame: the node's is_speaking when
    known, else an energy detector on the features (a fallback the model was not trained on).

    A mixture model's prediction is sampled (lhg_ros.network.mixture) at ``expressiveness`` (0:
    the most likely motion; 1: as learned), from a random generator that ``reset`` restarts
    from ``seed`` (None: a fresh seed each time), so a seeded run is reproducible.

    A model with styles (lhg_ros.network.style) listens in ``style``: a shipped style's name, the
    path of a style file, or a vector ('' : the model's default). :meth:`set_style` changes it
    while running: the vector the model sees eases to the new one with a time constant of
    ``STYLE_EASE_S``, so the change shows from the next step on and the head does not jump.
    A style's temperature (lhg_ros.network.style) multiplies ``expressiveness`` and eases alike.

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
        self.style_name, self._style_target, self._temperature_target = self._resolve(style)
        self.reset()

    def _resolve(self, style) -> tuple[str, np.ndarray | None, float]:
        from lhg_ros.network.style import resolve_style_temperature

        if not self.backend.config.style_dim:
            resolve_style_temperature(style if isinstance(style, str) else 'vector',
                                      self.backend.info)
            return '', None, 1.0
        if isinstance(style, str):
            return resolve_style_temperature(style, self.backend.info)
        vector = np.asarray(style, dtype=np.float32).reshape(-1)
        if vector.shape != (self.backend.config.style_dim,) or not np.isfinite(vector).all():
            raise ValueError(f'a style vector must be {self.backend.config.style_dim} finite '
                             'numbers')
        return 'vector', vector, 1.0

    def set_style(self, style) -> str:
        """Listen in another style from the next step on (a name, a style file's path or a
        vector); returns its name. A style that cannot be used raises StyleError (ValueError)
        and leaves the current one."""
        self.style_name, self._style_target, self._temperature_target = self._resolve(style)
        return self.style_name

    @property
    def temperature(self) -> float:
        """The sampling temperature now: ``expressiveness`` times the style's (easing)."""
        return self.expressiveness * self._temperature

    @property
    def style_vector(self) -> np.ndarray | None:
        """The style vector the model sees now (easing toward the one set)."""
        return None if self._style is None else self._style.copy()

    def reset(self) -> None:
        self._state = self.backend.initial_state()
        self._style = self._style_target  # (a new conversation starts in the style set)
        self._temperature = self._temperature_target
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
        self._temperature = self._temperature_target + self._style_keep * (
            self._temperature - self._temperature_target)
        prediction, self._state = self.backend.step(audio, speaker, listener, self._state,
                                                    self._style)
        poses = np.asarray(prediction, dtype=np.float64)
        if self.mixtures and not np.isfinite(poses).all():  # the guard below takes it
            poses = np.full((self.frames_per_step, POSE_DIM), np.nan)
        elif self.mixtures:
            poses = mixture.sample(poses, self._predicted_frames, POSE_DIM,
                                   self.temperature, self._rng)[:self.frames_per_step]
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
