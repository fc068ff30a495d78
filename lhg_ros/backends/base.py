"""The backend interface and the factory that picks one by name."""

import importlib
import time
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from lhg_ros.backends.errors import BackendError
from lhg_ros.network.config import ModelConfig

BACKENDS = {
    'torch': 'lhg_ros.backends.torch_backend:TorchBackend',
    'onnxruntime': 'lhg_ros.backends.onnx_backend:OnnxRuntimeBackend',
    'tensorrt': 'lhg_ros.backends.tensorrt_backend:TensorRTBackend',
}


class Backend(ABC):
    """One listener model, stepped in real time. Inputs and outputs are float32 numpy arrays
    for one conversation (batch 1); the state is opaque to callers."""

    name: str = ''
    config: ModelConfig
    info: dict  # the checkpoint's sidecar

    @abstractmethod
    def initial_state(self):
        """State before the first step of a conversation."""

    @abstractmethod
    def step(self, audio: np.ndarray, speaker: np.ndarray, listener: np.ndarray, state,
             style: np.ndarray | None = None) -> tuple[np.ndarray, object]:
        """audio (12, 81), speaker and listener motion (3, 18) -> (prediction, state): the
        next poses (3, 6), or a mixture model's distribution over its next H frames (K,
        1 + 2 * H * 6; H: ``config.predicted_frames``), sampled by the caller
        (lhg_ros.network.mixture), who uses the first 3. ``style`` (style_dim,): the listener
        style of a model with one (lhg_ros.network.style; None: the model's default)."""

    @abstractmethod
    def close(self) -> None:
        """Release memory (GPU buffers, sessions); the backend is unusable afterwards."""

    def style_input(self, style) -> np.ndarray | None:
        """The style input (1, style_dim) float32 of a step: ``style``, or the model's default
        style when None; None for a model without styles."""
        dim = self.config.style_dim
        if not dim:
            return None
        if style is None:
            if getattr(self, '_default_style', None) is None:
                from lhg_ros.network.style import resolve_style

                self._default_style = resolve_style('', self.info)[1]
            style = self._default_style
        style = np.asarray(style, dtype=np.float32).reshape(-1)
        if style.shape != (dim,):
            raise ValueError(f'style must have {dim} numbers, got {style.shape[0]}')
        return style[None]

    def warm_up(self, steps: int = 2) -> float:
        """Run ``steps`` steps on zeros with a state of their own, discarded, so that one-time
        work (CUDA and cuDNN initialisation: about 250 ms for the first step on an H100) happens
        before the first real step; returns the seconds taken. Conversations are unaffected:
        their state is theirs."""
        c = self.config
        started = time.perf_counter()
        state = self.initial_state()
        for _ in range(steps):
            _, state = self.step(np.zeros((c.audio_per_step, c.audio_input_dim), np.float32),
                                 np.zeros((c.frames_per_step, c.motion_dim), np.float32),
                                 np.zeros((c.frames_per_step, c.motion_dim), np.float32), state)
        return time.perf_counter() - started

    def check_inputs(self, audio, speaker, listener) -> None:
        c = self.config
        for name, array, shape in (('audio', audio, (c.audio_per_step, c.audio_input_dim)),
                                   ('speaker', speaker, (c.frames_per_step, c.motion_dim)),
                                   ('listener', listener, (c.frames_per_step, c.motion_dim))):
            if np.shape(array) != shape:
                raise ValueError(f'{name} must have shape {shape}, got {np.shape(array)}')


AUTO = 'auto'


def cuda_devices() -> int:
    """How many CUDA devices the CUDA runtime sees (0 without libcudart or a driver)."""
    from lhg_ros.backends.cuda_runtime import CudaRuntime

    try:
        return CudaRuntime.load().device_count()
    except BackendError:
        return 0


def available_backend() -> str:
    """What ``auto`` picks: TensorRT where it and a CUDA device are present, else ONNX
    Runtime, else PyTorch (checked by import only; no model is loaded)."""
    from importlib.util import find_spec

    if find_spec('tensorrt') is not None and cuda_devices() > 0:
        return 'tensorrt'
    if find_spec('onnxruntime') is not None:
        return 'onnxruntime'
    if find_spec('torch') is not None:
        return 'torch'
    raise BackendError('no inference backend is installed: pip install onnxruntime')


def load_backend(name: str, checkpoint: str | Path, **options) -> Backend:
    """The backend called ``name`` (or ``auto``: :func:`available_backend`) for
    ``checkpoint``; options go to that backend."""
    if name == AUTO:
        name = available_backend()
    if name not in BACKENDS:
        raise BackendError(f"unknown backend '{name}'; choose one of: auto, "
                           f"{', '.join(BACKENDS)}")
    module, cls = BACKENDS[name].split(':')
    return getattr(importlib.import_module(module), cls)(checkpoint, **options)
