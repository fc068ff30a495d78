"""The model that ships with lhg_ros: a compact listener trained on the starter corpus (see
``starter/MODEL_CARD.md``), so a robot moves with the learned model from the first launch."""

from pathlib import Path

STARTER = Path(__file__).resolve().parent / 'starter' / 'listener.safetensors'


def starter_checkpoint() -> Path:
    """The shipped checkpoint (weights; its .json sidecar and .step.onnx lie beside it)."""
    return STARTER


def resolve_checkpoint(checkpoint: str | Path | None) -> Path:
    """``checkpoint``, or the shipped model when it is empty or 'starter'."""
    return Path(checkpoint) if checkpoint and str(checkpoint) != 'starter' else STARTER
