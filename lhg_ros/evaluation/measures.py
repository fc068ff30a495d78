"""The objective measures of listener head motion, defined once.

All functions take poses as (T, >= 3) arrays whose first three columns are [pitch, yaw, roll]
in radians at ``rate`` frames per second (the 6-DoF layout of lhg_ros.features.pose_features);
results are in degrees where angles are reported. No single measure agrees well with human
judgement (the paper's finding), so they are reported together.
"""

import numpy as np

from lhg_ros.motion.nods import NodDetector

ANGLES = ('pitch', 'yaw', 'roll')


def _angles_deg(poses) -> np.ndarray:
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim != 2 or poses.shape[1] < 3:
        raise ValueError(f'expected (T, >= 3) poses [pitch, yaw, roll, ...], got {poses.shape}')
    return np.degrees(poses[:, :3])


def _paired(generated, reference) -> tuple[np.ndarray, np.ndarray]:
    g, r = _angles_deg(generated), _angles_deg(reference)
    if len(g) != len(r):
        raise ValueError(f'generated has {len(g)} frames, reference {len(r)}')
    return g, r


def pose_errors(generated, reference) -> dict[str, float]:
    """L1 and RMSE per angle, in degrees."""
    g, r = _paired(generated, reference)
    diff = g - r
    out = {}
    for i, name in enumerate(ANGLES):
        out[f'l1_{name}_deg'] = float(np.abs(diff[:, i]).mean())
        out[f'rmse_{name}_deg'] = float(np.sqrt((diff[:, i] ** 2).mean()))
    return out


def angular_speed(poses, rate: float) -> np.ndarray:
    """Norm of the angular velocity (deg/s) per frame, from differences of the angles."""
    return np.linalg.norm(np.diff(_angles_deg(poses), axis=0), axis=1) * rate


def motion_statistics(poses, rate: float) -> dict[str, float]:
    """Mean and standard deviation of angular speed (deg/s) and acceleration (deg/s^2)."""
    angles = _angles_deg(poses)
    velocity = np.diff(angles, axis=0) * rate
    acceleration = np.diff(velocity, axis=0) * rate
    speed = np.linalg.norm(velocity, axis=1)
    accel = np.linalg.norm(acceleration, axis=1)
    return {'speed_mean': float(speed.mean()), 'speed_std': float(speed.std()),
            'accel_mean': float(accel.mean()), 'accel_std': float(accel.std())}


def motion_windows(poses, rate: float, window_s: float = 1.0) -> np.ndarray:
    """Motion features for distribution measures: each non-overlapping window's mean angles,
    their standard deviations and mean angular speed (7 values per window)."""
    angles = _angles_deg(poses)
    n = max(1, int(window_s * rate))
    rows = []
    for start in range(0, len(angles) - n + 1, n):
        part = angles[start:start + n]
        speed = np.linalg.norm(np.diff(part, axis=0), axis=1).mean() * rate if n > 1 else 0.0
        rows.append(np.concatenate([part.mean(axis=0), part.std(axis=0), [speed]]))
    return np.array(rows)


def frechet_distance(features_a, features_b) -> float:
    """Fréchet distance between Gaussians fitted to two sets of feature rows (as in FID)."""
    from scipy import linalg

    a, b = np.atleast_2d(features_a), np.atleast_2d(features_b)
    if len(a) < 2 or len(b) < 2:
        raise ValueError('the Fréchet distance needs at least two feature rows on each side')
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = np.real(linalg.sqrtm(cov_a @ cov_b))
    value = ((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2.0 * root)
    return float(max(value, 0.0))


def diversity(poses) -> float:
    """Mean standard deviation of the three angles over the sequence (deg): 0 for a still
    head."""
    return float(_angles_deg(poses).std(axis=0).mean())


def pearson(a, b) -> float:
    """Pearson correlation; 0 when either side is constant (no linear relation to measure)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def rpcc(generated, reference, speaker, rate: float) -> float:
    """|PCC(reference, speaker) - PCC(generated, speaker)| of angular speeds: how far the
    generated listener's coupling to the speaker is from the real listener's."""
    g, r, s = (angular_speed(x, rate) for x in (generated, reference, speaker))
    return abs(pearson(r, s) - pearson(g, s))


def cross_correlation(listener, speaker, rate: float, max_lag_s: float = 2.0
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Normalised cross-correlation of listener and speaker angular speeds at lags
    -max_lag_s..+max_lag_s (positive lag: the listener moves after the speaker). A listener
    that mirrors the speaker peaks at lag 0 (the paper's Fig. 4)."""
    a, b = angular_speed(listener, rate), angular_speed(speaker, rate)
    if len(a) != len(b):
        raise ValueError(f'listener has {len(a) + 1} frames, speaker {len(b) + 1}')
    a = (a - a.mean()) / (a.std() or 1.0)
    b = (b - b.mean()) / (b.std() or 1.0)
    max_lag = int(max_lag_s * rate)
    lags = np.arange(-max_lag, max_lag + 1)
    values = np.array([np.mean(a[lag:] * b[:len(b) - lag]) if lag >= 0
                       else np.mean(a[:lag] * b[-lag:]) for lag in lags])
    return lags / rate, values


def nod_times(poses, rate: float) -> np.ndarray:
    """Seconds at which nods complete, by the same detector the listener node reports with."""
    detector = NodDetector(rate)
    pitch = np.asarray(poses, dtype=np.float64)[:, 0]
    return np.array([i / rate for i, p in enumerate(pitch) if detector.update(float(p))])


def nod_events(poses, rate: float) -> np.ndarray:
    """(n, 2) start and completion times (s) of the nods in ``poses``: the completion as in
    :func:`nod_times`, the start where the pitch left its low before the nod."""
    detector = NodDetector(rate)
    pitch = np.asarray(poses, dtype=np.float64)[:, 0]
    events = [((i - detector.last_nod_frames) / rate, i / rate)
              for i, p in enumerate(pitch) if detector.update(float(p))]
    return np.array(events).reshape(-1, 2)


def pause_starts(speaking, rate: float = 100.0, min_speech_s: float = 0.5,
                 log_power=None, search_s: float = 0.8) -> np.ndarray:
    """Times (s) where the speaker stops after at least ``min_speech_s`` of speech, from voice
    activity flags at ``rate``. The flags fall a hangover after the speech did (longer in
    noise), so with the features' ``log_power`` (column 0) each fall is moved back to the
    last frame, within ``search_s``, that is louder than halfway between the room's noise and
    the speech level; without it, 0.3 s (the VAD's hangover) is taken off."""
    flags = np.asarray(speaking, dtype=bool).astype(int)
    edges = np.diff(np.concatenate(([0], flags, [0])))
    onsets, offsets = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    keep = (offsets - onsets) / rate >= min_speech_s
    offsets = offsets[keep & (offsets < len(flags))]
    if log_power is None:
        return np.maximum(offsets / rate - 0.3, 0.0)
    power = np.asarray(log_power, dtype=float)[:len(flags)]
    voiced = power[flags[:len(power)] > 0]
    if len(voiced) == 0:
        return np.maximum(offsets / rate - 0.3, 0.0)
    threshold = 0.5 * (np.percentile(power, 10) + np.median(voiced))
    starts = []
    for end in offsets:
        begin = max(0, end - int(search_s * rate))
        loud = np.flatnonzero(power[begin:end] > threshold)
        starts.append((begin + loud[-1] + 1) / rate if len(loud) else end / rate - 0.3)
    return np.array(starts)


def after_pause(starts, pauses, within_s: float = 1.0) -> np.ndarray:
    """Per nod start time: does it lie within ``within_s`` after a pause start?"""
    starts, pauses = np.asarray(starts, float), np.sort(np.asarray(pauses, float))
    if len(pauses) == 0:
        return np.zeros(len(starts), dtype=bool)
    index = np.searchsorted(pauses, starts, side='right') - 1
    previous = np.where(index >= 0, pauses[np.maximum(index, 0)], -np.inf)
    return starts - previous <= within_s


def event_f1(predicted, reference, tolerance_s: float) -> dict[str, float]:
    """Precision, recall and F1 of event times, each reference event matched at most once
    within ``tolerance_s`` (as boundary F1 is scored in temporal segmentation)."""
    predicted, reference = np.sort(predicted), np.sort(reference)
    used = np.zeros(len(reference), dtype=bool)
    hits = 0
    for t in predicted:
        candidates = np.flatnonzero(~used & (np.abs(reference - t) <= tolerance_s))
        if len(candidates):
            used[candidates[np.argmin(np.abs(reference[candidates] - t))]] = True
            hits += 1
    # Nothing predicted scores 0, whatever the reference: a still head must not score.
    precision = hits / len(predicted) if len(predicted) else 0.0
    recall = hits / len(reference) if len(reference) else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {'precision': precision, 'recall': recall, 'f1': f1}
