"""Dataset and training throughput on this CPU: feature extraction (seconds of recording per
second of wall time, per core) and training (segments per second) of the `small` preset.

    .venv/bin/python bench/bench_training.py

One core for extraction (the per-core figure); training uses the machine's threads. The data
is a synthetic session (lhg_ros.data.synthetic_sessions). Reference in the same run:
extraction against real time (1x), training against the paper's 0.5 B preset on the same
segments.
"""

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lhg_ros.console import format_table, quiet_stderr  # noqa: E402


def main() -> None:
    import torch

    from lhg_ros.data.extract import extract_dataset, extract_participant, load_features
    from lhg_ros.data.manifest import load_manifest
    from lhg_ros.data.segments import listener_segments
    from lhg_ros.data.synthetic_sessions import make_dataset
    from lhg_ros.model.config import preset
    from lhg_ros.model.network import ListenerModel
    from lhg_ros.training.config import TrainConfig
    from lhg_ros.training.trainer import build_examples, loss_on

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        dataset = load_manifest(make_dataset(tmp, sessions=1, turns=2, held_out=0))
        session = dataset.sessions[0]
        cpu = min(__import__('os').sched_getaffinity(0))
        __import__('os').sched_setaffinity(0, {cpu})
        for name, p in session.participants.items():
            kind = 'video (MediaPipe + pose)' if p.video else 'pose track'
            started = time.perf_counter()
            with quiet_stderr():
                features = extract_participant(p)
            wall = time.perf_counter() - started
            rows.append([f'extract {name}: audio + {kind}', f'{features["duration"]:.1f} s',
                         f'{features["duration"] / wall:.1f}x real time', ''])
        __import__('os').sched_setaffinity(0, set(range(__import__('os').cpu_count())))
        extract_dataset(dataset, progress=False)
        frames = len(load_features(dataset, session.id, 'A')['poses'])
        segments = listener_segments(session, frames)
        config = TrainConfig()
        for name, steps in (('small', 5), ('paper', 1)):
            model_config = preset(name)
            model = ListenerModel(model_config).train()
            optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate)
            examples = build_examples(dataset, segments)
            started = time.perf_counter()
            for _ in range(steps):
                loss = loss_on(model, examples, model_config, 25, 1.0)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            per_second = steps * len(examples) / (time.perf_counter() - started)
            rows.append([f'train {name} (batch {len(examples)}, 11 s segments)',
                         f'{steps} steps', f'{per_second:.2f} segments/s',
                         f'{21536 * 100 / per_second / 3600:.0f} h' if name == 'small' else
                         f'{21536 * 100 / per_second / 86400:.0f} days'])
    print(format_table(['job', 'amount', 'throughput',
                        'paper recipe (21,536 segments x 100 epochs)'], rows))


if __name__ == '__main__':
    main()
