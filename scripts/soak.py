"""``make soak``: the three nodes for a long time on looping files, over real DDS on a private
domain; reports each node's memory (RSS) growth and the joint command rate. Fails (exit 1)
when a node dies, memory grows more than 5% after the first minute, or commands stop.

    .venv/bin/python scripts/soak.py [--minutes 10]
"""

import argparse
import gc
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
GROWTH_LIMIT = 0.05


def rss_kib(pid: int) -> int:
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1])
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--minutes', type=float, default=float(os.environ.get('SOAK_MINUTES',
                                                                            10)))
    args = parser.parse_args()

    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import JointState

    from lhg_ros.commands.demo import make_inputs
    from lhg_ros.console import format_table
    from lhg_ros.dds_probe import pick_private_domain, private_ros_env

    work = Path(tempfile.mkdtemp(prefix='lhg_soak_'))
    speech, video, _ = make_inputs(work)
    env = {**os.environ, **private_ros_env(pick_private_domain())}
    os.environ.update(env)
    binary = Path(sys.executable).parent
    nodes = {
        'listener_node': [],
        'audio_features_node': ['-p', f'file.path:={speech}', '-p', 'file.loop:=true'],
        'head_pose_node': ['-p', 'source:=file', '-p', f'file.path:={video}',
                           '-p', 'file.loop:=true'],
    }
    processes = {name: subprocess.Popen([str(binary / name), '--ros-args', *extra], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for name, extra in nodes.items()}
    context = Context()
    rclpy.init(context=context)
    node = rclpy.create_node('lhg_soak', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    commands = [0]
    node.create_subscription(JointState, 'joint_states',
                             lambda m: commands.__setitem__(0, commands[0] + 1), 100)
    seconds = args.minutes * 60
    print(f'soak: {args.minutes:g} min of looping speech and video through the three nodes')
    started = time.time()
    samples = {name: [] for name in nodes}  # (elapsed s, RSS KiB)
    rates, last_count, next_sample = [], 0, started + 10.0
    try:
        while time.time() - started < seconds:
            executor.spin_once(timeout_sec=0.05)
            if time.time() < next_sample:
                continue
            next_sample += 10.0
            dead = [n for n, p in processes.items() if p.poll() is not None]
            if dead:
                print(f'soak: {dead[0]} exited with code {processes[dead[0]].returncode}')
                return 1
            elapsed = time.time() - started
            for name, proc in processes.items():
                samples[name].append((elapsed, rss_kib(proc.pid)))
            rates.append((commands[0] - last_count) / 10.0)
            last_count = commands[0]
            print(f'  {elapsed:5.0f} s  commands {rates[-1]:4.1f}/s  RSS '
                  + '  '.join(f'{n.split("_node")[0]} {samples[n][-1][1] / 1024:.0f} MiB'
                              for n in nodes), flush=True)
    finally:
        for proc in processes.values():
            proc.terminate()
        for proc in processes.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        executor.shutdown()
        gc.collect()  # (handles of the executor's dropped wait generator; see demo.py)
        node.destroy_node()
        rclpy.try_shutdown(context=context)

    rows, failed = [], False
    for name, points in samples.items():
        after_warmup = [rss for t, rss in points if t >= 60.0] or [p[1] for p in points]
        growth = after_warmup[-1] / after_warmup[0] - 1.0
        failed |= growth > GROWTH_LIMIT
        rows.append((name, f'{after_warmup[0] / 1024:.0f}', f'{after_warmup[-1] / 1024:.0f}',
                     f'{100 * growth:+.1f}%'))
    print()
    print(format_table(['node', 'RSS at 1 min (MiB)', 'RSS at end (MiB)', 'growth'], rows))
    steady = rates[1:] or rates
    print(f'\njoint commands: {sum(steady) / max(len(steady), 1):.1f}/s on average, '
          f'{min(steady):.1f}/s in the slowest 10 s (control rate 50 Hz); '
          f'memory growth limit {100 * GROWTH_LIMIT:.0f}%')
    if min(steady) < 40:
        print('soak: the command rate dropped below 40/s')
        failed = True
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
