"""Listener styles of the shipped model, in closed loop: do the named styles differ as their
listeners do, and does adapting to an unseen listener bring the model's motion closer to theirs?

    .venv/bin/python bench/bench_styles.py [--listeners 12] [--data out/corpus/manifest.yaml]

Held-out listeners: a corpus made with another seed (1000) than the training corpus, every
listener in two sessions and none of them in training (their rates and sizes are drawn anew
around their style's). Every figure comes from the model feeding on its own output through the
listener runtime (ModelPolicy, the node's step), after a 1 s warm-up, sampled with each of
``--seeds`` (default 0, 1, 2); the tables give the median over the seeds.

* Named styles on the same speech: every style on the speech of all the held-out sessions,
  its statistics (nods per minute, median nod size, head RMS per axis about a 2 s running
  median; lhg_ros.evaluation.styles) beside the statistics of that style's listeners on the
  same speech (the corpus generator's listener of the style, drawn three times per session).
* Unseen listeners: each listener's second session is the speech; the model in its default
  style, in the named style they were drawn from, and adapted (lhg_ros.commands.adapt, the
  network frozen) from the first 15, 30 and 60 s of their recorded motion in their first
  session. The reference is that listener on that speech: their own parameters (the corpus's
  roster) run three times by the generator, pooled, so the reference's statistics are theirs
  and not one draw's (one 1-2 minute session's nod rate moves by about 20% between draws).
  The statistics distance (the mean absolute log ratio of the five statistics, 0 = alike,
  0.69 = 2x off on average) and the Fréchet distance of the motion features (deg and cm) to
  their recorded motion, averaged over the listeners.
* A plot (``--plot``): the style vectors in 2-D (PCA) coloured by the style they were drawn
  from: the training listeners (with ``--data``, the training corpus), the unseen listeners
  adapted from 60 s, and the shipped named styles.

Goals (issue [2/6]): calm and animated differ by >= 2x in nod rate and in pitch RMS, and each is
within 0.75-1.33 of its style's listeners in both; adapted from 60 s the statistics distance is
<= 0.5x the default style's (from 15 s: <= 0.75x), averaged over >= 8 unseen listeners.
"""

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lhg_ros.console import format_table  # noqa: E402

ADAPT_SECONDS = (15, 30, 60)


def median_stats(runs: list[dict]) -> dict:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def session_timeline(folder: Path):
    from lhg_ros.synthetic.corpus import SpeakerTimeline

    with np.load(folder / 'truth.npz') as truth:
        return SpeakerTimeline([tuple(u) for u in truth['utterances']],
                               float(truth['duration']), stresses=tuple(truth['stresses']))


def listener_reference(folders: list[Path], listener, draws: int = 3) -> tuple[dict, list]:
    """The statistics of the corpus generator's listeners on these sessions' speech, pooled
    over ``draws`` runs per session: ``listener`` a style's name (a new person of that style
    each run) or one person's parameters (lhg_ros.synthetic.corpus.ListenerStyle); and the first
    run's poses (relative to their warm-up)."""
    from lhg_ros.evaluation.styles import listening_statistics
    from lhg_ros.features.motion_features import MOTION_RATE
    from lhg_ros.synthetic.corpus import draw_listener, listener_motion

    rng = np.random.default_rng(5)
    tracks = []
    for folder in folders:
        timeline = session_timeline(folder)
        for _ in range(draws):
            person = draw_listener(rng, listener) if isinstance(listener, str) else listener
            poses = listener_motion(timeline, rng, person)[0]
            tracks.append(poses[int(MOTION_RATE):] - poses[:int(MOTION_RATE)].mean(axis=0))
    return listening_statistics(tracks, MOTION_RATE), tracks[::draws]


def run_style(backend, recordings, style, seeds) -> tuple[dict, list]:
    """The median statistics over ``seeds`` of the model in ``style`` on ``recordings`` (pooled),
    and the poses of the first seed's runs."""
    from lhg_ros.evaluation.styles import closed_loop_poses, listening_statistics

    per_seed, first = [], None
    for seed in seeds:
        tracks, rate = closed_loop_poses(backend, recordings, style, seed)
        per_seed.append(listening_statistics(tracks, rate))
        first = first or tracks
    return median_stats(per_seed), first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--listeners', type=int, default=12,
                        help='unseen listeners (two sessions each; default 12, two per style)')
    parser.add_argument('--checkpoint', help='default: the shipped starter model')
    parser.add_argument('--backend', default='onnxruntime')
    parser.add_argument('--seeds', default='0,1,2', help="the model's sampling seeds")
    parser.add_argument('--data', help='the training corpus manifest, for the plot\'s training '
                                       'listeners')
    parser.add_argument('--plot', default='out/bench_styles/styles_pca.png',
                        help='where to write the plot of the style vectors ("" for none)')
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(',')]

    from lhg_ros.backends import load_backend
    from lhg_ros.commands.adapt import adapt_style, take
    from lhg_ros.commands.adapt import report as adapt_report
    from lhg_ros.data.extract import extract_dataset
    from lhg_ros.data.manifest import load_manifest
    from lhg_ros.evaluation.closed_loop import dataset_recordings
    from lhg_ros.evaluation.measures import frechet_motion
    from lhg_ros.evaluation.styles import LABELS, STATISTICS, statistics_rows, style_distance
    from lhg_ros.features.motion_features import MOTION_RATE
    from lhg_ros.models import resolve_checkpoint
    from lhg_ros.network.style import default_style, style_names, write_style
    from lhg_ros.synthetic.corpus import listener_roster, make_corpus

    checkpoint = resolve_checkpoint(args.checkpoint)
    backend = load_backend(args.backend, checkpoint)
    names = list(style_names(backend.info))
    default = default_style(backend.info)
    sessions = 2 * args.listeners
    with tempfile.TemporaryDirectory() as tmp:
        print(f'making {args.listeners} unseen listeners, two sessions each (seed 1000) ...',
              file=sys.stderr)
        dataset = load_manifest(make_corpus(Path(tmp) / 'held_out', sessions=sessions,
                                            held_out=sessions, seed=1000))
        roster = dict(listener_roster(sessions, sessions, 5, np.random.default_rng([1000, 7])))
        extract_dataset(dataset, progress=False)
        recordings = {r.name.split('/')[0]: r for r in dataset_recordings(
            dataset, [s.id for s in dataset.sessions])}  # (every listener unseen)
        folders = [dataset.root / s.id for s in dataset.sessions]

        # -- named styles on the same speech ----------------------------------------------
        print('named styles on the same speech ...', file=sys.stderr)
        everything = list(recordings.values())
        model_named, reference_named = {}, {}
        for name in names:
            model_named[name] = run_style(backend, everything, name, seeds)[0]
            if name != 'average':
                reference_named[name] = listener_reference(folders, name)[0]
        rows = []
        for name in names:
            ref = reference_named.get(name)
            rows.append([name, *(f'{model_named[name][k]:.2f}' + (
                f' ({model_named[name][k] / max(ref[k], 1e-9):.2f}x)' if ref else '')
                for k in STATISTICS)])
        minutes = sum(r.seconds for r in everything) / 60
        print(f'\nNamed styles on the same speech ({minutes:.0f} min, {len(everything)} '
              f'sessions; in brackets: the model / the style\'s listeners on it)')
        print(format_table(['style', *(LABELS[k] for k in STATISTICS)], rows))
        print(format_table(['style\'s listeners', *(LABELS[k] for k in STATISTICS)],
                           statistics_rows(reference_named)))

        # -- unseen listeners --------------------------------------------------------------
        print('\nunseen listeners ...', file=sys.stderr)
        people: dict[str, list] = {}
        for session in dataset.sessions:
            listener = session.participants['B']
            people.setdefault(listener.person, []).append((session.id, listener.style))
        systems = ['default', 'own named', *(f'adapted {s} s' for s in ADAPT_SECONDS)]
        distances = {s: [] for s in systems}
        frechet = {s: [] for s in systems}
        adapted_vectors, rows = [], []
        temperatures = {s: [] for s in ADAPT_SECONDS}
        for person, ((first, style), (second, _)) in sorted(
                (p, v) for p, v in people.items() if len(v) == 2):
            adapt_from = recordings[first].listener_poses
            heard = recordings[second]
            truth = listener_reference([dataset.root / second], roster[person])[0]
            recorded = heard.listener_poses - heard.listener_poses[:int(MOTION_RATE)].mean(0)
            styles = {'default': '', 'own named': style}
            for s in ADAPT_SECONDS:  # (as lhg-ros adapt: the vector, its temperature fitted)
                clip = take([adapt_from], s)
                vector = adapt_style(checkpoint, clip)
                fitted = adapt_report(checkpoint, vector, clip, args.backend)['temperature']
                styles[f'adapted {s} s'] = str(write_style(
                    Path(tmp) / f'{person}_{s}.json', vector, person, backend.info,
                    temperature=fitted))
                temperatures[s].append(fitted)
            adapted_vectors.append((style, vector))
            row = [person]
            for system, value in styles.items():
                stats, tracks = run_style(backend, [heard], value, seeds)
                distances[system].append(style_distance(stats, truth))
                frechet[system].append(frechet_motion(tracks, [recorded[int(MOTION_RATE):]]))
                row.append(f'{distances[system][-1]:.2f}')
            rows.append(row)
        print(f'\nUnseen listeners ({len(rows)}): statistics distance to each listener on '
              f'their second session (0 = alike; 0.69 = 2x off on average)')
        mean = {s: float(np.mean(distances[s])) for s in systems}
        rows.append(['mean', *(f'{mean[s]:.2f}' for s in systems)])
        rows.append(['x the default', *(f'{mean[s] / mean["default"]:.2f}' for s in systems)])
        rows.append(['Fréchet (mean)', *(f'{np.mean(frechet[s]):.1f}' for s in systems)])
        rows.append(['temperature (median)', '', '',
                     *(f'{np.median(temperatures[s]):g}' for s in ADAPT_SECONDS)])
        print(format_table(['listener', f'default ({default})', *systems[1:]], rows))

        # -- goals -------------------------------------------------------------------------
        calm, animated = model_named.get('calm'), model_named.get('animated')
        goals = []
        if calm and animated:
            for key in ('nod_rate', 'rms_pitch'):
                ratio = animated[key] / max(calm[key], 1e-9)
                goals.append([f'animated / calm, {LABELS[key]}', f'{ratio:.2f}', '>= 2',
                              'met' if ratio >= 2 else 'NOT met'])
            for name in ('calm', 'animated'):
                for key in ('nod_rate', 'rms_pitch'):
                    ratio = model_named[name][key] / max(reference_named[name][key], 1e-9)
                    goals.append([f'{name} / its listeners, {LABELS[key]}', f'{ratio:.2f}',
                                  '0.75-1.33', 'met' if 0.75 <= ratio <= 1.33 else 'NOT met'])
        for seconds, bound in ((60, 0.5), (15, 0.75)):
            ratio = mean[f'adapted {seconds} s'] / mean['default']
            goals.append([f'adapted from {seconds} s / default, distance', f'{ratio:.2f}',
                          f'<= {bound}', 'met' if ratio <= bound else 'NOT met'])
        print('\nGoals')
        print(format_table(['measure', 'value', 'goal', ''], goals))

        if args.plot:
            plot_styles(Path(args.plot), backend.info, adapted_vectors, checkpoint, args.data)
            print(f'\nplot: {args.plot}')


def training_vectors(checkpoint, manifest: str) -> list[tuple[str, np.ndarray]]:
    """(style, vector from 60 s of their motion) of every listener of a training corpus."""
    from lhg_ros.commands.adapt import _manifest_runs, adapt_style, take
    from lhg_ros.data.manifest import load_manifest

    dataset = load_manifest(manifest)
    held = set(dataset.held_out)
    people = {}
    for session in dataset.sessions:
        if session.id not in held:
            listener = session.participants['B']
            people.setdefault(listener.person, listener.style)
    return [(style, adapt_style(checkpoint, take(_manifest_runs(Path(manifest), person), 60)))
            for person, style in sorted(people.items())]


def plot_styles(path: Path, info: dict, adapted, checkpoint, manifest) -> None:
    from lhg_ros.plotting import pyplot

    trained = training_vectors(checkpoint, manifest) if manifest else []
    named = {n: np.asarray(v) for n, v in (info.get('styles') or {}).items()}
    everything = np.array([v for _, v in trained + adapted] + list(named.values()))
    centre = everything.mean(axis=0)
    _, _, axes = np.linalg.svd(everything - centre, full_matrices=False)

    def project(v):
        return (np.asarray(v) - centre) @ axes[:2].T

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 6))
    colours = {}
    for i, name in enumerate(sorted({s for s, _ in trained + adapted})):
        colours[name] = f'C{i}'
    for style, vector in trained:
        ax.scatter(*project(vector), color=colours[style], alpha=0.5, s=25)
    for style, vector in adapted:
        ax.scatter(*project(vector), color=colours[style], marker='x', s=60)
    for name, vector in named.items():
        x, y = project(vector)
        ax.scatter(x, y, color=colours.get(name, 'black'), marker='*', s=250,
                   edgecolor='black')
        ax.annotate(name, (x, y), textcoords='offset points', xytext=(6, 6))
    for name, colour in colours.items():
        ax.scatter([], [], color=colour, label=name)
    ax.set_title('Listener styles (PCA of the style vectors)\n'
                 'dots: training listeners, x: unseen listeners adapted from 60 s, '
                 'stars: shipped styles', fontsize=9)
    ax.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == '__main__':
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from publish import run_and_publish

    run_and_publish('bench_styles', main)
