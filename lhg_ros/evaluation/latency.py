"""The latency budget, from the speaker's sound to the robot's joint command, stage by stage.

``audio_features_node`` and ``listener_node`` write one CSV row per published features message
and per model step when their ``latency_log`` parameter names a file; :func:`stage_times`
joins the two on the message stamp and splits each step's latency into stages that add up to
the total (node-clock seconds, so both nodes must share a clock: one machine, or PTP/chrony):

=================================  ==========================================================
audio -> features published        newest sample the step used captured -> its features
                                   message published (the 25 ms window is over at capture
                                   end; this is the wait for the publish timer and FBank)
features -> received               DDS, from one process to the other
alignment wait                     message received -> frame cut (waiting for a late speaker
                                   pose or voice-activity decision; 0 without them)
model step                         the policy's step
safety + publish                   limits, smoothing, and publishing the joint command
total                              newest sample captured -> joint command published
=================================  ==========================================================

Beside them, ``the work alone``: what the computers did for the step, without any wait (the
features node's FBank, VAD and publish for the message, DDS, the step, the command): the floor
that the total could come down to.

Without the features log, the first two stages are reported as one (capture -> received), and
the work alone is not known.
"""

import csv
from pathlib import Path

import numpy as np

from lhg_ros.latency_log import FEATURE_COLUMNS, LISTENER_COLUMNS, OLD_FEATURE_COLUMNS

STAGES = ['audio -> features published', 'features -> received', 'alignment wait',
          'model step', 'safety + publish', 'total']
WORK = 'the work alone (no waits)'
MATCH_S = 1e-3  # a listener row belongs to the features message stamped within this


def _read(path, columns: list[str], older: list[str] | None = None) -> dict[str, np.ndarray]:
    """The log's columns; one with the ``older`` columns has the others as nan."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'no latency log at {path}')
    with path.open(newline='') as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header != columns and (older is None or header != older):
            raise ValueError(f'{path} is not a latency log (expected the columns '
                             f"{','.join(columns)})")
        rows = [r for r in reader if len(r) == len(header)]
    table = {name: [r[i] if i < len(header) else 'nan' for r in rows]
             for i, name in enumerate(columns)}
    return {k: (np.array(v) if k == 'waited_for' else np.array(v, dtype=np.float64))
            for k, v in table.items()}


def stage_times(listener_csv, features_csv=None, skip_s: float = 0.0) -> dict[str, np.ndarray]:
    """Per step, seconds spent in each of :data:`STAGES` (the first two merged into
    'capture -> received' without ``features_csv``); steps of the first ``skip_s`` are left
    out (start-up)."""
    steps = _read(listener_csv, LISTENER_COLUMNS)
    if len(steps['cut_s']) and skip_s > 0:
        keep = steps['cut_s'] >= steps['cut_s'][0] + skip_s
        steps = {k: v[keep] for k, v in steps.items()}
    received, cut, step = steps['received_s'], steps['cut_s'], steps['step_s']
    out = {}
    if features_csv is not None:
        features = _read(features_csv, FEATURE_COLUMNS, OLD_FEATURE_COLUMNS)
        order = np.argsort(features['stamp_s'])
        stamps, published = features['stamp_s'][order], features['published_s'][order]
        work = features['work_s'][order]
        if not len(stamps):
            raise ValueError(f'{features_csv} has no rows')
        i = np.clip(np.searchsorted(stamps, steps['audio_stamp_s']), 1, len(stamps) - 1)
        i -= np.abs(stamps[i - 1] - steps['audio_stamp_s']) < np.abs(stamps[i]
                                                                      - steps['audio_stamp_s'])
        matched = np.abs(stamps[i] - steps['audio_stamp_s']) <= MATCH_S
        sent = np.where(matched, published[i], np.nan)
        out[STAGES[0]] = sent - steps['capture_end_s']
        out[STAGES[1]] = received - sent
        features_work = np.where(matched, work[i], np.nan)
    else:
        out['capture -> received'] = received - steps['capture_end_s']
    out[STAGES[2]] = cut - received
    out[STAGES[3]] = step
    out[STAGES[4]] = steps['published_s'] - (cut + step)
    out[STAGES[5]] = steps['published_s'] - steps['capture_end_s']
    if features_csv is not None:
        out[WORK] = features_work + out[STAGES[1]] + out[STAGES[3]] + out[STAGES[4]]
    out['waited_for'] = steps['waited_for']
    return out


def stage_rows(stages: dict[str, np.ndarray]) -> list[list[str]]:
    """Rows of [stage, p50 ms, p99 ms, max ms] for :func:`lhg_ros.console.format_table`."""
    rows = []
    for name, values in stages.items():
        if name == 'waited_for':
            continue
        ms = 1000.0 * values[np.isfinite(values)]
        if not len(ms):
            rows.append([name, 'n/a', 'n/a', 'n/a'])
            continue
        p50, p99 = np.percentile(ms, [50, 99])
        rows.append([name, f'{p50:.1f}', f'{p99:.1f}', f'{ms.max():.1f}'])
    return rows


STAGE_HEADERS = ['stage', 'p50 ms', 'p99 ms', 'max ms']


def waited_summary(stages: dict[str, np.ndarray]) -> str:
    """How many steps waited for what, in words."""
    waited = stages['waited_for']
    counts = {k: int((waited == k).sum()) for k in ('pose', 'vad')}
    return (f'{len(waited)} steps; the cut waited for a speaker pose in {counts["pose"]}, '
            f'for a voice-activity decision in {counts["vad"]}')
