#!/usr/bin/env python3
"""Put a trained checkpoint in the package as the shipped starter model: weights in float16
(half the size; the normalisation stays float32), its sidecar, and the ONNX step model.

    .venv/bin/python scripts/ship_starter_model.py out/starter/last.safetensors \
        [--styles-from out/corpus/manifest.yaml]

(The shipped model is the recipe's final epoch; lhg_ros/models/starter/train.yaml says why.)
With --styles-from (the training corpus), each named style's sampling temperature is fitted so
that the model in that style moves as its listeners do (lhg_ros.commands.adapt.fit_named_styles).

Then re-measure it (bench/bench_closed_loop.py, bench/bench_model.py) and update
lhg_ros/models/starter/MODEL_CARD.md.
"""

import argparse
import sys

import torch

from lhg_ros.backends.step_model import onnx_for_checkpoint
from lhg_ros.models import starter_checkpoint
from lhg_ros.network.checkpoint import load_checkpoint, save_checkpoint


def main(source: str, styles_from: str = '') -> int:
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
    if styles_from:
        from lhg_ros.commands.adapt import fit_named_styles
        from lhg_ros.console import format_table

        fits = fit_named_styles(target, styles_from)
        print(format_table(['style', 'temperature', 'distance at 1', 'distance'], [
            [name, f"{fit['temperature']:g}", f"{fit['distance_at_1']:.3f}",
             f"{fit['distance']:.3f}"] for name, fit in fits.items()]))
    return 0


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('checkpoint')
    parser.add_argument('--styles-from', default='', metavar='MANIFEST',
                        help='the training corpus: fit the named styles\' temperatures to it')
    args = parser.parse_args()
    sys.exit(main(args.checkpoint, args.styles_from))
