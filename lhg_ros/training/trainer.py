"""Training on listener segments, validated in closed loop, and listener-specific fine-tuning.

Each motion token t of a segment predicts the listener's next poses (three, or for a mixture
model its ``horizon_s``); the loss covers them all, from ``warmup_s`` on (the first second only
warms the model up, as in the paper). AdamW with cosine annealing over all steps. Checkpoints
are the inference format (lhg_ros.network.checkpoint) with the feature normalisation fitted on
the training sessions; ``trainer_state.pt`` beside them makes ``resume`` continue exactly.

Why a model trained only with teacher forcing drifted, and what we do about it. In use the
model feeds on its own output; with teacher forcing it only ever saw the real listener's
motion as input, so its small errors compound in closed loop (exposure bias), and because it
predicted offsets from the current pose those errors added up without bound (pitch reached
hundreds of degrees). Three remedies, chosen because each is cheap and they address the two
causes separately:

1. Bounded poses (lhg_ros.network.lstm_transformer): the model predicts a pose within the training
   listeners' range around their mean, so nothing can add up and no output leaves that range.
2. Parallel scheduled sampling (Bengio et al. 2015; Duckworth et al. 2019): each batch is run
   once without gradients, and for a share ``feedback`` of the steps (ramped up over
   ``feedback_ramp`` of training) the listener input is replaced by the model's own
   predictions, arranged exactly as the runtime feeds them back (each step's three frames
   from the previous step's last token). The model thus learns from inputs like its own.
3. Slow noise on the fed-back listener poses (``listener_noise``, in standard deviations,
   changing over half a second), so it cannot lean on the exact values of its own past.
   White noise would not do: its frame-to-frame differences swamp the velocity features, and
   a model trained on them meets clean inputs in closed loop.

Short differentiable rollouts would address the same as (2) at several times the cost per
batch.

What made the listener expressive and still autoregressive (issue [1/6]). A model fed its own
poses and their differences, deterministic and trained on an average loss, fell into
oscillations a few steps after the warm-up, and one fed nothing of its own motion (the
previous starter model, ``listener_input: none``) was stable but barely moved: where the
timing of a nod is uncertain, the best single guess is the average of the possible nods, a
small bump. The presets now predict a mixture of Gaussians over the next 0.48 s
(lhg_ros.network.mixture), trained by its negative log-likelihood, with means that start from
the listener's own pose; the runtime samples it and feeds the sample back. Scheduled sampling
(2) then feeds back *samples*, as the runtime does, so the model learns to continue and to
come back from motion like its own, and the bounded range (1) still holds for every sample.

Why the first mixture model did not listen, measured: its R stack's output hardly changed over
time (a standard deviation of 0.01 against a magnitude of 0.8), so its mixture weights were the
same for any input and its likelihood on held-out sessions was the same with the real speech as
with another session's (to 0.002 nats). Three causes, each fixed: (a) the spreads of degrees of
freedom the listeners never moved shrank to a few micrometres, and their likelihood carried
most of the gradient (about 45 of its norm of 65 on a held-out batch, pitch means 35), which
taught the network to keep its output constant (fixed: a least spread,
lhg_ros.network.mixture.MIN_SPREAD, and changes in units of the listeners' own movement); (b)
over one step (120 ms) the next frames are the pose so far plus a little whatever is said, so
the likelihood could not tell listening from not (fixed: the mixture covers 0.48 s,
``horizon_s``); (c) 840 updates in an hour were too few for the network to learn more than to
continue its own pose (fixed: batches of 4, 4,104 updates). Two cheap aids beside: R hears the
speech directly (``listener_hears``) and a fifth of the tokens do not see their own motion
(``listener_dropout``, MoGlow's autoregressive-input dropout).

Every epoch the model is run in closed loop on the validation sessions, whole (minutes),
through the same runtime and ``step()`` the node uses (warm-up with the real listener for
``warmup_s``, as in the paper); those metrics go to ``log.csv`` beside the losses, and the
checkpoint with the best closed-loop score is kept as ``best``.

Several GPUs or machines: start the same command with ``torchrun`` (DistributedDataParallel;
gloo on CPU, NCCL on CUDA); each process trains on its share of each batch and rank 0 writes.
"""

import csv
import dataclasses
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lhg_ros.data.extract import extract_dataset, load_features
from lhg_ros.data.manifest import Dataset
from lhg_ros.data.segments import Segment, listener_segments, split_sessions
from lhg_ros.evaluation.closed_loop import selection_score
from lhg_ros.evaluation.offline import frame_flags
from lhg_ros.features.motion_features import (
    POSE_DIM,
    SlowMeanRemover,
    batch_motion_features,
    motion_features,
)
from lhg_ros.features.normalization import StatsAccumulator
from lhg_ros.network import mixture
from lhg_ros.network.checkpoint import load_checkpoint, save_checkpoint
from lhg_ros.network.config import ModelConfig, preset
from lhg_ros.network.lstm_transformer import ListenerModel
from lhg_ros.network.style import AVERAGE, PREFERRED_DEFAULT, style_features
from lhg_ros.rates import motion_stride
from lhg_ros.training.config import TrainConfig


@dataclass
class Example:
    audio: np.ndarray  # (A T, audio_input_dim): features (+ voice activity), A rows a frame
    speaker: np.ndarray  # (T, 18) at the model's motion rate
    listener: np.ndarray  # (T, 18)
    poses: np.ndarray  # (T, 6) the listener's poses (targets: t+1 .. t+H)
    speaker_poses: np.ndarray  # (T, 6) the speaker's poses
    person: str = ''  # who listens (the manifest's person)
    style_features: np.ndarray | None = None  # what the style encoder reads of this segment


def model_inputs(features: dict, config: ModelConfig) -> dict:
    """One participant's extracted features at the model's rates: audio rows with the voice
    activity column when the model takes one (per motion frame, as the runtime gives it)."""
    every = motion_stride(config.motion_rate)
    poses = np.asarray(features['poses'])[::every]
    rows = config.audio_per_motion
    frames = min(len(poses), len(features['audio']) // rows)
    audio = np.asarray(features['audio'][:frames * rows], dtype=np.float32)
    if config.voice_activity:
        speaking = features.get('speaking')
        if speaking is None or len(speaking) == 0:
            raise ValueError('this model takes voice activity, but the extracted features '
                             'have none (extract with VAD on)')
        flags = np.repeat(frame_flags(speaking, frames, rows), rows).astype(np.float32)
        audio = np.concatenate([audio, flags[:, None]], axis=1)
    poses = np.asarray(poses[:frames], dtype=np.float64)
    seen = poses
    if config.speaker_highpass_s > 0:  # (used when this participant is the speaker)
        seen = SlowMeanRemover(config.speaker_highpass_s, config.motion_rate).update(poses)
    return {'audio': audio, 'poses': poses, 'motion': motion_features(seen)}


def rest_pose(poses: np.ndarray, rest_frames: int) -> np.ndarray:
    """A listener's resting pose: the mean of the first ``rest_frames`` (the warm-up)."""
    return np.asarray(poses[:max(rest_frames, 1)], dtype=np.float64).mean(axis=0)


def build_examples(dataset: Dataset, segments: list[Segment], config: ModelConfig,
                   warmup_s: float = 1.0) -> list[Example]:
    """Examples of ``segments`` at the model's rates; for a ``relative_to_rest`` model the
    listener's poses are taken relative to its pose in the segment's warm-up."""
    cache: dict = {}
    rest_frames = int(round(warmup_s * config.motion_rate))

    def features(session, who):
        key = (session, who)
        if key not in cache:
            cache[key] = model_inputs(load_features(dataset, session, who), config)
        return cache[key]

    every = motion_stride(config.motion_rate)
    rows_per_frame = config.audio_per_motion
    examples = []
    for seg in segments:
        speaker = features(seg.session, seg.speaker)
        listener = features(seg.session, seg.listener)
        first = -(-seg.start // every)
        frames = slice(first, (seg.start + seg.frames) // every)
        rows = slice(frames.start * rows_per_frame, frames.stop * rows_per_frame)
        if (rows.stop > len(speaker['audio']) or frames.stop > len(listener['poses'])
                or frames.stop > len(speaker['poses'])):
            continue  # the end of a recording shorter than its floor annotation
        poses = listener['poses'][frames]
        if config.relative_to_rest:
            poses = poses - rest_pose(poses, rest_frames)
        person = dataset.session(seg.session).participants[seg.listener].person
        example = Example(speaker['audio'][rows], speaker['motion'][frames],
                          motion_features(poses), poses, speaker['poses'][frames], person,
                          style_features(poses, config.motion_rate, piece_s=math.inf))
        if all(np.isfinite(a).all() for a in (example.audio, example.speaker,
                                              example.listener)):
            examples.append(example)
    return examples


class StyleClips:
    """Clips of each listener's own motion for the style encoder: for a segment, others of the
    same person (never the segment itself, unless the person has no other), 1 to
    ``MAX_PIECES`` of them (about 6 to 66 s), so the style learnt is the person's, not the
    segment's, and the encoder learns to read short clips as well as long ones."""

    MAX_PIECES = 6

    def __init__(self, examples: list[Example]):
        self.by_person: dict[str, list[Example]] = {}
        for example in examples:
            self.by_person.setdefault(example.person, []).append(example)

    def pick(self, example: Example, rng, pieces: int | None = None) -> np.ndarray:
        pool = [e for e in self.by_person.get(example.person, []) if e is not example]
        pool = pool or [example]
        n = min(len(pool), pieces or int(rng.integers(1, self.MAX_PIECES + 1)))
        chosen = rng.choice(len(pool), n, replace=False)
        return np.concatenate([pool[i].style_features for i in chosen])

    def person_clips(self, person: str, seconds: float, rate: float, rng, count: int
                     ) -> list[np.ndarray]:
        """``count`` clips of about ``seconds`` of ``person``'s motion (segments in a random
        order, whole)."""
        pool = self.by_person[person]
        clips = []
        for _ in range(count):
            clip, total = [], 0.0
            for i in rng.permutation(len(pool)):
                clip.append(pool[i].style_features)
                total += len(pool[i].style_features) / rate
                if total >= seconds:
                    break
            clips.append(np.concatenate(clip))
        return clips


def encode_clips(model: ListenerModel, clips: list[np.ndarray]) -> torch.Tensor:
    """Styles (B, style_dim) of clips of style features (lhg_ros.network.style.style_features)."""
    core = model.module if hasattr(model, 'module') else model
    device = next(core.parameters()).device
    longest = max(len(c) for c in clips)
    padded = torch.zeros(len(clips), longest, clips[0].shape[1])
    for i, clip in enumerate(clips):
        padded[i, :len(clip)] = torch.from_numpy(clip)
    lengths = torch.tensor([len(c) for c in clips])
    return core.encode_style(padded.to(device), lengths.to(device))


@torch.no_grad()
def named_styles(model: ListenerModel, clips: StyleClips, styles_of: dict[str, str],
                 rate: float, seconds: float = 60.0, per_person: int = 4, seed: int = 0,
                 person: str = '') -> tuple[dict[str, list[float]], str]:
    """(name -> style vector, default name): each training listener's style from
    ``per_person`` clips of ``seconds`` of their motion, averaged; then per named style
    (``styles_of``: person -> style, from the manifest) the mean over its listeners, and
    ``average`` over everyone. The default is 'attentive' where the data has it, else
    'average'. Fine-tuning to ``person`` (the only listener then): their style alone, named
    after them."""
    was_training = model.training
    model.eval()
    rng = np.random.default_rng(seed)
    people = {}
    for who in sorted(clips.by_person):
        vectors = encode_clips(model, clips.person_clips(who, seconds, rate, rng, per_person))
        people[who] = vectors.mean(0).cpu().numpy()
    model.train(was_training)
    if person in people:
        return {person: people[person].tolist()}, person
    grouped: dict[str, list] = {}
    for who, vector in people.items():
        if styles_of.get(who):
            grouped.setdefault(styles_of[who], []).append(vector)
    styles = {name: np.mean(vectors, axis=0).tolist() for name, vectors in sorted(grouped.items())}
    styles[AVERAGE] = np.mean(list(people.values()), axis=0).tolist()
    return styles, (PREFERRED_DEFAULT if PREFERRED_DEFAULT in styles else AVERAGE)


def listener_styles_of(dataset: Dataset) -> dict[str, str]:
    """person -> the style the manifest names for them (where it does)."""
    return {p.person: p.style for s in dataset.sessions for p in s.participants.values()
            if p.style}


FEW_STEPS = 200  # optimiser steps below which a run is warned that it will learn little
MIN_POSE_BOUND = 1e-3  # rad or m: 0.06 deg, 1 mm
MIN_CHANGE_SCALE = 1e-4  # rad or m: a degree of freedom the listeners never moved
HORIZON_STATS = 50  # frames ahead the movement statistics cover (2 s at 25 Hz)


def fit_normalization(examples: list[Example]) -> dict:
    """Feature statistics, the listener's mean pose and pose bound (the largest distance from
    the mean pose seen in training, with a 25% margin; at least half the listeners' standard
    deviation and 1e-3) and the speaker's mean pose."""
    audio, motion = StatsAccumulator(examples[0].audio.shape[1]), StatsAccumulator(
        examples[0].speaker.shape[1])
    speaker_sum, speaker_count = np.zeros(POSE_DIM), 0
    for ex in examples:
        audio.add(ex.audio)
        motion.add(ex.speaker)
        motion.add(ex.listener)
        speaker_sum += ex.speaker_poses.sum(axis=0)
        speaker_count += len(ex.speaker_poses)
    audio_stats, motion_stats = audio.stats(), motion.stats()
    listener = np.concatenate([ex.poses for ex in examples])
    moved = np.zeros((HORIZON_STATS, POSE_DIM))
    counted = np.zeros(HORIZON_STATS)
    for ex in examples:
        for k in range(1, min(HORIZON_STATS, len(ex.poses) - 1) + 1):
            moved[k - 1] += ((ex.poses[k:] - ex.poses[:-k]) ** 2).sum(axis=0)
            counted[k - 1] += len(ex.poses) - k
    change_scale = np.maximum(np.sqrt(moved / np.maximum(counted, 1)[:, None]),
                              MIN_CHANGE_SCALE)
    listener_mean = listener.mean(axis=0)
    reach = np.abs(listener - listener_mean).max(axis=0)
    # The listeners' own spread, not the motion statistics (those pool the speakers' poses,
    # whose camera distance is no listener motion): a listener who never moves in x keeps a
    # bound of a millimetre there, not of decimetres.
    return {'audio': audio_stats, 'motion': motion_stats, 'pose_center': listener_mean,
            'pose_bound': np.maximum(1.25 * reach, np.maximum(0.5 * listener.std(axis=0),
                                                              MIN_POSE_BOUND)),
            'speaker_neutral': speaker_sum / max(speaker_count, 1),
            'change_scale': change_scale}


def collate(batch: list[Example], config: ModelConfig, warmup_frames: int):
    """Pad to the longest segment; the mask marks (token, k) pairs with a real target (k up
    to the model's ``predicted_frames``)."""
    h = config.predicted_frames
    longest = max(len(ex.speaker) for ex in batch)
    n = len(batch)
    audio = torch.zeros(n, longest * config.audio_per_motion, config.audio_input_dim)
    speaker = torch.zeros(n, longest, config.motion_dim)
    poses = torch.zeros(n, longest, POSE_DIM)
    targets = torch.zeros(n, longest, h, POSE_DIM)
    mask = torch.zeros(n, longest, h, dtype=torch.bool)
    for i, ex in enumerate(batch):
        t = len(ex.speaker)
        audio[i, :len(ex.audio)] = torch.from_numpy(ex.audio)
        speaker[i, :t] = torch.from_numpy(ex.speaker)
        poses[i, :t] = torch.from_numpy(ex.poses.astype(np.float32))
        poses[i, t:] = poses[i, t - 1]
        for k in range(min(h, t - 1)):
            targets[i, :t - k - 1, k] = poses[i, k + 1:t]
            mask[i, warmup_frames:t - k - 1, k] = True
    return audio, speaker, poses, targets, mask


def fed_back(predicted: torch.Tensor, truth: torch.Tensor, share: float, phase: int,
             warmup_frames: int, generator: torch.Generator) -> torch.Tensor:
    """The listener poses (B, T, 6) the runtime would feed back: frame s of a step that
    starts at frame b (steps start at ``phase`` mod F) comes from token b - 1's prediction
    ``s - b`` frames ahead. A random ``share`` of the steps after the warm-up use them; the
    others, and the frames before any prediction exists, keep the truth."""
    b, t, f, _ = predicted.shape
    frames = torch.arange(t)
    offset = (frames - phase) % f  # position within its step
    source = frames - offset - 1  # the token whose prediction covers this frame
    usable = (source >= 0) & (frames >= warmup_frames)
    own = predicted[:, source.clamp(min=0), offset]  # (B, T, 6)
    step_index = (frames - phase) // f + 1
    chosen = torch.rand(b, int(step_index.max()) + 1, generator=generator) < share
    use = chosen[:, step_index] & usable[None]
    return torch.where(use[..., None], own, truth)


def smooth_noise(shape, scale: float, generator: torch.Generator, frames: int = 13
                 ) -> torch.Tensor:
    """Noise of standard deviation ``scale`` that changes over about ``frames`` frames (a box
    filter over white noise): an error like a model's own, slow and correlated, that does not
    swamp the velocity features the way white noise would."""
    b, t, d = shape
    white = torch.randn(b * d, 1, t + frames - 1, generator=generator)
    smooth = torch.nn.functional.avg_pool1d(white, frames, stride=1) * frames ** 0.5
    return scale * smooth.view(b, d, t).transpose(1, 2)


def loss_on(model, batch, config, warmup_frames, delta, feedback: float = 0.0,
            noise: float = 0.0, generator: torch.Generator | None = None,
            velocity_weight: float = 0.0, dropout: float = 0.0,
            clips: list[np.ndarray] | None = None) -> torch.Tensor:
    """The loss of one batch. A mixture model (``config.mixtures``): the negative
    log-likelihood of the real next frames under the predicted mixture, per frame. Otherwise:
    Huber loss of the predicted poses (normalised units), plus ``velocity_weight`` times that
    of their frame-to-frame changes (from the listener's pose at t through the three
    predicted frames), which keeps steps from jittering against each other.

    With ``feedback`` > 0 the batch is first run without gradients and a share of the steps get
    the model's own output as their listener input (:func:`fed_back`): for a mixture model a
    sample of it, what the runtime feeds back. With ``dropout`` > 0 each token's own motion
    is left out of R's input with that chance (the means still continue from it): the
    autoregressive-input dropout of MoGlow (Henter et al. 2020), without which a model fed its
    own past learns to continue it and to ignore what it is meant to respond to."""
    audio, speaker, poses, targets, mask = collate(batch, config, warmup_frames)
    device = next(model.parameters()).device
    audio, speaker, poses = audio.to(device), speaker.to(device), poses.to(device)
    core = model.module if hasattr(model, 'module') else model
    std = core.motion_std[:POSE_DIM]
    listener_poses = poses
    style = encode_clips(model, clips) if config.style_dim and clips else None
    if config.listener_input == 'none':  # nothing is fed back: no second pass, no noise
        feedback = noise = dropout = 0.0
    if feedback > 0:
        generator = generator or torch.Generator().manual_seed(0)
        with torch.no_grad():
            first = model(audio, speaker, batch_motion_features(poses), None,
                          None if style is None else style.detach())
            if config.mixtures:
                first = mixture.sample_torch(*first, 1.0, generator)
            first = first[:, :, :config.frames_per_step]  # what the runtime feeds back
        phase = int(torch.randint(config.frames_per_step, (1,), generator=generator))
        listener_poses = fed_back(first, poses, feedback, phase, warmup_frames, generator)
    if noise > 0:  # in the listeners' own scale (the motion statistics pool the speakers')
        generator = generator or torch.Generator().manual_seed(0)
        listener_poses = listener_poses + smooth_noise(listener_poses.shape, noise, generator
                                                       ).to(device) * 0.25 * core.pose_bound
    hidden = None
    if dropout > 0:
        generator = generator or torch.Generator().manual_seed(0)
        hidden = (torch.rand(poses.shape[:2], generator=generator) < dropout).to(device)
    predicted = model(audio, speaker, batch_motion_features(listener_poses), hidden, style)
    targets, mask = targets.to(device), mask.to(device)
    if config.mixtures:
        nll = mixture.negative_log_likelihood(*predicted, targets, mask)
        return nll.sum() / mask.sum().clamp(min=1)

    def huber(error):
        return torch.nn.functional.huber_loss(error, torch.zeros_like(error), delta=delta,
                                              reduction='none').mean(-1)

    total = huber((predicted - targets) / std)
    if velocity_weight > 0:
        def changes(future):
            return torch.diff(torch.cat([listener_poses.unsqueeze(2), future], dim=2), dim=2)

        total = total + velocity_weight * huber((changes(predicted) - changes(targets)) / std)
    return (total * mask).sum() / mask.sum().clamp(min=1)


def _distributed() -> tuple[int, int]:
    world = int(os.environ.get('WORLD_SIZE', '1'))
    if world > 1 and not torch.distributed.is_initialized():
        backend = 'nccl' if torch.cuda.is_available() else 'gloo'
        torch.distributed.init_process_group(backend)
    rank = torch.distributed.get_rank() if world > 1 else 0
    return rank, world


def train(dataset: Dataset, out: str | Path, config: TrainConfig, resume: bool = False,
          init_checkpoint: str | Path | None = None, progress: bool = True,
          log=print) -> Path:
    """Train (or fine-tune from ``init_checkpoint``); returns the path of the checkpoint with
    the best closed-loop validation score (``best``), or of the last one when there is no
    validation session. ``resume`` continues from ``out/trainer_state.pt``."""
    from tqdm import tqdm

    out = Path(out)
    rank, world = _distributed()
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    if rank == 0:
        extract_dataset(dataset, workers=config.workers, progress=progress)
    if world > 1:
        torch.distributed.barrier()
    splits = split_sessions(dataset, config.valid_fraction, config.seed, config.listener)
    segments = {}
    for part in ('train', 'valid'):
        segments[part] = []
        for session_id in splits[part]:
            session = dataset.session(session_id)
            frames = len(load_features(dataset, session_id,
                                       next(iter(session.participants)))['poses'])
            found = listener_segments(session, frames, config.min_segment_s,
                                      config.max_segment_s)
            if config.listener:
                found = [s for s in found
                         if session.participants[s.listener].person == config.listener]
            segments[part] += found
    if not segments['train']:
        if config.listener:
            raise ValueError(_no_listener_segments(
                dataset, [s.id for s in dataset.sessions if s.id not in dataset.held_out],
                config))
        raise ValueError(f'no training segments: listener intervals must be at least '
                         f'{config.min_segment_s:.0f} s long (see the floor annotations)')

    speaker_neutral = None
    if init_checkpoint is not None:
        model, init_info = load_checkpoint(init_checkpoint)
        model_config = model.config
        speaker_neutral = init_info.get('speaker_neutral')
        # The architecture is the checkpoint's: record that, not a preset it never used.
        config = dataclasses.replace(config, preset='', model={},
                                     init_checkpoint=str(init_checkpoint))
    else:
        model_config = ModelConfig.from_dict({**preset(config.preset).to_dict(),
                                              **config.model})
        model = ListenerModel(model_config)
    examples = {part: build_examples(dataset, segs, model_config, config.warmup_s)
                for part, segs in segments.items()}
    if not examples['train']:
        raise ValueError('no usable training segment (each needs finite features of its whole '
                         'length)')
    if init_checkpoint is None:
        fitted = fit_normalization(examples['train'])
        model.set_normalization(fitted['audio'].mean, fitted['audio'].std,
                                fitted['motion'].mean, fitted['motion'].std,
                                fitted['pose_center'], fitted['pose_bound'],
                                fitted['change_scale'])
        speaker_neutral = fitted['speaker_neutral']
    validation = _validation_recordings(dataset, splits['valid'], config.validation_minutes)
    style_clips = StyleClips(examples['train'] + examples['valid'])
    training_clips = StyleClips(examples['train'])
    styles_of = listener_styles_of(dataset)
    device = torch.device(config.device)
    model.to(device).train()
    ddp = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate,
                                  weight_decay=config.weight_decay)
    per_epoch = max(1, math.ceil(len(examples['train']) / config.batch_size))
    if config.min_steps and config.epochs * per_epoch < config.min_steps and not resume:
        epochs = math.ceil(config.min_steps / per_epoch)
        if rank == 0:
            log(f"{len(examples['train'])} segments make {per_epoch} batches an epoch: "
                f'{epochs} epochs (not {config.epochs}) to take at least {config.min_steps} '
                'optimiser steps (--epochs sets them)')
        config = dataclasses.replace(config, epochs=epochs)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer,
                                                           T_max=config.epochs * per_epoch)
    if config.epochs * per_epoch < FEW_STEPS and rank == 0 and not resume:
        log(f"warning: this run takes {config.epochs * per_epoch} optimiser steps "
            f"({config.epochs} epochs of {per_epoch} batches: {len(examples['train'])} "
            f'segments in batches of {config.batch_size}), too few to learn much (the shipped '
            f'model took 4,104); train on more sessions, or raise --epochs or lower '
            f'--batch-size until epochs x segments / batch size is at least {FEW_STEPS}')
    warmup_frames = int(round(config.warmup_s * model_config.motion_rate))
    state_file, log_file = out / 'trainer_state.pt', out / 'log.csv'
    epoch, step, best = 0, 0, math.inf
    generator = torch.Generator().manual_seed(config.seed + rank)
    if resume and state_file.is_file():
        state = torch.load(state_file, weights_only=False)
        try:
            model.load_state_dict(state['model'])
        except RuntimeError:
            raise ValueError(f'the run in {out} has another model than this recipe makes; '
                             'resume it with its own recipe (lhg-ros train --resume takes '
                             'it from the run)') from None
        optimizer.load_state_dict(state['optimizer'])
        scheduler.load_state_dict(state['scheduler'])
        epoch, step, best = state['epoch'], state['step'], state.get('best', math.inf)
        rng = state['rng']
        generator.set_state(state['generator'])
        log(f'resumed at epoch {epoch}, step {step}')
    elif rank == 0:
        log_file.write_text(','.join(LOG_COLUMNS) + '\n')
    info = {'segments': {k: len(v) for k, v in examples.items()}, 'splits': splits,
            'train_config': config.to_dict()}
    while epoch < config.epochs:
        started = time.perf_counter()
        order = rng.permutation(len(examples['train']))
        # Style clips from a generator of their own, per epoch and process: each process draws
        # a different number of them, and the shared one must stay in step for the order.
        clip_rng = np.random.default_rng([config.seed, epoch, rank])
        losses = []
        share = config.feedback * min(1.0, epoch / max(config.feedback_ramp * config.epochs,
                                                       1e-9))
        bar = tqdm(range(per_epoch), desc=f'epoch {epoch + 1}/{config.epochs}',
                   disable=not progress or rank != 0, leave=False)
        for b in bar:
            chunk = order[b * config.batch_size:(b + 1) * config.batch_size]
            batch = [examples['train'][i] for i in chunk[rank::world]] or \
                [examples['train'][chunk[0]]]
            clips = ([style_clips.pick(example, clip_rng) for example in batch]
                     if model_config.style_dim else None)
            loss = loss_on(ddp, batch, model_config, warmup_frames, config.huber_delta,
                           share, config.listener_noise, generator, config.velocity_weight,
                           config.listener_dropout, clips)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            scheduler.step()
            step += 1
            losses.append(loss.item())
            bar.set_postfix(loss=f'{loss.item():.4f}')
        epoch += 1
        valid = evaluate_loss(model, examples['valid'], model_config, warmup_frames,
                              config, style_clips) if examples['valid'] else float('nan')
        if rank != 0:
            continue
        metadata = {**info, 'epoch': epoch, 'step': step}
        styles, default = (named_styles(model, training_clips, styles_of,
                                        model_config.motion_rate, seed=config.seed,
                                        person=config.listener)
                           if model_config.style_dim else ({}, ''))
        closed = closed_loop_validation(model, validation, speaker_neutral, metadata,
                                        f'epoch {epoch}: closed loop' if progress else '',
                                        styles, default)
        score = selection_score(closed) if closed else math.nan
        with open(log_file, 'a', newline='') as f:
            csv.writer(f).writerow([epoch, step, f'{np.mean(losses):.6f}', f'{valid:.6f}',
                                    *(f"{closed.get(k, math.nan):.4f}"
                                      for k in CLOSED_LOOP_COLUMNS),
                                    f'{score:.4f}', f'{scheduler.get_last_lr()[0]:.3e}',
                                    f'{time.perf_counter() - started:.2f}'])
        save_checkpoint(model.eval(), out / 'last', metadata={**metadata, 'closed_loop': closed},
                        speaker_neutral=speaker_neutral, styles=styles, default_style=default)
        if closed and score < best:
            best = score
            save_checkpoint(model, out / 'best', metadata={**metadata, 'closed_loop': closed},
                            speaker_neutral=speaker_neutral, styles=styles,
                            default_style=default)
        model.train()
        torch.save({'model': model.state_dict(), 'optimizer': optimizer.state_dict(),
                    'scheduler': scheduler.state_dict(), 'epoch': epoch, 'step': step,
                    'rng': rng, 'best': best, 'generator': generator.get_state(),
                    'train_config': config.to_dict()}, state_file)
        summary = (f"closed loop vs the validation listeners: RMS x{closed['rms_ratio_pitch']:.2f}"
                   f" / {closed['rms_ratio_yaw']:.2f} / {closed['rms_ratio_roll']:.2f}, nods "
                   f"x{closed['nod_rate_ratio']:.2f} of size x{closed['nod_size_ratio']:.2f}, "
                   f"FD {closed['fd_ratio']:.2f} of a still head's, nod F1 "
                   f"{closed['nod_f1']:.2f}, within limits {100 * closed['within_limits']:.0f}%"
                   if closed else 'no validation sessions')
        log(f'epoch {epoch}: train loss {np.mean(losses):.4f}, valid loss '
            + (f'{valid:.4f}' if examples['valid'] else 'n/a') + f'; {summary}')
    if rank == 0:
        plot_losses(log_file, out / 'loss.png')
    best_path = out / 'best.safetensors'
    return best_path if best_path.is_file() else out / 'last.safetensors'


def run_config(out: str | Path) -> dict | None:
    """The training config (:meth:`TrainConfig.to_dict`) of the run in ``out``: from its last
    checkpoint's sidecar, written in the same epoch as the trainer state (reading the state
    itself means loading the optimiser's moments: gigabytes for the large presets), else from
    the state; None when there is no run to resume."""
    import json

    out = Path(out)
    state_file = out / 'trainer_state.pt'
    if not state_file.is_file():
        return None
    if (out / 'last.json').is_file():
        saved = json.loads((out / 'last.json').read_text()).get('metadata', {}).get(
            'train_config')
        if saved is not None:
            return saved
    return torch.load(state_file, weights_only=False, map_location='cpu').get('train_config')


def _no_listener_segments(dataset: Dataset, session_ids, config: TrainConfig) -> str:
    """Why fine-tuning to ``config.listener`` found nothing: who is in the manifest and how
    long each listens in segments the trainer can use."""
    people: dict[str, float] = {}
    for session in dataset.sessions:
        for participant in session.participants.values():
            people.setdefault(participant.person, 0.0)
    for session_id in session_ids:
        session = dataset.session(session_id)
        frames = len(load_features(dataset, session_id,
                                   next(iter(session.participants)))['poses'])
        for seg in listener_segments(session, frames, config.min_segment_s,
                                     config.max_segment_s):
            person = session.participants[seg.listener].person
            people[person] = people.get(person, 0.0) + seg.seconds
    listing = ', '.join(f'{name} ({seconds / 60:.1f} min)' if seconds else f'{name} (none)'
                        for name, seconds in sorted(people.items()))
    theirs = [s.id for s in dataset.sessions if config.listener in dataset.people_in(s.id)]
    if theirs and set(theirs) <= set(dataset.held_out):
        return (f"'{config.listener}' is only in held-out sessions ({', '.join(theirs)}): "
                'fine-tuning trains on their sessions outside held_out and is judged on those '
                'inside it; take one out of held_out in the manifest')
    if config.listener not in people:
        return (f"no one called '{config.listener}' in the manifest (its 'person' fields); "
                f'the people and how long each listens in segments of at least '
                f'{config.min_segment_s:.0f} s (training sessions): {listing}')
    return (f"no training segments where '{config.listener}' listens: listener intervals "
            f'must be at least {config.min_segment_s:.0f} s long (see the floor annotations); '
            f'who does listen that long (training sessions): {listing}')


CLOSED_LOOP_COLUMNS = ('rms_ratio_pitch', 'rms_ratio_yaw', 'rms_ratio_roll', 'nod_rate_ratio',
                       'nod_size_ratio', 'fd_ratio', 'nod_f1', 'random_nod_f1', 'nods_per_min',
                       'within_limits', 'drift_deg', 'l1_deg', 'still_l1_deg')
LOG_COLUMNS = ('epoch', 'step', 'train_loss', 'valid_loss',
               *(f'cl_{k}' for k in CLOSED_LOOP_COLUMNS), 'cl_score', 'lr', 'seconds')


def _validation_recordings(dataset, session_ids, minutes: float) -> list:
    from lhg_ros.evaluation.closed_loop import dataset_recordings

    chosen, total = [], 0.0
    for recording in dataset_recordings(dataset, session_ids):
        if total >= 60.0 * minutes:
            break
        chosen.append(recording)
        total += recording.seconds
    return chosen


@torch.no_grad()
def closed_loop_validation(model, recordings, speaker_neutral, metadata,
                           progress: str = '', styles: dict | None = None,
                           default_style: str = '') -> dict:
    """The closed-loop measures (lhg_ros.evaluation.closed_loop) of the model in memory, run
    through ModelPolicy and the runtime as the node runs it (in its default style); {} without
    recordings. ``progress``: a progress bar's label (none when empty)."""
    if not recordings:
        return {}
    from lhg_ros.backends.torch_backend import TorchBackend
    from lhg_ros.evaluation.closed_loop import evaluate_policy
    from lhg_ros.motion.model_policy import ModelPolicy
    from lhg_ros.network.checkpoint import sidecar_info

    model.eval()
    info = sidecar_info(model, metadata=metadata, speaker_neutral=speaker_neutral,
                        styles=styles, default_style=default_style)
    return evaluate_policy(ModelPolicy(TorchBackend.from_model(model, info), seed=0),
                           recordings, progress=progress)


@torch.no_grad()
def evaluate_loss(model, examples, config, warmup_frames, train_config,
                  style_clips: StyleClips | None = None) -> float:
    """The teacher-forced loss over ``examples`` (for a model with a style: each with a clip
    of 3 other segments of its listener, the same each epoch)."""
    model.eval()
    rng = np.random.default_rng(train_config.seed)
    size = train_config.batch_size
    values = []
    for i in range(0, len(examples), size):
        batch = examples[i:i + size]
        clips = ([style_clips.pick(e, rng, 3) for e in batch]
                 if config.style_dim and style_clips else None)
        values.append(loss_on(model, batch, config, warmup_frames, train_config.huber_delta,
                              clips=clips).item())
    model.train()
    return float(np.mean(values))


def plot_losses(log_file: Path, path: Path) -> None:
    """Losses per epoch and, where there were validation sessions, the closed-loop measures
    against the validation listeners (1 = like them)."""
    from lhg_ros.plotting import pyplot

    with open(log_file) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    plt = pyplot()
    epochs = [int(r['epoch']) for r in rows]

    def column(name):
        return [float(r.get(name, 'nan') or 'nan') for r in rows]

    closed = not all(math.isnan(v) for v in column('cl_nod_rate_ratio'))
    panels = 2 if closed else 1
    fig, axes = plt.subplots(1, panels, figsize=(7 * panels, 4), squeeze=False)
    ax = axes[0, 0]
    ax.plot(epochs, column('train_loss'), label='train')
    valid = column('valid_loss')
    if not all(math.isnan(v) for v in valid):
        ax.plot(epochs, valid, label='valid (teacher-forced)')
    ax.set_xlabel('epoch')
    ax.set_ylabel('loss (negative log-likelihood, or Huber)')
    ax.legend()
    if closed:
        ax = axes[0, 1]
        for name, label in (('rms_ratio_pitch', 'RMS pitch'), ('rms_ratio_yaw', 'RMS yaw'),
                            ('rms_ratio_roll', 'RMS roll'), ('nod_rate_ratio', 'nod rate'),
                            ('nod_size_ratio', 'nod size'), ('fd_ratio', 'FD / still head'),
                            ('nod_f1', 'nod F1')):
            ax.plot(epochs, column(f'cl_{name}'), marker='o', label=label)
        ax.axhspan(0.8, 1.25, color='tab:green', alpha=0.1)
        ax.set_xlabel('epoch')
        ax.set_ylabel('closed loop, model / validation listener')
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
