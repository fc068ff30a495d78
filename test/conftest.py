"""Shared set-up: every ROS test runs on a private ROS domain with discovery kept on loopback."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lhg_ros.dds_probe import pick_private_domain, private_ros_env

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# Set before any rclpy context exists, so in-process nodes and child processes share the domain.
os.environ.update(private_ros_env(pick_private_domain()))


@pytest.fixture
def rclpy_context():
    """A fresh rclpy context on the private domain, shut down after the test."""
    import rclpy
    from rclpy.context import Context

    context = Context()
    rclpy.init(context=context)
    yield context
    rclpy.try_shutdown(context=context)


def spin_until(executor, predicate, timeout_s: float) -> bool:
    """Spin ``executor`` until ``predicate()`` holds or ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while not predicate() and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.05)
    return predicate()


@pytest.fixture
def child_processes():
    """Start processes with ``start(args)``; all are stopped when the test ends."""
    started: list[subprocess.Popen] = []

    def start(args, **kwargs):
        kwargs.setdefault('stdout', subprocess.PIPE)
        kwargs.setdefault('stderr', subprocess.STDOUT)
        proc = subprocess.Popen(args, text=True, **kwargs)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
