"""A rule-based listener: a baseline from the backchannel literature, not a learned model.

It needs no checkpoint, so a robot moves sensibly from the first launch:

* **Nods after a pause that follows a stretch of speech** (listeners backchannel at the
  speaker's pauses: Maatman, Gratch and Marsella 2005; Ward and Tsukahara 2000 use prosodic
  cues of the same kind): once the speaker has talked for ``min_speech_s`` and then paused for
  ``pause_s``, the head nods (pitch down, then back) unless it nodded within
  ``refractory_s``. Longer turns get a slightly deeper nod, and every third a double nod.
* **Small prosody-driven movement** while the speaker talks: the head pitch follows slow
  changes of the speaker's loudness by a fraction of a degree.
* **Idle micro-motion**: slow, small, incommensurate sways of all three angles, so the head
  never freezes like a statue.

Without a voice activity decision from outside, speech is detected from the features' log
power against an adaptive noise floor, so the policy works from the audio stream alone. It
does not copy the speaker's head.
"""

import math

import numpy as np

from lhg_ros.features.motion_features import POSE_DIM
from lhg_ros.motion.speech import EnergySpeechDetector

PITCH, YAW, ROLL = 0, 1, 2


class RuleListener:
    neutral_pose = np.zeros(POSE_DIM)  # its poses are relative to neutral already

    def __init__(self, frames_per_step: int = 3, motion_rate: float = 25.0,
                 audio_per_motion: int = 4, min_speech_s: float = 0.8, pause_s: float = 0.25,
                 refractory_s: float = 1.5, nod_amplitude_rad: float = 0.12,
                 nod_duration_s: float = 0.5, idle_amplitude_rad: float = 0.012,
                 speech_margin: float = 3.0, seed: int = 0):
        self.frames_per_step, self.rate = frames_per_step, motion_rate
        self.motion_rate = motion_rate
        self.audio_per_motion = audio_per_motion
        self.min_speech_s, self.pause_s, self.refractory_s = min_speech_s, pause_s, refractory_s
        self.nod_amplitude, self.nod_duration = nod_amplitude_rad, nod_duration_s
        self.idle_amplitude, self.speech_margin = idle_amplitude_rad, speech_margin
        rng = np.random.default_rng(seed)
        self._idle_freq = rng.uniform(0.07, 0.23, size=3)
        self._idle_phase = rng.uniform(0, 2 * math.pi, size=3)
        self.reset()

    def reset(self) -> None:
        self._t = 0.0  # seconds of conversation so far (motion frames / rate)
        self._detector = EnergySpeechDetector(self.speech_margin)
        self._speech_run = 0.0  # seconds of the current stretch of speech (pauses < pause_s)
        self._silence_run = 0.0
        self._last_nod = -math.inf
        self._nod_start = None
        self._nod_depth = 0.0
        self._nod_count = 0
        self._nod_repeats = 1
        self._loudness = 0.0
        self.nods: list[float] = []  # start times of the nods made, in seconds

    def _nod_offset(self, t: float) -> float:
        if self._nod_start is None:
            return 0.0
        phase = (t - self._nod_start) / self.nod_duration
        if phase >= self._nod_repeats:
            self._nod_start = None
            return 0.0
        return self._nod_depth * math.sin(math.pi * (phase % 1.0)) ** 2

    def step(self, audio: np.ndarray, speaker=None, listener=None,
             speaking=None) -> np.ndarray:
        """audio (frames_per_step * 4, 81) features -> poses (frames_per_step, 6) of the next
        frames, in radians relative to neutral. ``speaking``: a voice activity decision from
        outside (the is_speaking topic), one per frame or one for the step, that replaces the
        energy detector.
        ``speaker``/``listener`` are not used."""
        poses = np.zeros((self.frames_per_step, POSE_DIM))
        flags = None if speaking is None else np.broadcast_to(
            np.asarray(speaking, dtype=bool), (self.frames_per_step,))
        for i in range(self.frames_per_step):
            frame_audio = audio[i * self.audio_per_motion:(i + 1) * self.audio_per_motion]
            # Every row updates the noise floor, so no short-circuit here.
            row_flags = [self._detector.update(float(p)) for p in frame_audio[:, 0]]
            energetic = any(row_flags)
            dt = 1.0 / self.rate
            if energetic if flags is None else flags[i]:
                self._speech_run += dt + (self._silence_run if self._silence_run < self.pause_s
                                          else 0.0)
                self._silence_run = 0.0
                level = float(frame_audio[:, 0].mean()) - (self._detector.floor or 0.0)
                self._loudness += 0.1 * (level - self._loudness)
            else:
                self._silence_run += dt
                if self._silence_run >= self.pause_s:
                    if (self._speech_run >= self.min_speech_s
                            and self._t - self._last_nod >= self.refractory_s):
                        self._start_nod()
                    self._speech_run = 0.0
                self._loudness *= 0.95
            self._t += dt
            t = self._t  # this pose is for the next frame
            idle = self.idle_amplitude * np.sin(2 * math.pi * self._idle_freq * t
                                                + self._idle_phase)
            poses[i, :3] = idle
            poses[i, PITCH] += self._nod_offset(t) + 0.004 * np.tanh(self._loudness / 5.0)
        return poses

    def _start_nod(self) -> None:
        self._nod_count += 1
        self._nod_start = self._t
        self._last_nod = self._t
        turn = min(self._speech_run / 4.0, 1.0)
        self._nod_depth = self.nod_amplitude * (0.7 + 0.3 * turn)
        self._nod_repeats = 2 if self._nod_count % 3 == 0 else 1
        self.nods.append(self._t)
