"""ONNX Runtime backend: the exported step model, state carried as numpy arrays."""

import numpy as np

from lhg_ros.backends.base import Backend, BackendError
from lhg_ros.backends.onnx_export import onnx_for_checkpoint, output_name
from lhg_ros.model.checkpoint import load_checkpoint, read_sidecar
from lhg_ros.model.config import ModelConfig


class OnnxRuntimeBackend(Backend):
    name = 'onnxruntime'

    def __init__(self, checkpoint, providers: list[str] | None = None, threads: int = 0,
                 force_export: bool = False):
        import onnxruntime as ort

        self.info = read_sidecar(checkpoint)
        self.config = ModelConfig.from_dict(self.info['config'])
        available = ort.get_available_providers()
        providers = providers or ['CPUExecutionProvider']
        unknown = [p for p in providers if p not in available]
        if unknown:
            raise BackendError(f"onnxruntime provider(s) {', '.join(unknown)} not available "
                               f"here; available: {', '.join(available)}")
        self.onnx_path = onnx_for_checkpoint(checkpoint, force=force_export)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(self.onnx_path), sess_options=options,
                                            providers=providers)
        model, _ = load_checkpoint(checkpoint)
        self._initial = {k: v.numpy() for k, v in model.initial_state(1).items()}
        self._outputs = ['poses', *map(output_name, self._initial)]
        # The exporter drops inputs the graph does not use (the listener motion of a model with
        # listener_input 'none'); feed only those the graph has.
        self._inputs = {i.name for i in self.session.get_inputs()}

    def initial_state(self):
        return {k: v.copy() for k, v in self._initial.items()}

    def step(self, audio, speaker, listener, state):
        self.check_inputs(audio, speaker, listener)
        feeds = {'audio': np.asarray(audio, np.float32)[None],
                 'speaker': np.asarray(speaker, np.float32)[None],
                 'listener': np.asarray(listener, np.float32)[None], **state}
        outputs = self.session.run(self._outputs, {k: v for k, v in feeds.items()
                                                   if k in self._inputs})
        return outputs[0][0], dict(zip(self._initial, outputs[1:], strict=True))

    def close(self) -> None:
        self.session = None
