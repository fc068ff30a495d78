"""The ONNX step model next to a checkpoint: where it lives, whether it is current, its I/O.

Torch-free, so that the runtime backends (ONNX Runtime, TensorRT) run without torch: the shipped
model comes with its ``.step.onnx``; only a missing or stale one needs torch to be exported.
"""

import hashlib
import os
from pathlib import Path

from lhg_ros.backends.errors import BackendError
from lhg_ros.network.checkpoint import WEIGHTS_DIGEST_KEY, checkpoint_paths

# Metadata key inside the ONNX file: the sha256 of the weights it was exported from, so that a
# copied or installed pair is recognised whatever the file times.


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def step_onnx_path(checkpoint: str | Path) -> Path:
    """``<name>.step.onnx`` beside ``<name>.safetensors``."""
    return checkpoint_paths(checkpoint)[0].with_suffix('.step.onnx')


def exported_from(onnx_path: Path) -> str | None:
    """The digest of the weights an ONNX file was exported from (None if unknown or the file
    cannot be read). Read with ``onnx`` where installed, else with ONNX Runtime."""
    try:
        import onnx
    except ImportError:
        onnx = None
    try:
        if onnx is not None:
            model = onnx.load(str(onnx_path), load_external_data=False)
            return next((p.value for p in model.metadata_props if p.key == WEIGHTS_DIGEST_KEY),
                        None)
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        session = ort.InferenceSession(str(onnx_path), sess_options=options,
                                       providers=['CPUExecutionProvider'])
        return session.get_modelmeta().custom_metadata_map.get(WEIGHTS_DIGEST_KEY)
    except Exception:  # noqa: BLE001 - an unreadable file is simply stale
        return None


def is_current(checkpoint: str | Path) -> bool:
    """Whether the ONNX step model beside a checkpoint was exported from its weights."""
    weights, _ = checkpoint_paths(checkpoint)
    onnx_path = step_onnx_path(checkpoint)
    return onnx_path.is_file() and exported_from(onnx_path) == file_digest(weights)


def onnx_for_checkpoint(checkpoint: str | Path, force: bool = False) -> Path:
    """The current ONNX step model of a checkpoint: the file beside it when it was exported from
    these weights, else exported now (which needs torch; without it, a message says how)."""
    weights, _ = checkpoint_paths(checkpoint)
    onnx_path = step_onnx_path(checkpoint)
    if not force and is_current(checkpoint):
        return onnx_path
    digest = file_digest(weights)
    why = ('re-export asked for' if force else
           f'{onnx_path.name} is missing' if not onnx_path.is_file() else
           f'{onnx_path.name} was exported from other weights')
    try:
        from lhg_ros.backends.onnx_export import export_step_onnx
    except ImportError as exc:
        raise BackendError(
            f'{why}, and exporting it needs torch and onnx ({exc}); run `lhg-ros export '
            f'--checkpoint {weights}` where the training extra is installed (pip install '
            f'"lhg_ros[train]") and put the .step.onnx next to the checkpoint') from None
    if not os.access(onnx_path.parent, os.W_OK):
        raise BackendError(f'{why}, and {onnx_path.parent} is not writable: export it with '
                           f'`lhg-ros export --checkpoint {weights}` into a writable copy')
    return export_step_onnx(checkpoint, onnx_path, digest)

