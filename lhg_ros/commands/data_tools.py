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

    from lhg_ros.data.synthetic_sessions import make_dataset

    with tqdm(total=args.sessions, desc='sessions') as bar:
        path = make_dataset(args.output, sessions=args.sessions, turns=args.turns,
                            seed=args.seed, held_out=args.held_out,
                            progress=lambda n: bar.update(1))
    print(f'wrote {path}')
    return 0


def corpus_main(args) -> int:
    from tqdm import tqdm

    from lhg_ros.data.corpus import make_corpus

    if not 0 <= args.held_out < args.sessions or args.min_minutes > args.max_minutes:
        print('lhg-ros data corpus: need 0 <= --held-out < --sessions and --min-minutes <= '
              '--max-minutes')
        return 1
    with tqdm(total=args.sessions, desc='sessions') as bar:
        path = make_corpus(args.output, sessions=args.sessions, held_out=args.held_out,
                           minutes=(args.min_minutes, args.max_minutes), seed=args.seed,
                           progress=lambda n: bar.update(1))
    print(f'wrote {path}')
    return 0


def _train(args, init_checkpoint=None, listener='') -> int:
    from lhg_ros.model.checkpoint import CheckpointError
    from lhg_ros.training.config import TrainConfig
    from lhg_ros.training.trainer import train

    dataset, problems = _load(args.data)
    if dataset is None or problems:
        for problem in problems:
            print(f'  - {problem}')
        return 1
    overrides = {k: v for k, v in (('epochs', args.epochs), ('batch_size', args.batch_size),
                                   ('learning_rate', args.lr), ('preset', args.preset),
                                   ('device', args.device), ('workers', args.workers))
                 if v is not None}
    if listener:
        overrides['listener'] = listener
    try:
        config = (TrainConfig.from_file(args.config, **overrides) if args.config
                  else TrainConfig.from_dict(overrides))
        path = train(dataset, args.out, config, resume=args.resume,
                     init_checkpoint=init_checkpoint)
    except (ValueError, CheckpointError) as exc:
        print(f'lhg-ros: {exc}')
        return 1
    if os.environ.get('RANK', '0') == '0':  # under torchrun, one report
        print(f'checkpoint: {path}\nlog: {Path(args.out) / "log.csv"}\n'
              f'loss curve: {Path(args.out) / "loss.png"}')
    return 0


def train_main(args) -> int:
    return _train(args)


def finetune_main(args) -> int:
    return _train(args, init_checkpoint=args.checkpoint, listener=args.listener)


def eval_main(args) -> int:
    from lhg_ros.evaluation.report import evaluate, write_report
    from lhg_ros.model.checkpoint import CheckpointError

    dataset, problems = _load(args.data)
    if dataset is None or problems:
        for problem in problems:
            print(f'  - {problem}')
        return 1
    from lhg_ros.backends import BackendError
    from lhg_ros.models import starter_checkpoint

    checkpoint = starter_checkpoint() if args.checkpoint == 'starter' else args.checkpoint
    try:
        report = evaluate(dataset, checkpoint, args.backend, args.tolerance,
                          teacher_forced=args.teacher_forced,
                          expressiveness=args.expressiveness,
                          seed=None if args.seed < 0 else args.seed)
    except (ValueError, CheckpointError, BackendError) as exc:
        print(f'lhg-ros eval: {exc}')
        return 1
    files = write_report(report, Path(args.out))
    print('\nwrote ' + ', '.join(str(f) for f in files))
    return 0
