"""Listener segments (where one participant listens while the other holds the floor), cut into
6-11 s pieces as in the paper, and session-level splits (never by segment: no leakage)."""

from dataclasses import dataclass

import numpy as np

from lhg_ros.data.manifest import Dataset, Session
from lhg_ros.features.motion_features import MOTION_RATE


@dataclass(frozen=True)
class Segment:
    session: str
    listener: str
    speaker: str
    start: int  # first motion frame
    frames: int  # length in motion frames

    @property
    def seconds(self) -> float:
        return self.frames / MOTION_RATE


def _holds(session: Session, who: str, frames: int, rate: float) -> np.ndarray:
    mask = np.zeros(frames, dtype=bool)
    for turn in session.floor:
        if turn.participant == who:
            mask[int(turn.start * rate):int(np.ceil(turn.end * rate))] = True
    return mask


def listening_intervals(session: Session, listener: str, frames: int,
                        rate: float = MOTION_RATE) -> list[tuple[int, int]]:
    """(first frame, end frame) of each stretch where ``listener`` does not hold the floor and
    the other participant does."""
    speaker = next(n for n in session.participants if n != listener)
    listening = _holds(session, speaker, frames, rate) & ~_holds(session, listener, frames, rate)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], listening.astype(int), [0]))))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def listener_segments(session: Session, frames: int, min_s: float = 6.0, max_s: float = 11.0,
                      rate: float = MOTION_RATE) -> list[Segment]:
    """Segments of ``min_s``..``max_s`` where one participant does not hold the floor and the
    other does."""
    names = list(session.participants)
    segments = []
    for listener in names:
        speaker = next(n for n in names if n != listener)
        for start, end in listening_intervals(session, listener, frames, rate):
            position, shortest, longest = start, int(min_s * rate), int(max_s * rate)
            while end - position >= shortest:
                length = min(longest, end - position)
                if 0 < end - position - length < shortest:  # split the rest evenly
                    length = (end - position) // 2 if end - position >= 2 * shortest else length
                segments.append(Segment(session.id, listener, speaker, int(position),
                                        int(length)))
                position += length
    return segments


def split_sessions(dataset: Dataset, valid_fraction: float = 0.1, seed: int = 0,
                   listener: str = '') -> dict[str, list[str]]:
    """{'train', 'valid', 'eval'} session ids: held-out sessions are 'eval'; the rest are split
    9:1 (at least one validation session when there are two or more). Sessions of a held-out
    listener (``held_out_listeners``) are left out, except when fine-tuning to them
    (``listener``); fine-tuning splits only the sessions ``listener`` is in."""
    reserved = set(dataset.held_out_listeners) - {listener}
    pool = [s.id for s in dataset.sessions if s.id not in dataset.held_out
            and not reserved & dataset.people_in(s.id)
            and (not listener or listener in dataset.people_in(s.id))]
    order = np.random.default_rng(seed).permutation(len(pool))
    valid_count = max(1, round(valid_fraction * len(pool))) if len(pool) >= 2 else 0
    valid = sorted(pool[i] for i in order[:valid_count])
    return {'train': sorted(set(pool) - set(valid)), 'valid': valid,
            'eval': list(dataset.held_out)}
