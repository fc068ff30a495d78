"""Dataset and training cost on this CPU: feature extraction (seconds of recording per second
of wall time, per core), training throughput (segments per second) of the shipped `compact`
preset, of `small` and of the paper's, and the peak memory of a real `lhg-ros train` run.

    .venv/bin/python bench/bench_training.py [--sessions 6]

One core for extraction (the per-core figure); training uses the machine's threads. Extraction
and throughput run on a synthetic session (lhg_ros.synthetic.smoke_sessions); the memory rows
run `lhg-ros train --preset P --epochs 1` (the recipe's batch of 4) on a generated corpus of
``--sessions`` sessions (lhg_ros.synthetic.corpus) in a process of its own, whose peak resident
memory (RSS) is read from the kernel. References in the same run: extraction against real time
(1x), training against the paper's 0.5 B preset on the same segments.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lhg_ros.console import format_table, quiet_stderr  # noqa: E402

BIN = Path(sys.executable).parent
# Runs `argv`, then prints the peak RSS (kB) of that child: a process of its own per figure.
PEAK_RSS = ('import resource, subprocess, sys; '
            'code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode; '
            'print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)')


def peak_rss_gb(argv: list[str]) -> float:
    """Peak resident memory (GB) of a command, run to its end."""
    out = subprocess.run([sys.executable, '-c', PEAK_RSS, *argv], capture_output=True,
                         text=True, check=True).stdout.split()
    if out[1] != '0':
        raise SystemExit(f"{' '.join(argv)} failed (exit {out[1]})")
    return int(out[0]) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sessions', type=int, default=6,
                        help='sessions of the corpus the memory rows train on')
    args = parser.parse_args()
    import numpy as np
    import torch

    from lhg_ros.data.extract import extract_dataset, extract_participant, load_features
    from lhg_ros.data.manifest import load_manifest
    from lhg_ros.data.segments import listener_segments
    from lhg_ros.network.config import preset
    from lhg_ros.network.lstm_transformer import ListenerModel
    from lhg_ros.synthetic.corpus import make_corpus
    from lhg_ros.synthetic.smoke_sessions import make_dataset
    from lhg_ros.training.config import TrainConfig
    from lhg_ros.training.trainer import StyleClips, build_examples, loss_on

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        dataset = load_manifest(make_dataset(Path(tmp) / 'synth', sessions=1, turns=2,
                                             held_out=0))
        session = dataset.sessions[0]
        cores = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {min(cores)})
        for name, p in session.participants.items():
            kind = 'video (MediaPipe + pose)' if p.video else 'pose track'
            started = time.perf_counter()
            with quiet_stderr():
                features = extract_participant(p)
            wall = time.perf_counter() - started
            rows.append([f'extract {name}: audio + {kind}', f'{features["duration"]:.1f} s',
                         f'{features["duration"] / wall:.1f}x real time', ''])
        os.sched_setaffinity(0, cores)
        extract_dataset(dataset, progress=False)
        frames = len(load_features(dataset, session.id, 'A')['poses'])
        segments = listener_segments(session, frames)
        config = TrainConfig()
        for name, steps in (('compact', 5), ('small', 5), ('paper', 1)):
            model_config = preset(name)
            model = ListenerModel(model_config).train()
            optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate)
            examples = build_examples(dataset, segments, model_config)
            clips = StyleClips(examples)  # (each segment's style from the others, as training)
            rng = np.random.default_rng(0)
            started = time.perf_counter()
            for _ in range(steps):
                loss = loss_on(model, examples, model_config, 25, 1.0,
                               clips=[clips.pick(e, rng) for e in examples])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            per_second = steps * len(examples) / (time.perf_counter() - started)
            hours = 21536 * 100 / per_second / 3600
            rows.append([f'train {name} (batch {len(examples)}, 6-11 s segments)',
                         f'{steps} steps', f'{per_second:.2f} segments/s',
                         f'{hours:.0f} h' if hours < 48 else f'{hours / 24:.0f} days'])
            del model, optimizer
        print(format_table(['job', 'amount', 'throughput',
                            'paper recipe (21,536 segments x 100 epochs)'], rows))

        print(f'\nmaking a corpus of {args.sessions} sessions ...', file=sys.stderr)
        corpus = make_corpus(Path(tmp) / 'corpus', sessions=args.sessions, held_out=1)
        data = load_manifest(corpus)
        extract_dataset(data, progress=False)
        minutes = sum(len(load_features(data, s.id, next(iter(s.participants)))['poses'])
                      for s in data.sessions) / 25 / 60
        memory = []
        for name in ('compact', 'small'):
            print(f'lhg-ros train --preset {name} --epochs 1 ...', file=sys.stderr)
            started = time.perf_counter()
            gb = peak_rss_gb([str(BIN / 'lhg-ros'), 'train', '--data', str(corpus), '--out',
                              str(Path(tmp) / name), '--preset', name, '--epochs', '1'])
            memory.append([name, f'{args.sessions} sessions, {minutes:.1f} min',
                           f'{time.perf_counter() - started:.0f} s', f'{gb:.2f} GB'])
    print(f'\nPeak memory of `lhg-ros train --epochs 1` (batch {config.batch_size}; the '
          'process, feature extraction cached)')
    print(format_table(['preset', 'corpus', 'wall time', 'peak RSS'], memory))


if __name__ == '__main__':
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from publish import run_and_publish

    run_and_publish('bench_training', main)
