"""The dataset layout: a YAML manifest of dyadic sessions.

    format: lhg_ros.dataset
    version: 1
    held_out: [s005]            # sessions kept for evaluation (never trained on)
    held_out_listeners: [carol] # people no general model trains on: fine-tune or adapt to them
    sessions:
      - id: s001
        participants:
          A: {person: alice, audio: s001/A.wav, video: s001/A.mp4}
          B: {person: bob, audio: s001/B.wav, poses: s001/B_poses.npz, style: calm}
        floor:                  # who holds the floor, seconds; overlaps between people allowed
          - [A, 0.0, 4.2]
          - [B, 4.9, 8.0]

Each participant has their own microphone track (any rate; resampled to 16 kHz) and either a
frontal video (any rate) or a head-pose track (``poses``: an .npz with ``poses`` (T, 6)
[pitch, yaw, roll in rad, x, y, z in m] and ``rate``; from motion capture, for example).
Paths are relative to the manifest's folder. ``person`` names who it is (the same name in
several sessions is the same person: training learns each listener's style from all of them);
``style`` (optional) names the listening style they are known for, and a model trained on
the dataset ships one style per name (lhg_ros.network.style). ``held_out_listeners`` (optional)
names people whose sessions ``lhg-ros train`` leaves out: ``lhg-ros finetune --listener`` and
``lhg-ros adapt`` learn them from their sessions outside ``held_out``, and are judged on those
inside it, so that fine-tuning to someone is measured on a person the model never met.
"""

from dataclasses import dataclass, field
from pathlib import Path

import yaml

FORMAT = 'lhg_ros.dataset'
VERSION = 1


@dataclass(frozen=True)
class Participant:
    name: str
    person: str
    audio: Path
    video: Path | None = None
    poses: Path | None = None
    style: str = ''  # a named listening style this person is known for (optional)


@dataclass(frozen=True)
class Turn:
    participant: str
    start: float
    end: float


@dataclass
class Session:
    id: str
    participants: dict[str, Participant]
    floor: list[Turn] = field(default_factory=list)


@dataclass
class Dataset:
    root: Path
    sessions: list[Session]
    held_out: list[str] = field(default_factory=list)
    held_out_listeners: list[str] = field(default_factory=list)

    def session(self, session_id: str) -> Session:
        return next(s for s in self.sessions if s.id == session_id)

    def people_in(self, session_id: str) -> set[str]:
        return {p.person for p in self.session(session_id).participants.values()}


class ManifestError(ValueError):
    """The manifest cannot be read at all; :func:`validate` reports everything else."""


def load_manifest(path: str | Path) -> Dataset:
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f'manifest {path} does not exist')
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ManifestError(f'{path} is not valid YAML: {exc}') from None
    if not isinstance(data, dict) or data.get('format') != FORMAT:
        raise ManifestError(f"{path}: 'format: {FORMAT}' is missing")
    if data.get('version') != VERSION:
        raise ManifestError(f"{path}: version {data.get('version')}; this lhg_ros reads "
                            f'version {VERSION}')
    root = path.parent
    sessions = []
    for i, entry in enumerate(data.get('sessions') or []):
        try:
            participants = {
                name: Participant(name, str(p.get('person', name)), root / p['audio'],
                                  root / p['video'] if p.get('video') else None,
                                  root / p['poses'] if p.get('poses') else None,
                                  str(p.get('style') or ''))
                for name, p in entry['participants'].items()}
            floor = [Turn(str(who), float(start), float(end))
                     for who, start, end in entry.get('floor') or []]
            sessions.append(Session(str(entry['id']), participants, floor))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ManifestError(f'{path}: session #{i + 1} is malformed ({exc!r}); see the '
                                'layout in docs/own-data.md') from None
    return Dataset(root, sessions, [str(s) for s in data.get('held_out') or []],
                   [str(p) for p in data.get('held_out_listeners') or []])


def validate(dataset: Dataset, max_length_mismatch_s: float = 1.0) -> list[str]:
    """Every problem found, one line each (empty: the dataset is usable)."""
    import soundfile as sf

    problems = []
    ids = [s.id for s in dataset.sessions]
    for duplicate in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(f'session id {duplicate} appears more than once')
    for held in dataset.held_out:
        if held not in ids:
            problems.append(f'held_out names {held}, which is not a session')
    people = {p.person for s in dataset.sessions for p in s.participants.values()}
    for person in dataset.held_out_listeners:
        if person not in people:
            problems.append(f'held_out_listeners names {person}, who is in no session')
    for session in dataset.sessions:
        where = f'session {session.id}'
        if len(session.participants) != 2:
            problems.append(f'{where}: {len(session.participants)} participants; a dyadic '
                            'session has 2')
        lengths = {}
        for p in session.participants.values():
            if not p.audio.is_file():
                problems.append(f'{where}/{p.name}: audio file {p.audio} is missing')
            else:
                try:
                    info = sf.info(str(p.audio))
                    lengths[f'{p.name} audio'] = info.duration
                    if info.samplerate < 16000:
                        problems.append(f'{where}/{p.name}: audio at {info.samplerate} Hz; '
                                        'at least 16 kHz is needed')
                except RuntimeError as exc:
                    problems.append(f'{where}/{p.name}: audio {p.audio} cannot be read: {exc}')
            if (p.video is None) == (p.poses is None):
                problems.append(f'{where}/{p.name}: give exactly one of video or poses')
            for kind, file in (('video', p.video), ('poses', p.poses)):
                if file is not None and not file.is_file():
                    problems.append(f'{where}/{p.name}: {kind} file {file} is missing')
            if p.video is not None and p.video.is_file():
                length = _video_seconds(p.video)
                if length is None:
                    problems.append(f'{where}/{p.name}: video {p.video} cannot be decoded')
                else:
                    lengths[f'{p.name} video'] = length
            if p.poses is not None and p.poses.is_file():
                length, problem = _poses_seconds(p.poses)
                if problem:
                    problems.append(f'{where}/{p.name}: {problem}')
                else:
                    lengths[f'{p.name} poses'] = length
        if lengths and max(lengths.values()) - min(lengths.values()) > max_length_mismatch_s:
            detail = ', '.join(f'{k} {v:.1f} s' for k, v in lengths.items())
            problems.append(f'{where}: track lengths differ by more than '
                            f'{max_length_mismatch_s:.0f} s ({detail})')
        end = max(lengths.values()) if lengths else None
        for turn in session.floor:
            if turn.participant not in session.participants:
                problems.append(f'{where}: floor interval for unknown participant '
                                f'{turn.participant}')
            if turn.start < 0 or turn.end <= turn.start:
                problems.append(f'{where}: floor interval {turn.participant} '
                                f'[{turn.start}, {turn.end}] is negative or empty')
            elif end is not None and turn.end > end + max_length_mismatch_s:
                problems.append(f'{where}: floor interval {turn.participant} ends at '
                                f'{turn.end:.1f} s, after the recording ({end:.1f} s)')
        for name in session.participants:
            turns = sorted((t for t in session.floor if t.participant == name),
                           key=lambda t: t.start)
            for a, b in zip(turns, turns[1:], strict=False):
                if b.start < a.end:
                    problems.append(f'{where}: floor intervals of {name} overlap '
                                    f'([{a.start}, {a.end}] and [{b.start}, {b.end}])')
    return problems


def _video_seconds(path: Path) -> float | None:
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            return None
        fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
        frames = capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0.0
        return frames / fps if fps > 0 else None
    finally:
        capture.release()


def _poses_seconds(path: Path) -> tuple[float, str]:
    import numpy as np

    try:
        with np.load(path) as data:
            poses, rate = data['poses'], float(data['rate'])
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        return 0.0, f'poses {path} cannot be read ({exc}); it needs arrays poses and rate'
    if poses.ndim != 2 or poses.shape[1] != 6 or rate <= 0:
        return 0.0, f'poses {path} must hold poses (T, 6) and a positive rate'
    return len(poses) / rate, ''


def write_manifest(dataset_sessions: list[dict], path: str | Path,
                   held_out: list[str] = (), held_out_listeners: list[str] = ()) -> Path:
    """Write a manifest from plain session dicts (paths relative to ``path``'s folder)."""
    path = Path(path)
    data = {'format': FORMAT, 'version': VERSION, 'held_out': list(held_out)}
    if held_out_listeners:
        data['held_out_listeners'] = list(held_out_listeners)
    path.write_text(yaml.safe_dump({**data, 'sessions': dataset_sessions}, sort_keys=False))
    return path
