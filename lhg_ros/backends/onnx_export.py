"""Export of the model's *step* to ONNX, with the recurrent state as explicit inputs/outputs.

Shapes are fixed (batch 1, one step); the LSTMs export as the ONNX LSTM operator. Inputs are
``audio``, ``speaker``, ``listener``, ``style`` (a model with a style) and the state tensors of
:meth:`ListenerModel.state_shapes`; outputs are ``prediction`` (poses, or a mixture model's
distribution: lhg_ros.network.mixture) and ``<state>_out`` for each.
"""

import inspect
import warnings
from pathlib import Path

import torch
from torch import nn

from lhg_ros.network.checkpoint import WEIGHTS_DIGEST_KEY, load_checkpoint
from lhg_ros.network.config import PREDICTION, output_name
from lhg_ros.network.lstm_transformer import ListenerModel

OPSET = 17


class StepGraph(nn.Module):
    """``ListenerModel.step`` with a flat signature, as ONNX needs it."""

    def __init__(self, model: ListenerModel):
        super().__init__()
        self.model = model
        self.state_names = list(model.state_shapes())

    def forward(self, audio, speaker, listener, *rest):
        style, state = (rest[0], rest[1:]) if self.model.config.style_dim else (None, rest)
        prediction, new = self.model.step(audio, speaker, listener,
                                          dict(zip(self.state_names, state, strict=True)), style)
        return (prediction, *(new[name] for name in self.state_names))


def example_inputs(model: ListenerModel) -> tuple[torch.Tensor, ...]:
    c = model.config
    state = model.initial_state(1)
    return (torch.zeros(1, c.audio_per_step, c.audio_input_dim),
            torch.zeros(1, c.frames_per_step, c.motion_dim),
            torch.zeros(1, c.frames_per_step, c.motion_dim),
            *((torch.zeros(1, c.style_dim),) if c.style_dim else ()),
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
                          input_names=[*model.config.step_inputs, *names],
                          output_names=[PREDICTION, *map(output_name, names)],
                          opset_version=OPSET, do_constant_folding=True,
                          **legacy_exporter_options())
    return path


def legacy_exporter_options(export=None) -> dict:
    """The keyword that selects the TorchScript-based exporter: ``dynamo=False`` where
    ``torch.onnx.export`` has the option (torch 2.5 and later, where newer releases make the
    dynamo exporter the default); nothing before (torch 2.1-2.4, as JetPack 6 ships), where
    that is the only exporter and the keyword is rejected."""
    export = export or torch.onnx.export
    return {'dynamo': False} if 'dynamo' in inspect.signature(export).parameters else {}


def export_step_onnx(checkpoint: str | Path, onnx_path: Path, digest: str) -> Path:
    """Export a checkpoint's step model to ``onnx_path`` with the weights' ``digest`` inside
    (see :mod:`lhg_ros.backends.step_model`); atomic, so another process never reads half a
    file."""
    import onnx

    model, _ = load_checkpoint(checkpoint)
    partial = onnx_path.with_suffix('.partial.onnx')
    export_onnx(model, partial)
    exported = store_exact_weights_as_fp16(onnx.load(str(partial)))
    entry = exported.metadata_props.add()
    entry.key, entry.value = WEIGHTS_DIGEST_KEY, digest
    onnx.save(exported, str(partial))
    partial.replace(onnx_path)
    return onnx_path


def store_exact_weights_as_fp16(model, min_elements: int = 256):
    """Store each float32 weight whose every value is exactly a float16 as float16, with a Cast
    back to float32 in front of its users: the file halves (the shipped model's weights are
    float16 already) and the numbers the graph computes with are bit for bit the same."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    casts = []
    for initializer in model.graph.initializer:
        if initializer.data_type != onnx.TensorProto.FLOAT:
            continue
        values = numpy_helper.to_array(initializer)
        half = values.astype(np.float16)
        if values.size < min_elements or not np.array_equal(half.astype(np.float32), values):
            continue
        name = initializer.name
        initializer.CopyFrom(numpy_helper.from_array(half, f'{name}.fp16'))
        casts.append(helper.make_node('Cast', [f'{name}.fp16'], [name], name=f'{name}.cast',
                                      to=onnx.TensorProto.FLOAT))
    nodes = [*casts, *model.graph.node]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return model
