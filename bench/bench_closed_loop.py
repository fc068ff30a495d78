"""The shipped model in closed loop, as listener_node runs it: on held-out generated sessions
(a listener to compare with) and on minutes of speech with no face in view, and of silence.

    .venv/bin/python bench/bench_closed_loop.py [--minutes 10] [--checkpoint PATH]

Every figure comes from the model feeding on its own output through the listener runtime
(ListenerRuntime + ModelPolicy + the backend's step), after a 1 s warm-up. The held-out
sessions are generated with another seed than the training corpus. References in the same
run: the rule policy, a still head at the listener's warm-up pose and the mean pose. Goals
(issue [1/6]): raw predictions within the joint limits 100%, non-finite 0, drift (each
minute's mean pitch and yaw within 5 deg of the first minute), L1 at least 20% below both
the still head and the mean pose, nod F1 at 200 ms >= 0.6, nods starting within 1 s after a
speech pause >= 80%, nods per minute <= 1 on silence and 4-20 on speech with pauses.
"""

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lhg_ros.console import format_table  # noqa: E402


def verdict(ok: bool) -> str:
    return 'met' if ok else 'NOT met'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--minutes', type=float, default=10.0,
                        help='minutes of speech without a face (default 10)')
    parser.add_argument('--sessions', type=int, default=4, help='held-out sessions to make')
    parser.add_argument('--checkpoint', help='default: the shipped starter model')
    parser.add_argument('--backend', default='onnxruntime')
    args = parser.parse_args()

    from lhg_ros.backends import load_backend
    from lhg_ros.data.corpus import make_corpus
    from lhg_ros.data.manifest import load_manifest
    from lhg_ros.evaluation.closed_loop import evaluate_policy, generated_speech
    from lhg_ros.evaluation.report import evaluate
    from lhg_ros.models import resolve_checkpoint
    from lhg_ros.motion.listener import ModelPolicy
    from lhg_ros.motion.rules import RuleListener

    checkpoint = resolve_checkpoint(args.checkpoint)
    with tempfile.TemporaryDirectory() as tmp:
        print(f'making {args.sessions} held-out sessions (seed 1000) ...', file=sys.stderr)
        dataset = load_manifest(make_corpus(Path(tmp) / 'held_out', sessions=args.sessions,
                                            held_out=args.sessions, seed=1000))
        report = evaluate(dataset, checkpoint, args.backend)
        print(f'{args.minutes:g} min of speech and 3 min of silence, no face ...',
              file=sys.stderr)
        speech = [generated_speech(60.0 * args.minutes, tmp, seed=2000)]
        silence = [generated_speech(180.0, tmp, seed=3000, silent=True)]
        model = ModelPolicy(load_backend(args.backend, checkpoint))
        on_speech = {'model': evaluate_policy(model, speech),
                     'rules': evaluate_policy(RuleListener(), speech)}
        on_silence = {'model': evaluate_policy(model, silence),
                      'rules': evaluate_policy(RuleListener(), silence)}

    systems = report['systems']
    rows = []
    for name in ('model', 'rules', 'still head', 'mean pose'):
        s = systems[name]
        rows.append([name, f"{s['l1_deg']:.3f}", f"{s['nod_f1']:.2f}",
                     f"{s['nods_per_min']:.1f}",
                     f"{100 * s['nods_after_pause']:.0f}%" if 'nods_after_pause' in s else '-',
                     f"{100 * s['within_limits']:.1f}%" if 'within_limits' in s else '-'])
    print(f"\nHeld-out generated sessions ({report['minutes']:.1f} min, closed loop)")
    print(format_table(['system', 'L1 (deg)', 'nod F1', 'nods/min', 'nods after pause',
                        'within limits'], rows))
    rows = []
    for label, results in ((f'speech, no face ({args.minutes:g} min)', on_speech),
                           ('silence (3 min)', on_silence)):
        for name, r in results.items():
            after = r['nods_after_pause']
            rows.append([label, name, f"{100 * r['within_limits']:.1f}%",
                         str(r['nonfinite_steps']), f"{r['drift_deg']:.2f}",
                         f"{r['nods_per_min']:.1f}",
                         '-' if after != after else f'{100 * after:.0f}%'])
    print('\nWithout a listener to compare with (closed loop)')
    print(format_table(['input', 'policy', 'within limits', 'non-finite', 'drift (deg)',
                        'nods/min', 'nods after pause'], rows))

    m = systems['model']
    speech_m, silence_m = on_speech['model'], on_silence['model']
    within = min(m['within_limits'], speech_m['within_limits'], silence_m['within_limits'])
    nonfinite = m['nonfinite_steps'] + speech_m['nonfinite_steps'] + silence_m['nonfinite_steps']
    drift = max(m['drift_deg'], speech_m['drift_deg'], silence_m['drift_deg'])
    ratio_still = m['l1_deg'] / systems['still head']['l1_deg']
    ratio_mean = m['l1_deg'] / systems['mean pose']['l1_deg']
    goals = [
        ('raw predictions within the joint limits', '100%', f'{100 * within:.2f}%',
         verdict(within == 1.0)),
        ('non-finite predictions', '0', str(nonfinite), verdict(nonfinite == 0)),
        ('drift of minute means (pitch, yaw)', '<= 5 deg', f'{drift:.2f} deg',
         verdict(drift <= 5.0)),
        ('L1 / still head', '<= 0.80', f'{ratio_still:.2f}', verdict(ratio_still <= 0.8)),
        ('L1 / mean pose', '<= 0.80', f'{ratio_mean:.2f}', verdict(ratio_mean <= 0.8)),
        ('nod F1 at 200 ms', '>= 0.6', f"{m['nod_f1']:.2f}", verdict(m['nod_f1'] >= 0.6)),
        ('nods starting within 1 s after a pause', '>= 80%',
         f"{100 * speech_m['nods_after_pause']:.0f}%",
         verdict(speech_m['nods_after_pause'] >= 0.8)),
        ('nods per minute on silence', '<= 1', f"{silence_m['nods_per_min']:.1f}",
         verdict(silence_m['nods_per_min'] <= 1)),
        ('nods per minute on speech with pauses', '4-20', f"{speech_m['nods_per_min']:.1f}",
         verdict(4 <= speech_m['nods_per_min'] <= 20)),
    ]
    print(f'\nGoals for {checkpoint.name} ({args.backend})')
    print(format_table(['measure', 'goal', 'measured', ''], goals))


if __name__ == '__main__':
    main()
