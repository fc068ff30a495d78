"""``lhg-ros eval``: generate listener motion on the held-out sessions with the model, the rule
policy and two simple baselines (a still head, a head that copies the speaker) and score them
all with the same measures against the real listener."""

import json
from pathlib import Path

import numpy as np

from lhg_ros.evaluation import measures
from lhg_ros.evaluation.offline import run_policy
from lhg_ros.motion.rules import RuleListener

RATE = 25.0


def _systems(example, warmup: int, backend=None) -> dict[str, np.ndarray]:
    reference = example.poses.astype(np.float64)
    anchor = reference[:warmup].mean(axis=0)
    speaker = example.speaker_poses
    out = {'still head': np.tile(anchor, (len(reference), 1)),
           'copy the speaker': anchor + (speaker - speaker[:warmup].mean(axis=0)),
           'rules': anchor + run_policy(RuleListener(), example.audio, speaker)}
    if backend is not None:
        from lhg_ros.model.generate import generate

        poses = generate(backend, example.audio, example.speaker, warmup_poses=reference)
        full = np.tile(poses[-1], (len(reference), 1))
        full[:len(poses)] = poses
        out['model'] = full
    return out


def evaluate(dataset, checkpoint=None, backend_name='onnxruntime', tolerance_s=0.16,
             warmup_s=1.0) -> dict:
    from lhg_ros.data.extract import extract_dataset, load_features
    from lhg_ros.data.segments import listener_segments
    from lhg_ros.training.trainer import build_examples

    if not dataset.held_out:
        raise ValueError('the manifest holds out no session for evaluation (held_out: [...])')
    extract_dataset(dataset, progress=False)
    backend = None
    if checkpoint:
        from lhg_ros.backends import load_backend

        backend = load_backend(backend_name, checkpoint)
    warmup = int(warmup_s * RATE)
    per_system: dict[str, dict[str, list]] = {}
    windows: dict[str, list] = {}
    curves: dict[str, list] = {}
    example_traces = None
    for session_id in dataset.held_out:
        session = dataset.session(session_id)
        frames = len(load_features(dataset, session_id, next(iter(session.participants)))
                     ['poses'])
        segments = listener_segments(session, frames)
        for seg, example in zip(segments, build_examples(dataset, segments), strict=False):
            example.speaker_poses = load_features(dataset, session_id, seg.speaker)['poses'][
                seg.start:seg.start + seg.frames].astype(np.float64)
            systems = {'reference': example.poses.astype(np.float64),
                       **_systems(example, warmup, backend)}
            reference = systems['reference'][warmup:]
            speaker = example.speaker_poses[warmup:]
            ref_nods = measures.nod_times(reference, RATE)
            for name, poses in systems.items():
                poses = poses[warmup:]
                row = per_system.setdefault(name, {})
                for key, value in measures.pose_errors(poses, reference).items():
                    row.setdefault(key, []).append(value)
                for key, value in measures.motion_statistics(poses, RATE).items():
                    row.setdefault(key, []).append(value)
                row.setdefault('diversity_deg', []).append(measures.diversity(poses))
                row.setdefault('rpcc', []).append(measures.rpcc(poses, reference, speaker,
                                                                RATE))
                f1 = measures.event_f1(measures.nod_times(poses, RATE), ref_nods, tolerance_s)
                row.setdefault('nod_f1', []).append(f1['f1'])
                row.setdefault('nods_per_min', []).append(
                    60 * len(measures.nod_times(poses, RATE)) * RATE / len(poses))
                windows.setdefault(name, []).append(measures.motion_windows(poses, RATE))
                lags, curve = measures.cross_correlation(poses, speaker, RATE)
                curves.setdefault(name, []).append(curve)
            if example_traces is None:
                example_traces = {k: v[:, 0].tolist() for k, v in systems.items()}
    if not per_system:
        raise ValueError('the held-out sessions contain no listener segment of 6 s or more')
    reference_windows = np.concatenate(windows['reference'])
    results = {}
    for name, row in per_system.items():
        results[name] = {k: float(np.mean(v)) for k, v in row.items()}
        results[name]['fd'] = measures.frechet_distance(np.concatenate(windows[name]),
                                                        reference_windows)
    return {'systems': results, 'segments': len(curves['reference']),
            'tolerance_s': tolerance_s,
            'cross_correlation': {'lags_s': lags.tolist(),
                                  **{k: np.mean(v, axis=0).tolist()
                                     for k, v in curves.items()}},
            'example_pitch': example_traces}


COLUMNS = [('l1_pitch_deg', 'L1 pitch (deg)'), ('l1_yaw_deg', 'L1 yaw'), ('l1_roll_deg',
           'L1 roll'), ('speed_mean', 'speed (deg/s)'), ('fd', 'FD'), ('diversity_deg',
           'diversity (deg)'), ('rpcc', 'rPCC'), ('nod_f1', 'nod F1'),
           ('nods_per_min', 'nods/min')]


def table_rows(report: dict) -> list[list[str]]:
    return [[name, *(f"{values[key]:.3f}" for key, _ in COLUMNS)]
            for name, values in report['systems'].items()]


def write_report(report: dict, out: Path) -> list[Path]:
    from lhg_ros.console import format_table
    from lhg_ros.plotting import pyplot

    out.mkdir(parents=True, exist_ok=True)
    (out / 'report.json').write_text(json.dumps(report, indent=2))
    headers = ['system', *(label for _, label in COLUMNS)]
    lines = ['| ' + ' | '.join(headers) + ' |', '|' + '---|' * len(headers)]
    lines += ['| ' + ' | '.join(row) + ' |' for row in table_rows(report)]
    (out / 'report.md').write_text(
        f"# Listener evaluation\n\n{report['segments']} held-out listener segments; measures "
        f"after the 1 s warm-up; nod F1 at +-{1000 * report['tolerance_s']:.0f} ms.\n\n"
        + '\n'.join(lines) + '\n\n![cross-correlation](cross_correlation.png)\n'
        '![pitch](trajectories.png)\n')
    plt = pyplot()
    cc = report['cross_correlation']
    fig, ax = plt.subplots(figsize=(7, 4))
    for name in report['systems']:
        ax.plot(cc['lags_s'], cc[name], label=name, lw=2.0 if name == 'reference' else 1.2)
    ax.axvline(0, color='k', lw=0.6)
    ax.set_xlabel('lag (s): positive = listener after speaker')
    ax.set_ylabel('cross-correlation of angular speed')
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / 'cross_correlation.png', dpi=100)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(9, 4))
    for name, pitch in report['example_pitch'].items():
        ax.plot(np.arange(len(pitch)) / RATE, np.degrees(pitch), label=name,
                lw=2.0 if name == 'reference' else 1.0)
    ax.axvspan(0, 1.0, color='grey', alpha=0.15, label='warm-up')
    ax.set_xlabel('time (s)')
    ax.set_ylabel('listener pitch (deg, + = down)')
    ax.legend(fontsize=8, ncol=3)
    fig.tight_layout()
    fig.savefig(out / 'trajectories.png', dpi=100)
    plt.close(fig)
    print(format_table(headers, table_rows(report)))
    return [out / name for name in ('report.json', 'report.md', 'cross_correlation.png',
                                    'trajectories.png')]
