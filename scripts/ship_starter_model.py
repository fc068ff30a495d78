#!/usr/bin/env python3
"""Put a trained checkpoint in the package as the shipped starter model: weights in float16
(half the size; the normalisation stays float32), its sidecar, and the ONNX step model.

    .venv/bin/python scripts/ship_starter_model.py out/starter/last.safetensors

(The shipped model is the recipe's final epoch; lhg_ros/models/starter/train.yaml says why.)

Then re-measure it (bench/bench_closed_loop.py, bench/bench_model.py) and update
lhg_ros/models/starter/MODEL_CARD.md.
"""

import sys

import torch

from lhg_ros.backends.step_model import onnx_for_checkpoint
from lhg_ros.model.checkpoint import load_checkpoint, save_checkpoint
from lhg_ros.models import starter_checkpoint


def main(source: str) -> int:
    model, info = load_checkpoint(source)
    target = starter_checkpoint()
    metadata = {**info['metadata'], 'shipped_from': str(source)}
    metadata.pop('splits', None)  # session lists of the corpus: long and of no use here
    save_checkpoint(model, target, metadata=metadata,
                    speaker_neutral=info.get('speaker_neutral'), dtype=torch.float16,
                    styles=info.get('styles'), default_style=info.get('default_style', ''))
    onnx = onnx_for_checkpoint(target, force=True)
    size = sum(p.stat().st_size for p in (target, target.with_suffix('.json'), onnx))
    print(f'wrote {target} (+ .json, {onnx.name}): {size / 1e6:.1f} MB')
    return 0


if __name__ == '__main__':
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
