"""Checkpoints: ``<name>.safetensors`` (weights) + ``<name>.json`` (everything else).

The JSON sidecar holds the format version, the model config, the feature normalisation
statistics, frame rates, an optional joint mapping and free-form training metadata. Loading
checks each of them and says exactly what is wrong.

Reading the sidecar needs no torch (the runtime backends run without it); loading, saving and
making weights import torch when called.
"""

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lhg_ros import __version__
from lhg_ros.features.normalization import FeatureStats
from lhg_ros.network.config import ModelConfig

if TYPE_CHECKING:
    import torch

    from lhg_ros.network.lstm_transformer import ListenerModel

FORMAT = 'lhg_ros.listener'
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and the problem."""


# The key of the ONNX step model's metadata that holds the digest of the weights it came from.
WEIGHTS_DIGEST_KEY = 'lhg_ros.weights_sha256'


def checkpoint_paths(path: str | Path) -> tuple[Path, Path]:
    """(weights, sidecar) for a checkpoint given by either file or their common stem."""
    path = Path(path)
    stem = path.with_suffix('') if path.suffix in ('.safetensors', '.json') else path
    return stem.with_suffix('.safetensors'), stem.with_suffix('.json')


def style_space(model: 'ListenerModel') -> str:
    """The identity of a model's style vectors: a digest of the weights that make and read
    them (at float16, so the shipped float16 copy of a model has its float32 original's), so
    that a style file made for one model is not used with another."""
    import hashlib

    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        if name.split('.')[0] in ('style_encoder', 'style_in', 'style_out'):
            digest.update(name.encode())
            digest.update(tensor.detach().float().cpu().numpy().astype(np.float16).tobytes())
    return digest.hexdigest()[:16]


def sidecar_info(model: 'ListenerModel', joint_mapping: dict | None = None,
                 metadata: dict | None = None, speaker_neutral=None,
                 styles: dict | None = None, default_style: str = '') -> dict:
    """The JSON sidecar of ``model``: format, config, normalisation, rates and metadata;
    ``speaker_neutral`` (6,) is the speaker's mean pose in the training data, which the
    runtime eases the speaker input to when the face is lost. A model with a style also has
    its named ``styles`` (name -> vector), the ``default_style`` and its ``style_space``
    (lhg_ros.network.style)."""
    c = model.config
    info = {
        'format': FORMAT,
        'format_version': FORMAT_VERSION,
        'lhg_ros_version': __version__,
        'config': c.to_dict(),
        'normalization': {
            'audio': FeatureStats(model.audio_mean.cpu().numpy(),
                                  model.audio_std.cpu().numpy()).to_dict(),
            'motion': FeatureStats(model.motion_mean.cpu().numpy(),
                                   model.motion_std.cpu().numpy()).to_dict(),
        },
        'frame_rates': {'audio': c.audio_rate, 'motion': c.motion_rate},
        'joint_mapping': joint_mapping or {},
        'metadata': metadata or {},
    }
    if speaker_neutral is not None:
        info['speaker_neutral'] = [float(v) for v in speaker_neutral]
    # The listener pose the model's outputs are read against: its training listeners' mean.
    info['listener_neutral'] = [float(v) for v in model.pose_center.cpu().numpy()]
    # How far from it the training listeners went (a sampled pose is kept within).
    info['listener_bound'] = [float(v) for v in model.pose_bound.cpu().numpy()]
    if c.style_dim:
        info['style_space'] = style_space(model)
        info['styles'] = {name: [float(v) for v in np.asarray(vector).ravel()]
                          for name, vector in (styles or {}).items()}
        info['default_style'] = default_style or next(iter(info['styles']), '')
    return info


def save_checkpoint(model: 'ListenerModel', path: str | Path, joint_mapping: dict | None = None,
                    metadata: dict | None = None, speaker_neutral=None,
                    dtype: 'torch.dtype | None' = None, styles: dict | None = None,
                    default_style: str = '') -> Path:
    """Write weights (parameters as ``dtype``, float32 by default: float16 halves the file;
    buffers such as the normalisation stay float32) and sidecar (:func:`sidecar_info`);
    returns the weights path."""
    import torch
    from safetensors.torch import save_file

    dtype = dtype or torch.float32

    weights, sidecar = checkpoint_paths(path)
    weights.parent.mkdir(parents=True, exist_ok=True)
    parameters = dict(model.named_parameters())
    tensors = {k: v.detach().cpu().to(dtype if k in parameters else v.dtype).contiguous()
               for k, v in model.state_dict().items()}
    save_file(tensors, str(weights), metadata={'format': FORMAT})
    info = sidecar_info(model, joint_mapping, metadata, speaker_neutral, styles, default_style)
    sidecar.write_text(json.dumps(info, indent=2))
    return weights


def read_sidecar(path: str | Path) -> dict:
    """The checked JSON sidecar of a checkpoint."""
    weights, sidecar = checkpoint_paths(path)
    for file in (weights, sidecar):
        if not file.is_file():
            raise CheckpointError(f'checkpoint file {file} is missing (a checkpoint is '
                                  f'{weights.name} + {sidecar.name})')
    try:
        info = json.loads(sidecar.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f'{sidecar} is not valid JSON: {exc}') from None
    if info.get('format') != FORMAT:
        raise CheckpointError(f"{sidecar} is not an lhg_ros listener checkpoint "
                              f"(format {info.get('format')!r})")
    version = info.get('format_version')
    if version != FORMAT_VERSION:
        raise CheckpointError(f'{sidecar} has format version {version}; this lhg_ros '
                              f'({__version__}) reads version {FORMAT_VERSION}')
    for key in ('config', 'normalization'):
        if key not in info:
            raise CheckpointError(f'{sidecar} lacks {key!r}')
    return info


def read_model_config(path: str | Path) -> tuple[ModelConfig, dict]:
    """(model config, checked sidecar) of a checkpoint, without loading its weights."""
    info = read_sidecar(path)
    try:
        return ModelConfig.from_dict(info['config']), info
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f'{checkpoint_paths(path)[1]}: {exc}') from None


def load_checkpoint(path: str | Path, device: 'str | torch.device' = 'cpu'
                    ) -> tuple['ListenerModel', dict]:
    """(model in eval mode, sidecar dict); ``CheckpointError`` on any mismatch."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from lhg_ros.network.lstm_transformer import ListenerModel

    config, info = read_model_config(path)
    weights, sidecar = checkpoint_paths(path)
    try:
        tensors = load_file(str(weights), device=str(device))
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f'{weights} cannot be read: {exc}') from None
    model = ListenerModel(config).to(device)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = [f'{k} {tuple(tensors[k].shape)} != {tuple(v.shape)}'
             for k, v in expected.items() if k in tensors and tensors[k].shape != v.shape]
    if missing or unexpected or wrong:
        details = '; '.join(filter(None, [
            missing and f'missing {", ".join(missing[:5])}',
            unexpected and f'unexpected {", ".join(unexpected[:5])}',
            wrong and f'shape mismatch {", ".join(wrong[:5])}']))
        raise CheckpointError(f'{weights} does not match its config in {sidecar.name}: '
                              f'{details}')
    bad = [k for k, v in tensors.items() if not torch.isfinite(v).all()]
    if bad:
        raise CheckpointError(f'{weights} holds non-finite weights ({", ".join(bad[:3])}); '
                              'the training run diverged: use an earlier checkpoint')
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in tensors.items()})
    norm = info['normalization']
    try:
        audio, motion = (FeatureStats.from_dict(norm[k]) for k in ('audio', 'motion'))
    except (KeyError, ValueError) as exc:
        raise CheckpointError(f'{sidecar}: bad normalization statistics: {exc}') from None
    if not (np.allclose(audio.mean, model.audio_mean.cpu().numpy(), atol=1e-5) and
            np.allclose(motion.mean, model.motion_mean.cpu().numpy(), atol=1e-5)):
        raise CheckpointError(f'{sidecar}: normalization statistics disagree with the weights')
    return model.eval(), info


def random_checkpoint(path: str | Path, config: ModelConfig, seed: int = 0) -> Path:
    """An untrained checkpoint (random weights, identity normalisation) for tests, benchmarks
    and export checks; never for a robot."""
    import torch

    from lhg_ros.network.lstm_transformer import ListenerModel

    torch.manual_seed(seed)
    model = ListenerModel(config)
    return save_checkpoint(model, path, metadata={'trained': False})
