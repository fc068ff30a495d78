"""``lhg-ros eval``: listener motion on the held-out sessions, in closed loop, from the model,
the rule policy and simple baselines (a still head at the listener's warm-up pose, the
listeners' mean pose over the evaluated recordings, a head that copies the speaker), scored
with the same measures against the real listener.

Closed loop is the default because it is what a robot does: each policy runs over whole
sessions (minutes) through the listener runtime, feeding on its own output after a 1 s
warm-up with the real listener's motion (as in the paper). Teacher-forced scores (the model
given the real listener's past at every step) come only on request and are labelled so.
"""

import json
from pathlib import Path

import numpy as np

from lhg_ros.evaluation import measures
from lhg_ros.evaluation.closed_loop import (
    MIN_LISTENING_S,
    NOD_TOLERANCE_S,
    NodScore,
    closed_loop_runs,
    dataset_recordings,
    evaluate_policy,
    mean_l1,
)
from lhg_ros.features.motion_features import MOTION_RATE
from lhg_ros.motion.rules import RuleListener
from lhg_ros.rates import motion_stride

TEACHER_FORCED = 'model (teacher-forced)'
# What only a policy has (not a baseline or the reference), from evaluate_policy.
POLICY_CHECKS = ('within_limits', 'nonfinite_steps', 'drift_deg', 'nods_after_pause')


def _measures(poses, reference, speaker, rate) -> dict:
    row = {**measures.pose_errors(poses, reference), **measures.motion_statistics(poses, rate),
           'l1_deg': mean_l1(poses, reference), 'diversity_deg': measures.diversity(poses),
           'rpcc': measures.rpcc(poses, reference, speaker, rate)}
    return row


def evaluate(dataset, checkpoint=None, backend_name='onnxruntime',
             tolerance_s=NOD_TOLERANCE_S, warmup_s=1.0, teacher_forced=None,
             expressiveness: float = 1.0, seed: int = 0, style: str = '') -> dict:
    """The closed-loop report of every system over the held-out sessions (see module doc).
    Per recording: pose errors, speed, diversity and rPCC (averaged); pooled over the
    recordings, relative to each listener's warm-up pose: motion RMS, nods per minute, median
    nod size, the Fréchet distance of the motion features to the reference's, and nod F1
    beside as many nods at random times (lhg_ros.evaluation.measures, one nod detector).
    ``teacher_forced``: a function (dataset, checkpoint, warmup_s, style) -> errors, e.g.
    lhg_ros.training.teacher_forced.teacher_forced_errors, adds its row."""
    from lhg_ros.data.extract import extract_dataset
    from lhg_ros.motion.joints import JointMap

    if not dataset.held_out:
        raise ValueError('the manifest holds out no session for evaluation (held_out: [...])')
    extract_dataset(dataset, progress=False)
    recordings = [r for r in dataset_recordings(dataset, dataset.held_out)
                  if r.listener_poses is not None]
    if not recordings:
        holders = sorted({f'{sid}: ' + ', '.join(sorted({t.participant for t in
                                                         dataset.session(sid).floor}))
                          for sid in dataset.held_out})
        raise ValueError(
            'the held-out sessions have no listening to score: eval runs a policy as a '
            'participant who does not hold the floor while the other does, for at least '
            f'{MIN_LISTENING_S:.0f} s at a time (one who never holds it: the whole session), '
            f"and here no one listens that long (who holds the floor: {'; '.join(holders)}). "
            "Mark the speaker's turns under 'floor' in the manifest")
    policies = {'rules': RuleListener()}
    if checkpoint:
        from lhg_ros.backends import load_backend
        from lhg_ros.motion.model_policy import ModelPolicy

        policies['model'] = ModelPolicy(load_backend(backend_name, checkpoint),
                                        expressiveness=expressiveness, seed=seed, style=style)
    rate = getattr(policies.get('model'), 'motion_rate', MOTION_RATE)
    every = motion_stride(rate)
    warm = int(round(warmup_s * rate))
    joint_map = JointMap()
    rows: dict[str, dict[str, list]] = {}
    relative: dict[str, list] = {}
    curves: dict[str, list] = {}
    nods = {}
    # each policy over the recordings in turn, checked as evaluate_policy checks any policy
    runs = {name: closed_loop_runs(policy, recordings, warmup_s)
            for name, policy in policies.items()}
    checks = {name: evaluate_policy(policies[name], recordings, joint_map, warmup_s,
                                    tolerance_s, runs=runs[name]) for name in policies}
    seconds = 0.0
    example = None
    population = np.concatenate([r.listener_poses[::every] for r in recordings]).mean(axis=0)
    for i, rec in enumerate(recordings):
        reference = rec.listener_poses[::every].astype(np.float64)
        speaker = rec.speaker_poses[::every].astype(np.float64)
        anchor = reference[:warm].mean(axis=0)
        systems = {'reference': reference,
                   'still head': np.tile(anchor, (len(reference), 1)),
                   'mean pose': np.tile(population, (len(reference), 1)),
                   'copy the speaker': anchor + speaker[:len(reference)]
                   - speaker[:warm].mean(axis=0)}
        for name in policies:
            moved, _, _, neutral = runs[name][i]
            systems[name] = neutral + moved
        frames = min(len(p) for p in systems.values())
        reference, speaker = reference[warm:frames], speaker[warm:frames]
        seconds += len(reference) / rate
        reference_nods = measures.nod_times(reference, rate)
        for name, poses in systems.items():
            poses = poses[warm:frames]
            row = rows.setdefault(name, {})
            for key, value in _measures(poses, reference, speaker, rate).items():
                row.setdefault(key, []).append(value)
            relative.setdefault(name, []).append(poses - anchor)
            nods.setdefault(name, NodScore(tolerance_s)).add(
                measures.nod_times(poses, rate), reference_nods, len(poses) / rate)
            lags, curve = measures.cross_correlation(poses, speaker, rate)
            curves.setdefault(name, []).append(curve)
        if example is None:
            example = {k: v[:frames, 0].tolist() for k, v in systems.items()}
    results = {}
    for name, row in rows.items():
        score = nods[name].result()
        values = {k: float(np.mean(v)) for k, v in row.items()}
        values.update({**measures.motion_rms(relative[name], rate),
                       **measures.nod_statistics(relative[name], rate),
                       'fd': measures.frechet_motion(relative[name], relative['reference']),
                       'nod_f1': score['f1'], 'random_nod_f1': score['random_f1']})
        if name in checks:
            values.update({key: checks[name][key] for key in POLICY_CHECKS})
        results[name] = values
    if teacher_forced and checkpoint:
        results[TEACHER_FORCED] = teacher_forced(dataset, checkpoint, warmup_s, style)
    return {'mode': 'closed loop', 'systems': results, 'recordings': len(recordings),
            'recording_names': [r.name for r in recordings],
            'minutes': seconds / 60.0, 'rate_hz': rate, 'tolerance_s': tolerance_s,
            'cross_correlation': {'lags_s': lags.tolist(),
                                  **{k: np.mean(v, axis=0).tolist() for k, v in curves.items()}},
            'example_pitch': example}


COLUMNS = [('l1_deg', 'L1 (deg)'), ('rms_pitch_deg', 'RMS pitch'), ('rms_yaw_deg', 'RMS yaw'),
           ('rms_roll_deg', 'RMS roll'), ('nods_per_min', 'nods/min'),
           ('median_nod_deg', 'nod size (deg)'), ('fd', 'FD'), ('nod_f1', 'nod F1'),
           ('random_nod_f1', 'random F1'), ('rpcc', 'rPCC'),
           ('nods_after_pause', 'nods after a pause'), ('within_limits', 'within limits'),
           ('nonfinite_steps', 'non-finite'), ('drift_deg', 'drift (deg)')]


def _cell(values: dict, key: str) -> str:
    value = values.get(key)
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return '-'
    if key in ('within_limits', 'nods_after_pause'):
        return f'{100 * value:.0f}%'
    if key == 'nonfinite_steps':
        return str(int(value))
    return f'{value:.3f}' if key in ('rpcc', 'nod_f1', 'random_nod_f1') else f'{value:.2f}'


def table_rows(report: dict) -> list[list[str]]:
    return [[name, *(_cell(values, key) for key, _ in COLUMNS)]
            for name, values in report['systems'].items()]


def write_report(report: dict, out: Path) -> list[Path]:
    from lhg_ros.console import format_table
    from lhg_ros.plotting import pyplot

    out.mkdir(parents=True, exist_ok=True)
    (out / 'report.json').write_text(json.dumps(report, indent=2))
    headers = ['system', *(label for _, label in COLUMNS)]
    lines = ['| ' + ' | '.join(headers) + ' |', '|' + '---|' * len(headers)]
    lines += ['| ' + ' | '.join(row) + ' |' for row in table_rows(report)]
    note = (f"\n\n`{TEACHER_FORCED}`: the next frame predicted from the real listener's past "
            "(what training sees); every other row is closed loop."
            if TEACHER_FORCED in report['systems'] else '')
    (out / 'report.md').write_text(
        f"# Listener evaluation (closed loop)\n\n{report['recordings']} held-out recordings, "
        f"{report['minutes']:.1f} min at {report['rate_hz']:g} Hz; each policy feeds on its "
        f"own output after a 1 s warm-up with the real listener. Measures after the warm-up; "
        f"nod F1 at +-{1000 * report['tolerance_s']:.0f} ms, pooled over all recordings, beside "
        "the F1 of as many nods at random times. RMS (about a 2 s running median), nods and "
        "the Fréchet distance (FD) of the 18-d motion features are pooled, relative to each "
        "listener's warm-up pose.\n\n"
        + '\n'.join(lines) + note + '\n\n![cross-correlation](cross_correlation.png)\n'
        '![pitch](trajectories.png)\n')
    plt = pyplot()
    cc = report['cross_correlation']
    fig, ax = plt.subplots(figsize=(7, 4))
    for name in cc:
        if name != 'lags_s':
            ax.plot(cc['lags_s'], cc[name], label=name, lw=2.0 if name == 'reference' else 1.2)
    ax.axvline(0, color='k', lw=0.6)
    ax.set_xlabel('lag (s): positive = listener after speaker')
    ax.set_ylabel('cross-correlation of angular speed')
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / 'cross_correlation.png', dpi=100)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(10, 4))
    rate = report['rate_hz']
    for name, pitch in report['example_pitch'].items():
        if name in ('reference', 'rules', 'model', 'still head'):
            ax.plot(np.arange(len(pitch)) / rate, np.degrees(pitch), label=name,
                    lw=2.0 if name == 'reference' else 1.0)
    ax.axvspan(0, 1.0, color='grey', alpha=0.15, label='warm-up')
    ax.set_xlabel('time (s)')
    ax.set_ylabel('listener pitch (deg, + = down)')
    ax.legend(fontsize=8, ncol=4)
    fig.tight_layout()
    fig.savefig(out / 'trajectories.png', dpi=100)
    plt.close(fig)
    print(format_table(headers, table_rows(report)))
    return [out / name for name in ('report.json', 'report.md', 'cross_correlation.png',
                                    'trajectories.png')]
