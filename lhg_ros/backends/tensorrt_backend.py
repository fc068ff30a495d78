"""TensorRT backend: an engine built from the ONNX step model, cached, run with device buffers;
the recurrent state stays on the GPU between steps (two buffer sets per conversation, swapped).

Runs on TensorRT 8.5 to 10.x (JetPack 5.1, 6.x and desktop CUDA): the network flags follow the
version (explicit batch must be asked for below 10), the tensor API is the name-based one both
share. Device memory comes from libcudart through ctypes (:mod:`lhg_ros.backends.cuda_runtime`),
so no torch is needed.

Engines are cached in a user cache folder (``$XDG_CACHE_HOME/lhg_ros/engines`` unless
``engine_cache_dir`` says otherwise), keyed by the ONNX model's digest, the TensorRT version, the
GPU's name and compute capability and the precision; written atomically, so two nodes building
at once never read half a file; an unreadable engine is rebuilt.
"""

import os
import re
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from lhg_ros.backends.base import Backend, BackendError
from lhg_ros.backends.step_model import file_digest, onnx_for_checkpoint
from lhg_ros.network.checkpoint import checkpoint_paths, read_model_config
from lhg_ros.network.config import PREDICTION, STYLE, output_name

MIN_VERSION = (8, 5)  # the name-based tensor API (set_tensor_address, execute_async_v3)


def trt_version(trt) -> tuple[int, int]:
    """(major, minor) of an imported ``tensorrt`` module."""
    match = re.match(r'(\d+)\.(\d+)', getattr(trt, '__version__', ''))
    if match is None:
        raise BackendError(f'cannot read the TensorRT version {trt.__version__!r}')
    return int(match.group(1)), int(match.group(2))


def check_supported(trt) -> tuple[int, int]:
    version = trt_version(trt)
    if version < MIN_VERSION:
        raise BackendError(f'TensorRT {trt.__version__} is too old: the tensorrt backend needs '
                           f'{MIN_VERSION[0]}.{MIN_VERSION[1]} or later (JetPack 5.1+); use '
                           'backend:=onnxruntime')
    return version


def network_flags(trt) -> int:
    """``create_network`` flags: explicit batch, which the ONNX parser needs, is a flag below
    TensorRT 10 (the default 0 makes an implicit-batch network there) and the only mode from
    10 on, where the flag is deprecated."""
    if check_supported(trt)[0] >= 10:
        return 0
    return 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)


def fp16_flag(trt, fp16: bool):
    """The builder flag for an fp16 engine (None for fp32). TensorRT deprecated it in 10.12 for
    strongly typed networks and later releases drop it: there fp16 needs an fp16 ONNX model."""
    if not fp16:
        return None
    flag = getattr(trt.BuilderFlag, 'FP16', None)
    if flag is None:
        raise BackendError(f'TensorRT {trt.__version__} has no fp16 builder flag (networks are '
                           'strongly typed there): set tensorrt.fp16 to false')
    return flag


def default_cache_dir() -> Path:
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return Path(base) / 'lhg_ros' / 'engines'


def _tag(text: str) -> str:
    return re.sub(r'[^A-Za-z0-9]+', '-', text).strip('-')


def engine_path(cache_dir: Path, checkpoint, onnx_path: Path, trt_version_text: str, gpu: str,
                compute_capability: tuple[int, int], fp16: bool) -> Path:
    """The cache file of one engine: what makes an engine unusable elsewhere is in its name."""
    weights, _ = checkpoint_paths(checkpoint)
    major, minor = compute_capability
    return Path(cache_dir) / (f'{weights.stem}.{file_digest(onnx_path)[:16]}.'
                              f'trt{_tag(trt_version_text)}.{_tag(gpu)}.sm{major}{minor}.'
                              f'{"fp16" if fp16 else "fp32"}.engine')


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.',
                                         suffix='.partial')
    try:
        with os.fdopen(handle, 'wb') as f:
            f.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def cached_engine(path: Path, build: Callable[[], bytes], load: Callable[[bytes], object],
                  force: bool = False, log: Callable[[str], None] = print):
    """The engine in ``path`` (``load``ed), built and stored first when missing, ``force``d,
    or unreadable (a half-written or foreign file)."""
    if not force and path.is_file():
        try:
            engine = load(path.read_bytes())
        except Exception as exc:  # noqa: BLE001 - TensorRT raises various things on bad bytes
            engine, reason = None, str(exc)
        else:
            reason = 'TensorRT could not deserialize it'
        if engine is not None:
            return engine
        log(f'cached engine {path} is unusable ({reason}); rebuilding it')
    data = build()
    try:
        write_atomically(path, data)
    except OSError as exc:
        raise BackendError(f'cannot write the engine cache {path.parent} ({exc}); set '
                           'tensorrt.engine_cache_dir to a writable folder') from None
    engine = load(data)
    if engine is None:
        raise BackendError(f'TensorRT cannot load the engine it just built ({path})')
    return engine


def engine_io(engine, trt) -> dict[str, tuple[str, tuple[int, ...], object]]:
    """name -> ('input' | 'output', shape, dtype) of an engine's I/O tensors."""
    io = {}
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        mode = engine.get_tensor_mode(name)
        io[name] = ('input' if mode == trt.TensorIOMode.INPUT else 'output',
                    tuple(int(d) for d in engine.get_tensor_shape(name)),
                    engine.get_tensor_dtype(name))
    return io


def check_engine_io(engine, trt, inputs: dict, outputs: dict, source: str) -> set[str]:
    """Check an engine's tensors against the checkpoint's step I/O (from its sidecar); return
    the inputs the engine has (an unused one, the listener motion of a model with
    listener_input 'none', is left out by the exporter). Raises one BackendError listing every
    mismatch."""
    io = engine_io(engine, trt)
    problems = []
    for kind, expected in (('input', inputs), ('output', outputs)):
        for name, shape in expected.items():
            if name not in io:
                if not (kind == 'input' and name == 'listener'):
                    problems.append(f'no {kind} {name}')
                continue
            got_kind, got_shape, dtype = io[name]
            if got_kind != kind:
                problems.append(f'{name} is an {got_kind}, expected an {kind}')
            if got_shape != tuple(shape):
                problems.append(f'{name} has shape {got_shape}, expected {tuple(shape)}')
            if dtype != trt.DataType.FLOAT:
                problems.append(f'{name} is {dtype}, expected float32')
    unknown = sorted(set(io) - set(inputs) - set(outputs))
    if unknown:
        problems.append(f"unexpected tensors {', '.join(unknown[:3])}")
    if problems:
        raise BackendError(f"{source} does not match the checkpoint's config: "
                           f"{'; '.join(problems[:5])}; rebuild it (force_engine_update) or "
                           're-export the ONNX model')
    return {name for name, (kind, _, _) in io.items() if kind == 'input'}


class _BuildProgress:
    """Reports engine building: TensorRT 10's progress monitor where there is one, else the
    elapsed time every ``every_s`` seconds (8.x has no progress API)."""

    def __init__(self, trt, config, report: Callable[[str], None], every_s: float = 15.0):
        self.report, self.every_s = report, every_s
        self._done = threading.Event()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._tick, daemon=True)
        if hasattr(trt, 'IProgressMonitor'):
            config.progress_monitor = self._monitor(trt)

    def _monitor(self, trt):
        report = self.report

        class Monitor(trt.IProgressMonitor):
            def __init__(self):
                trt.IProgressMonitor.__init__(self)

            def phase_start(self, phase_name, parent_phase, num_steps):
                if parent_phase is None:
                    report(f'TensorRT: {phase_name} ({num_steps} steps)')

            def step_complete(self, phase_name, step):
                return True  # keep building

            def phase_finish(self, phase_name):
                pass

        self._keep = Monitor()  # TensorRT holds no reference of its own
        return self._keep

    def _tick(self):
        while not self._done.wait(self.every_s):
            self.report(f'building the TensorRT engine: {time.monotonic() - self._started:.0f} s')

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, error_type, *_):
        self._done.set()
        if error_type is None:
            self.report(f'TensorRT engine built in {time.monotonic() - self._started:.0f} s')


class TensorRTBackend(Backend):
    name = 'tensorrt'

    def __init__(self, checkpoint, fp16: bool = True, force_engine_update: bool = False,
                 workspace_mb: int = 1024, device: int = 0, engine_cache_dir: str | Path = '',
                 log: Callable[[str], None] = print):
        try:
            import tensorrt as trt
        except ImportError as exc:
            raise BackendError(f'the tensorrt backend needs the TensorRT Python package ({exc}); '
                               'on Jetson it comes with JetPack (python3-libnvinfer; in a venv '
                               'use --system-site-packages), elsewhere pip install tensorrt; or '
                               'use backend:=onnxruntime') from None
        from lhg_ros.backends.cuda_runtime import CudaRuntime, DeviceArray

        check_supported(trt)
        fp16_flag(trt, fp16)  # before anything is loaded: fails early where fp16 cannot be built
        if workspace_mb < 16:
            raise BackendError(f'workspace_mb must be at least 16, got {workspace_mb}')
        self._trt, self._log = trt, log
        self.cuda = cuda = CudaRuntime.load()
        cuda.set_device(device)
        self._device_array = lambda shape: DeviceArray(cuda, shape)
        self.config, self.info = read_model_config(checkpoint)
        onnx_path = onnx_for_checkpoint(checkpoint)
        gpu, capability = cuda.device_name(device), cuda.compute_capability(device)
        self.engine_file = engine_path(Path(engine_cache_dir or default_cache_dir()), checkpoint,
                                       onnx_path, trt.__version__, gpu, capability, fp16)
        self._logger = trt.Logger(trt.Logger.WARNING)
        runtime = trt.Runtime(self._logger)
        self.engine = cached_engine(
            self.engine_file, lambda: self._build(onnx_path, fp16, workspace_mb),
            runtime.deserialize_cuda_engine, force=force_engine_update, log=log)
        self._runtime = runtime
        inputs, outputs = self.config.step_io()
        self._engine_inputs = check_engine_io(self.engine, trt, inputs, outputs,
                                              str(self.engine_file))
        self.context = self.engine.create_execution_context()
        if self.context is None:
            raise BackendError('TensorRT could not create an execution context (out of GPU '
                               'memory?)')
        self._stream = cuda.stream()
        self._host = {name: np.zeros(shape, np.float32) for name, shape in inputs.items()
                      if name in self.config.step_inputs and name in self._engine_inputs}
        self._device = {name: self._device_array(array.shape)
                        for name, array in self._host.items()}
        self._prediction_host = np.zeros(outputs[PREDICTION], np.float32)
        self._prediction = self._device_array(outputs[PREDICTION])
        for name, array in (*self._device.items(), (PREDICTION, self._prediction)):
            self._bind(name, array)
        self._state_shapes = self.config.state_shapes(1)

    def _bind(self, name: str, array) -> None:
        if not self.context.set_tensor_address(name, array.pointer):
            raise BackendError(f'TensorRT refused the device address of {name}')

    def _build(self, onnx_path: Path, fp16: bool, workspace_mb: int) -> bytes:
        trt = self._trt
        self._log(f'building a TensorRT {trt.__version__} engine from {onnx_path.name} '
                  f'({"fp16" if fp16 else "fp32"}, workspace {workspace_mb} MB); minutes on a '
                  f'Jetson, once: it is cached as {self.engine_file}')
        builder = trt.Builder(self._logger)
        network = builder.create_network(network_flags(trt))
        parser = trt.OnnxParser(network, self._logger)
        # From the file, so that weights stored beside a large model are found.
        if not parser.parse_from_file(str(onnx_path)):
            errors = '; '.join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise BackendError(f'TensorRT cannot parse {onnx_path}: {errors}')
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mb << 20)
        flag = fp16_flag(trt, fp16)
        if flag is not None:
            config.set_flag(flag)
        with _BuildProgress(trt, config, self._log):
            serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise BackendError(f'TensorRT failed to build an engine from {onnx_path} (see its '
                               'log above; a larger tensorrt.workspace_mb may help)')
        return bytes(serialized)

    def initial_state(self):
        """Two fresh buffer sets on the GPU, zeroed: the one read this step and the one
        written. Every conversation gets its own."""
        read = {k: self._device_array(s) for k, s in self._state_shapes.items()}
        write = {k: self._device_array(s) for k, s in self._state_shapes.items()}
        for array in (*read.values(), *write.values()):
            self.cuda.zero(array.pointer, array.nbytes, self._stream)
        self.cuda.synchronize(self._stream)
        return read, write

    def step(self, audio, speaker, listener, state, style=None):
        self.check_inputs(audio, speaker, listener)
        read, write = state
        style = self.style_input(style)
        for name, array in (('audio', audio), ('speaker', speaker), ('listener', listener),
                            (STYLE, None if style is None else style[0])):
            if name in self._host:
                self._host[name][0] = array
                self.cuda.upload(self._device[name].pointer, self._host[name], self._stream)
        for name in read:
            self._bind(name, read[name])
            self._bind(output_name(name), write[name])
        if not self.context.execute_async_v3(self._stream.value or 0):
            raise BackendError('TensorRT execution failed')
        self.cuda.download(self._prediction_host, self._prediction.pointer, self._stream)
        self.cuda.synchronize(self._stream)
        return self._prediction_host[0].copy(), (write, read)

    def close(self) -> None:
        self.context = None
        self.engine = None
        self._device, self._prediction = {}, None
        if getattr(self, '_stream', None) is not None:
            self.cuda.destroy_stream(self._stream)
            self._stream = None

