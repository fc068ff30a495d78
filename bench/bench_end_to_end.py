"""The latency budget over real DDS, stage by stage: speech file -> audio_features_node ->
listener_node -> joint command, with the rule policy, with the shipped model on ONNX Runtime,
and with the shipped model while head_pose_node tracks a real face video (MediaPipe) on the
same cores; with ``--load N``, that last again beside N busy processes (a robot's navigation,
perception, logging), once as is and once with the two audio-path nodes on real-time
scheduling (SCHED_FIFO, where permitted).

    .venv/bin/python bench/bench_end_to_end.py [--seconds 300] [--no-camera] [--load 2]
                                                [--keep DIR]

Each run writes the nodes' latency_log CSV files (their own stage stamps); the stage tables are
what `lhg-ros latency-report` prints from them. Stages: the newest audio sample a step used was
captured -> its features message published -> received by the listener -> frame cut (the
alignment wait) -> model step -> joint command published. Total = capture -> command; the work
alone = FBank + DDS + step + command, without any wait (the floor of the total). This process
also counts the joint commands (by their header stamps, so its own scheduling does not count):
their rate and longest gap, and the steps missed (a gap in the steps' audio).
Goals (issue [6/6], 2 cores, shipped model): audio only total p99 <= 8 ms; with the camera
total p99 <= 25 ms; with 2 busy processes commands at 50 Hz +-2% and no step missed.
The reference in the same run is the rule policy (no model): model / rules shows what the
model itself adds.
"""

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lhg_ros.console import format_table  # noqa: E402
from lhg_ros.evaluation.latency import (  # noqa: E402
    STAGE_HEADERS,
    WORK,
    stage_rows,
    stage_times,
    waited_summary,
)

TICKS = 100.0  # /proc CPU times are in clock ticks of 1/100 s on Linux
SKIP_S = 3.0  # start-up steps left out of the statistics
STEP_S = 0.12  # the shipped model's step: 3 frames of 40 ms


def cpu_seconds(pid: int) -> float:
    fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def set_realtime(pid: int, priority: int = 50) -> bool:
    """SCHED_FIFO at ``priority`` for every thread of ``pid`` (DDS's too); False where the
    system does not permit it (no CAP_SYS_NICE, no rtprio limit)."""
    try:
        for task in Path(f'/proc/{pid}/task').iterdir():
            os.sched_setscheduler(int(task.name), os.SCHED_FIFO, os.sched_param(priority))
    except (PermissionError, OSError):
        return False
    return True


class CommandCounter:
    """Joint commands received on the private domain, by their header stamps."""

    def __init__(self, domain: int):
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from sensor_msgs.msg import JointState

        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain)
        self.node = rclpy.create_node('bench_command_counter', context=self.context)
        self.stamps: list[float] = []
        self.node.create_subscription(
            JointState, 'joint_states',
            lambda m: self.stamps.append(m.header.stamp.sec + 1e-9 * m.header.stamp.nanosec), 500)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)

    def spin(self, seconds: float) -> None:
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            self.executor.spin_once(timeout_sec=min(0.1, max(until - time.monotonic(), 0.0)))

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self.context.try_shutdown()


def command_rate(stamps: list[float], start: float, stop: float) -> tuple[float, float]:
    """(commands per second, longest gap in ms) of the commands stamped in [start, stop)."""
    t = np.sort(np.array([s for s in stamps if start <= s < stop]))
    if len(t) < 2:
        return math.nan, math.nan
    return (len(t) - 1) / (t[-1] - t[0]), 1000.0 * float(np.diff(t).max())


def missed_steps(listener_csv: Path, skip_s: float, period_s: float) -> int:
    """Steps that never came: gaps in the audio the steps used (``period_s`` apart)."""
    import csv

    with listener_csv.open(newline='') as f:
        rows = list(csv.DictReader(f))
    ends = np.array([float(r['capture_end_s']) for r in rows])
    ends = ends[ends >= ends[0] + skip_s] if len(ends) else ends
    gaps = np.diff(ends) / period_s
    return int(np.sum(np.maximum(np.round(gaps) - 1, 0)))


def run(name: str, listener_params: dict, speech: Path, video: Path | None, seconds: float,
        logs: Path, load: int = 0, realtime: bool = False) -> dict:
    from lhg_ros.commands.demo import _start, _stop
    from lhg_ros.dds_probe import pick_private_domain, private_ros_env

    domain = pick_private_domain()
    env = private_ros_env(domain)
    counter = CommandCounter(domain)
    tag = name.replace(' ', '_').replace(',', '').replace('+', 'and')
    listener_csv, features_csv = logs / f'{tag}.listener.csv', logs / f'{tag}.features.csv'
    busy = [subprocess.Popen([sys.executable, '-c', 'while True: pass']) for _ in range(load)]
    listener = _start('listener_node', {**listener_params, 'latency_log': listener_csv}, env,
                      logs / f'{tag}.listener.log')
    processes = [listener]
    if video is not None:  # first, so that the camera stream runs before the audio starts
        processes.append(_start('head_pose_node', {'source': 'file', 'file.path': video,
                                                   'file.loop': True}, env,
                                logs / f'{tag}.head_pose.log'))
    counter.spin(3.0)  # the file sources wait for their subscriber anyway
    features = _start('audio_features_node', {'source': 'file', 'file.path': speech,
                                              'file.loop': True, 'latency_log': features_csv},
                      env, logs / f'{tag}.features.log')
    processes.append(features)
    scheduled = 'normal'
    if realtime:
        counter.spin(1.0)  # (its threads started)
        ok = set_realtime(listener.pid) and set_realtime(features.pid)
        scheduled = 'SCHED_FIFO 50' if ok else 'normal (SCHED_FIFO not permitted)'
    counter.spin(SKIP_S)
    cpu_start = {p.pid: cpu_seconds(p.pid) for p in processes}
    started = time.time()
    next_report = started + 30.0
    try:
        while time.time() - started < seconds:
            counter.spin(1.0)
            if time.time() >= next_report:
                print(f'  {name}: {time.time() - started:.0f} / {seconds:.0f} s',
                      file=sys.stderr)
                next_report += 30.0
            if any(p.poll() is not None for p in processes):
                raise SystemExit(f'{name}: a node exited early; see the logs in {logs}')
        stopped = time.time()
        wall = stopped - started
        cpu = [f'{100 * (cpu_seconds(p.pid) - cpu_start[p.pid]) / wall:.0f}%'
               for p in processes]
    finally:
        _stop(processes)
        for proc in busy:
            proc.kill()
            proc.wait()
        counter.close()
    if video is None:
        cpu.insert(1, '-')
    rate, gap = command_rate(counter.stamps, started, stopped)
    stages = stage_times(listener_csv, features_csv, skip_s=SKIP_S)
    return {'stages': stages, 'cpu': cpu, 'rate': rate, 'gap_ms': gap, 'scheduling': scheduled,
            'missed': missed_steps(listener_csv, SKIP_S, STEP_S)}


def percentiles(values: np.ndarray) -> tuple[float, float, float]:
    ms = 1000.0 * values[np.isfinite(values)]
    return (*np.percentile(ms, [50, 99]), float(ms.max())) if len(ms) else (math.nan,) * 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seconds', type=float, default=300.0,
                        help='seconds of looping speech per configuration (default 300)')
    parser.add_argument('--no-camera', action='store_true',
                        help='skip the runs with head_pose_node on a face video')
    parser.add_argument('--load', type=int, default=0, metavar='N',
                        help='also run the shipped model with the camera beside N busy '
                             'processes (nice 0), as is and with real-time scheduling')
    parser.add_argument('--keep', metavar='DIR', help='keep the latency logs in DIR')
    args = parser.parse_args()
    from lhg_ros.commands.demo import make_inputs

    with tempfile.TemporaryDirectory() as tmp:
        logs = Path(args.keep) if args.keep else Path(tmp)
        logs.mkdir(parents=True, exist_ok=True)
        speech, video, _ = make_inputs(logs)
        model = {'policy': 'model', 'backend': 'onnxruntime'}
        loaded = f'{args.load} busy processes'
        configs = [('rules', {'policy': 'rules'}, None, 0, False),
                   ('shipped model', model, None, 0, False)]
        if not args.no_camera:
            configs.append(('shipped model + camera', model, video, 0, False))
        if args.load:
            clip = None if args.no_camera else video
            label = 'shipped model' + ('' if clip is None else ' + camera')
            configs += [(f'{label}, {loaded}', model, clip, args.load, False),
                        (f'{label}, {loaded}, audio nodes real-time', model, clip, args.load,
                         True)]
        results = {}
        for name, params, clip, load, realtime in configs:
            print(f'{name} ({args.seconds:.0f} s) ...', file=sys.stderr)
            results[name] = run(name, params, speech, clip, args.seconds, logs, load, realtime)
    cores = len(os.sched_getaffinity(0))
    print(f'Latency budget over real DDS, {args.seconds:.0f} s of looping speech per '
          f'configuration, {cores} cores\n')
    summary = []
    for name, r in results.items():
        stages = r['stages']
        print(f"{name} (listener and features nodes: {r['scheduling']}): "
              f'{waited_summary(stages)}')
        print(format_table(STAGE_HEADERS, stage_rows(stages)))
        print()
        total = percentiles(stages['total'])
        work = percentiles(stages[WORK])
        summary.append([name, str(len(stages['total'])), str(r['missed']), f"{r['rate']:.2f}",
                        f"{r['gap_ms']:.0f}", f'{total[0]:.1f}', f'{total[1]:.1f}',
                        f'{total[2]:.1f}', f'{work[0]:.1f} / {work[1]:.1f}',
                        ' / '.join(r['cpu'])])
    rules_p99 = float(summary[0][6])
    for row in summary:
        row.insert(7, f'{float(row[6]) / rules_p99:.2f}')
    print(format_table(['configuration', 'steps', 'missed', 'commands/s', 'longest gap ms',
                        'total p50 ms', 'total p99 ms', 'p99 vs rules', 'total max ms',
                        'work alone p50 / p99 ms', 'CPU (listener / camera / features)'],
                       summary))
    rows = {row[0]: row for row in summary}
    goals = [('audio only: total p99', '<= 8 ms', float(rows['shipped model'][6]), 8.0)]
    if 'shipped model + camera' in rows:
        goals.append(('with the camera: total p99', '<= 25 ms',
                      float(rows['shipped model + camera'][6]), 25.0))
    print()
    for label, goal, value, bound in goals:
        print(f"Goal, {label} {goal}: {value:.1f} ms ({'met' if value <= bound else 'NOT met'})")
    for name, r in results.items():
        if args.load and loaded in name:
            steady = abs(r['rate'] - 50.0) <= 1.0 and r['missed'] == 0
            print(f"Goal, {name}: 50 Hz +-2%, no step missed: {r['rate']:.2f} Hz, "
                  f"{r['missed']} missed ({'met' if steady else 'NOT met'})")
    print('CPU: share of one core per node over the run. The work alone: the features node\'s '
          'FBank, VAD and publish, DDS, the step and the command, without any wait.')


if __name__ == '__main__':
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from publish import run_and_publish

    run_and_publish('bench_end_to_end', main)
