"""How a listener listens, in numbers a person would notice (how often and how deeply they nod,
how much the head moves on each axis), and how far apart two listeners are in them: the
measures of listener styles (lhg_ros.network.style), for ``lhg-ros adapt``'s report and
bench/bench_styles.py."""

import numpy as np

from lhg_ros.evaluation import measures
from lhg_ros.features.motion_features import MOTION_RATE

MOTION_WARMUP = int(MOTION_RATE)  # frames of a recording's warm-up (1 s), left out

STATISTICS = ('nod_rate', 'nod_size', 'rms_pitch', 'rms_yaw', 'rms_roll')
LABELS = {'nod_rate': 'nods/min', 'nod_size': 'nod size deg', 'rms_pitch': 'RMS pitch deg',
          'rms_yaw': 'RMS yaw deg', 'rms_roll': 'RMS roll deg'}
# Below these a statistic counts as these (a listener who never nods is not infinitely far
# from one who nods once in two minutes).
FLOORS = {'nod_rate': 0.5, 'nod_size': 1.0, 'rms_pitch': 0.05, 'rms_yaw': 0.05,
          'rms_roll': 0.05}


def listening_statistics(poses, rate: float) -> dict[str, float]:
    """Nods per minute, median nod size (deg; 0 without a nod) and the head's RMS about its 2 s
    running median per axis (deg) of poses (T, 6) or a list of them (one nod detector:
    lhg_ros.motion.nods)."""
    nods = measures.nod_statistics(poses, rate)
    rms = measures.motion_rms(poses, rate)
    size = nods['median_nod_deg']
    return {'nod_rate': nods['nods_per_min'], 'nod_size': 0.0 if np.isnan(size) else size,
            'rms_pitch': rms['rms_pitch_deg'], 'rms_yaw': rms['rms_yaw_deg'],
            'rms_roll': rms['rms_roll_deg']}


def style_distance(a: dict, b: dict, keys=STATISTICS) -> float:
    """How far apart two listeners' statistics are: the mean absolute log ratio over ``keys``
    (0: alike; 0.69: a factor of 2 on average), each statistic at least its floor."""
    return float(np.mean([abs(np.log(max(a[k], FLOORS[k]) / max(b[k], FLOORS[k])))
                          for k in keys]))


def statistics_rows(named: dict[str, dict]) -> list[list[str]]:
    """Table rows (name, then each statistic) of several listeners' statistics."""
    return [[name, *(f'{stats[k]:.2f}' for k in STATISTICS)] for name, stats in named.items()]


def person_recordings(dataset, session_ids, person: str) -> list:
    """The recordings (lhg_ros.evaluation.closed_loop) of ``session_ids`` in which ``person``
    listens."""
    from lhg_ros.evaluation.closed_loop import dataset_recordings

    out = []
    for recording in dataset_recordings(dataset, session_ids):
        session_id, participant = recording.name.split('@')[0].split('/', 1)
        if dataset.session(session_id).participants[participant].person == person:
            out.append(recording)
    return out


def closed_loop_poses(backend, recordings: list, style='', seed: int = 0,
                      expressiveness: float = 1.0) -> tuple[list[np.ndarray], float]:
    """The model's poses on each recording (lhg_ros.evaluation.closed_loop), fed its own output
    through the runtime listener_node uses, in ``style`` and sampled with ``seed`` (one policy
    over the recordings in turn), less each recording's 1 s warm-up; and their rate."""
    from lhg_ros.evaluation.closed_loop import rollout
    from lhg_ros.motion.model_policy import ModelPolicy

    policy = ModelPolicy(backend, seed=seed, style=style, expressiveness=expressiveness)
    tracks, rate = [], MOTION_RATE
    for recording in recordings:
        poses, _, rate, _ = rollout(policy, recording)
        tracks.append(poses[int(rate):])
    return tracks, rate


def compare_with_listener(recordings: list, models: dict, seeds=(0, 1, 2),
                          backend: str = 'torch') -> dict:
    """How close each model in ``models`` (label -> checkpoint) comes to the listener of
    ``recordings`` (their real poses): the listener's statistics, each model's over the same
    speech in closed loop in its default style (warm-up from the real listener, that second
    left out; ``seeds`` pooled) and each model's statistics distance to the listener."""
    from lhg_ros.backends import load_backend

    real = [r.listener_poses[MOTION_WARMUP:] for r in recordings]
    out = {'listener': listening_statistics(real, MOTION_RATE), 'models': {}, 'distance': {},
           'seconds': sum(len(p) for p in real) / MOTION_RATE}
    for label, checkpoint in models.items():
        model = load_backend(backend, checkpoint)
        poses = []
        for seed in seeds:
            tracks, rate = closed_loop_poses(model, recordings, seed=seed)
            poses += tracks
        model.close()
        out['models'][label] = listening_statistics(poses, rate)
        out['distance'][label] = style_distance(out['models'][label], out['listener'])
    return out


# Temperatures a style's fit tries: from a third of the learned spread to well above it.
TEMPERATURE_GRID = (0.35, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.15, 1.3, 1.5)


def fit_temperature(backend, recordings: list, vector, target: dict, seeds=(0, 1),
                    grid=TEMPERATURE_GRID, progress=None) -> tuple[float, dict[float, float]]:
    """The sampling temperature at which the model in style ``vector`` (a vector: its own
    temperature is 1) comes closest to the statistics ``target`` on ``recordings`` (closed
    loop, ``seeds`` pooled), and the statistics distance at each temperature tried.
    ``progress`` is called once per temperature."""
    distances = {}
    for temperature in grid:
        poses = []
        for seed in seeds:
            tracks, rate = closed_loop_poses(backend, recordings, vector, seed, temperature)
            poses += tracks
        distances[temperature] = style_distance(listening_statistics(poses, rate), target)
        if progress:
            progress()
    return min(distances, key=distances.get), distances


def named_style_listeners(dataset, session_ids) -> dict[str, list[np.ndarray]]:
    """The recorded poses of the listeners of each named style in these sessions (their
    listening stretches; lhg_ros.evaluation.closed_loop.dataset_recordings), by style."""
    from lhg_ros.evaluation.closed_loop import dataset_recordings

    out: dict[str, list[np.ndarray]] = {}
    for recording in dataset_recordings(dataset, session_ids):
        session_id, _, rest = recording.name.partition('/')
        participant = rest.partition('@')[0]
        style = dataset.session(session_id).participants[participant].style
        if style and recording.listener_poses is not None:
            out.setdefault(style, []).append(recording.listener_poses[MOTION_WARMUP:])
    return out


def fit_named_temperatures(backend, listeners: dict[str, list], recordings: list,
                           seeds=(0, 1), grid=TEMPERATURE_GRID, progress=None
                           ) -> dict[str, dict]:
    """Each named style's temperature, fitted on ``recordings`` (speech) so that the model in
    that style moves as the style's ``listeners`` (style -> their poses) did; styles with no
    listeners (``average``) keep 1. Per style: its temperature, the statistics distance there
    and at 1."""
    from lhg_ros.network.style import resolve_style

    out = {}
    for name, poses in listeners.items():
        if name not in (backend.info.get('styles') or {}):
            continue
        target = listening_statistics(poses, MOTION_RATE)
        vector = resolve_style(name, backend.info)[1]
        best, distances = fit_temperature(backend, recordings, vector, target, seeds, grid,
                                          progress)
        out[name] = {'temperature': best, 'distance': distances[best],
                     'distance_at_1': distances.get(1.0, float('nan')), 'listeners': target}
    return out
