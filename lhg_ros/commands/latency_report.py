"""``lhg-ros latency-report``: the latency budget of a run, from the nodes' ``latency_log``
files, as a table of stages (p50, p99, max) and optionally a picture of their distributions."""

from pathlib import Path

import numpy as np

from lhg_ros.console import format_table
from lhg_ros.evaluation.latency import STAGE_HEADERS, stage_rows, stage_times, waited_summary


def plot_stages(stages: dict, path: Path) -> None:
    from lhg_ros.plotting import pyplot

    plt = pyplot()
    names = [k for k in stages if k != 'waited_for']
    fig, ax = plt.subplots(figsize=(9, 0.6 * len(names) + 1.5))
    data = [1000.0 * v[np.isfinite(v)] for v in (stages[k] for k in names)]
    y = np.arange(len(names))
    for q, color, label in ((99, 'tab:orange', 'p99'), (50, 'tab:blue', 'p50')):
        ax.barh(y, [np.percentile(d, q) if len(d) else 0.0 for d in data], color=color,
                label=label)
    ax.scatter([d.max() if len(d) else 0.0 for d in data], y, color='black', marker='|',
               s=120, label='max')
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xlabel('ms')
    ax.legend(loc='lower right')
    ax.set_title('Latency budget: speaker sound -> joint command')
    ax.grid(axis='x', alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(args) -> int:
    try:
        stages = stage_times(args.listener, args.features, skip_s=args.skip)
    except (OSError, ValueError) as exc:
        print(f'lhg-ros latency-report: {exc}')
        return 1
    if not len(stages['total']):
        print(f'lhg-ros latency-report: no steps in {args.listener} (did the listener run '
              'with the model or the rules and receive audio?)')
        return 1
    print(format_table(STAGE_HEADERS, stage_rows(stages)))
    print(waited_summary(stages))
    if args.plot:
        plot_stages(stages, Path(args.plot))
        print(f'plot: {args.plot}')
    return 0
