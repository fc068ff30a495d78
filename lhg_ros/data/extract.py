"""Features of every participant of every session, with the SAME code the nodes run online:
81-d audio features (and voice activity) and 6-DoF head poses at 25 Hz. Cached per
participant next to the data (``.lhg_cache/``) with what they were made from, so a rerun only
does what changed or is missing (resumable), and runs in parallel over participants."""

import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from lhg_ros import __version__
from lhg_ros.data.manifest import Dataset, Participant
from lhg_ros.features.motion_features import MOTION_RATE, POSE_DIM

CACHE_VERSION = 2  # 2: poses by timestamp, gaps held and eased, not interpolated


def _sources(p: Participant) -> dict:
    files = [f for f in (p.audio, p.video, p.poses) if f is not None]
    return {str(f): [f.stat().st_size, int(f.stat().st_mtime)] for f in files}


def cache_path(dataset: Dataset, session_id: str, participant: str) -> Path:
    return dataset.root / '.lhg_cache' / session_id / f'{participant}.npz'


def resample_poses(times: np.ndarray, poses: np.ndarray, duration: float,
                   rate: float = MOTION_RATE, hold_s: float = 0.5,
                   neutral: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Poses at their own timestamps (NaN rows where no face was seen) -> (one pose per motion
    frame of ``duration``, whether a face was seen in that frame), by the runtime's rules
    (:class:`lhg_ros.motion.runtime.SpeakerGapFiller`): each frame takes the latest face seen
    before its end; a lost face is held ``hold_s``, then eased toward ``neutral`` (default: the
    recording's median pose); nothing is interpolated across a gap, and after the video ends
    the pose eases to neutral like any other gap. An empty track gives NaN poses."""
    from lhg_ros.features.speaker_gaps import SpeakerGapFiller

    frames = int(duration * rate)
    ends = (np.arange(frames) + 1) / rate - 1e-6  # (a face stamped at an end is the next's)
    poses = np.asarray(poses, dtype=np.float64).reshape(-1, POSE_DIM)
    found = np.isfinite(poses).all(axis=1)
    if not found.any():
        return np.full((frames, POSE_DIM), np.nan), np.zeros(frames, dtype=bool)
    seen_at, seen = np.asarray(times, dtype=np.float64)[found], poses[found]
    filler = SpeakerGapFiller(rate, hold_s,
                              np.median(seen, axis=0) if neutral is None else neutral)
    latest = np.searchsorted(seen_at, ends, side='left') - 1  # the last face before each end
    out = np.empty((frames, POSE_DIM))
    for k, i in enumerate(latest):
        out[k] = (filler.update(seen[i], seen_at[i], ends[k]) if i >= 0
                  else filler.update(None, -np.inf, ends[k]))
    first_in_frame = np.searchsorted(seen_at, np.arange(frames) / rate - 1e-6, side='left')
    return out, first_in_frame < latest + 1


def extract_participant(p: Participant) -> dict:
    from lhg_ros.console import quiet_stderr
    from lhg_ros.features.audio_frontend import extract_audio_file
    from lhg_ros.features.head_tracking import extract_video_file
    from lhg_ros.filters import OneEuroFilter

    audio = extract_audio_file(p.audio)
    duration = audio.duration_s
    if p.video is not None:
        with quiet_stderr():
            track = extract_video_file(p.video, smoothing=OneEuroFilter(1.5, 0.3))
        poses, detected = resample_poses(track.times, track.poses, duration)
        face_share = float(track.detected.mean()) if len(track.times) else 0.0
    else:
        with np.load(p.poses) as data:
            raw, rate = data['poses'].astype(np.float64), float(data['rate'])
        poses, detected = resample_poses(np.arange(len(raw)) / rate, raw, duration)
        face_share = float(np.isfinite(raw).all(axis=1).mean()) if len(raw) else 0.0
    return {'audio': audio.frames, 'speaking': audio.speaking, 'poses': poses.astype(np.float32),
            'detected': detected, 'face_share': face_share, 'duration': duration}


def _extract_to_cache(dataset_root: str, session_id: str, participant: Participant,
                      target: str) -> str:
    result = extract_participant(participant)
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix('.partial.npz')
    np.savez_compressed(partial, **result)
    partial.replace(target)  # a crash never leaves a half-written cache file behind
    target.with_suffix('.json').write_text(json.dumps({
        'cache_version': CACHE_VERSION, 'lhg_ros_version': __version__,
        'sources': _sources(participant)}))
    return str(target)


def is_cached(dataset: Dataset, session_id: str, p: Participant) -> bool:
    target = cache_path(dataset, session_id, p.name)
    meta = target.with_suffix('.json')
    if not (target.is_file() and meta.is_file()):
        return False
    info = json.loads(meta.read_text())
    return info.get('cache_version') == CACHE_VERSION and info.get('sources') == _sources(p)


def extract_dataset(dataset: Dataset, workers: int = 1, progress: bool = True,
                    force: bool = False, sessions: list[str] | None = None) -> dict:
    """Extract what is missing or stale (of ``sessions``, all when None); returns
    {'done': n, 'cached': n}."""
    from tqdm import tqdm

    chosen = [s for s in dataset.sessions if sessions is None or s.id in sessions]
    jobs = [(s.id, p) for s in chosen for p in s.participants.values()
            if force or not is_cached(dataset, s.id, p)]
    cached = sum(len(s.participants) for s in chosen) - len(jobs)
    # (no bar when everything is cached: an empty bar only says nothing happened)
    bar = tqdm(total=len(jobs), desc='extracting', unit='track',
               disable=not progress or not jobs)
    if workers <= 1:
        for session_id, p in jobs:
            _extract_to_cache(str(dataset.root), session_id, p,
                              str(cache_path(dataset, session_id, p.name)))
            bar.update()
    else:
        # Spawned, not forked: a fork of a process running DDS, torch or MediaPipe threads
        # can abort in the child.
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context('spawn')) as pool:
            futures = [pool.submit(_extract_to_cache, str(dataset.root), sid, p,
                                   str(cache_path(dataset, sid, p.name))) for sid, p in jobs]
            for future in as_completed(futures):
                future.result()
                bar.update()
    bar.close()
    return {'done': len(jobs), 'cached': cached}


def load_features(dataset: Dataset, session_id: str, participant: str) -> dict:
    with np.load(cache_path(dataset, session_id, participant)) as data:
        return {k: data[k] for k in data.files}


def summary(dataset: Dataset) -> list[tuple[str, str]]:
    """Hours, sessions and face-detection rate of the extracted dataset."""
    seconds, detected, frames = 0.0, 0.0, 0
    for session in dataset.sessions:
        for name, p in session.participants.items():
            features = load_features(dataset, session.id, name)
            seconds += float(features['duration'])
            if p.video is not None:  # weighted by length: the share of all video frames
                detected += float(features['face_share']) * len(features['detected'])
                frames += len(features['detected'])
    rows = [('sessions', f'{len(dataset.sessions)} ({len(dataset.held_out)} held out)'),
            ('recorded', f'{seconds / 3600:.2f} h over all participants'),
            ('face found', f'{100 * detected / frames:.1f}% of video frames' if frames
             else 'no video')]
    return rows
