"""``lhg-ros adapt``: a style file from a listener's recorded motion, the network frozen.

The model's style encoder (lhg_ros.network.style.StyleEncoder, numpy: no torch needed) reads
at most ``--seconds`` of the person's head motion (where a face was seen) and gives their
style vector; nothing else of the model changes. The style's temperature (how much the model
moves in it) is then fitted on a minute of generated speech so that the model's statistics
come closest to the person's, and a short report shows the model on that speech in its default
style and in the adapted one, beside the person's own statistics, and names the shipped style
closest to it.
"""

import tempfile
from pathlib import Path

import numpy as np

from lhg_ros.features.motion_features import MOTION_RATE

VIDEO_SUFFIXES = ('.mp4', '.avi', '.mov', '.mkv', '.webm', '.m4v')
MIN_SECONDS = 10.0  # less motion than this says too little about how someone listens
MIN_RUN_S = 1.0  # stretches of motion shorter than this (a face seen briefly) are left out
REPORT_SPEECH_S = 60.0


class AdaptError(ValueError):
    """Input adapt cannot use; the message says what to do."""


def _runs(poses: np.ndarray, seen: np.ndarray) -> list[np.ndarray]:
    """The stretches of ``poses`` where a face was seen, each at least MIN_RUN_S long."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], seen.astype(int), [0]))))
    return [poses[a:b] for a, b in zip(edges[::2], edges[1::2], strict=True)
            if b - a >= MIN_RUN_S * MOTION_RATE]


def _track_runs(times, poses, what: str, video: bool) -> list[np.ndarray]:
    from lhg_ros.data.extract import resample_poses

    if len(times) == 0:
        raise AdaptError(f'{what} holds no motion')
    if not np.isfinite(poses).all(axis=1).any():
        raise AdaptError(f'no face found in {what}: adapt needs a frontal view of the '
                         "listener's face" if video else
                         f'{what} holds no finite pose (every row has a NaN)')
    duration = float(times[-1]) + 1.0 / MOTION_RATE
    resampled, seen = resample_poses(times, poses, duration)
    return _runs(resampled, seen)


def motion_of(source: Path, person: str = '', progress=None) -> tuple[list[np.ndarray], str]:
    """(stretches of the listener's poses at 25 Hz, where they come from) of a video, a pose
    track (.npz with ``poses`` and ``rate``) or a dataset manifest and ``person`` (the segments
    where that person listens)."""
    if not source.is_file():
        raise AdaptError(f'{source} does not exist')
    suffix = source.suffix.lower()
    if suffix == '.npz':
        try:
            with np.load(source) as data:
                poses, rate = np.asarray(data['poses'], np.float64), float(data['rate'])
        except Exception as exc:  # noqa: BLE001 - one line for the user
            raise AdaptError(f'{source} cannot be read as a pose track ({exc}); it needs '
                             'arrays poses (T, 6: pitch, yaw, roll in rad, x, y, z in m) and '
                             'rate (Hz)') from None
        if poses.ndim != 2 or poses.shape[1] != 6 or not rate > 0:
            raise AdaptError(f'{source}: poses must be (T, 6) and rate positive')
        return (_track_runs(np.arange(len(poses)) / rate, poses, str(source), video=False),
                'pose track')
    if suffix in VIDEO_SUFFIXES:
        from lhg_ros.console import quiet_stderr
        from lhg_ros.features.head_tracking import extract_video_file
        from lhg_ros.filters import OneEuroFilter
        from lhg_ros.sources.video import VideoSourceError

        try:
            with quiet_stderr():
                track = extract_video_file(source, smoothing=OneEuroFilter(1.5, 0.3),
                                           progress=progress)
        except VideoSourceError as exc:
            raise AdaptError(f'{exc}: give a video OpenCV can read') from None
        return _track_runs(track.times, track.poses, str(source), video=True), 'video'
    if suffix in ('.yaml', '.yml'):
        return _manifest_runs(source, person), f'dataset, {person}'
    raise AdaptError(f'{source}: give a video ({", ".join(VIDEO_SUFFIXES)}), a pose track '
                     '(.npz) or a dataset manifest (.yaml with --person)')


def _manifest_runs(manifest: Path, person: str) -> list[np.ndarray]:
    from lhg_ros.data.extract import extract_dataset, load_features
    from lhg_ros.data.manifest import load_manifest
    from lhg_ros.data.segments import listener_segments

    if not person:
        raise AdaptError('a dataset needs --person: whose listening to adapt to')
    dataset = load_manifest(manifest)
    sessions = [s for s in dataset.sessions
                if any(p.person == person for p in s.participants.values())]
    if not sessions:
        people = sorted({p.person for s in dataset.sessions for p in s.participants.values()})
        raise AdaptError(f"no one called '{person}' in {manifest}; its people: "
                         + ', '.join(people[:20]) + (' ...' if len(people) > 20 else ''))
    # their sessions outside held_out first: those are kept to judge by
    sessions = [s for s in sessions if s.id not in dataset.held_out] or sessions
    extract_dataset(dataset, progress=False, sessions=[s.id for s in sessions])
    runs = []
    for session in sessions:
        features = load_features(dataset, session.id, next(
            n for n, p in session.participants.items() if p.person == person))
        poses, seen = np.asarray(features['poses']), np.asarray(features['detected'], bool)
        for segment in listener_segments(session, len(poses), min_s=MIN_RUN_S):
            if session.participants[segment.listener].person == person:
                span = slice(segment.start, segment.start + segment.frames)
                runs += _runs(poses[span], seen[span])  # (frames with a face only)
    return runs


def take(runs: list[np.ndarray], seconds: float) -> list[np.ndarray]:
    """The first ``seconds`` of the stretches, in order."""
    out, left = [], int(round(seconds * MOTION_RATE))
    for run in runs:
        if left <= 0:
            break
        out.append(run[:left])
        left -= len(out[-1])
    return out


def adapt_style(checkpoint, runs: list[np.ndarray]) -> np.ndarray:
    from lhg_ros.network.style import StyleEncoder, style_features

    encoder = StyleEncoder(checkpoint)
    features = np.concatenate([style_features(run, encoder.rate) for run in runs])
    return encoder(features)


def report(checkpoint, vector: np.ndarray, runs: list[np.ndarray], backend: str = 'auto',
           seconds: float = REPORT_SPEECH_S, seed: int = 0, progress=None) -> dict:
    """The style's temperature, fitted on ``seconds`` of generated speech so that the model in
    ``vector`` moves as much as the person did in ``runs``; the person's statistics, the
    model's on that speech in its default style and adapted (``vector`` at that temperature);
    and the shipped style nearest to ``vector``. ``progress`` is called per temperature."""
    from lhg_ros.backends import load_backend
    from lhg_ros.evaluation.closed_loop import generated_speech
    from lhg_ros.evaluation.styles import (
        closed_loop_poses,
        fit_temperature,
        listening_statistics,
        style_distance,
    )
    from lhg_ros.network.style import default_style

    model = load_backend(backend, checkpoint)
    info = model.info
    shipped = {name: np.asarray(v) for name, v in (info.get('styles') or {}).items()}
    nearest = min(shipped, key=lambda n: float(np.linalg.norm(shipped[n] - vector)),
                  default='')
    with tempfile.TemporaryDirectory() as tmp:
        speech = generated_speech(seconds, tmp, seed=seed)
    person = listening_statistics(runs, MOTION_RATE)
    temperature, tried = fit_temperature(model, [speech], vector, person, progress=progress)
    out = {'person': person, 'nearest_style': nearest, 'speech_s': seconds,
           'temperature': temperature,
           'distance_by_temperature': {f'{t:g}': d for t, d in tried.items()}}
    for label, style, scale in (('default', '', 1.0), ('adapted', vector, temperature)):
        tracks, rate = closed_loop_poses(model, [speech], style, seed, scale)
        out[label] = listening_statistics(tracks, rate)
    out['default_style'] = default_style(info)
    out['distance'] = {k: style_distance(out[k], person) for k in ('default', 'adapted')}
    model.close()
    return out


def fit_named_styles(checkpoint, manifest, minutes: float = 6.0, backend: str = 'onnxruntime',
                     log=print) -> dict[str, dict]:
    """Fit each named style's temperature (lhg_ros.evaluation.styles.fit_named_temperatures)
    to the listeners of that style in the dataset's training sessions, the model listening to
    the speech of up to ``minutes`` of its held-out sessions; written into the checkpoint's
    sidecar (``style_temperatures``). The default style keeps 1: it is the model as trained,
    the one every closed-loop measure of the model is taken in. Returns the fit per style."""
    import json

    from tqdm import tqdm

    from lhg_ros.backends import load_backend
    from lhg_ros.data.extract import extract_dataset
    from lhg_ros.data.manifest import load_manifest
    from lhg_ros.evaluation.closed_loop import dataset_recordings
    from lhg_ros.evaluation.styles import (
        TEMPERATURE_GRID,
        fit_named_temperatures,
        named_style_listeners,
    )
    from lhg_ros.network.checkpoint import checkpoint_paths, read_sidecar
    from lhg_ros.network.style import default_style

    dataset = load_manifest(manifest)
    extract_dataset(dataset, progress=False)
    training = [s.id for s in dataset.sessions if s.id not in dataset.held_out]
    listeners = named_style_listeners(dataset, training)
    listeners.pop(default_style(read_sidecar(checkpoint)), None)
    speech, seconds = [], 0.0
    for recording in dataset_recordings(dataset, sorted(dataset.held_out)):
        if seconds >= minutes * 60:
            break
        speech.append(recording)
        seconds += recording.seconds
    if not listeners or not speech:
        raise AdaptError(f'{manifest} needs listeners with a style in its training sessions '
                         'and held-out sessions for their speech')
    model = load_backend(backend, checkpoint)
    with tqdm(total=len(listeners) * len(TEMPERATURE_GRID), desc='fit style temperatures',
              unit='try') as bar:
        fits = fit_named_temperatures(model, listeners, speech,
                                      progress=lambda: bar.update(1))
    model.close()
    sidecar = checkpoint_paths(checkpoint)[1]
    info = json.loads(sidecar.read_text())
    info['style_temperatures'] = {name: fit['temperature'] for name, fit in fits.items()}
    sidecar.write_text(json.dumps(info, indent=2))
    log(f'wrote style_temperatures into {sidecar} ({seconds / 60:.1f} min of speech)')
    return fits


def further_warning(result: dict, name: str) -> str:
    """A note when the adapted style takes the model further from the person than its default
    style does ('' otherwise)."""
    further = result['distance']['adapted'] - result['distance']['default']
    if further <= 0:
        return ''
    return (f"note: the adapted style moves the model further from {name} than its default "
            f"(by {further:.2f}): {name}'s motion is unlike that of the listeners the model "
            f"learned from (compare the rows above), or the clip is short. The default, or the "
            f"nearest shipped style ({result['nearest_style']}), may serve better; fine-tuning "
            f"(lhg-ros finetune) learns what a style vector cannot express.")


def adapt_main(args) -> int:
    from tqdm import tqdm

    from lhg_ros.backends.base import BackendError
    from lhg_ros.console import format_table
    from lhg_ros.evaluation.styles import LABELS, STATISTICS, TEMPERATURE_GRID, statistics_rows
    from lhg_ros.models import resolve_checkpoint
    from lhg_ros.network.checkpoint import CheckpointError, read_sidecar
    from lhg_ros.network.style import StyleError, write_style

    source = Path(args.source)
    if args.seconds < MIN_SECONDS:
        print(f'lhg-ros adapt: --seconds {args.seconds:g} is too little; adapt needs at least '
              f'{MIN_SECONDS:.0f} s of motion (60 s is best)')
        return 1
    try:
        checkpoint = resolve_checkpoint(args.checkpoint)
        with tqdm(total=2 + len(TEMPERATURE_GRID), desc='adapt', unit='stage') as bar:
            bar.set_postfix_str('reading motion')
            frames = tqdm(desc='video frames', unit='frame', leave=False,
                          disable=source.suffix.lower() not in VIDEO_SUFFIXES)
            runs, kind = motion_of(source, args.person, progress=lambda: frames.update(1))
            frames.close()
            runs = take(runs, args.seconds)
            seconds = sum(len(r) for r in runs) / MOTION_RATE
            if seconds < MIN_SECONDS:
                raise AdaptError(f'{source} has {seconds:.1f} s of motion with a face in view '
                                 f'(in stretches of at least {MIN_RUN_S:.0f} s); adapt needs '
                                 f'at least {MIN_SECONDS:.0f} s, and 60 s is best')
            bar.update(1)
            bar.set_postfix_str('style')
            vector = adapt_style(checkpoint, runs)
            bar.update(1)
            bar.set_postfix_str('temperature and report')
            result = report(checkpoint, vector, runs, args.backend,
                            progress=lambda: bar.update(1))
    except (AdaptError, StyleError, CheckpointError, BackendError, OSError) as exc:
        print(f'lhg-ros adapt: {exc}')
        return 1
    name = args.name or args.person or source.stem
    out = Path(args.out) if args.out else Path('out/styles') / f'{name}.json'
    write_style(out, vector, name, read_sidecar(checkpoint),
                source=f'{source} ({kind}), {seconds:.1f} s of motion', report=result,
                temperature=result['temperature'])
    print(f'\n{name}: {seconds:.1f} s of motion from {source}')
    print(format_table(['', *(LABELS[k] for k in STATISTICS)], statistics_rows({
        f'{name} (the recording)': result['person'],
        f"model, default style ({result['default_style']})": result['default'],
        f'model, adapted to {name}': result['adapted']})))
    print(f"(the model on {result['speech_s']:.0f} s of generated speech; statistics distance "
          f"to {name}: default {result['distance']['default']:.2f}, adapted "
          f"{result['distance']['adapted']:.2f}; temperature {result['temperature']:g}; "
          f"nearest shipped style: {result['nearest_style']})")
    if warning := further_warning(result, name):
        print(warning)
    print(f'wrote {out}\nuse it: ros2 param set /listener_node style {out.resolve()}')
    return 0
