"""The nodes' latency logs: one CSV row per published features message (audio_features_node)
and per model step (listener_node), when their ``latency_log`` parameter names a file.
lhg_ros.evaluation.latency reads them into the latency budget."""

import csv
from pathlib import Path

FEATURE_COLUMNS = ['stamp_s', 'rows', 'published_s', 'work_s']
OLD_FEATURE_COLUMNS = FEATURE_COLUMNS[:3]  # (logs written before the work was logged)
LISTENER_COLUMNS = ['audio_stamp_s', 'capture_end_s', 'received_s', 'cut_s', 'step_s',
                    'published_s', 'waited_for']


class _CsvLog:
    columns: list[str] = []

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open('w', newline='')
        self._writer = csv.writer(self._file)
        self._writer.writerow(self.columns)
        self._rows = 0

    def _row(self, values: list) -> None:
        self._writer.writerow(values)
        self._rows += 1
        if self._rows % 100 == 0:  # readable while the node runs, without a flush per row
            self._file.flush()

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class FeaturesLatencyLog(_CsvLog):
    """What audio_features_node published when, and how long its features took to compute
    and publish (from the audio's hand-over to the publish)."""

    columns = FEATURE_COLUMNS

    def write(self, stamp: float, rows: int, published: float, work: float = float('nan')
              ) -> None:
        self._row([f'{stamp:.6f}', rows, f'{published:.6f}', f'{work:.6f}'])


class ListenerLatencyLog(_CsvLog):
    """Each step's stage times (a :class:`lhg_ros.motion.controller.StepTiming`) and when its
    first joint command was published."""

    columns = LISTENER_COLUMNS

    def write(self, step, published: float) -> None:
        self._row([f'{step.audio_stamp:.6f}', f'{step.capture_end:.6f}',
                               f'{step.received:.6f}', f'{step.cut:.6f}',
                               f'{step.step_s:.6f}', f'{published:.6f}', step.waited_for])
