"""TensorRT backend: an engine built from the ONNX step model, cached on disk, run with device
buffers; the recurrent state stays on the GPU between steps (two sets of buffers, swapped).

Engines are cached as ``<checkpoint>.<onnx sha256[:16]>.trt<version>.<gpu>.<fp16|fp32>.engine``
and rebuilt only when the ONNX model, TensorRT or the GPU changes, or on ``force_engine_update``.
Written against the TensorRT 10 Python API; device memory comes from torch.
"""

import re
from pathlib import Path

import numpy as np

from lhg_ros.backends.base import Backend, BackendError
from lhg_ros.backends.onnx_export import file_digest, onnx_for_checkpoint, output_name
from lhg_ros.model.checkpoint import checkpoint_paths, load_checkpoint


def engine_path(checkpoint, onnx_path: Path, trt_version: str, gpu: str, fp16: bool) -> Path:
    weights, _ = checkpoint_paths(checkpoint)
    gpu_tag = re.sub(r'[^A-Za-z0-9]+', '-', gpu).strip('-')
    return weights.with_name(f'{weights.stem}.{file_digest(onnx_path)[:16]}.trt{trt_version}.'
                             f'{gpu_tag}.{"fp16" if fp16 else "fp32"}.engine')


class TensorRTBackend(Backend):
    name = 'tensorrt'

    def __init__(self, checkpoint, fp16: bool = True, force_engine_update: bool = False,
                 workspace_mb: int = 1024, device: int = 0):
        try:
            import tensorrt as trt
            import torch
        except ImportError as exc:
            raise BackendError(f'the tensorrt backend needs TensorRT and torch with CUDA '
                               f'({exc}); on Jetson they come with JetPack') from None
        if not torch.cuda.is_available():
            raise BackendError('the tensorrt backend needs a CUDA device; none is visible')
        self._torch = torch
        torch.cuda.set_device(device)
        model, self.info = load_checkpoint(checkpoint)
        self.config = model.config
        self._initial = {k: v.cuda() for k, v in model.initial_state(1).items()}
        del model
        onnx_path = onnx_for_checkpoint(checkpoint)
        gpu = torch.cuda.get_device_name(device)
        self.engine_file = engine_path(checkpoint, onnx_path, trt.__version__, gpu, fp16)
        self._logger = trt.Logger(trt.Logger.WARNING)
        if force_engine_update or not self.engine_file.is_file():
            self.engine_file.write_bytes(self._build(trt, onnx_path, fp16, workspace_mb))
        runtime = trt.Runtime(self._logger)
        self.engine = runtime.deserialize_cuda_engine(self.engine_file.read_bytes())
        if self.engine is None:
            raise BackendError(f'TensorRT could not load {self.engine_file}; rebuild it with '
                               'force_engine_update')
        self.context = self.engine.create_execution_context()
        self._stream = torch.cuda.Stream()
        c = self.config
        self._inputs = {
            'audio': torch.zeros(1, c.audio_per_step, c.audio_input_dim, device='cuda'),
            'speaker': torch.zeros(1, c.frames_per_step, c.motion_dim, device='cuda'),
            'listener': torch.zeros(1, c.frames_per_step, c.motion_dim, device='cuda')}
        self._poses = torch.zeros(1, c.frames_per_step, c.pose_dim, device='cuda')
        # An input the graph does not use (listener motion with listener_input 'none') is not
        # in the engine.
        names = {self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)}
        self._inputs = {k: v for k, v in self._inputs.items() if k in names}
        for name, tensor in self._inputs.items():
            self.context.set_tensor_address(name, tensor.data_ptr())
        self.context.set_tensor_address('poses', self._poses.data_ptr())

    def _build(self, trt, onnx_path: Path, fp16: bool, workspace_mb: int) -> bytes:
        builder = trt.Builder(self._logger)
        network = builder.create_network(0)
        parser = trt.OnnxParser(network, self._logger)
        if not parser.parse(onnx_path.read_bytes()):
            errors = '; '.join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise BackendError(f'TensorRT cannot parse {onnx_path}: {errors}')
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mb << 20)
        if fp16:
            config.set_flag(trt.BuilderFlag.FP16)
        profile = builder.create_optimization_profile()
        for i in range(network.num_inputs):
            tensor = network.get_input(i)
            shape = tuple(tensor.shape)  # fixed shapes: one profile point
            profile.set_shape(tensor.name, shape, shape, shape)
        config.add_optimization_profile(profile)
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise BackendError(f'TensorRT failed to build an engine from {onnx_path}')
        return bytes(serialized)

    def initial_state(self):
        """Two buffer sets on the GPU: the one read this step and the one written."""
        read = {k: v.clone() for k, v in self._initial.items()}
        return read, {k: v.clone() for k, v in self._initial.items()}

    def step(self, audio, speaker, listener, state):
        self.check_inputs(audio, speaker, listener)
        torch = self._torch
        read, write = state
        for name, array in (('audio', audio), ('speaker', speaker), ('listener', listener)):
            if name in self._inputs:
                self._inputs[name].copy_(torch.from_numpy(np.asarray(array, np.float32))[None])
        for name in read:
            self.context.set_tensor_address(name, read[name].data_ptr())
            self.context.set_tensor_address(output_name(name), write[name].data_ptr())
        torch.cuda.current_stream().synchronize()
        if not self.context.execute_async_v3(self._stream.cuda_stream):
            raise BackendError('TensorRT execution failed')
        self._stream.synchronize()
        return self._poses[0].cpu().numpy(), (write, read)

    def close(self) -> None:
        self.context = None
        self.engine = None
        self._torch.cuda.empty_cache()
