"""ONNX Runtime backend: the exported step model, state carried as numpy arrays. Torch-free."""

import numpy as np

from lhg_ros.backends.base import Backend, BackendError
from lhg_ros.backends.step_model import onnx_for_checkpoint
from lhg_ros.network.checkpoint import read_model_config
from lhg_ros.network.config import PREDICTION, STYLE, output_name


class OnnxRuntimeBackend(Backend):
    name = 'onnxruntime'

    def __init__(self, checkpoint, providers: list[str] | None = None, threads: int = 1,
                 force_export: bool = False):
        try:
            import onnxruntime as ort
        except ImportError:
            raise BackendError('the onnxruntime backend needs ONNX Runtime: pip install '
                               'onnxruntime (on Jetson, or onnxruntime-gpu from NVIDIA)') from None

        self.config, self.info = read_model_config(checkpoint)
        available = ort.get_available_providers()
        providers = providers or ['CPUExecutionProvider']
        unknown = [p for p in providers if p not in available]
        if unknown:
            raise BackendError(f"onnxruntime provider(s) {', '.join(unknown)} not available "
                               f"here; available: {', '.join(available)}")
        self.onnx_path = onnx_for_checkpoint(checkpoint, force=force_export)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # One intra-op thread by default: the step model is small, extra threads buy nothing
        # and spin-wait between steps, taking a core from FBank and the camera (measured in
        # docs/nodes.md, listener_node's timing). 0 = ONNX Runtime's default, one per core.
        if threads:
            options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(self.onnx_path), sess_options=options,
                                            providers=providers)
        # The state before the first step is all zeros (empty caches, zero LSTM states).
        self._initial = {name: np.zeros(shape, np.float32)
                         for name, shape in self.config.state_shapes(1).items()}
        self._outputs = [PREDICTION, *map(output_name, self._initial)]
        # The exporter drops inputs the graph does not use (the listener motion of a model with
        # listener_input 'none'); feed only those the graph has.
        self._inputs = {i.name for i in self.session.get_inputs()}
        missing = sorted((set(self._initial) | ({STYLE} if self.config.style_dim else set()))
                         - self._inputs)
        if missing:
            raise BackendError(f'{self.onnx_path} does not match its checkpoint config (no input '
                               f"{', '.join(missing[:3])}); re-export it: lhg-ros export "
                               f'--checkpoint {checkpoint} --force')

    def initial_state(self):
        return {k: v.copy() for k, v in self._initial.items()}

    def step(self, audio, speaker, listener, state, style=None):
        self.check_inputs(audio, speaker, listener)
        feeds = {'audio': np.asarray(audio, np.float32)[None],
                 'speaker': np.asarray(speaker, np.float32)[None],
                 'listener': np.asarray(listener, np.float32)[None], **state}
        if self.config.style_dim:
            feeds[STYLE] = self.style_input(style)
        outputs = self.session.run(self._outputs, {k: v for k, v in feeds.items()
                                                   if k in self._inputs})
        return outputs[0][0], dict(zip(self._initial, outputs[1:], strict=True))

    def close(self) -> None:
        self.session = None
