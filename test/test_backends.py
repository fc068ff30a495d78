"""Every backend runs the same model: parity with torch, carried state, clear failures."""

import importlib.util

import numpy as np
import pytest
import torch

from lhg_ros.backends import BackendError, load_backend
from lhg_ros.network.checkpoint import random_checkpoint
from lhg_ros.network.config import ModelConfig

CONFIG = ModelConfig(d_model=64, j_layers=2, q_layers=2, r_layers=2, ffn_bottleneck=32,
                     heads=4, audio_window_s=0.5, motion_window_s=0.6)
HAS_CUDA = torch.cuda.is_available()
HAS_TENSORRT = importlib.util.find_spec('tensorrt') is not None


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    return random_checkpoint(tmp_path_factory.mktemp('model') / 'listener', CONFIG, seed=3)


def random_steps(count, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        yield (rng.normal(size=(12, 81)).astype(np.float32),
               rng.normal(size=(3, 18)).astype(np.float32),
               rng.normal(size=(3, 18)).astype(np.float32))


def assert_parity(backend, reference, steps=200, atol=1e-4):
    state, ref_state = backend.initial_state(), reference.initial_state()
    worst = 0.0
    for audio, speaker, listener in random_steps(steps):
        poses, state = backend.step(audio, speaker, listener, state)
        expected, ref_state = reference.step(audio, speaker, listener, ref_state)
        assert poses.shape == (3, 6) and np.isfinite(poses).all()
        worst = max(worst, float(np.abs(poses - expected).max()))
    assert worst < atol, f'{backend.name} differs from torch by {worst:g}'


def test_onnxruntime_equals_torch_over_200_steps_with_carried_state(checkpoint):
    assert_parity(load_backend('onnxruntime', checkpoint), load_backend('torch', checkpoint))


@pytest.mark.parametrize('name', ['torch', 'onnxruntime'])
def test_warming_up_leaves_a_conversation_as_it_would_have_been(checkpoint, name):
    """listener_node warms the backend up before listening (CUDA initialises at the first
    step); a conversation after it must get exactly what a fresh backend gives."""
    warmed, fresh = load_backend(name, checkpoint), load_backend(name, checkpoint)
    assert warmed.warm_up() > 0
    state, fresh_state = warmed.initial_state(), fresh.initial_state()
    for audio, speaker, listener in random_steps(20):
        poses, state = warmed.step(audio, speaker, listener, state)
        expected, fresh_state = fresh.step(audio, speaker, listener, fresh_state)
        np.testing.assert_array_equal(poses, expected)


def test_the_onnx_export_is_cached_next_to_the_checkpoint(checkpoint):
    backend = load_backend('onnxruntime', checkpoint)
    first = backend.onnx_path.stat().st_mtime_ns
    again = load_backend('onnxruntime', checkpoint)
    assert again.onnx_path == backend.onnx_path
    assert again.onnx_path.stat().st_mtime_ns == first, 'exported again without a change'
    # and the command says it reused the file rather than "wrote" it
    import subprocess

    from conftest import BIN

    said = subprocess.run([str(BIN / 'lhg-ros'), 'export', '--checkpoint', str(checkpoint)],
                          capture_output=True, text=True, timeout=300)
    assert said.returncode == 0 and 'is current' in said.stdout and 'wrote' not in said.stdout
    assert again.onnx_path.stat().st_mtime_ns == first


@pytest.mark.skipif(not HAS_CUDA, reason='needs a CUDA device (none on this machine)')
@pytest.mark.parametrize('cuda_graphs', [False, True])
def test_torch_cuda_equals_torch_cpu(checkpoint, cuda_graphs):
    assert_parity(load_backend('torch', checkpoint, device='cuda', cuda_graphs=cuda_graphs),
                  load_backend('torch', checkpoint))


@pytest.mark.skipif(not HAS_CUDA, reason='needs a CUDA device (none on this machine)')
def test_two_conversations_with_cuda_graphs_do_not_share_state(checkpoint):
    """Each state from initial_state() is its own: stepping one conversation leaves another's
    results unchanged (they once aliased the graph's static buffers)."""
    graphs = load_backend('torch', checkpoint, device='cuda', cuda_graphs=True)
    reference = load_backend('torch', checkpoint)
    a, b = graphs.initial_state(), graphs.initial_state()
    ref_a, ref_b = reference.initial_state(), reference.initial_state()
    worst = 0.0
    for i, (audio, speaker, listener) in enumerate(random_steps(60)):
        if i % 3:  # conversation b steps less often, on other inputs
            poses, a = graphs.step(audio, speaker, listener, a)
            expected, ref_a = reference.step(audio, speaker, listener, ref_a)
        else:
            poses, b = graphs.step(-audio, speaker, listener, b)
            expected, ref_b = reference.step(-audio, speaker, listener, ref_b)
        worst = max(worst, float(np.abs(poses - expected).max()))
    assert worst < 1e-4, f'interleaved conversations differ from separate ones by {worst:g}'


@pytest.mark.skipif(not (HAS_CUDA and HAS_TENSORRT),
                    reason='needs TensorRT and a CUDA device (neither on this machine)')
@pytest.mark.parametrize('fp16, atol', [(False, 1e-3), (True, 5e-2)])
def test_tensorrt_equals_torch(checkpoint, tmp_path, fp16, atol):
    backend = load_backend('tensorrt', checkpoint, fp16=fp16, engine_cache_dir=tmp_path)
    assert backend.engine_file.is_file() and backend.engine_file.parent == tmp_path
    assert_parity(backend, load_backend('torch', checkpoint), atol=atol)
    built = backend.engine_file.stat().st_mtime_ns
    again = load_backend('tensorrt', checkpoint, fp16=fp16, engine_cache_dir=tmp_path)
    assert again.engine_file.stat().st_mtime_ns == built, 'the cached engine was rebuilt'


def test_backend_failures_say_what_to_do(checkpoint, tmp_path):
    with pytest.raises(BackendError, match="unknown backend 'tflite'; choose one of: auto, torch"):
        load_backend('tflite', checkpoint)
    if not HAS_CUDA:
        with pytest.raises(BackendError, match='no CUDA device'):
            load_backend('torch', checkpoint, device='cuda')
    with pytest.raises(BackendError, match='NoSuchExecutionProvider not available here'):
        load_backend('onnxruntime', checkpoint, providers=['NoSuchExecutionProvider'])
    with pytest.raises(Exception, match='listener.safetensors is missing'):
        load_backend('onnxruntime', tmp_path / 'listener.safetensors')


def test_wrong_input_shapes_are_refused_by_name(checkpoint):
    backend = load_backend('onnxruntime', checkpoint)
    audio, speaker, listener = next(random_steps(1))
    with pytest.raises(ValueError, match=r'audio must have shape \(12, 81\)'):
        backend.step(audio[:10], speaker, listener, backend.initial_state())


def test_generation_keeps_the_warm_up_and_then_runs_on_its_own(checkpoint):
    from lhg_ros.evaluation.offline import run_policy
    from lhg_ros.motion.model_policy import ModelPolicy

    rng = np.random.default_rng(5)
    frames = 75  # 3 s
    audio = rng.normal(size=(4 * frames, 81)).astype(np.float32)
    speaker = rng.normal(size=(frames, 6)) * 0.1
    truth = rng.normal(size=(frames, 6)) * 0.05
    poses = run_policy(ModelPolicy(load_backend('onnxruntime', checkpoint)), audio, speaker,
                       warmup_poses=truth)
    assert poses.shape == (75, 6) and np.isfinite(poses).all()
    warmup = 25  # 1 s
    np.testing.assert_array_equal(poses[:warmup], truth[:warmup])
    assert not np.allclose(poses[warmup:], truth[warmup:])
    # The same inputs give the same motion on another backend.
    other = run_policy(ModelPolicy(load_backend('torch', checkpoint)), audio, speaker,
                       warmup_poses=truth)
    np.testing.assert_allclose(other, poses, atol=1e-3)


def test_without_torch_a_missing_onnx_model_says_where_to_export_it(tmp_path, monkeypatch):
    """The runtime has no torch: the shipped pair (weights + .step.onnx) loads as it is; a
    checkpoint without its ONNX model is one clear error, not an ImportError."""
    import shutil
    import sys

    from lhg_ros.backends.step_model import step_onnx_path
    from lhg_ros.models import STARTER
    from lhg_ros.network.checkpoint import checkpoint_paths

    # Importing the exporter (torch) fails, as it does where torch is not installed.
    monkeypatch.setitem(sys.modules, 'lhg_ros.backends.onnx_export', None)
    for source in checkpoint_paths(STARTER):
        shutil.copy(source, tmp_path / source.name)
    copied = tmp_path / STARTER.name
    with pytest.raises(BackendError, match=r'missing, and exporting it needs torch.*'
                                           r'lhg-ros export --checkpoint'):
        load_backend('onnxruntime', copied)
    shutil.copy(step_onnx_path(STARTER), step_onnx_path(copied))
    backend = load_backend('onnxruntime', copied)
    c = backend.config
    poses, _ = backend.step(np.zeros((c.audio_per_step, c.audio_input_dim), np.float32),
                            np.zeros((3, c.motion_dim), np.float32),
                            np.zeros((3, c.motion_dim), np.float32), backend.initial_state())
    assert poses.shape == c.prediction_shape[1:] and np.isfinite(poses).all()


def test_the_exporter_asks_for_the_torchscript_path_only_where_torch_has_the_option():
    """torch 2.1-2.4 (JetPack 6) reject dynamo=...; from 2.5 it selects the exporter."""
    from lhg_ros.backends.onnx_export import legacy_exporter_options

    def old_export(model, args, f, input_names=None, output_names=None, opset_version=None,
                   do_constant_folding=True):
        pass

    def new_export(model, args, f, *, dynamo=True, opset_version=None):
        pass

    assert legacy_exporter_options(old_export) == {}
    assert legacy_exporter_options(new_export) == {'dynamo': False}
    assert legacy_exporter_options() == {'dynamo': False}  # this machine's torch
