"""``lhg-ros export`` and ``lhg-ros bench-model``: the model on each backend."""

import tempfile
import time
from pathlib import Path

import numpy as np

from lhg_ros.console import format_table


def export_main(args) -> int:
    from lhg_ros.backends import BackendError, load_backend
    from lhg_ros.backends.step_model import onnx_for_checkpoint
    from lhg_ros.network.checkpoint import CheckpointError

    try:
        if args.to == 'onnx':
            from lhg_ros.backends.step_model import is_current

            started = time.perf_counter()
            current = not args.force and is_current(args.checkpoint)
            path = onnx_for_checkpoint(args.checkpoint, force=args.force)
            size = f'{path.stat().st_size / 1e6:.1f} MB'
            print(f'{path} is current: exported from these weights ({size}; --force exports '
                  'again)' if current else
                  f'wrote {path} ({size}, {time.perf_counter() - started:.1f} s)')
        else:
            backend = load_backend('tensorrt', args.checkpoint, fp16=not args.fp32,
                                   force_engine_update=args.force)
            print(f'engine: {backend.engine_file}')
            backend.close()
    except (CheckpointError, BackendError) as exc:
        print(f'lhg-ros export: {exc}')
        return 1
    return 0


def time_steps(backend, steps: int, seed: int = 0) -> np.ndarray:
    """Seconds per step over ``steps`` steps with random inputs and carried state; for a
    mixture model the sampling of the poses is part of the step (as in the runtime)."""
    from lhg_ros.network import mixture

    c = backend.config
    rng = np.random.default_rng(seed)
    state = backend.initial_state()
    times = []
    for _ in range(steps + 3):  # the first steps warm caches up and are not counted
        audio = rng.normal(size=(c.audio_per_step, c.audio_input_dim)).astype(np.float32)
        speaker = rng.normal(size=(c.frames_per_step, c.motion_dim)).astype(np.float32)
        listener = rng.normal(size=(c.frames_per_step, c.motion_dim)).astype(np.float32)
        start = time.perf_counter()
        prediction, state = backend.step(audio, speaker, listener, state)
        if c.mixtures:
            mixture.sample(prediction, c.predicted_frames, c.pose_dim, 1.0, rng)
        times.append(time.perf_counter() - start)
    return np.array(times[3:])


def rule_policy_row(steps: int, seed: int = 0) -> list[str]:
    """The rule policy's step time, in the same columns (it has no backend or weights)."""
    from lhg_ros.motion.rules import RuleListener

    policy = RuleListener()
    rng = np.random.default_rng(seed)
    times = []
    for _ in range(steps + 3):
        audio = rng.normal(size=(12, 81)).astype(np.float32)
        start = time.perf_counter()
        policy.step(audio)
        times.append(time.perf_counter() - start)
    times = 1000 * np.array(times[3:])
    median, p99 = np.median(times), np.percentile(times, 99)
    return ['rule policy', '-', 'numpy', f'{median:.3f}', f'{p99:.3f}', '120',
            f'{120 / median:.0f}x', '']


def bench_rows(presets: list[str], backends: list[str], steps: int,
               checkpoint: str | None = None, log=print, name: str | None = None
               ) -> list[list[str]]:
    """Per-step latency of each preset (untrained weights: speed only) or of one checkpoint
    (shown as ``name``) on each backend."""
    from lhg_ros.backends import BackendError, load_backend
    from lhg_ros.network.checkpoint import random_checkpoint, read_sidecar
    from lhg_ros.network.config import ModelConfig, preset
    from lhg_ros.network.lstm_transformer import ListenerModel, count_parameters

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        targets = ([(name or Path(checkpoint).stem, checkpoint)] if checkpoint else
                   [(name, None) for name in presets])
        for name, path in targets:
            if path is None:
                log(f'{name}: writing an untrained checkpoint ...')
                path = random_checkpoint(Path(tmp) / name, preset(name))
            config = ModelConfig.from_dict(read_sidecar(path)['config'])
            params = count_parameters(ListenerModel(config))
            budget_ms = 1000 * config.step_seconds
            torch_median = None
            for backend_name in backends:
                log(f'{name}: {backend_name} ...')
                try:
                    backend = load_backend(backend_name, path)
                except BackendError as exc:
                    rows.append([name, f'{params / 1e6:.1f} M', backend_name, 'n/a', 'n/a',
                                 f'{budget_ms:.0f}', '', str(exc)[:60]])
                    continue
                times = 1000 * time_steps(backend, steps)
                backend.close()
                median, p99 = np.median(times), np.percentile(times, 99)
                if backend_name == 'torch':
                    torch_median = median
                speedup = f'{torch_median / median:.1f}x' if torch_median else ''
                rows.append([name, f'{params / 1e6:.1f} M', backend_name, f'{median:.2f}',
                             f'{p99:.2f}', f'{budget_ms:.0f}', f'{budget_ms / median:.1f}x',
                             speedup])
    return rows


BENCH_HEADERS = ['preset', 'params', 'backend', 'median ms/step', 'p99 ms/step',
                 'budget ms/step', 'headroom', 'vs torch']


def bench_main(args) -> int:
    from lhg_ros.models import starter_checkpoint

    checkpoint = starter_checkpoint() if args.checkpoint == 'starter' else args.checkpoint
    rows = bench_rows(args.presets.split(','), args.backends.split(','), args.steps,
                      checkpoint)
    print()
    print(format_table(BENCH_HEADERS, rows))
    print('\nbudget: one step per 3 motion frames (120 ms at 25 Hz); headroom = budget / median')
    return 0
