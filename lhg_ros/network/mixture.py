"""The listener's next frames as a distribution: a mixture of Gaussians, sampled at run time.

Why a distribution. Where the timing of a nod is uncertain, the single pose that minimises an
average loss is the average of the nods that might happen: a small bump, or a still head
(regression to the mean; MoGlow, Henter et al. 2020). A mixture keeps each possible course of
the head as a component with its own weight, so sampling one gives a whole nod, at one time,
of its full size. Each component covers the next F frames at once (the model's
``predicted_frames``: 12, 0.48 s, for the presets; mean and spread per frame and degree of
freedom), so a sampled course is one coherent movement, not F independent draws; a step uses
its first frames.

Layout of one step's prediction (K, 1 + 2 F P), K components: ``[logit, means (F P), spreads
(F P)]``, means in the model's pose units (radians, metres), spreads as standard deviations in
the same units. The graph computes means and spreads; choosing a component and drawing from it
happens here, outside the graph (numpy, no torch), identically for every backend.

``expressiveness`` (the sampling temperature) scales both steps: the component weights are
sharpened as ``softmax(logit / expressiveness)`` and the spread is multiplied by it; 0 takes
the most likely component's mean (the most likely motion), 1 samples the distribution the
model learned, above 1 exaggerates it. One normal draw per degree of freedom serves all F
frames: what varies is the whole course, not white noise per frame.
"""

import numpy as np

# The least spread of a component, per degree of freedom (pitch, yaw, roll in rad; x, y, z in
# m): 0.02 deg and 0.2 mm, below what a camera or a motor resolves. A spread relative to the
# data alone collapses where the training listeners never moved (the starter corpus's head
# positions): a few micrometres, whose likelihood then dominates the gradient, and the
# cheapest way to lower it is a network whose output never changes (model card).
MIN_SPREAD = (3.5e-4, 3.5e-4, 3.5e-4, 2e-4, 2e-4, 2e-4)


def split(prediction: np.ndarray, frames: int, dof: int):
    """(logits (K,), means (K, F, P), spreads (K, F, P)) of one step's prediction (K, 1 + 2FP)."""
    prediction = np.asarray(prediction, dtype=np.float64)
    n = frames * dof
    return (prediction[:, 0], prediction[:, 1:1 + n].reshape(-1, frames, dof),
            prediction[:, 1 + n:1 + 2 * n].reshape(-1, frames, dof))


def sample(prediction: np.ndarray, frames: int, dof: int, expressiveness: float,
           rng: np.random.Generator) -> np.ndarray:
    """Poses (F, P) drawn from one step's mixture at temperature ``expressiveness``."""
    logits, means, spreads = split(prediction, frames, dof)
    if expressiveness <= 0:
        return means[int(np.argmax(logits))]
    weights = np.exp((logits - logits.max()) / expressiveness)
    k = int(rng.choice(len(weights), p=weights / weights.sum()))
    return means[k] + expressiveness * spreads[k] * rng.standard_normal(dof)[None]


def mixture_parts(raw, anchor, keep, center, bound, scale, frames: int, dof: int,
                  change_scale=None, min_spread=None):
    """Torch: the network's raw head output (..., K (1 + 2FP)) -> (logits (..., K), means
    (..., K, F, P), spreads (..., K, F, P)).

    Means continue from ``anchor`` (..., P), the listener's pose the step starts from, with a
    leak toward ``center`` (the rest pose): frame k's mean is ``center + keep[k] * (anchor -
    center)`` plus a learned change, clamped to ``center +- bound``. Why: poses predicted from
    scratch each step ignored the model's own past early in training and jumped between
    samples (3-4 deg RMS of jitter in yaw and roll); plain changes from the anchor continue the
    motion but add up to a random walk (the head wandered 8-9 deg off rest within two minutes).
    The leak turns that walk into motion around rest, as a person's head is, and the model can
    learn to hold a pose against it.

    The change, and the spread, are in units of ``change_scale`` (F, P): how far the training
    listeners' heads moved k frames ahead (RMS), so that one unit of the network's output is a
    typical movement, and spreads are at least ``min_spread`` (P,) (:data:`MIN_SPREAD`, a
    buffer of the model's so that no step copies a constant to the device). Without it (older
    models) the change is ``bound * tanh`` and the spread in units of ``scale``, at least 1% of
    it: a unit of output then spans the whole range of the head (20-30 deg), and where the
    listeners never moved the spread shrank to nothing; both taught the network to keep its
    output still (a constant state: mixture weights and spreads that ignore the input)."""
    import torch

    k = raw.shape[-1] // (1 + 2 * frames * dof)
    raw = raw.unflatten(-1, (k, 1 + 2 * frames * dof))
    n = frames * dof
    logits = raw[..., 0]
    change = raw[..., 1:1 + n].unflatten(-1, (frames, dof))
    start = center + keep[:, None] * (anchor - center).unsqueeze(-2)  # (..., F, P)
    spread = torch.nn.functional.softplus(raw[..., 1 + n:].unflatten(-1, (frames, dof)))
    if change_scale is None:
        means = start.unsqueeze(-3) + bound * torch.tanh(change)
        spreads = scale * (spread + 0.01)
    else:
        means = start.unsqueeze(-3) + change_scale * change
        spreads = change_scale * spread + min_spread
    means = torch.maximum(torch.minimum(means, center + bound), center - bound)
    return logits, means, spreads


def flat(logits, means, spreads):
    """Torch: the step graph's layout (..., K, 1 + 2FP) of :func:`mixture_parts`' output."""
    import torch

    return torch.cat([logits.unsqueeze(-1), means.flatten(-2), spreads.flatten(-2)], dim=-1)


def negative_log_likelihood(logits, means, spreads, targets, mask):
    """Torch: per token, -log p(targets) under the mixture, in units of ``spreads``' scale.
    ``targets`` (..., F, P) and ``mask`` (..., F): frames without a target count for nothing."""
    import torch

    z = (targets.unsqueeze(-3) - means) / spreads
    per_frame = (-0.5 * z ** 2 - torch.log(spreads)).sum(-1)  # (..., K, F)
    per_frame = per_frame * mask.unsqueeze(-2).to(per_frame.dtype)
    log_weights = torch.log_softmax(logits, dim=-1)
    return -torch.logsumexp(log_weights + per_frame.sum(-1), dim=-1)


def sample_torch(logits, means, spreads, temperature: float, generator):
    """Torch: poses (..., F, P) drawn from each token's mixture (training's fed-back poses)."""
    import torch

    if temperature <= 0:
        index = logits.argmax(-1)
    else:
        probs = torch.softmax(logits / temperature, dim=-1)
        index = torch.multinomial(probs.reshape(-1, probs.shape[-1]), 1,
                                  generator=generator).view(probs.shape[:-1])
    pick = index[..., None, None, None].expand(*index.shape, 1, *means.shape[-2:])
    mean = means.gather(-3, pick).squeeze(-3)
    spread = spreads.gather(-3, pick).squeeze(-3)
    noise = torch.randn(*mean.shape[:-2], 1, mean.shape[-1], generator=generator)
    return mean + temperature * spread * noise.to(mean.device)
