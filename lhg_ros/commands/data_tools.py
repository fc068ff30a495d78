"""``lhg-ros data ...``, ``lhg-ros train`` and ``lhg-ros finetune``."""

import os
import time
from pathlib import Path

from lhg_ros.console import format_table


def _load(manifest: str):
    from lhg_ros.data.manifest import ManifestError, load_manifest, validate

    try:
        dataset = load_manifest(manifest)
    except ManifestError as exc:
        print(f'lhg-ros: {exc}')
        return None, [str(exc)]
    return dataset, validate(dataset)


def validate_main(args) -> int:
    dataset, problems = _load(args.manifest)
    if dataset is None:
        return 1
    for problem in problems:
        print(f'  - {problem}')
    print(f'{args.manifest}: {len(dataset.sessions)} sessions, '
          + (f'{len(problems)} problem(s)' if problems else 'no problems'))
    return 1 if problems else 0


def extract_main(args) -> int:
    from lhg_ros.data.extract import extract_dataset, summary

    dataset, problems = _load(args.manifest)
    if dataset is None or problems:
        for problem in problems:
            print(f'  - {problem}')
        print('fix the manifest first (lhg-ros data validate)')
        return 1
    started = time.perf_counter()
    counts = extract_dataset(dataset, workers=args.workers, force=args.force)
    rows = [('extracted now', f"{counts['done']} track(s) in "
                              f'{time.perf_counter() - started:.1f} s'),
            ('already cached', f"{counts['cached']} track(s)"), *summary(dataset)]
    print(format_table(['', 'value'], rows))
    return 0


def synth_main(args) -> int:
    from tqdm import tqdm

    from lhg_ros.synthetic.smoke_sessions import make_dataset

    with tqdm(total=args.sessions, desc='sessions') as bar:
        path = make_dataset(args.output, sessions=args.sessions, turns=args.turns,
                            seed=args.seed, held_out=args.held_out,
                            progress=lambda n: bar.update(1))
    print(f'wrote {path}')
    return 0


def corpus_main(args) -> int:
    from tqdm import tqdm

    from lhg_ros.synthetic.corpus import make_corpus

    if (not 0 <= args.held_out < args.sessions or args.min_minutes > args.max_minutes
            or args.per_listener < 1):
        print('lhg-ros data corpus: need 0 <= --held-out < --sessions, --per-listener >= 1 '
              'and --min-minutes <= --max-minutes')
        return 1
    with tqdm(total=args.sessions, desc='sessions') as bar:
        path = make_corpus(args.output, sessions=args.sessions, held_out=args.held_out,
                           minutes=(args.min_minutes, args.max_minutes), seed=args.seed,
                           per_listener=args.per_listener, progress=lambda n: bar.update(1))
    print(f'wrote {path}')
    return 0


def _train(args, init_checkpoint=None, listener='') -> int:
    from lhg_ros.network.checkpoint import CheckpointError
    from lhg_ros.training.config import TrainConfig
    from lhg_ros.training.trainer import train

    dataset, problems = _load(args.data)
    if dataset is None or problems:
        for problem in problems:
            print(f'  - {problem}')
        return 1
    overrides = {k: v for k, v in (('epochs', args.epochs), ('batch_size', args.batch_size),
                                   ('learning_rate', args.lr),
                                   ('preset', getattr(args, 'preset', None)),
                                   ('device', args.device), ('workers', args.workers))
                 if v is not None}
    if listener:
        overrides['listener'] = listener
        from lhg_ros.training.config import FINETUNE_LEARNING_RATE, FINETUNE_MIN_STEPS

        if not args.config and not args.resume:
            if args.epochs is None:
                overrides['min_steps'] = FINETUNE_MIN_STEPS
            overrides.setdefault('learning_rate', FINETUNE_LEARNING_RATE)
    try:
        if args.resume:
            config, init_checkpoint = _resumed(args, overrides, init_checkpoint)
        else:
            config = (TrainConfig.from_file(args.config, **overrides) if args.config
                      else TrainConfig.from_dict(overrides))
        path = train(dataset, args.out, config, resume=args.resume,
                     init_checkpoint=init_checkpoint)
    except (ValueError, CheckpointError) as exc:
        print(f'lhg-ros: {exc}')
        return 1
    if os.environ.get('RANK', '0') != '0':  # under torchrun, one report
        return 0
    print(f'checkpoint: {path}\nlog: {Path(args.out) / "log.csv"}\n'
          f'loss curve: {Path(args.out) / "loss.png"}')
    if listener:
        _fine_tuning_report(dataset, listener, init_checkpoint, path, Path(args.out))
    return 0


def _fine_tuning_report(dataset, listener: str, before, after, out: Path) -> None:
    """Print (and write to ``out``/comparison.json) how far the model was from ``listener``
    before fine-tuning and after, on the held-out sessions where they listen."""
    import json

    from lhg_ros.console import format_table
    from lhg_ros.evaluation.styles import (
        LABELS,
        STATISTICS,
        compare_with_listener,
        person_recordings,
        statistics_rows,
    )
    from lhg_ros.models import resolve_checkpoint

    judged = person_recordings(dataset, dataset.held_out, listener)
    if not judged:
        print(f'(no held-out session in which {listener} listens: list one under held_out in '
              f'the manifest to see how far fine-tuning moved the model toward {listener})')
        return
    print(f'comparing the model before and after on the held-out sessions of {listener} ...')
    result = compare_with_listener(judged, {'before': resolve_checkpoint(before),
                                            'fine-tuned': after})
    (out / 'comparison.json').write_text(json.dumps(result, indent=1))
    distance = result['distance']
    closer = 1.0 - distance['fine-tuned'] / max(distance['before'], 1e-9)
    print(f"\n{listener} on the held-out sessions ({result['seconds']:.0f} s; the models in "
          f'closed loop on the same speech, sampling seeds 0-2):')
    print(format_table(['', *(LABELS[k] for k in STATISTICS)], statistics_rows({
        f'{listener} (recorded)': result['listener'],
        'model before fine-tuning': result['models']['before'],
        'model fine-tuned': result['models']['fine-tuned']})))
    change = f'{100 * closer:.0f}% closer' if closer >= 0 else f'{-100 * closer:.0f}% further'
    print(f"statistics distance to {listener}: before {distance['before']:.2f}, fine-tuned "
          f"{distance['fine-tuned']:.2f} ({change}); written to {out / 'comparison.json'}")


# What may differ when a run is resumed: where it runs, not what it trains.
RESUME_MAY_CHANGE = ('device', 'workers')


def _resumed(args, overrides: dict, init_checkpoint):
    """(config, checkpoint fine-tuned from) of the run in ``args.out``, as it was started;
    a flag or config file that asks for something else is an error that says so."""
    from lhg_ros.training.config import TrainConfig, read_config_file
    from lhg_ros.training.trainer import run_config

    saved = run_config(args.out)
    if saved is None:
        raise ValueError(f'nothing to resume in {args.out} (no trainer_state.pt): start the '
                         'run without --resume')
    saved = TrainConfig.from_dict(saved).to_dict()  # (fields added since: their defaults)
    asked = dict(overrides)
    if args.config:  # (what the file sets, checked)
        asked = {**TrainConfig.from_file(args.config).to_dict(), **asked}
        asked = {k: v for k, v in asked.items()
                 if k in overrides or k in read_config_file(args.config)}
    if init_checkpoint is not None:  # (fine-tuning records its checkpoint, not a preset)
        asked.pop('preset', None)
        asked['init_checkpoint'] = str(init_checkpoint)
    for key, value in asked.items():
        if key not in RESUME_MAY_CHANGE and saved.get(key) != value:
            flag = '--' + key.replace('_', '-') if key in overrides else f'{key} in --config'
            raise ValueError(f'{flag} {value} differs from the run being resumed '
                             f'({key}: {saved.get(key)}); leave it out to resume the run '
                             'as it was started')
    config = TrainConfig.from_dict({**saved, **{k: v for k, v in overrides.items()
                                                if k in RESUME_MAY_CHANGE}})
    return config, config.init_checkpoint or None


def train_main(args) -> int:
    return _train(args)


def finetune_main(args) -> int:
    from lhg_ros.models import resolve_checkpoint

    return _train(args, init_checkpoint=resolve_checkpoint(args.checkpoint),
                  listener=args.listener)


def eval_main(args) -> int:
    from lhg_ros.evaluation.report import evaluate, write_report
    from lhg_ros.network.checkpoint import CheckpointError

    dataset, problems = _load(args.data)
    if dataset is None or problems:
        for problem in problems:
            print(f'  - {problem}')
        return 1
    from lhg_ros.backends import BackendError
    from lhg_ros.models import starter_checkpoint

    checkpoint = starter_checkpoint() if args.checkpoint == 'starter' else args.checkpoint
    teacher_forced = None
    if args.teacher_forced:
        from lhg_ros.training.teacher_forced import teacher_forced_errors as teacher_forced
    try:
        report = evaluate(dataset, checkpoint, args.backend, args.tolerance,
                          teacher_forced=teacher_forced,
                          expressiveness=args.expressiveness,
                          seed=None if args.seed < 0 else args.seed, style=args.style)
    except (ValueError, CheckpointError, BackendError) as exc:
        print(f'lhg-ros eval: {exc}')
        return 1
    files = write_report(report, Path(args.out))
    print('\nwrote ' + ', '.join(str(f) for f in files))
    return 0
