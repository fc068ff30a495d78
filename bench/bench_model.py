"""Per-step latency of the listener model: the shipped starter model, each preset on each
backend available here, and the rule policy, beside the real-time budget (one step per 3
motion frames = 120 ms at 25 Hz).

    .venv/bin/python bench/bench_model.py [--steps 100] [--no-paper]

Untrained weights for the presets (speed does not depend on them). Threads: ONNX Runtime with
its node default (one intra-op thread, which leaves the other cores to FBank and the camera),
torch with all cores. Goals on a 2-core CPU: the shipped model <= 2 ms per step on ONNX
Runtime; ONNX Runtime >= 2x eager PyTorch.
The paper preset (0.5 B) runs on PyTorch only here: its ONNX file would exceed protobuf's 2 GB
limit without external-data export, and it is meant for a GPU.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lhg_ros.commands.model_tools import BENCH_HEADERS, bench_rows  # noqa: E402
from lhg_ros.console import format_table  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--steps', type=int, default=100)
    parser.add_argument('--no-paper', action='store_true', help='skip the 0.5 B preset')
    args = parser.parse_args()
    import torch

    backends = ['torch', 'onnxruntime']
    if torch.cuda.is_available():
        backends.append('tensorrt')

    def log(message):
        print(message, file=sys.stderr)

    from lhg_ros.commands.model_tools import rule_policy_row
    from lhg_ros.models import starter_checkpoint

    rows = bench_rows([], backends, args.steps, starter_checkpoint(), log=log,
                      name='shipped starter (compact)')
    rows.append(rule_policy_row(args.steps))
    rows += bench_rows(['small', 'base'], backends, args.steps, log=log)
    if not args.no_paper:
        rows += bench_rows(['paper'], ['torch'], max(3, args.steps // 20), log=log)
    print(format_table(BENCH_HEADERS, rows))
    small = {r[2]: float(r[3]) for r in rows if r[0] == 'small' and r[3] != 'n/a'}
    small_size = next((r[1] for r in rows if r[0] == 'small'), '?')
    shipped = {r[2]: float(r[3]) for r in rows if r[0].startswith('shipped') and r[3] != 'n/a'}
    ort, eager = shipped.get('onnxruntime', float('nan')), shipped.get('torch', float('nan'))
    print(f'\nGoals: the shipped model on ONNX Runtime <= 2 ms/step -> {ort:.2f} ms '
          f'({"met" if ort <= 2 else "NOT met"}; eager torch {eager:.2f} ms, '
          f'{eager / ort:.1f}x slower); ONNX Runtime >= 2x eager torch -> '
          f'{"met" if eager / ort >= 2 else "NOT met"}. The small preset ({small_size} '
          f"parameters, not shipped): {small.get('onnxruntime', float('nan')):.2f} ms on "
          'ONNX Runtime.')

if __name__ == '__main__':
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from publish import run_and_publish

    run_and_publish('bench_model', main)
