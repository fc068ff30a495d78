"""PyTorch backend: CPU or CUDA, fp32 or fp16, optional CUDA graphs."""

import numpy as np
import torch

from lhg_ros.backends.base import Backend, BackendError
from lhg_ros.network.checkpoint import load_checkpoint

DTYPES = {'fp32': torch.float32, 'fp16': torch.float16}


class TorchBackend(Backend):
    name = 'torch'

    def __init__(self, checkpoint, device: str = 'cpu', precision: str = 'fp32',
                 cuda_graphs: bool = False, threads: int = 0):
        if precision not in DTYPES:
            raise BackendError(f"precision '{precision}' is not one of {', '.join(DTYPES)}")
        if device.startswith('cuda') and not torch.cuda.is_available():
            raise BackendError(f"device '{device}' asked for, but torch sees no CUDA device "
                               "(torch.cuda.is_available() is False); use device:=cpu")
        if cuda_graphs and not device.startswith('cuda'):
            raise BackendError('CUDA graphs need a CUDA device')
        if precision == 'fp16' and device == 'cpu':
            raise BackendError('fp16 is for CUDA devices; use fp32 on the CPU')
        if threads:
            torch.set_num_threads(threads)
        self.device, self.dtype = torch.device(device), DTYPES[precision]
        model, self.info = load_checkpoint(checkpoint, device=self.device)
        self.model = model.to(self.dtype)
        self.config = model.config
        self._graph = None
        if cuda_graphs:
            self._capture_graph()

    @classmethod
    def from_model(cls, model, info: dict) -> 'TorchBackend':
        """A CPU fp32 backend over a model in memory (closed-loop validation in training)."""
        backend = cls.__new__(cls)
        backend.device, backend.dtype = torch.device('cpu'), torch.float32
        backend.model, backend.info, backend.config = model, info, model.config
        backend._graph = None
        return backend

    def initial_state(self):
        """Fresh tensors for one conversation; with CUDA graphs too, so that two states never
        share memory (the graph's static buffers are filled from a state on every step)."""
        return {k: v.to(self.dtype) for k, v in self.model.initial_state(1).items()}

    def _tensor(self, array) -> torch.Tensor:
        return torch.as_tensor(np.asarray(array, dtype=np.float32), device=self.device
                               ).to(self.dtype).unsqueeze(0)

    @torch.inference_mode()
    def step(self, audio, speaker, listener, state, style=None):
        self.check_inputs(audio, speaker, listener)
        style = self.style_input(style)
        inputs = (audio, speaker, listener) + ((style[0],) if style is not None else ())
        if self._graph is not None:
            for static, array in zip(self._static_inputs, inputs, strict=True):
                static.copy_(self._tensor(array))
            for name, tensor in state.items():  # the replay reads the static buffers
                self._static_state[name].copy_(tensor)
            self._graph.replay()
            new = {name: tensor.clone() for name, tensor in self._static_new_state.items()}
            return self._static_poses[0].float().cpu().numpy(), new
        poses, state = self.model.step(self._tensor(audio), self._tensor(speaker),
                                       self._tensor(listener), state,
                                       None if style is None else self._tensor(style[0]))
        return poses[0].float().cpu().numpy(), state

    @torch.inference_mode()
    def _capture_graph(self) -> None:
        """Record one step into a CUDA graph over static input, state and output buffers."""
        c = self.config
        self._static_inputs = [
            torch.zeros(1, c.audio_per_step, c.audio_input_dim, device=self.device,
                        dtype=self.dtype),
            torch.zeros(1, c.frames_per_step, c.motion_dim, device=self.device, dtype=self.dtype),
            torch.zeros(1, c.frames_per_step, c.motion_dim, device=self.device, dtype=self.dtype)]
        if c.style_dim:
            self._static_inputs.append(torch.zeros(1, c.style_dim, device=self.device,
                                                   dtype=self.dtype))
        self._static_state = {k: v.to(self.dtype) for k, v in self.model.initial_state(1).items()}
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):  # warm-up outside the graph, as CUDA graphs require
            for _ in range(3):
                self._graph_step()
        torch.cuda.current_stream().wait_stream(stream)
        self._graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self._graph):
            self._static_poses, self._static_new_state = self._graph_step()

    def _graph_step(self):
        audio, speaker, listener, *style = self._static_inputs
        return self.model.step(audio, speaker, listener, self._static_state,
                               style[0] if style else None)

    def close(self) -> None:
        self._graph = None
        self.model = None
        if self.device.type == 'cuda':
            torch.cuda.empty_cache()
