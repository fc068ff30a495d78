"""A real DDS round trip between two processes on a private ROS domain.

``lhg-ros doctor`` uses it to show that rclpy, the RMW implementation and DDS discovery work on
this machine. Run as a module, it is the echo peer: it answers every ping with a pong.
"""

import argparse
import contextlib
import os
import random
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

PING_TOPIC = 'lhg_probe/ping'
PONG_TOPIC = 'lhg_probe/pong'
# Domain ids above 101 collide with the Linux ephemeral port range.
MAX_SAFE_DOMAIN_ID = 101


def private_ros_env(domain_id: int, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a ROS process on ``domain_id`` whose discovery stays on this machine."""
    env = dict(os.environ if base is None else base)
    env['ROS_DOMAIN_ID'] = str(domain_id)
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    if env.get('ROS_DISTRO') == 'humble':  # Humble predates the discovery range variable.
        env['ROS_LOCALHOST_ONLY'] = '1'
    return env


def pick_private_domain() -> int:
    """A random domain id in 1..101 that differs from the one this shell uses."""
    in_use = os.environ.get('ROS_DOMAIN_ID', '0')
    choices = [d for d in range(1, MAX_SAFE_DOMAIN_ID + 1) if str(d) != in_use]
    return random.choice(choices)


@dataclass(frozen=True)
class RoundTrip:
    """What one probe measured."""

    domain_id: int
    discovery_s: float
    round_trips_ms: tuple[float, ...]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.round_trips_ms)

    @property
    def max_ms(self) -> float:
        return max(self.round_trips_ms)


class ProbeError(RuntimeError):
    """The round trip did not complete; the message says where it stopped."""


@contextlib.contextmanager
def _environment(env: dict[str, str]):
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def round_trip(
    count: int = 20, timeout_s: float = 15.0, domain_id: int | None = None
) -> RoundTrip:
    """Ping an echo peer in a child process ``count`` times over DDS and time each reply.

    Raises ProbeError when the peer cannot start or no reply arrives within ``timeout_s``.
    """
    domain_id = pick_private_domain() if domain_id is None else domain_id
    env = private_ros_env(domain_id)
    peer = subprocess.Popen(
        [sys.executable, '-m', 'lhg_ros.dds_probe', '--lifetime', str(timeout_s + 5.0)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with _environment(env):
            return _ping(peer, count, timeout_s, domain_id)
    finally:
        peer.terminate()
        try:
            peer.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            peer.kill()
            peer.wait()


def _ping(peer: subprocess.Popen, count: int, timeout_s: float, domain_id: int) -> RoundTrip:
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from std_msgs.msg import UInt64

    context = Context()
    rclpy.init(context=context, domain_id=domain_id)
    node = rclpy.create_node('lhg_probe_ping', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    replies: dict[int, float] = {}
    node.create_subscription(
        UInt64, PONG_TOPIC, lambda msg: replies.setdefault(msg.data, time.perf_counter()), 10
    )
    publisher = node.create_publisher(UInt64, PING_TOPIC, 10)
    start = time.perf_counter()
    deadline = start + timeout_s

    def send_and_wait(seq: int, wait_s: float) -> float | None:
        sent = time.perf_counter()
        publisher.publish(UInt64(data=seq))
        until = min(sent + wait_s, deadline)
        while seq not in replies and time.perf_counter() < until:
            if peer.poll() is not None:
                raise ProbeError(f'the echo peer exited with code {peer.returncode}: '
                                 f'{peer.stderr.read().strip()[-500:]}')
            executor.spin_once(timeout_sec=0.005)
        return replies[seq] - sent if seq in replies else None

    try:
        # Discovery: ping until the peer's first pong comes back.
        seq = 0
        while send_and_wait(seq, 0.1) is None:
            seq += 1
            if time.perf_counter() >= deadline:
                raise ProbeError(f'no reply from the echo peer on ROS_DOMAIN_ID={domain_id} '
                                 f'within {timeout_s:.0f} s: DDS discovery is not working')
        discovery_s = time.perf_counter() - start
        times_ms = []
        for i in range(count):
            elapsed = send_and_wait(1_000_000 + i, 2.0)
            if elapsed is None:
                raise ProbeError(f'ping {i + 1} of {count} got no reply within 2 s')
            times_ms.append(elapsed * 1000.0)
        return RoundTrip(domain_id, discovery_s, tuple(times_ms))
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=context)


def echo(lifetime_s: float) -> None:
    """Answer every ping with a pong until ``lifetime_s`` passes or the process is stopped."""
    import rclpy
    from rclpy.executors import ExternalShutdownException
    from std_msgs.msg import UInt64

    rclpy.init()
    node = rclpy.create_node('lhg_probe_echo')
    publisher = node.create_publisher(UInt64, PONG_TOPIC, 10)
    node.create_subscription(UInt64, PING_TOPIC, publisher.publish, 10)
    deadline = time.monotonic() + lifetime_s
    try:
        while rclpy.ok() and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description='Echo peer of the DDS round-trip probe.')
    parser.add_argument('--lifetime', type=float, default=30.0,
                        help='seconds to run before exiting on its own (default 30)')
    echo(parser.parse_args(argv).lifetime)


if __name__ == '__main__':
    main()
