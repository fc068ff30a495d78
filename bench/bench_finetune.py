"""Fine-tuning to a listener the model never met: does ``lhg-ros finetune``, with its default
settings, bring the model's motion closer to that listener's than the pre-trained model's?

    .venv/bin/python bench/bench_finetune.py [--listeners 4] [--checkpoint starter]

Unseen listeners: a corpus made with another seed (1000) than the training corpus, every
listener a held-out listener (``held_out_listeners``: no general model trains on them) with two
sessions of 1-2 minutes, the first to fine-tune on, the second held out. For each, the command
a user runs: ``lhg-ros finetune --data ... --checkpoint ... --listener NAME --out ...`` (default
settings: the recipe, and enough epochs for 200 optimiser steps), which ends by running the
pre-trained and the fine-tuned model in closed loop on the held-out session's speech (sampling
seeds 0-2 pooled, each in its default style: the pre-trained model's and, after fine-tuning,
the listener's own) and comparing their statistics (nods per minute, median nod size, head RMS
per axis; lhg_ros.evaluation.styles) with the listener's recorded ones. The table gives each
listener's statistics distance (the mean absolute log ratio, 0 = alike, 0.69 = 2x off on
average) before and after, and the time the command took on this machine.

Goal (issue [3/6]): fine-tuning moves the statistics distance to the listener by >= 30%
(averaged over the listeners), on <= 10 minutes of that listener.
"""

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from lhg_ros.console import format_table

GOAL = 0.30


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--listeners', type=int, default=4, help='unseen listeners (default 4)')
    parser.add_argument('--checkpoint', default='starter',
                        help="the pre-trained model (default 'starter', the shipped one)")
    parser.add_argument('--finetune-args', default='',
                        help="more options for lhg-ros finetune, e.g. '--lr 3e-4' (default: "
                             'none, its default settings)')
    args = parser.parse_args()

    from lhg_ros.data.extract import extract_dataset
    from lhg_ros.data.manifest import load_manifest
    from lhg_ros.synthetic.corpus import make_corpus

    sessions = 2 * args.listeners
    with tempfile.TemporaryDirectory() as tmp:
        print(f'making {args.listeners} unseen listeners, two sessions each (seed 1000) ...',
              file=sys.stderr)
        manifest = make_corpus(Path(tmp) / 'unseen', sessions=sessions, held_out=sessions,
                               seed=1000)
        dataset = load_manifest(manifest)
        extract_dataset(dataset, progress=False)
        rows, changes = [], []
        for person in sorted(dataset.held_out_listeners):
            tuned_on = [s for s in dataset.sessions
                        if person in dataset.people_in(s.id) and s.id not in dataset.held_out]
            minutes = sum(_seconds(s.participants['B'].poses) for s in tuned_on) / 60
            out = Path(tmp) / 'runs' / person
            print(f'lhg-ros finetune --listener {person} ...', file=sys.stderr)
            started = time.perf_counter()
            result = subprocess.run(
                [sys.executable, '-m', 'lhg_ros.cli', 'finetune', '--data', str(manifest),
                 '--checkpoint', args.checkpoint, '--listener', person, '--out', str(out),
                 *shlex.split(args.finetune_args)],
                capture_output=True, text=True)
            seconds = time.perf_counter() - started
            if result.returncode != 0:
                sys.exit(f'finetune failed for {person}:\n{result.stdout[-3000:]}'
                         f'{result.stderr[-3000:]}')
            comparison = json.loads((out / 'comparison.json').read_text())
            before = comparison['distance']['before']
            after = comparison['distance']['fine-tuned']
            changes.append(1.0 - after / before)
            epochs = json.loads((out / 'last.json').read_text())['metadata']['train_config'][
                'epochs']
            rows.append([person, f'{minutes:.1f}', f'{epochs}', f'{seconds:.0f}',
                         f'{before:.2f}', f'{after:.2f}', f'{100 * changes[-1]:+.0f}%'])
    mean = float(np.mean(changes))
    rows.append(['mean', '', '', '', '', '', f'{100 * mean:+.0f}%'])
    settings = args.finetune_args or 'default settings'
    print(f'\nFine-tuning to unseen listeners (lhg-ros finetune, {settings}; statistics '
          'distance to the listener on their held-out session)')
    print(format_table(['listener', 'minutes tuned on', 'epochs', 'finetune s', 'before',
                        'after', 'closer'], rows))
    print(f'\nGoal: fine-tuning brings the distance >= {100 * GOAL:.0f}% closer on average: '
          f"{100 * mean:.0f}%, {'met' if mean >= GOAL else 'NOT met'}")


def _seconds(poses_file: Path) -> float:
    with np.load(poses_file) as data:
        return len(data['poses']) / float(data['rate'])


if __name__ == '__main__':
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from publish import run_and_publish

    run_and_publish('bench_finetune', main)
