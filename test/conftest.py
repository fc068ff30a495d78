"""Shared set-up: every ROS test runs on a private ROS domain with discovery kept on loopback."""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lhg_ros.dds_probe import pick_private_domain, private_ros_env

REPO = Path(__file__).resolve().parents[1]


def load_module_at(path, name: str | None = None):
    """A script of the repository (scripts/, bench/) imported as a module, by its path."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name or Path(path).stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
BIN = Path(sys.executable).parent

# Set before any rclpy context exists, so in-process nodes and child processes share the domain.
os.environ.update(private_ros_env(pick_private_domain()))


def _shutdown_then_collect():
    """rclpy's Executor.shutdown drops its suspended wait generator; while that generator
    sits in a reference cycle its handles stay 'in use', and a following destroy_node waits
    for them forever, holding the GIL (seen once in CI). A collection releases them."""
    import gc

    from rclpy.executors import Executor

    original = Executor.shutdown

    def shutdown(self, *args, **kwargs):
        done = original(self, *args, **kwargs)
        gc.collect()
        return done

    Executor.shutdown = shutdown


_shutdown_then_collect()


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


def node_command(executable: str, **params) -> list[str]:
    """Command line of an installed lhg_ros executable with ``-p name:=value`` parameters
    (keys may use ``__`` for ``.``: ``file__path`` is ``file.path``)."""
    args = [str(BIN / executable), '--ros-args']
    for key, value in params.items():
        args += ['-p', f"{key.replace('__', '.')}:={value}"]
    return args


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


SPEECH_TEXT = ('Hello there. I wanted to tell you about my weekend. We went hiking in the '
               'mountains, and the weather was wonderful.')
SILENCE_PAD_S = 1.5


@pytest.fixture(scope='session')
def speech(tmp_path_factory):
    """Real speech from espeak-ng, converted by sox to 16 kHz mono 16-bit with 1.5 s of silence
    before and after. Returns (path, speech_start_s, speech_end_s) of the padded file."""
    import soundfile as sf

    work = tmp_path_factory.mktemp('speech')
    raw, padded = work / 'raw.wav', work / 'speech16k.wav'
    subprocess.run(['espeak-ng', '-v', 'en-us', '-s', '150', '-w', str(raw), SPEECH_TEXT],
                   check=True, capture_output=True)
    # sox: trim espeak's own leading/trailing silence, resample, pad with true silence.
    subprocess.run(['sox', str(raw), '-r', '16000', '-c', '1', '-b', '16', str(padded),
                    'silence', '1', '0.01', '0.1%', 'reverse', 'silence', '1', '0.01', '0.1%',
                    'reverse', 'pad', str(SILENCE_PAD_S), str(SILENCE_PAD_S)],
                   check=True, capture_output=True)
    duration = sf.info(str(padded)).duration
    return padded, SILENCE_PAD_S, duration - SILENCE_PAD_S


@pytest.fixture(scope='session')
def speech_samples(speech):
    """The 16 kHz speech of the ``speech`` fixture as float32 in [-1, 1]."""
    import soundfile as sf

    samples, rate = sf.read(str(speech[0]), dtype='float32')
    assert rate == 16000
    return samples


@pytest.fixture(scope='session')
def face_video(tmp_path_factory):
    """A 2 s, 25 fps MP4 of the face rolling +-20 degrees and drifting sideways; returns
    (path, per-frame roll in degrees, per-frame dx in pixels)."""
    from lhg_ros.synthetic.speaker_scene import write_face_video

    t = np.arange(50) / 25.0
    rolls = 20.0 * np.sin(2 * np.pi * 0.5 * t)
    shifts = np.round(40.0 * np.sin(2 * np.pi * 0.25 * t)).astype(int)
    path = write_face_video(tmp_path_factory.mktemp('video') / 'speaker.mp4', rolls, shifts)
    return path, rolls, shifts


@pytest.fixture(scope='session')
def synthetic(tmp_path_factory):
    """Two synthetic dyadic sessions (real speech, a real face), extracted."""
    from lhg_ros.data.extract import extract_dataset
    from lhg_ros.data.manifest import load_manifest
    from lhg_ros.synthetic.smoke_sessions import make_dataset

    root = tmp_path_factory.mktemp('dataset')
    dataset = load_manifest(make_dataset(root, sessions=2, turns=2))
    extract_dataset(dataset, workers=2, progress=False)
    return dataset


@pytest.fixture(scope='session')
def corpus(tmp_path_factory):
    """A small starter corpus (lhg_ros.synthetic.corpus): four 1-minute sessions of generated
    speech, speaker motion and a stochastic listener (a person of another style in each), one
    held out; extracted."""
    from lhg_ros.data.extract import extract_dataset
    from lhg_ros.data.manifest import load_manifest
    from lhg_ros.synthetic.corpus import make_corpus

    root = tmp_path_factory.mktemp('corpus')
    dataset = load_manifest(make_corpus(root, sessions=4, held_out=1, minutes=(1.0, 1.1),
                                        seed=7, per_listener=1))
    extract_dataset(dataset, workers=2, progress=False)
    return dataset
