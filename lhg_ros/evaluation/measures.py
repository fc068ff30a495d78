"""The objective measures of listener head motion, defined once.

All functions take poses as (T, >= 3) arrays whose first three columns are [pitch, yaw, roll]
in radians at ``rate`` frames per second (the 6-DoF layout of lhg_ros.features.motion_features);
results are in degrees where angles are reported. No single measure agrees well with human
judgement (the paper's finding), so they are reported together.

The distribution measures (:func:`motion_rms`, :func:`nod_statistics`, :func:`frechet_motion`)
also take a list of such arrays, pooled: held-out listeners are scored as one population, and
no sequence is joined to the next (a jump at the seam would count as motion).

A nod is what :func:`lhg_ros.motion.nods.detect_nods` finds, for every measure here.
"""

import numpy as np

from lhg_ros.motion.nods import MEDIAN_S, detect_nods

ANGLES = ('pitch', 'yaw', 'roll')
SPECTRUM_BAND_HZ = (0.3, 3.0)
SPECTRUM_SEGMENT_S = 20.0
RANDOM_DRAWS = 20


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


def frechet_distance(features_a, features_b) -> float:
    """Fréchet distance between Gaussians fitted to two sets of feature rows (as in FID)."""
    from scipy import linalg

    a, b = np.atleast_2d(features_a), np.atleast_2d(features_b)
    if len(a) < 2 or len(b) < 2:
        raise ValueError('the Fréchet distance needs at least two feature rows on each side')
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    # A column that never changes (a still head's, or a fixed position) leaves a covariance
    # singular, whose square root is unstable; a small ridge on both sides keeps it defined
    # and leaves the distance of equal distributions at 0.
    ridge = 1e-6 * np.eye(a.shape[1])
    cov_a, cov_b = np.cov(a, rowvar=False) + ridge, np.cov(b, rowvar=False) + ridge
    root = np.real(linalg.sqrtm(cov_a @ cov_b))
    value = ((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2.0 * root)
    return float(max(value, 0.0))


def _sequences(poses) -> list[np.ndarray]:
    """One (T, >= 3) pose array, or a list of them, as a list."""
    if isinstance(poses, (list, tuple)):
        return [np.asarray(p, dtype=np.float64) for p in poses]
    return [np.asarray(poses, dtype=np.float64)]


def about_running_median(values, rate: float, seconds: float = MEDIAN_S) -> np.ndarray:
    """(T, n) values less their running median over ``seconds`` (the nod detector's window):
    what is left is the motion, without the slow posture and sway."""
    from scipy.ndimage import median_filter

    values = np.asarray(values, dtype=np.float64)
    size = max(1, int(round(seconds * rate))) | 1
    return values - median_filter(values, size=(size, 1), mode='nearest')


def motion_rms(poses, rate: float) -> dict[str, float]:
    """RMS (deg) of each angle about its 2 s running median: how much the head moves, as the
    human figures are given (people while listening: about 1.8 / 2.3 / 1.5 deg in pitch, yaw
    and roll). 0 for a still head, whatever its posture."""
    motion = np.concatenate([about_running_median(_angles_deg(p), rate)
                             for p in _sequences(poses)])
    rms = np.sqrt((motion ** 2).mean(axis=0))
    return {f'rms_{name}_deg': float(rms[i]) for i, name in enumerate(ANGLES)}


def nod_statistics(poses, rate: float) -> dict[str, float]:
    """Nods per minute and their median size (deg; nan without a nod)."""
    sequences = _sequences(poses)
    sizes = np.concatenate([detect_nods(p[:, 0], rate)[1] for p in sequences])
    minutes = sum(len(p) for p in sequences) / rate / 60.0
    return {'nods_per_min': len(sizes) / max(minutes, 1e-9),
            'median_nod_deg': float(np.median(sizes)) if len(sizes) else float('nan')}


def frechet_motion(a_poses, b_poses) -> float:
    """Fréchet distance between the 18-d motion features (pose, first and second causal
    differences per frame, lhg_ros.features.motion_features) of two sets of 6-DoF pose
    sequences. Angles in degrees and positions in cm, so that neither unit drowns the other
    (a centimetre is about a degree of head rotation at a head's radius); the poses should be
    relative to the same rest, so that a listener's posture is not scored as motion."""
    from lhg_ros.features.motion_features import motion_features

    def features(poses):
        rows = []
        for p in _sequences(poses):
            scaled = np.concatenate([np.degrees(p[:, :3]), 100.0 * p[:, 3:6]], axis=1)
            rows.append(motion_features(scaled))
        return np.concatenate(rows).astype(np.float64)

    return frechet_distance(features(a_poses), features(b_poses))


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
    """Seconds at which the nods in ``poses`` peak (head lowest)."""
    return detect_nods(np.asarray(poses, dtype=np.float64)[:, 0], rate)[0]


def nod_events(poses, rate: float) -> np.ndarray:
    """(n, 2) start and peak times (s) of the nods in ``poses``. The start is where the rise
    to the peak began: the peak less twice the time the pitch took from half the nod's
    prominence to its peak (exact for a raised-cosine nod; no threshold of its own)."""
    from scipy.signal import peak_widths

    pitch = np.asarray(poses, dtype=np.float64)[:, 0]
    peaks = detect_nods(pitch, rate)[0]
    if len(peaks) == 0:
        return np.zeros((0, 2))
    frames = np.round(peaks * rate).astype(int)
    excursion = about_running_median(np.degrees(pitch)[:, None], rate)[:, 0]
    left = peak_widths(excursion, frames, rel_height=0.5)[2]
    starts = np.maximum(frames - 2.0 * (frames - left), 0.0) / rate
    return np.column_stack([starts, peaks])


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


def random_timing_f1(predicted, reference, spans, tolerance_s: float,
                     draws: int = RANDOM_DRAWS, seed: int = 0) -> float:
    """Mean F1 (over ``draws`` draws, from ``seed``) of as many event times as ``predicted``
    holds, placed uniformly at random over ``spans`` ((start, end) seconds, one or several),
    against ``reference``: what nod timing at that rate is worth by chance. A model's F1 says
    something about timing only well above this."""
    spans = np.atleast_2d(np.asarray(spans, dtype=np.float64))
    lengths = spans[:, 1] - spans[:, 0]
    rng = np.random.default_rng(seed)
    count, scores = len(predicted), []
    for _ in range(draws):
        which = rng.choice(len(spans), size=count, p=lengths / lengths.sum())
        times = spans[which, 0] + rng.uniform(0, 1, count) * lengths[which]
        scores.append(event_f1(times, reference, tolerance_s)['f1'])
    return float(np.mean(scores))


def pitch_spectrum(poses, rate: float, segment_s: float = SPECTRUM_SEGMENT_S
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies in Hz, power spectral density of the pitch in deg^2/Hz), by Welch's method
    over ``segment_s`` segments (0.05 Hz apart at 20 s): a head caught in a limit cycle shows
    a narrow peak at its frequency."""
    from scipy.signal import welch

    pitch = _angles_deg(poses)[:, 0]
    return welch(pitch, fs=rate, nperseg=min(len(pitch), int(round(segment_s * rate))))


def spectral_peak(poses, reference, rate: float, band=SPECTRUM_BAND_HZ,
                  factor: float = 2.0) -> dict:
    """Does the pitch spectrum of ``poses`` have a peak (a local maximum) in ``band`` whose
    power is above ``factor`` times the reference's at that frequency? Returns the highest
    such ratio over the peaks in the band and its frequency. A broad excess of power is not a
    peak: that is what the RMS ratio measures."""
    from scipy.signal import find_peaks

    frequencies, power = pitch_spectrum(poses, rate)
    reference_frequencies, reference_power = pitch_spectrum(reference, rate)
    if not np.array_equal(frequencies, reference_frequencies):
        raise ValueError('the two spectra have other frequencies: give both at least '
                         f'{SPECTRUM_SEGMENT_S:g} s, or the same length')
    peaks = find_peaks(power)[0]
    peaks = peaks[(frequencies[peaks] >= band[0]) & (frequencies[peaks] <= band[1])]
    if len(peaks) == 0:
        return {'peak': False, 'ratio': 0.0, 'frequency_hz': float('nan')}
    ratios = power[peaks] / np.maximum(reference_power[peaks], np.finfo(float).tiny)
    best = int(np.argmax(ratios))
    return {'peak': bool(ratios[best] > factor), 'ratio': float(ratios[best]),
            'frequency_hz': float(frequencies[peaks[best]])}


def variety(a_poses, b_poses, rate: float) -> dict:
    """How far two runs on the same input (say, two sampling seeds) are apart: the mean
    absolute difference of the angles (deg) and whether their nods differ (in number, or in
    time by a frame or more). A deterministic policy gives 0 and False."""
    a, b = _paired(a_poses, b_poses)
    nods_a, nods_b = nod_times(a_poses, rate), nod_times(b_poses, rate)
    same = len(nods_a) == len(nods_b) and np.allclose(nods_a, nods_b, atol=0.5 / rate)
    return {'mean_abs_diff_deg': float(np.abs(a - b).mean()), 'nods_differ': not same}
