"""Training with teacher forcing on listener segments, and listener-specific fine-tuning.

Each motion token t of a segment predicts the listener's next three poses; the loss (Huber,
normalised pose units) covers all three, from ``warmup_s`` on (the first second only warms
the model up, as in the paper). AdamW with cosine annealing over all steps. Checkpoints are
the inference format (lhg_ros.model.checkpoint) with the feature normalisation fitted on the
training sessions; ``trainer_state.pt`` beside them makes ``resume`` continue exactly.

Several GPUs or machines: start the same command with ``torchrun`` (DistributedDataParallel;
gloo on CPU, NCCL on CUDA); each process trains on its share of each batch and rank 0 writes.
"""

import csv
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
from lhg_ros.features.motion import POSE_DIM, motion_features
from lhg_ros.features.normalization import StatsAccumulator
from lhg_ros.model.checkpoint import load_checkpoint, save_checkpoint
from lhg_ros.model.config import ModelConfig, preset
from lhg_ros.model.network import ListenerModel
from lhg_ros.training.config import TrainConfig


@dataclass
class Example:
    audio: np.ndarray  # (4T, 81)
    speaker: np.ndarray  # (T, 18)
    listener: np.ndarray  # (T, 18)
    poses: np.ndarray  # (T, 6) the listener's poses (targets come from t+1..t+3)


def build_examples(dataset: Dataset, segments: list[Segment], audio_per_motion: int = 4
                   ) -> list[Example]:
    cache: dict = {}

    def features(session, who):
        key = (session, who)
        if key not in cache:
            f = load_features(dataset, session, who)
            cache[key] = (f['audio'], f['poses'], motion_features(f['poses']))
        return cache[key]

    examples = []
    for seg in segments:
        audio, _, speaker_motion = features(seg.session, seg.speaker)
        _, listener_poses, listener_motion = features(seg.session, seg.listener)
        frames = slice(seg.start, seg.start + seg.frames)
        rows = slice(seg.start * audio_per_motion, (seg.start + seg.frames) * audio_per_motion)
        if rows.stop > len(audio) or frames.stop > len(listener_poses):
            continue  # the end of a recording shorter than its floor annotation
        example = Example(audio[rows], speaker_motion[frames], listener_motion[frames],
                          listener_poses[frames])
        if all(np.isfinite(a).all() for a in (example.audio, example.speaker,
                                              example.listener)):
            examples.append(example)
    return examples


def fit_normalization(examples: list[Example]) -> tuple:
    audio, motion = StatsAccumulator(examples[0].audio.shape[1]), StatsAccumulator(
        examples[0].speaker.shape[1])
    for ex in examples:
        audio.add(ex.audio)
        motion.add(ex.speaker)
        motion.add(ex.listener)
    return audio.stats(), motion.stats()


def collate(batch: list[Example], config: ModelConfig, warmup_frames: int):
    """Pad to the longest segment; the mask marks (token, k) pairs with a real target."""
    f = config.frames_per_step
    longest = max(len(ex.speaker) for ex in batch)
    n = len(batch)
    audio = torch.zeros(n, longest * config.audio_per_motion, config.audio_dim)
    speaker = torch.zeros(n, longest, config.motion_dim)
    listener = torch.zeros(n, longest, config.motion_dim)
    targets = torch.zeros(n, longest, f, POSE_DIM)
    mask = torch.zeros(n, longest, f, dtype=torch.bool)
    for i, ex in enumerate(batch):
        t = len(ex.speaker)
        audio[i, :len(ex.audio)] = torch.from_numpy(ex.audio)
        speaker[i, :t] = torch.from_numpy(ex.speaker)
        listener[i, :t] = torch.from_numpy(ex.listener)
        poses = torch.from_numpy(ex.poses.astype(np.float32))
        for k in range(f):
            targets[i, :t - k - 1, k] = poses[k + 1:]
            mask[i, warmup_frames:t - k - 1, k] = True
    return audio, speaker, listener, targets, mask


def loss_on(model, batch, config, warmup_frames, delta) -> torch.Tensor:
    audio, speaker, listener, targets, mask = collate(batch, config, warmup_frames)
    device = next(model.parameters()).device
    predicted = model(audio.to(device), speaker.to(device), listener.to(device))
    core = model.module if hasattr(model, 'module') else model
    std = core.motion_std[:POSE_DIM]
    error = (predicted - targets.to(device)) / std  # normalised pose units
    losses = torch.nn.functional.huber_loss(error, torch.zeros_like(error), delta=delta,
                                            reduction='none').mean(-1)
    mask = mask.to(device)
    return (losses * mask).sum() / mask.sum().clamp(min=1)


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
    """Train (or fine-tune from ``init_checkpoint``); returns the path of the last checkpoint.
    ``resume`` continues from ``out/trainer_state.pt``."""
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
    splits = split_sessions(dataset, config.valid_fraction, config.seed)
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
        who = f" where '{config.listener}' listens" if config.listener else ''
        raise ValueError(f'no training segments{who}: listener intervals must be at least '
                         f'{config.min_segment_s:.0f} s long (see the floor annotations)')

    if init_checkpoint is not None:
        model, _ = load_checkpoint(init_checkpoint)
        model_config = model.config
    else:
        model_config = ModelConfig.from_dict({**preset(config.preset).to_dict(),
                                              **config.model})
        model = ListenerModel(model_config)
    examples = {part: build_examples(dataset, segs, model_config.audio_per_motion)
                for part, segs in segments.items()}
    if init_checkpoint is None:
        audio_stats, motion_stats = fit_normalization(examples['train'])
        model.set_normalization(audio_stats.mean, audio_stats.std, motion_stats.mean,
                                motion_stats.std)
    device = torch.device(config.device)
    model.to(device).train()
    ddp = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate,
                                  weight_decay=config.weight_decay)
    per_epoch = max(1, math.ceil(len(examples['train']) / config.batch_size))
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer,
                                                           T_max=config.epochs * per_epoch)
    warmup_frames = int(round(config.warmup_s * model_config.motion_rate))
    state_file, log_file = out / 'trainer_state.pt', out / 'log.csv'
    epoch, step = 0, 0
    if resume and state_file.is_file():
        state = torch.load(state_file, weights_only=False)
        model.load_state_dict(state['model'])
        optimizer.load_state_dict(state['optimizer'])
        scheduler.load_state_dict(state['scheduler'])
        epoch, step = state['epoch'], state['step']
        rng = state['rng']
        log(f'resumed at epoch {epoch}, step {step}')
    elif rank == 0:
        log_file.write_text('epoch,step,train_loss,valid_loss,lr,seconds\n')
    info = {'segments': {k: len(v) for k, v in examples.items()}, 'splits': splits,
            'train_config': config.to_dict()}
    while epoch < config.epochs:
        started = time.perf_counter()
        order = rng.permutation(len(examples['train']))
        losses = []
        bar = tqdm(range(per_epoch), desc=f'epoch {epoch + 1}/{config.epochs}',
                   disable=not progress or rank != 0, leave=False)
        for b in bar:
            chunk = order[b * config.batch_size:(b + 1) * config.batch_size]
            batch = [examples['train'][i] for i in chunk[rank::world]] or \
                [examples['train'][chunk[0]]]
            loss = loss_on(ddp, batch, model_config, warmup_frames, config.huber_delta)
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
                              config) if examples['valid'] else float('nan')
        if rank == 0:
            with open(log_file, 'a', newline='') as f:
                csv.writer(f).writerow([epoch, step, f'{np.mean(losses):.6f}', f'{valid:.6f}',
                                        f'{scheduler.get_last_lr()[0]:.3e}',
                                        f'{time.perf_counter() - started:.2f}'])
            save_checkpoint(model.eval(), out / 'last', metadata={**info, 'epoch': epoch,
                                                                  'step': step})
            model.train()
            torch.save({'model': model.state_dict(), 'optimizer': optimizer.state_dict(),
                        'scheduler': scheduler.state_dict(), 'epoch': epoch, 'step': step,
                        'rng': rng}, state_file)
            log(f'epoch {epoch}: train loss {np.mean(losses):.4f}, valid loss '
                + (f'{valid:.4f}' if examples['valid'] else 'n/a (no validation sessions)'))
    if rank == 0:
        plot_losses(log_file, out / 'loss.png')
    return out / 'last.safetensors'


@torch.no_grad()
def evaluate_loss(model, examples, config, warmup_frames, train_config) -> float:
    model.eval()
    values = [loss_on(model, examples[i:i + train_config.batch_size], config, warmup_frames,
                      train_config.huber_delta).item()
              for i in range(0, len(examples), train_config.batch_size)]
    model.train()
    return float(np.mean(values))


def plot_losses(log_file: Path, path: Path) -> None:
    from lhg_ros.plotting import pyplot

    with open(log_file) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    plt = pyplot()
    epochs = [int(r['epoch']) for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(epochs, [float(r['train_loss']) for r in rows], label='train')
    valid = [float(r['valid_loss']) for r in rows]
    if not all(math.isnan(v) for v in valid):
        ax.plot(epochs, valid, label='valid')
    ax.set_xlabel('epoch')
    ax.set_ylabel('Huber loss (normalised poses)')
    ax.set_yscale('log')
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
