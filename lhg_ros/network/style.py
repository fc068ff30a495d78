"""Listener styles: who the robot listens like, as a vector the model is conditioned on.

A model with ``style_dim`` > 0 (lhg_ros.network.lstm_transformer) takes a style vector with
every step. Its style encoder makes one from a clip of a listener's own head motion (frame
embeddings averaged over the clip, as frame-level speaker embeddings are), trained jointly with
the model so that listeners who move alike land close together (as users do in the latent
vectors of Chung et al.). Training stores one vector per named style in the checkpoint's
sidecar (``styles``; the mean over the training listeners of that style, each from 60 s clips
of their motion, and ``average`` over all of them) and which one is the ``default_style``;
``lhg-ros adapt`` writes a style file from a person's recorded motion.

This module is torch-free (the node reads styles without torch): style files, and picking a
style by name or file for a checkpoint.

A style file (JSON)::

    {"format": "lhg_ros.style", "version": 1, "name": "alice",
     "style_space": "3f2a...",          # the model it belongs to (its style weights' digest)
     "vector": [0.12, -0.4, ...],       # style_dim numbers
     "temperature": 0.8,               # how freely the model samples in it (optional: 1)
     "source": "alice.mp4, 60.0 s of motion", "report": {...}}

A style is a vector and a sampling temperature: the vector says how the listener moves, the
temperature how much (the model's spread of motion, which a style vector alone moves too
little: lhg_ros.network.mixture). A named style's temperature is in the sidecar
(``style_temperatures``, 1 where absent), fitted so that the model in that style moves as its
listeners did (lhg_ros.evaluation.styles.fit_temperature); ``lhg-ros adapt`` fits a person's.
It multiplies the runtime's ``expressiveness``.

A style vector means something only to the model it was made with: a file made for another
model is refused with a message that says so.
"""

import json
from pathlib import Path

import numpy as np

FORMAT = 'lhg_ros.style'
VERSION = 1
AVERAGE = 'average'  # the mean of every training listener's style
# The style a model starts with when its training data named this style (else AVERAGE).
PREFERRED_DEFAULT = 'attentive'
# Clips the encoder sees: continuous motion is cut into pieces of this length (what training
# sees: listener segments of 6-11 s), each piece's own mean pose taken away.
PIECE_S = 10.0
TEMPERATURE_RANGE = (0.05, 3.0)  # a style's temperature outside this is refused


class StyleError(ValueError):
    """A style that cannot be used with this model; the message says what to do."""


def style_features(poses: np.ndarray, rate: float, piece_s: float = PIECE_S) -> np.ndarray:
    """What the style encoder reads of a listener's poses (T, 6): in pieces of ``piece_s``,
    each piece's pose less its mean, with its causal first and second differences (the motion
    features every other part of the model reads): (T, 18) float32.
    Training gives each listener segment as a piece of its own."""
    from lhg_ros.features.motion_features import motion_features

    poses = np.asarray(poses, dtype=np.float64)
    size = max(1, int(round(piece_s * rate)) if np.isfinite(piece_s) else len(poses))
    parts = [motion_features(piece - piece.mean(axis=0))
             for piece in (poses[start:start + size] for start in range(0, len(poses), size))]
    return np.concatenate(parts) if parts else np.zeros((0, 18), np.float32)


def style_names(info: dict) -> list[str]:
    """The named styles a checkpoint ships, in order."""
    return list((info.get('styles') or {}).keys())


def default_style(info: dict) -> str:
    return info.get('default_style') or (style_names(info) or [''])[0]


def write_style(path: str | Path, vector, name: str, info: dict, source: str = '',
                report: dict | None = None, temperature: float = 1.0) -> Path:
    """Write a style file for the model whose sidecar is ``info``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({'format': FORMAT, 'version': VERSION, 'name': name,
                                'style_space': info.get('style_space', ''),
                                'vector': [float(v) for v in np.asarray(vector).ravel()],
                                'temperature': float(temperature),
                                'source': source, 'report': report or {}}, indent=2))
    return path


def _checked_temperature(value, where: str) -> float:
    try:
        temperature = float(value)
    except (TypeError, ValueError):
        temperature = float('nan')
    low, high = TEMPERATURE_RANGE
    if not low <= temperature <= high:
        raise StyleError(f'{where}: temperature must be a number in {low:g}-{high:g}, got '
                         f'{value!r}')
    return temperature


def read_style(path: str | Path, info: dict) -> tuple[str, np.ndarray]:
    """(name, vector) of a style file, checked against the model whose sidecar is ``info``."""
    name, vector, _ = _read_style_file(path, info)
    return name, vector


def _read_style_file(path: str | Path, info: dict) -> tuple[str, np.ndarray, float]:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise StyleError(f'style file {path} cannot be read ({exc}); make one with lhg-ros '
                         'adapt') from None
    if not isinstance(data, dict) or data.get('format') != FORMAT:
        raise StyleError(f"{path} is not a style file (no 'format: {FORMAT}'); make one with "
                         'lhg-ros adapt')
    vector = np.asarray(data.get('vector', []), dtype=np.float32)
    dim = int(info.get('config', {}).get('style_dim', 0))
    if data.get('style_space') != info.get('style_space'):
        raise StyleError(f'{path} was made for another model (style space '
                         f"{data.get('style_space')!r}, this model's is "
                         f"{info.get('style_space')!r}); adapt it again for this model with "
                         'lhg-ros adapt')
    if vector.shape != (dim,) or not np.isfinite(vector).all():
        raise StyleError(f'{path}: its vector must be {dim} finite numbers')
    temperature = _checked_temperature(data.get('temperature', 1.0), str(path))
    return str(data.get('name') or path.stem), vector, temperature


def resolve_style(spec: str, info: dict) -> tuple[str, np.ndarray]:
    """(name, vector) of ``spec`` for the model whose sidecar is ``info``: empty for the
    model's default (the zero vector for a model that names none), a shipped style's name, or
    the path of a style file."""
    name, vector, _ = resolve_style_temperature(spec, info)
    return name, vector


def resolve_style_temperature(spec: str, info: dict) -> tuple[str, np.ndarray, float]:
    """(name, vector, temperature) of ``spec``, as :func:`resolve_style`."""
    dim = int(info.get('config', {}).get('style_dim', 0))
    if not dim:
        if spec:
            raise StyleError(f"this model has no styles (it was trained without), so style "
                             f"'{spec}' cannot be used; leave style empty")
        return '', np.zeros(0, np.float32), 1.0
    styles = info.get('styles') or {}
    spec = str(spec or '').strip() or default_style(info)
    if not spec:  # a model with no named styles (untrained): the zero style
        return '', np.zeros(dim, np.float32), 1.0
    if spec in styles:
        temperature = (info.get('style_temperatures') or {}).get(spec, 1.0)
        return (spec, np.asarray(styles[spec], dtype=np.float32),
                _checked_temperature(temperature, f"the model's style {spec}"))
    if spec.endswith('.json') or '/' in spec or Path(spec).is_file():
        if not Path(spec).is_file():
            raise StyleError(f'style file {spec} does not exist; the shipped styles: '
                             f"{', '.join(styles) or 'none'}")
        return _read_style_file(spec, info)
    raise StyleError(f"unknown style '{spec}'; the shipped styles: "
                     f"{', '.join(styles) or 'none'}, or the path of a style file "
                     '(lhg-ros adapt makes one)')


def read_tensors(path: str | Path, prefixes: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The tensors of a .safetensors file whose names start with one of ``prefixes``, as
    float32 numpy arrays, without torch or the safetensors package (the format: an 8-byte
    little-endian header length, a JSON header of name -> dtype, shape, byte offsets, then the
    data)."""
    dtypes = {'F16': np.float16, 'F32': np.float32, 'F64': np.float64, 'BF16': None}
    with open(path, 'rb') as f:
        size = int.from_bytes(f.read(8), 'little')
        header = json.loads(f.read(size))
        data = f.read()
    out = {}
    for name, entry in header.items():
        if name == '__metadata__' or not name.startswith(prefixes):
            continue
        dtype = dtypes.get(entry['dtype'])
        if dtype is None:
            raise StyleError(f'{path}: tensor {name} is {entry["dtype"]}; the style encoder '
                             'reads float16/32/64 weights')
        start, end = entry['data_offsets']
        out[name] = np.frombuffer(data[start:end], dtype=dtype).reshape(entry['shape']).astype(
            np.float32)
    return out


class StyleEncoder:
    """The checkpoint's style encoder (lhg_ros.network.lstm_transformer.StyleEncoder) in numpy,
    so that styles are made from a person's motion where torch is not installed (a robot)."""

    def __init__(self, checkpoint: str | Path):
        from lhg_ros.network.checkpoint import checkpoint_paths, read_model_config

        config, self.info = read_model_config(checkpoint)
        if not config.style_dim:
            raise StyleError(f'{checkpoint} has no styles (it was trained without): it cannot '
                             'be adapted to a listener; use lhg-ros finetune')
        weights = read_tensors(checkpoint_paths(checkpoint)[0], ('style_encoder.',))
        self.rate = config.motion_rate
        self.std = np.asarray(self.info['normalization']['motion']['std'], np.float32)
        try:
            self.w1 = weights['style_encoder.frames.0.weight']  # (H, 18, K)
            self.b1 = weights['style_encoder.frames.0.bias']
            self.w2 = weights['style_encoder.frames.2.weight'][:, :, 0]  # (H, H)
            self.b2 = weights['style_encoder.frames.2.bias']
            self.w3 = weights['style_encoder.project.weight']  # (S, H)
            self.b3 = weights['style_encoder.project.bias']
        except KeyError as exc:
            raise StyleError(f'{checkpoint}: no style encoder weights ({exc})') from None

    def __call__(self, features: np.ndarray) -> np.ndarray:
        """The style (style_dim,) of a clip's :func:`style_features` (T, 18); T at least the
        encoder's window (9 frames)."""
        from numpy.lib.stride_tricks import sliding_window_view

        x = (np.asarray(features, np.float32) / self.std).T  # (18, T)
        kernel = self.w1.shape[2]
        if x.shape[1] < kernel:
            raise StyleError(f'a clip needs at least {kernel} frames of motion')
        windows = sliding_window_view(x, kernel, axis=1)  # (18, T - K + 1, K)
        h = _gelu(np.einsum('oik,itk->ot', self.w1, windows, optimize=True) + self.b1[:, None])
        h = _gelu(self.w2 @ h + self.b2[:, None])
        return self.w3 @ h.mean(axis=1) + self.b3


def _gelu(x: np.ndarray) -> np.ndarray:
    """GELU as torch computes it by default (with the error function)."""
    from math import erf, sqrt

    return 0.5 * x * (1.0 + np.vectorize(erf, otypes=[np.float64])(x / sqrt(2.0))).astype(
        np.float32)
