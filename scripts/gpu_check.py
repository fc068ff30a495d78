"""``make gpu-check``: the GPU paths of lhg_ros in one run, ending in one table.

TensorRT engines (fp16, fp32) built from the shipped ONNX model; 200 closed-loop steps of each,
and of torch CUDA (with and without CUDA graphs), against ONNX Runtime on the CPU (largest
absolute difference per output, in a named listener style); the step graph exported anew by
this machine's torch; step times (p50/p99) of the shipped model and the ``paper`` preset on
torch CUDA and TensorRT; a second process that must load the cached engine without rebuilding
it; and ``listener_node`` (TensorRT, or torch CUDA with ``--no-tensorrt``) for 20 s over DDS.
Exits 1 when a check failed, 2 on bad options. ``scripts/gpu_check.sh`` finds or installs the
packages first and calls this.

    scripts/gpu_check.sh [--steps 200] [--timing-steps 200] [--dds-seconds 20] [--no-paper]
                         [--no-tensorrt] [--style animated]

Only the standard library is imported at the top, so that the options are checked before any
package is known to be there.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

OK, FAILED, SKIPPED = 'ok', 'FAILED', 'skipped'
HEADERS = ['check', 'result', 'limit', 'status']
# Largest absolute difference from ONNX Runtime (fp32, CPU) allowed in the prediction over the
# closed loop. fp32 engines: TensorRT may use TF32 (10-bit mantissa) for matrix products on
# Ampere and later, about 1e-3 relative; fp16 engines: 11-bit mantissa through every layer and
# 200 steps of carried state. ONNX Runtime against torch on the CPU is within 1e-4
# (test/test_backends.py). First guesses, not yet measured on a GPU.
TOLERANCES = {'fp32': 5e-3, 'fp16': 5e-2, 'cpu': 1e-4}
MIN_COMMAND_RATE = 40.0  # joint commands per second over DDS (control rate 50 Hz), as make soak
NO_TENSORRT_SKIP = 'skipped by --no-tensorrt'
PAPER_TENSORRT_SKIP = ('its ONNX export (0.5 B parameters) exceeds protobuf\'s 2 GB limit: the '
                       'exporter has no external-data mode')


@dataclass
class Check:
    """One row of the report."""

    name: str
    result: str
    limit: str = ''
    status: str = OK


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got '{text}'")
    return value


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a number of seconds >= 0, got '{text}'")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The options; argparse exits 2 with a one-line reason on a bad one."""
    parser = argparse.ArgumentParser(
        prog='gpu_check.sh', description=__doc__.splitlines()[0],
        epilog='Without an NVIDIA GPU gpu_check.sh says so in one line and exits 0.')
    parser.add_argument('--steps', type=positive_int, default=200,
                        help='closed-loop steps compared with ONNX Runtime (default 200)')
    parser.add_argument('--timing-steps', type=positive_int, default=200,
                        help='timed steps per model and backend (default 200; paper: 1/4)')
    parser.add_argument('--dds-seconds', type=seconds, default=20.0,
                        help='how long listener_node runs over DDS (default 20; 0 skips it)')
    parser.add_argument('--no-paper', action='store_true',
                        help='skip the paper preset (0.5 B parameters)')
    parser.add_argument('--no-tensorrt', action='store_true',
                        help='skip the TensorRT rows (where no TensorRT can be installed); the '
                             'DDS check then runs listener_node on torch CUDA')
    parser.add_argument('--style', default='animated',
                        help='the shipped listener style the closed loops run in (default '
                             'animated: not the default style, so that the style input is '
                             'exercised)')
    parser.add_argument('--engine-cache-dir', default='',
                        help='engine cache to use (default: a fresh one under out/gpu-check, '
                             'so that the build is timed)')
    parser.add_argument('--docs', default=str(DOCS_PAGE),
                        help='where to write the table as Markdown ("" for nowhere; default: '
                             'docs/gpu-check.md, which the docs link to)')
    parser.add_argument('--validate-only', action='store_true', help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def format_report(checks: list[Check]) -> str:
    from lhg_ros.console import format_table

    return format_table(HEADERS, [[c.name, c.result, c.limit, c.status] for c in checks])


def exit_code(checks: list[Check]) -> int:
    return 1 if any(c.status == FAILED for c in checks) else 0


def one_line(exc: BaseException, limit: int = 110) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if not isinstance(exc, RuntimeError):  # BackendError and ours say what is wrong
        text = f'{type(exc).__name__}: {text}'
    return text if len(text) <= limit else text[:limit - 3] + '...'


def run_check(checks: list[Check], name: str, limit: str, work: Callable[[], tuple[str, bool]],
              log: Callable[[str], None]) -> None:
    """Run one check: ``work`` returns (result, passed); an exception is a FAILED row with
    its first line (the traceback goes to the progress log)."""
    log(f'{name} ...')
    try:
        result, passed = work()
    except Exception as exc:  # noqa: BLE001 - every failure becomes a row; the run goes on
        log(traceback.format_exc().rstrip())
        checks.append(Check(name, one_line(exc), limit, FAILED))
    else:
        checks.append(Check(name, result, limit, OK if passed else FAILED))
    log(f'{name}: {checks[-1].status} ({checks[-1].result})')


# -- comparing backends ----------------------------------------------------------------------

def state_arrays(backend, state) -> dict:
    """A backend's state after a step as numpy arrays, name -> array: ONNX Runtime's arrays,
    torch's tensors, TensorRT's device buffers (the set written this step, downloaded)."""
    import numpy as np

    if isinstance(state, tuple):  # TensorRT: (written this step, read this step)
        arrays = {}
        for name, device in state[0].items():
            host = np.empty(device.shape, np.float32)
            backend.cuda.download(host, device.pointer, None)
            arrays[name] = host
        backend.cuda.synchronize(None)
        return arrays
    return {name: (value.detach().float().cpu().numpy() if hasattr(value, 'detach')
                   else np.asarray(value)) for name, value in state.items()}


def largest_difference(expected, got) -> float:
    """max |expected - got|; inf where either is not finite or the shapes differ."""
    import numpy as np

    expected, got = np.asarray(expected, np.float64), np.asarray(got, np.float64)
    if expected.shape != got.shape or not (np.isfinite(expected).all()
                                           and np.isfinite(got).all()):
        return math.inf
    return float(np.abs(expected - got).max()) if expected.size else 0.0


def make_comparing_backend(reference, candidate):
    """A backend that steps ``reference`` and ``candidate`` on the same inputs and returns the
    reference's prediction, so that a closed loop follows the reference while ``worst``
    collects, per output (prediction and every state output), the largest difference."""
    from lhg_ros.backends.base import Backend
    from lhg_ros.network.config import PREDICTION, output_name

    class ComparingBackend(Backend):
        name = f'{candidate.name} vs {reference.name}'

        def __init__(self):
            self.config, self.info = reference.config, reference.info
            self.worst: dict[str, float] = {}
            self.steps = 0

        def _record(self, name, expected, got):
            self.worst[name] = max(self.worst.get(name, 0.0), largest_difference(expected, got))

        def initial_state(self):
            return reference.initial_state(), candidate.initial_state()

        def step(self, audio, speaker, listener, state, style=None):
            reference_state, candidate_state = state
            expected, reference_state = reference.step(audio, speaker, listener,
                                                       reference_state, style)
            got, candidate_state = candidate.step(audio, speaker, listener, candidate_state,
                                                  style)
            self._record(PREDICTION, expected, got)
            expected_state = state_arrays(reference, reference_state)
            got_state = state_arrays(candidate, candidate_state)
            for name, array in expected_state.items():
                self._record(output_name(name), array, got_state.get(name))
            self.steps += 1
            return expected, (reference_state, candidate_state)

        def close(self):
            pass

    return ComparingBackend()


def synthetic_conversation(info: dict, seconds_: float, seed: int = 0):
    """Audio features (100 Hz) and speaker poses (25 Hz) for ``seconds_``: the checkpoint's
    feature statistics with noise, speech alternating with pauses every 2 s, and a speaker
    head swaying around the speaker's neutral pose."""
    import numpy as np

    from lhg_ros.features.audio import FEATURE_DIM
    from lhg_ros.features.motion_features import POSE_DIM

    rng = np.random.default_rng(seed)
    stats = info['normalization']
    mean = np.asarray(stats['audio']['mean'], np.float32)[:FEATURE_DIM]
    std = np.asarray(stats['audio']['std'], np.float32)[:FEATURE_DIM]
    rows = int(seconds_ * 100)
    audio = mean + std * rng.normal(size=(rows, FEATURE_DIM)).astype(np.float32)
    pauses = (np.arange(rows) // 200) % 2 == 1
    audio[pauses] = mean - 2 * std + 0.1 * std * rng.normal(size=(pauses.sum(), FEATURE_DIM))
    frames = int(seconds_ * 25)
    neutral = np.asarray(info.get('speaker_neutral', stats['motion']['mean'][:POSE_DIM]))
    t = np.arange(frames)[:, None] / 25.0
    sway = 0.05 * np.sin(2 * np.pi * t * np.array([[0.3, 0.5, 0.2, 0.1, 0.15, 0.25]]))
    return audio.astype(np.float32), neutral + sway * np.array([1, 1, 1, 0.1, 0.1, 0.1])


def closed_loop_differences(reference, candidate, steps: int, seed: int = 0, style: str = ''
                            ) -> tuple[dict[str, float], int]:
    """Run the listener runtime in closed loop (the model fed its own sampled poses, as in
    listener_node) in ``style`` (a shipped name; '' the default) on the reference for at least
    ``steps`` steps, the candidate stepped on the same inputs; returns (largest difference per
    output, steps run)."""
    from lhg_ros.evaluation.offline import run_policy
    from lhg_ros.motion.model_policy import ModelPolicy

    comparing = make_comparing_backend(reference, candidate)
    warmup_s = 1.0
    duration = warmup_s + (steps + 2) * reference.config.step_seconds
    audio, speaker = synthetic_conversation(reference.info, duration, seed)
    run_policy(ModelPolicy(comparing, seed=seed, style=style), audio, speaker,
               warmup_s=warmup_s)
    return comparing.worst, comparing.steps


def parity_result(worst: dict[str, float], steps: int, tolerance: float
                  ) -> tuple[str, bool]:
    """The row of a comparison: the prediction's largest difference (what the tolerance
    applies to) and the state output that differed most (for the reader)."""
    from lhg_ros.network.config import PREDICTION

    prediction = worst.get(PREDICTION, math.inf)
    states = {k: v for k, v in worst.items() if k != PREDICTION}
    text = f'{steps} steps: prediction {prediction:.2e}'
    if states:
        name = max(states, key=lambda k: states[k])
        text += f'; state worst {name} {states[name]:.2e}'
    return text, prediction <= tolerance


def timing_result(times_s, budget_ms: float) -> tuple[str, bool]:
    """p50 / p99 of step times; passes when p99 is within the real-time budget."""
    import numpy as np

    ms = 1000 * np.asarray(times_s)
    p50, p99 = float(np.percentile(ms, 50)), float(np.percentile(ms, 99))
    return f'p50 {p50:.3f} ms, p99 {p99:.3f} ms ({len(ms)} steps)', p99 <= budget_ms


# -- the checks on a GPU ---------------------------------------------------------------------

def environment_lines() -> tuple[list[str], list[str]]:
    """What this machine has, one line each, and what is missing for the check."""
    import importlib

    lines, missing = [f'python {sys.version.split()[0]} ({sys.executable})'], []
    try:
        smi = subprocess.run(['nvidia-smi', '--query-gpu=name,driver_version,memory.total',
                              '--format=csv,noheader'], capture_output=True, text=True,
                             timeout=20, check=False)
        lines.append(f'nvidia-smi: {smi.stdout.strip() or smi.stderr.strip()}')
    except (OSError, subprocess.TimeoutExpired) as exc:
        lines.append(f'nvidia-smi: {exc}')
    probes = {
        'torch': lambda m: f'{m.__version__}, cuda available {m.cuda.is_available()}'
                           f' (CUDA {m.version.cuda})',
        'tensorrt': lambda m: m.__version__,
        'onnxruntime': lambda m: f"{m.__version__}, providers "
                                 f"{', '.join(m.get_available_providers())}",
        'onnx': lambda m: m.__version__,
        'rclpy': lambda m: os.environ.get('ROS_DISTRO', 'from wheels'),
    }
    for name, describe in probes.items():
        try:
            lines.append(f'{name}: {describe(importlib.import_module(name))}')
        except Exception as exc:  # noqa: BLE001 - a broken install is reported, not fatal
            lines.append(f'{name}: missing ({one_line(exc)})')
            missing.append(name)
    try:
        from lhg_ros.backends.cuda_runtime import CudaRuntime

        cuda = CudaRuntime.load()
        lines.append(f'libcudart: {cuda.device_count()} device(s), '
                     f'{cuda.device_name(0)} sm{"".join(map(str, cuda.compute_capability(0)))}')
    except Exception as exc:  # noqa: BLE001
        lines.append(f'libcudart: {one_line(exc)}')
        missing.append('libcudart')
    return lines, missing


def engine_checks(checks, checkpoint, cache_dir: Path, args, log) -> dict:
    """Build both engines, compare each with ONNX Runtime; returns the TensorRT backends
    that loaded, by precision."""
    from lhg_ros.backends import load_backend

    engines = {}
    for precision in ('fp16', 'fp32'):
        def build(precision=precision):
            started = time.perf_counter()
            backend = load_backend('tensorrt', checkpoint, fp16=precision == 'fp16',
                                   engine_cache_dir=cache_dir, log=log)
            engines[precision] = backend
            size = backend.engine_file.stat().st_size / 1e6
            return (f'built and loaded in {time.perf_counter() - started:.1f} s, '
                    f'{size:.1f} MB'), True
        run_check(checks, f'TensorRT engine {precision}', '', build, log)
    for precision, backend in engines.items():
        def compare(backend=backend, precision=precision):
            reference = load_backend('onnxruntime', checkpoint)
            worst, steps = closed_loop_differences(reference, backend, args.steps,
                                                   style=args.style)
            return parity_result(worst, steps, TOLERANCES[precision])
        run_check(checks, f'TensorRT {precision} vs ONNX Runtime', f'<= {TOLERANCES[precision]:g}',
                  compare, log)
    return engines


def timing_checks(checks, label: str, checkpoint, engines: dict, steps: int, log,
                  tensorrt_skip: str = '') -> None:
    """p50/p99 per step of one model on torch CUDA (eager, CUDA graphs) and TensorRT."""
    from lhg_ros.backends import load_backend
    from lhg_ros.commands.model_tools import time_steps
    from lhg_ros.network.checkpoint import read_model_config

    budget_ms = 1000 * read_model_config(checkpoint)[0].step_seconds
    limit = f'p99 <= {budget_ms:.0f} ms'

    def timed(make):
        def work():
            backend = make()
            try:
                return timing_result(time_steps(backend, steps), budget_ms)
            finally:
                backend.close()
        return work

    for graphs in (False, True):
        run_check(checks, f'{label}: torch cuda{" + CUDA graphs" if graphs else ""}', limit,
                  timed(lambda graphs=graphs: load_backend('torch', checkpoint, device='cuda',
                                                           cuda_graphs=graphs)), log)
    for precision in ('fp16', 'fp32'):
        name = f'{label}: tensorrt {precision}'
        if tensorrt_skip:
            checks.append(Check(name, tensorrt_skip, limit, SKIPPED))
        elif precision not in engines:
            checks.append(Check(name, 'no engine (see the engine rows)', limit, FAILED))
        else:
            backend = engines[precision]
            run_check(checks, name, limit,
                      lambda backend=backend: timing_result(time_steps(backend, steps),
                                                            budget_ms), log)


def torch_checks(checks, checkpoint, args, log) -> None:
    """torch on CUDA (eager, CUDA graphs) against ONNX Runtime on the CPU, in closed loop."""
    from lhg_ros.backends import load_backend

    for graphs in (False, True):
        def compare(graphs=graphs):
            reference = load_backend('onnxruntime', checkpoint)
            candidate = load_backend('torch', checkpoint, device='cuda', cuda_graphs=graphs)
            try:
                worst, steps = closed_loop_differences(reference, candidate, args.steps,
                                                       style=args.style)
            finally:
                candidate.close()
            return parity_result(worst, steps, TOLERANCES['fp32'])
        run_check(checks, f'torch cuda{" + CUDA graphs" if graphs else ""} vs ONNX Runtime',
                  f'<= {TOLERANCES["fp32"]:g}', compare, log)


def export_check(checkpoint, work: Path, args) -> tuple[str, bool]:
    """The step graph exported by this machine's torch (a copy of the checkpoint without its
    ONNX file) against the shipped ONNX file, both on ONNX Runtime, in closed loop."""
    import shutil

    from lhg_ros.backends import load_backend

    copy = Path(tempfile.mkdtemp(prefix='export-', dir=work)) / Path(checkpoint).name
    for suffix in ('.safetensors', '.json'):
        shutil.copy(Path(checkpoint).with_suffix(suffix), copy.with_suffix(suffix))
    started = time.perf_counter()
    exported = load_backend('onnxruntime', copy)
    seconds_ = time.perf_counter() - started
    worst, steps = closed_loop_differences(load_backend('onnxruntime', checkpoint), exported,
                                           args.steps, style=args.style)
    text, passed = parity_result(worst, steps, TOLERANCES['cpu'])
    shutil.rmtree(copy.parent)
    return f'exported and loaded in {seconds_:.1f} s; {text}', passed


REUSE_PROBE = """
import json, sys, time
from lhg_ros.backends.tensorrt_backend import TensorRTBackend
messages = []
started = time.perf_counter()
backend = TensorRTBackend(sys.argv[1], fp16=True, engine_cache_dir=sys.argv[2],
                          log=messages.append)
print(json.dumps({'seconds': time.perf_counter() - started, 'engine': str(backend.engine_file),
                  'log': messages}))
"""


def reuse_check(checkpoint, cache_dir: Path, engines: dict) -> tuple[str, bool]:
    """A new process loads the fp16 engine: it must take the cached file, untouched."""
    if 'fp16' not in engines:
        raise RuntimeError('no fp16 engine was built to reuse')
    engine = engines['fp16'].engine_file
    before = engine.stat().st_mtime_ns
    probe = subprocess.run([sys.executable, '-c', REUSE_PROBE, str(checkpoint), str(cache_dir)],
                           capture_output=True, text=True, timeout=300, check=False,
                           env={**os.environ, 'PYTHONPATH': str(REPO)})
    if probe.returncode != 0:
        raise RuntimeError(f'the second process failed: {probe.stderr.strip()[-200:]}')
    report = json.loads(probe.stdout.strip().splitlines()[-1])
    rebuilt = [m for m in report['log'] if m.startswith(('building', 'cached engine'))]
    same = report['engine'] == str(engine) and engine.stat().st_mtime_ns == before
    text = (f"loaded in {report['seconds']:.2f} s from the cache" if same and not rebuilt
            else f'rebuilt: {(rebuilt or ["another engine file"])[0][:80]}')
    return text, same and not rebuilt


LISTENER_NODE = 'import sys; from lhg_ros.nodes.listener_node import main; sys.exit(main())'


def dds_check(checkpoint, cache_dir: Path, seconds_: float, work: Path, log,
              backend: str = 'tensorrt') -> tuple[str, bool]:
    """listener_node with the TensorRT backend (or ``backend`` 'torch': torch on CUDA) on a
    private DDS domain, fed synthetic features in 20 ms blocks for
    ``seconds_``: joint command rate and the step time from its /diagnostics."""
    try:
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from sensor_msgs.msg import Image, JointState
    except ImportError as exc:
        raise RuntimeError(f'rclpy and the message packages are needed ({exc}): pip install '
                           '".[ros]" or source a ROS 2 distribution') from None
    from lhg_ros.dds_probe import pick_private_domain, private_ros_env
    from lhg_ros.network.checkpoint import read_model_config
    from lhg_ros.nodes.common import image_from_rows, sensor_qos

    config, info = read_model_config(checkpoint)
    env = {**private_ros_env(pick_private_domain()), 'PYTHONPATH': str(REPO)}
    os.environ.update(env)
    audio, _ = synthetic_conversation(info, seconds_ + 2.0)
    log_path = work / 'listener_node.log'
    with open(log_path, 'w') as log_file:
        node_process = subprocess.Popen(
            [sys.executable, '-c', LISTENER_NODE, '--ros-args', '-p', f'backend:={backend}',
             '-p', f'checkpoint:={checkpoint}', '-p', f'tensorrt.engine_cache_dir:={cache_dir}',
             '-p', 'device:=cuda'],
            env=env, stdout=log_file, stderr=subprocess.STDOUT)
    context = Context()
    rclpy.init(context=context)
    node = rclpy.create_node('lhg_gpu_check', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    commands, status = [], {}

    def on_diagnostics(msg):
        for entry in msg.status:
            if entry.hardware_id == 'listener':
                status.clear()
                status.update({kv.key: kv.value for kv in entry.values})

    node.create_subscription(JointState, 'joint_states',
                             lambda _: commands.append(time.monotonic()), 100)
    node.create_subscription(DiagnosticArray, '/diagnostics', on_diagnostics, 10)
    features = node.create_publisher(Image, 'audio_features', sensor_qos())
    try:
        deadline = time.monotonic() + 120.0  # process start and engine load from the cache
        while not commands:
            if node_process.poll() is not None or time.monotonic() > deadline:
                lines = log_path.read_text().strip().splitlines() or ['no output']
                why = next((x for x in reversed(lines) if '[ERROR]' in x), lines[-1])
                raise RuntimeError(f"listener_node sent no joint command: "
                                   f"{why.rsplit(']: ', 1)[-1]}")
            executor.spin_once(timeout_sec=0.05)
        log(f'listener_node is up; {seconds_:g} s of synthetic speech features over DDS')
        started = time.monotonic()
        steps_before = int(status.get('steps', 0) or 0)
        block = 0
        while time.monotonic() - started < seconds_:
            if time.monotonic() >= started + 0.02 * block:
                rows = audio[2 * block:2 * block + 2]
                features.publish(image_from_rows(rows, time.time(), 'mic'))
                block += 1
            executor.spin_once(timeout_sec=0.005)
        until = time.monotonic() + 1.5  # the diagnostics of the last second
        while time.monotonic() < until:
            executor.spin_once(timeout_sec=0.05)
        if node_process.poll() is not None:
            raise RuntimeError(f'listener_node exited with code {node_process.returncode}')
    finally:
        node_process.terminate()
        try:
            node_process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            node_process.kill()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=context)
    rate = sum(started <= t <= started + seconds_ for t in commands) / seconds_
    steps = int(status.get('steps', 0) or 0) - steps_before
    expected_steps = (seconds_ - 1.0) / config.step_seconds  # less the 1 s warm-up
    built = 'building a TensorRT' in log_path.read_text()
    text = (f"{rate:.1f} commands/s, {steps} steps, step mean {status.get('mean step ms', '?')}"
            f" ms, max {status.get('max step ms', '?')} ms, backend "
            f"{status.get('backend', '?')}{', engine REBUILT' if built else ''}")
    passed = (rate >= MIN_COMMAND_RATE and status.get('backend') == backend
              and steps >= 0.8 * expected_steps and not built)
    return text, passed


def run_checks(args, log) -> list[Check]:
    from lhg_ros.models import starter_checkpoint

    checks: list[Check] = []
    lines, missing = environment_lines()
    for line in lines:
        log(f'  {line}')
    out = REPO / 'out' / 'gpu-check'
    out.mkdir(parents=True, exist_ok=True)
    cache_dir = Path(args.engine_cache_dir or tempfile.mkdtemp(prefix='engines-', dir=out))
    log(f'engine cache: {cache_dir}')
    gpu = next((line.split(': ', 1)[1] for line in lines if line.startswith('nvidia-smi')), '?')
    checks.append(Check('GPU', gpu[:100], '', FAILED if 'libcudart' in missing else OK))
    checkpoint = starter_checkpoint()
    engines = {} if args.no_tensorrt else engine_checks(checks, checkpoint, cache_dir, args, log)
    torch_checks(checks, checkpoint, args, log)
    run_check(checks, 'ONNX export by this torch vs the shipped file',
              f'<= {TOLERANCES["cpu"]:g}', lambda: export_check(checkpoint, out, args), log)
    timing_checks(checks, 'shipped', checkpoint, engines, args.timing_steps, log,
                  tensorrt_skip=NO_TENSORRT_SKIP if args.no_tensorrt else '')
    if args.no_tensorrt:
        checks.append(Check('engine cache reused by a new process', NO_TENSORRT_SKIP,
                            'no rebuild', SKIPPED))
    else:
        run_check(checks, 'engine cache reused by a new process', 'no rebuild',
                  lambda: reuse_check(checkpoint, cache_dir, engines), log)
    for backend in engines.values():
        backend.close()
    if args.dds_seconds > 0:
        node_backend = 'torch' if args.no_tensorrt else 'tensorrt'
        run_check(checks, f'listener_node {node_backend}, {args.dds_seconds:g} s over DDS',
                  f'>= {MIN_COMMAND_RATE:.0f} commands/s',
                  lambda: dds_check(checkpoint, cache_dir, args.dds_seconds, out, log,
                                    node_backend), log)
    if not args.no_paper:
        paper_checks(checks, args, out, log)
    if missing:
        log(f'missing here: {", ".join(missing)}')
    return checks


def paper_checks(checks, args, out: Path, log) -> None:
    """The paper preset (untrained weights: speed only) on torch CUDA; TensorRT is skipped
    with its reason."""
    def write():
        from lhg_ros.network.checkpoint import random_checkpoint
        from lhg_ros.network.config import preset

        started = time.perf_counter()
        path = random_checkpoint(Path(tempfile.mkdtemp(prefix='paper-', dir=out)) / 'paper',
                                 preset('paper'))
        written.append(path)
        return f'written in {time.perf_counter() - started:.0f} s (untrained)', True

    written: list[Path] = []
    run_check(checks, 'paper: checkpoint', '', write, log)
    if written:
        timing_checks(checks, 'paper', written[0], {}, max(3, args.timing_steps // 4), log,
                      tensorrt_skip=PAPER_TENSORRT_SKIP)
        for file in written[0].parent.iterdir():
            file.unlink()
        written[0].parent.rmdir()


DOCS_PAGE = Path(__file__).resolve().parent.parent / 'docs' / 'gpu-check.md'


def write_docs(path: str, report: str, summary: str, argv: list[str]) -> None:
    """The GPU check's table as a page of the docs (written by this script, not by hand)."""
    import datetime
    import platform

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(
        '# GPU check\n\nWritten by `make gpu-check` (scripts/gpu_check.sh; do not edit by '
        'hand): the TensorRT and CUDA rows of the listener on an NVIDIA GPU. Back to the '
        f'[README](../README.md).\n\n_{datetime.date.today().isoformat()}, '
        f'{platform.machine()}, Python {platform.python_version()}, arguments: '
        f'{" ".join(argv) or "(none)"}_\n\n```text\n{report}\n\n{summary}\n```\n')


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.validate_only:
        return 0
    started = time.monotonic()

    def log(message: str) -> None:
        print(f'[gpu-check {time.monotonic() - started:5.1f} s] {message}', file=sys.stderr,
              flush=True)

    checks: list[Check] = []
    try:
        checks = run_checks(args, log)
    except KeyboardInterrupt:
        checks.append(Check('(interrupted)', 'stopped by the user', '', FAILED))
    except Exception as exc:  # noqa: BLE001 - the table is printed whatever happened
        log(traceback.format_exc().rstrip())
        checks.append(Check('(gpu-check itself)', one_line(exc), '', FAILED))
    report = format_report(checks)
    failed = [c.name for c in checks if c.status == FAILED]
    summary = (f'{len(checks) - len(failed)} of {len(checks)} checks passed or skipped in '
               f'{time.monotonic() - started:.0f} s' + (f'; FAILED: {", ".join(failed)}'
                                                       if failed else ''))
    print(f'\n{report}\n\n{summary}')
    if args.docs:
        write_docs(args.docs, report, summary, sys.argv[1:] if argv is None else argv)
    return exit_code(checks)


if __name__ == '__main__':
    sys.exit(main())
