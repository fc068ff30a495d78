"""The runtime needs no torch: a fresh virtual environment with only the ROS wheels and the
runtime requirements (``pip install .[ros,runtime]``, no torch) runs the audio, head-pose and
listener nodes end to end over DDS, the listener on ONNX Runtime with the shipped model."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def run(args, **kwargs):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, check=False,
                          **kwargs)


@pytest.fixture(scope='module')
def torch_free_venv(tmp_path_factory):
    venv = tmp_path_factory.mktemp('runtime') / 'venv'
    version = f'{sys.version_info.major}.{sys.version_info.minor}'
    base = Path(sys.base_prefix) / 'bin' / f'python{version}'
    created = run([base, '-m', 'venv', venv])
    assert created.returncode == 0, created.stderr
    python = venv / 'bin' / 'python'
    # A copy of the tree, so that building the wheel leaves nothing in the checkout.
    source = tmp_path_factory.mktemp('source') / 'lhg_ros'
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        '.venv', '.git', 'out', 'build', '*.egg-info', '__pycache__', '.*_cache'))
    installed = run([python, '-m', 'pip', 'install', '--quiet', '--progress-bar', 'off',
                     f'{source}[ros,runtime]'], timeout=1200)
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-3000:]
    return venv


def test_the_runtime_environment_has_no_torch(torch_free_venv):
    python = torch_free_venv / 'bin' / 'python'
    probe = run([python, '-c', 'import importlib.util as u; print(u.find_spec("torch"), '
                 'u.find_spec("silero_vad"), u.find_spec("safetensors"))'])
    assert probe.stdout.split() == ['None', 'None', 'None'], probe.stdout + probe.stderr
    # The Silero VAD model travels inside the wheel.
    vad = run([python, '-c', 'from lhg_ros.features.vad import VoiceActivityDetector as V; '
               'import numpy as n; print(V().accept(n.zeros(16000, n.float32)).sum())'])
    assert vad.returncode == 0 and vad.stdout.strip() == '0', vad.stdout + vad.stderr


def test_the_three_nodes_run_without_torch(torch_free_venv, tmp_path):
    from lhg_ros.commands.demo import make_inputs, run_pipeline

    speech, video, duration = make_inputs(tmp_path)
    recorder = run_pipeline(speech, video, duration, tmp_path,
                            {'policy': 'model', 'backend': 'onnxruntime'}, None,
                            report=lambda line: None, bin_dir=torch_free_venv / 'bin')
    log = (tmp_path / 'listener_node.log').read_text()
    assert recorder.listener_status.get('backend') == 'onnxruntime', log[-2000:]
    assert recorder.listener_status.get('policy') == 'model', recorder.listener_status
    expected_rows = round(duration * 100)
    assert abs(len(recorder.audio) - expected_rows) <= 3, (len(recorder.audio), expected_rows)
    assert len(recorder.speaker) > 0.8 * duration * 25, len(recorder.speaker)
    assert any(flag for _, flag in recorder.speaking), 'the VAD never heard the speech'
    pitch = np.degrees([p[recorder.joint_names.index('neck_pitch')] for _, p in recorder.joints])
    assert len(pitch) > 40 * duration, len(pitch)
    assert np.ptp(pitch) > 2.0, 'the shipped model must move the head'
