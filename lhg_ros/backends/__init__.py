"""Inference backends behind one interface: ``torch``, ``onnxruntime``, ``tensorrt``.

    backend = load_backend('onnxruntime', 'model.safetensors')
    state = backend.initial_state()
    poses, state = backend.step(audio_12x81, speaker_3x18, listener_3x18, state)

Heavy imports happen only inside the chosen backend.
"""

from lhg_ros.backends.base import BACKENDS, Backend, BackendError, load_backend

__all__ = ['BACKENDS', 'Backend', 'BackendError', 'load_backend']
