"""The model's teacher-forced error: its next-frame prediction given the real listener's past,
what the training loss sees (lhg-ros eval --teacher-forced adds it to the report, labelled as
such)."""

import numpy as np

from lhg_ros.evaluation import measures
from lhg_ros.features.motion_features import batch_motion_features
from lhg_ros.training.trainer import build_examples, collate


def teacher_forced_errors(dataset, checkpoint, warmup_s: float = 1.0, style: str = '') -> dict:
    """Pose L1 of the model's next-frame prediction given the real listener's past, over the
    held-out listener segments: what the training loss sees, not what a robot does. A mixture
    model's prediction is its most likely motion (expressiveness 0); a model with styles is in
    ``style`` (its default when empty), as the closed-loop runs are."""
    import torch

    from lhg_ros.data.extract import load_features
    from lhg_ros.data.segments import listener_segments
    from lhg_ros.network import mixture
    from lhg_ros.network.checkpoint import load_checkpoint
    from lhg_ros.network.style import resolve_style

    model, info = load_checkpoint(checkpoint)
    c = model.config
    vector = (torch.as_tensor(resolve_style(style, info)[1])[None] if c.style_dim else None)
    warm = int(round(warmup_s * c.motion_rate))
    errors: dict[str, list] = {}
    for session_id in dataset.held_out:
        session = dataset.session(session_id)
        frames = len(load_features(dataset, session_id,
                                   next(iter(session.participants)))['poses'])
        examples = build_examples(dataset, listener_segments(session, frames), c)
        for example in examples:
            audio, speaker, poses, targets, mask = collate([example], c, warm)
            with torch.no_grad():
                predicted = model(audio, speaker, batch_motion_features(poses), None, vector)
                if c.mixtures:
                    predicted = mixture.sample_torch(*predicted, 0.0, None)
            keep = mask[0, :, 0]
            for key, value in measures.pose_errors(predicted[0, keep, 0].numpy(),
                                                   targets[0, keep, 0].numpy()).items():
                errors.setdefault(key, []).append(value)
    values = {k: float(np.mean(v)) for k, v in errors.items()}
    values['l1_deg'] = float(np.mean([values[f'l1_{a}_deg'] for a in measures.ANGLES]))
    return values
