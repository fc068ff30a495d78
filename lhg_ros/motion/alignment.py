"""Stamped input streams onto the motion frame grid, without ROS: a buffer of rows by
capture time, and the aligner that gives each motion frame its audio rows and speaker pose.

Gap rules (docs/reliability.md, "Gaps"):

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

from lhg_ros.features.audio import FEATURE_DIM, silence_features
from lhg_ros.features.motion_features import POSE_DIM
from lhg_ros.features.speaker_gaps import SpeakerGapFiller


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
