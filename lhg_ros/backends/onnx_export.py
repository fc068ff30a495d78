"""Export of the model's *step* to ONNX, with the recurrent state as explicit inputs/outputs.

Shapes are fixed (batch 1, one step); the LSTMs export as the ONNX LSTM operator. Inputs are
``audio``, ``speaker``, ``listener`` and the state tensors of
:meth:`ListenerModel.state_shapes`; outputs are ``poses`` and ``<state>_out`` for each.
"""

import hashlib
import warnings
from pathlib import Path

import torch
from torch import nn

from lhg_ros.model.checkpoint import checkpoint_paths, load_checkpoint
from lhg_ros.model.network import ListenerModel

OPSET = 17
MOTION_INPUTS = ('audio', 'speaker', 'listener')


def output_name(state_name: str) -> str:
    return f'{state_name}_out'


class StepGraph(nn.Module):
    """``ListenerModel.step`` with a flat signature, as ONNX needs it."""

    def __init__(self, model: ListenerModel):
        super().__init__()
        self.model = model
        self.state_names = list(model.state_shapes())

    def forward(self, audio, speaker, listener, *state):
        poses, new = self.model.step(audio, speaker, listener,
                                     dict(zip(self.state_names, state, strict=True)))
        return (poses, *(new[name] for name in self.state_names))


def example_inputs(model: ListenerModel) -> tuple[torch.Tensor, ...]:
    c = model.config
    state = model.initial_state(1)
    return (torch.zeros(1, c.audio_per_step, c.audio_input_dim),
            torch.zeros(1, c.frames_per_step, c.motion_dim),
            torch.zeros(1, c.frames_per_step, c.motion_dim),
            *state.values())


def export_onnx(model: ListenerModel, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = list(model.state_shapes())
    with torch.no_grad(), warnings.catch_warnings():
        # The LSTM batch-size warning does not apply: h0/c0 are explicit inputs, batch is 1.
        warnings.filterwarnings('ignore', message='Exporting a model to ONNX with a batch_size')
        # Tracing fixes shapes as constants, which is what a fixed-shape step model wants.
        warnings.filterwarnings('ignore', category=torch.jit.TracerWarning)
        torch.onnx.export(StepGraph(model.eval()), example_inputs(model), str(path),
                          input_names=[*MOTION_INPUTS, *names],
                          output_names=['poses', *map(output_name, names)],
                          opset_version=OPSET, dynamo=False, do_constant_folding=True)
    return path


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


WEIGHTS_DIGEST_KEY = 'lhg_ros.weights_sha256'


def exported_from(onnx_path: Path) -> str | None:
    """The digest of the weights an ONNX file was exported from (None if unknown)."""
    import onnx

    try:
        model = onnx.load(str(onnx_path), load_external_data=False)
    except Exception:  # noqa: BLE001 - an unreadable file is simply stale
        return None
    return next((p.value for p in model.metadata_props if p.key == WEIGHTS_DIGEST_KEY), None)


def onnx_for_checkpoint(checkpoint: str | Path, force: bool = False) -> Path:
    """The ONNX step model next to a checkpoint (``<name>.step.onnx``), exported when missing,
    made from other weights (a digest of the weights is kept inside it, so a copied or
    installed pair is recognised whatever the file times), or ``force``d."""
    import onnx

    weights, _ = checkpoint_paths(checkpoint)
    onnx_path = weights.with_suffix('.step.onnx')
    digest = file_digest(weights)
    if force or not onnx_path.is_file() or exported_from(onnx_path) != digest:
        model, _ = load_checkpoint(checkpoint)
        partial = onnx_path.with_suffix('.partial.onnx')
        export_onnx(model, partial)
        exported = onnx.load(str(partial))
        entry = exported.metadata_props.add()
        entry.key, entry.value = WEIGHTS_DIGEST_KEY, digest
        onnx.save(exported, str(partial))
        partial.replace(onnx_path)  # atomic: another process never reads half a file
    return onnx_path
