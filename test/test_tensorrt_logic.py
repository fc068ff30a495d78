"""The TensorRT backend's version dispatch, engine cache and I/O checks, run here against
stand-ins for the ``tensorrt`` module and an engine (no GPU on this machine); the engine path
itself is exercised by test_backends.py where TensorRT and a GPU exist."""

import enum
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from lhg_ros.backends import BackendError, load_backend
from lhg_ros.backends.base import available_backend, cuda_devices
from lhg_ros.backends.tensorrt_backend import (
    cached_engine,
    check_engine_io,
    default_cache_dir,
    engine_path,
    network_flags,
)
from lhg_ros.models import STARTER
from lhg_ros.network.config import ModelConfig


class DataType(enum.Enum):
    FLOAT = 0
    HALF = 1


class TensorIOMode(enum.Enum):
    INPUT = 1
    OUTPUT = 2


def fake_trt(version: str) -> SimpleNamespace:
    """What the backend reads of the tensorrt module: its version, the explicit-batch flag
    (bit 0 in 8.x and 10.x), data types and tensor modes."""
    return SimpleNamespace(
        __version__=version, DataType=DataType, TensorIOMode=TensorIOMode,
        NetworkDefinitionCreationFlag=SimpleNamespace(EXPLICIT_BATCH=0))


class FakeEngine:
    """An engine's name-based tensor API (TensorRT 8.5 to 10) over a name -> shape table."""

    def __init__(self, inputs: dict, outputs: dict, dtype=DataType.FLOAT):
        self.io = {**{k: (TensorIOMode.INPUT, v) for k, v in inputs.items()},
                   **{k: (TensorIOMode.OUTPUT, v) for k, v in outputs.items()}}
        self.names = list(self.io)
        self.dtype = dtype

    @property
    def num_io_tensors(self):
        return len(self.names)

    def get_tensor_name(self, i):
        return self.names[i]

    def get_tensor_mode(self, name):
        return self.io[name][0]

    def get_tensor_shape(self, name):
        return self.io[name][1]

    def get_tensor_dtype(self, name):
        return self.dtype


@pytest.mark.parametrize('version, flags', [('8.5.2.2', 1), ('8.6.2.3', 1), ('10.0.1', 0),
                                            ('10.3.0.26', 0), ('10.13.2', 0)])
def test_explicit_batch_is_asked_for_below_tensorrt_10_only(version, flags):
    """JetPack 6.0 ships TensorRT 8.6: create_network(0) there makes an implicit-batch
    network the ONNX parser rejects."""
    assert network_flags(fake_trt(version)) == flags


@pytest.mark.parametrize('version', ['8.4.1', '7.2.3'])
def test_a_tensorrt_without_the_tensor_api_is_refused_with_a_way_out(version):
    with pytest.raises(BackendError, match=f'TensorRT {version} is too old.*onnxruntime'):
        network_flags(fake_trt(version))


def test_the_engine_cache_key_names_everything_an_engine_depends_on(tmp_path):
    onnx = tmp_path / 'listener.step.onnx'
    onnx.write_bytes(b'graph')
    base = {'cache_dir': tmp_path / 'cache', 'checkpoint': tmp_path / 'listener.safetensors',
                'onnx_path': onnx, 'trt_version_text': '10.3.0', 'gpu': 'Orin (nvgpu)',
                'compute_capability': (8, 7), 'fp16': True}
    path = engine_path(**base)
    assert path.parent == tmp_path / 'cache', 'engines go to the cache, not beside the model'
    assert path.name.startswith('listener.') and 'trt10-3-0' in path.name
    assert 'Orin-nvgpu' in path.name and 'sm87' in path.name and path.name.endswith('fp16.engine')
    variants = [{'trt_version_text': '8.6.2'}, {'gpu': 'NVIDIA H100'},
                {'compute_capability': (7, 2)}, {'fp16': False}]
    names = {engine_path(**{**base, **change}).name for change in variants}
    assert len(names) == len(variants) and path.name not in names
    onnx.write_bytes(b'another graph')
    assert engine_path(**base) != path, 'a re-exported model needs a new engine'


def test_the_default_cache_is_a_user_folder(monkeypatch, tmp_path):
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path))
    assert default_cache_dir() == tmp_path / 'lhg_ros' / 'engines'
    monkeypatch.delenv('XDG_CACHE_HOME')
    assert default_cache_dir() == Path.home() / '.cache' / 'lhg_ros' / 'engines'


def load(data: bytes):
    """Deserialisation stand-in: TensorRT returns None for bytes it cannot read."""
    return {'engine': data} if data.startswith(b'ENGINE') else None


def test_an_engine_is_built_once_then_loaded_from_the_cache(tmp_path):
    path, builds = tmp_path / 'cache' / 'model.engine', []

    def build():
        builds.append(1)
        return b'ENGINE-1'

    assert cached_engine(path, build, load) == {'engine': b'ENGINE-1'}
    assert cached_engine(path, build, load) == {'engine': b'ENGINE-1'}
    assert len(builds) == 1 and path.read_bytes() == b'ENGINE-1'
    assert cached_engine(path, build, load, force=True) and len(builds) == 2
    assert [p.name for p in path.parent.iterdir()] == ['model.engine'], 'no partial files left'


@pytest.mark.parametrize('corrupt', [b'', b'half an eng', b'\x00' * 64])
def test_an_unreadable_cached_engine_is_rebuilt_not_raised(tmp_path, corrupt):
    path = tmp_path / 'model.engine'
    path.write_bytes(corrupt)
    logged = []
    engine = cached_engine(path, lambda: b'ENGINE-new', load, log=logged.append)
    assert engine == {'engine': b'ENGINE-new'} and path.read_bytes() == b'ENGINE-new'
    assert logged and 'unusable' in logged[0] and 'rebuilding' in logged[0]


def test_a_deserializer_that_raises_counts_as_unreadable(tmp_path):
    path = tmp_path / 'model.engine'
    path.write_bytes(b'ENGINE-from-another-version')

    def picky(data):
        if data != b'ENGINE-2':
            raise RuntimeError('serialization version mismatch')
        return data

    assert cached_engine(path, lambda: b'ENGINE-2', picky, log=lambda m: None) == b'ENGINE-2'


def test_an_unwritable_cache_path_fails_with_the_parameter_to_change(tmp_path):
    blocker = tmp_path / 'not_a_folder'
    blocker.write_text('a file where the cache folder should be')
    with pytest.raises(BackendError, match='set tensorrt.engine_cache_dir to a writable folder'):
        cached_engine(blocker / 'engines' / 'model.engine', lambda: b'ENGINE', load)


def test_two_processes_building_at_once_leave_one_whole_engine(tmp_path):
    path = tmp_path / 'model.engine'
    data = {i: b'ENGINE' + bytes([i]) * 4_000_000 for i in range(4)}
    barrier = threading.Barrier(4)

    def build(i):
        barrier.wait()
        return data[i]

    threads = [threading.Thread(target=cached_engine, args=(path, lambda i=i: build(i), load))
               for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert path.read_bytes() in data.values()
    assert [p.name for p in tmp_path.iterdir()] == ['model.engine']


STEP = ModelConfig(d_model=32, j_layers=1, q_layers=1, r_layers=1, ffn_bottleneck=16, heads=2,
                   audio_window_s=0.2, motion_window_s=0.4)


def test_an_engine_matching_the_checkpoint_passes_the_io_check():
    inputs, outputs = STEP.step_io()
    engine = FakeEngine(inputs, outputs)
    assert check_engine_io(engine, fake_trt('10.3'), inputs, outputs, 'e') == set(inputs)
    # An exported graph may leave the listener input out (listener_input 'none').
    del engine.io['listener']
    engine.names.remove('listener')
    assert 'listener' not in check_engine_io(engine, fake_trt('8.6'), inputs, outputs, 'e')


@pytest.mark.parametrize('change, message', [
    (lambda io: io.pop('r_h0'), 'no input r_h0'),
    (lambda io: io.update(prediction=(TensorIOMode.OUTPUT, (1, 4, 6))),
     r'prediction has shape \(1, 4, 6\), expected \(1, 3, 6\)'),
    (lambda io: io.update(extra=(TensorIOMode.INPUT, (1,))), 'unexpected tensors extra'),
    (lambda io: io.update(audio=(TensorIOMode.OUTPUT, io['audio'][1])), 'audio is an output'),
])
def test_an_engine_from_another_model_is_refused_naming_the_tensor(change, message):
    inputs, outputs = STEP.step_io()
    engine = FakeEngine(inputs, outputs)
    change(engine.io)
    engine.names = list(engine.io)
    with pytest.raises(BackendError, match=message) as error:
        check_engine_io(engine, fake_trt('10.3'), inputs, outputs, 'cache/x.engine')
    assert 'cache/x.engine' in str(error.value) and 'force_engine_update' in str(error.value)


def test_half_precision_io_is_refused():
    inputs, outputs = STEP.step_io()
    with pytest.raises(BackendError, match='expected float32'):
        check_engine_io(FakeEngine(inputs, outputs, DataType.HALF), fake_trt('10.3'), inputs,
                        outputs, 'e')


def test_the_step_io_matches_the_exported_onnx_graph():
    """The table the engine is checked against is the shipped ONNX model's I/O."""
    import onnxruntime as ort

    from lhg_ros.backends.step_model import step_onnx_path
    from lhg_ros.network.checkpoint import read_model_config

    config, _ = read_model_config(STARTER)
    inputs, outputs = config.step_io()
    session = ort.InferenceSession(str(step_onnx_path(STARTER)),
                                   providers=['CPUExecutionProvider'])
    graph_inputs = {i.name: tuple(i.shape) for i in session.get_inputs()}
    graph_outputs = {o.name: tuple(o.shape) for o in session.get_outputs()}
    assert graph_outputs == outputs
    assert graph_inputs == inputs, 'the shipped model takes every input, its own motion too'
    assert outputs['prediction'] == (1, config.mixtures, 1 + 2 * config.predicted_frames * 6)


@pytest.mark.skipif(cuda_devices() > 0, reason='a CUDA device is visible here')
def test_without_tensorrt_or_a_gpu_the_backend_fails_in_one_line_and_auto_picks_onnx():
    with pytest.raises(BackendError) as error:
        load_backend('tensorrt', STARTER)
    message = str(error.value)
    assert '\n' not in message and ('TensorRT' in message or 'CUDA' in message)
    assert 'onnxruntime' in message or 'libcudart' in message
    assert available_backend() == 'onnxruntime'


def test_fp16_where_tensorrt_has_no_fp16_flag_is_one_clear_error():
    from lhg_ros.backends.tensorrt_backend import fp16_flag

    trt = fake_trt('10.3.0')
    trt.BuilderFlag = SimpleNamespace(FP16='fp16-flag')
    assert fp16_flag(trt, True) == 'fp16-flag' and fp16_flag(trt, False) is None
    newer = fake_trt('11.1.0')
    newer.BuilderFlag = SimpleNamespace()  # strongly typed: the flag is gone
    assert fp16_flag(newer, False) is None
    with pytest.raises(BackendError, match='set tensorrt.fp16 to false'):
        fp16_flag(newer, True)
