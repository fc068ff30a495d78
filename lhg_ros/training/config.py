"""Training configuration: the recipe of the shipped starter model as defaults (what ``lhg-ros
train`` runs with no recipe: ``lhg_ros/models/starter/train.yaml`` repeats it), overridable from
a YAML/JSON file and the command line. Where it departs from the paper's (lr 5e-6, batch 32,
100 epochs over 21,536 segments on GPUs for days), it is to fit under an hour on two CPU
cores with a model of 1.6 M parameters."""

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

FINETUNE_MIN_STEPS = 200  # a listener's few minutes are a few dozen batches an epoch
# A third of training's: a listener's minutes adjust the model rather than overwrite it (on 4
# unseen listeners, bench/bench_finetune.py: 32% closer to them on average, 7% at 1e-3).
FINETUNE_LEARNING_RATE = 3e-4


@dataclass(frozen=True)
class TrainConfig:
    preset: str = 'compact'  # model preset (lhg_ros.network.config.PRESETS)
    model: dict = field(default_factory=dict)  # overrides of the preset's fields
    learning_rate: float = 1e-3  # AdamW (paper: 5e-6 for a 0.5 B model)
    weight_decay: float = 1e-2  # paper
    epochs: int = 12  # (paper: 100)
    # At least this many optimiser steps: more epochs where the data is small (0: ``epochs``
    # as they are). ``lhg-ros finetune`` asks for FINETUNE_MIN_STEPS unless given --epochs.
    min_steps: int = 0
    # Small batches: on two cores the number of updates, not their size, limits what the
    # network learns in an hour (the LSTMs run a segment's frames one after another whatever
    # the batch); 4 gives four times the updates of 16 in about the same time. (paper: 32)
    batch_size: int = 4
    huber_delta: float = 1.0  # Huber loss on normalised poses (models without a mixture)
    warmup_s: float = 1.0  # first second of a segment: no loss (paper)
    min_segment_s: float = 6.0  # paper: 6-11 s listener segments
    max_segment_s: float = 11.0
    valid_fraction: float = 0.1  # sessions, not segments (paper: train/valid 9:1)
    grad_clip: float = 1.0
    # Closed-loop robustness (see lhg_ros.training.trainer): share of steps whose listener
    # input is the model's own output (a sample of it, for a mixture model), reached after
    # feedback_ramp of the epochs; slow noise on the fed-back listener poses, in quarters of
    # the listeners' range (about their standard deviation).
    feedback: float = 0.5
    feedback_ramp: float = 0.3
    listener_noise: float = 0.05
    # Chance that a token's own motion is left out of R's input (autoregressive-input dropout,
    # MoGlow): the model has to find when to move in the speech, not in its own past.
    listener_dropout: float = 0.2
    # Weight of the loss on frame-to-frame pose changes (0: poses only, as in the paper).
    velocity_weight: float = 0.0
    # Closed-loop validation each epoch on at most this many minutes of validation sessions.
    validation_minutes: float = 6.0
    seed: int = 0
    device: str = 'cpu'
    workers: int = 2  # feature extraction processes
    listener: str = ''  # train only on segments where this person listens (fine-tuning)
    # Fine-tuning: the checkpoint it started from (the architecture is that checkpoint's;
    # ``preset`` and ``model`` are then empty).
    init_checkpoint: str = ''

    @classmethod
    def from_file(cls, path: str | Path, **overrides) -> 'TrainConfig':
        return cls.from_dict({**read_config_file(path), **overrides})

    @classmethod
    def from_dict(cls, data: dict) -> 'TrainConfig':
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f'unknown training config keys: {", ".join(unknown)}; known: '
                             + ', '.join(sorted(known)))
        return cls(**data)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def read_config_file(path: str | Path) -> dict:
    """The keys a YAML or JSON training config file sets (unchecked)."""
    path = Path(path)
    text = path.read_text()
    if path.suffix in ('.yaml', '.yml'):
        import yaml

        return yaml.safe_load(text) or {}
    return json.loads(text)
