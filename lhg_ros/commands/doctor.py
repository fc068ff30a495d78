"""``lhg-ros doctor``: what works on this machine, and what to install for what does not.

Each check returns a :class:`Check`. Only the checks marked ``required`` decide the exit code:
the rest name an optional part (a GPU, a microphone) and say what it is needed for.
"""

import importlib
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from glob import glob

from lhg_ros.console import format_table, quiet_stderr

OK, WARN, MISSING, FAIL, SKIPPED = 'ok', 'warn', 'missing', 'FAIL', 'skipped'
PIP_ML = 'pip install -r requirements.txt  (or pip install -e .[ml])'


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    fix: str = ''
    required: bool = False

    @property
    def failed(self) -> bool:
        return self.required and self.status in (MISSING, FAIL)


def _import(module: str):
    """Import a module, or None with the reason when it cannot be imported."""
    try:
        return importlib.import_module(module), ''
    except Exception as exc:  # noqa: BLE001 - any import failure is a finding, not a crash
        return None, f'{type(exc).__name__}: {exc}'.splitlines()[0][:120]


def check_python() -> Check:
    ok = sys.version_info >= (3, 10)
    return Check('python', OK if ok else FAIL, f'{platform.python_version()} ({sys.executable})',
                 '' if ok else 'Python 3.10 or newer is needed', required=True)


# rcl exits the whole process (code 102) when RMW_IMPLEMENTATION names a missing library, so
# rclpy is first loaded in a child process.
_RCLPY_PROBE = """
import rclpy
from rclpy.context import Context
from rclpy.utilities import get_rmw_implementation_identifier
context = Context()
rclpy.init(context=context)
rclpy.try_shutdown(context=context)
print(get_rmw_implementation_identifier())
"""


def check_rclpy() -> Check:
    if importlib.util.find_spec('rclpy') is None:
        hint = ('source /opt/ros/$ROS_DISTRO/setup.bash' if os.environ.get('ROS_DISTRO')
                else 'pip install -e .[ros]  (ros-rclpy and ros-rmw-fastrtps-cpp wheels)')
        return Check('rclpy', MISSING, 'rclpy is not importable', hint, required=True)
    probe = subprocess.run([sys.executable, '-c', _RCLPY_PROBE], capture_output=True, text=True,
                           timeout=60)
    if probe.returncode != 0:
        error = (probe.stderr.strip().splitlines() or ['no output'])[-1].split(', at /')[0]
        return Check('rclpy', FAIL, f'the RMW did not load (exit {probe.returncode}): {error}',
                     'pip install ros-rmw-fastrtps-cpp, or unset/fix RMW_IMPLEMENTATION',
                     required=True)
    distro = os.environ.get('ROS_DISTRO', 'none (PyPI wheels)')
    return Check('rclpy', OK, f'RMW {probe.stdout.strip()}, ROS distribution: {distro}',
                 required=True)


def check_messages() -> Check:
    packages = ['std_msgs', 'sensor_msgs', 'geometry_msgs', 'trajectory_msgs',
                'visualization_msgs', 'diagnostic_msgs']
    missing = [p for p in packages if _import(f'{p}.msg')[0] is None]
    if missing:
        return Check('message packages', MISSING, 'missing: ' + ', '.join(missing),
                     'pip install -e .[ros]  (or apt install ros-$ROS_DISTRO-<name>)',
                     required=True)
    return Check('message packages', OK, ', '.join(packages), required=True)


def check_dds(timeout_s: float) -> Check:
    try:
        from lhg_ros.dds_probe import round_trip

        result = round_trip(count=20, timeout_s=timeout_s)
    except Exception as exc:  # noqa: BLE001
        return Check('DDS round trip', FAIL, str(exc)[:200],
                     'check RMW_IMPLEMENTATION and that loopback multicast is allowed',
                     required=True)
    return Check('DDS round trip', OK,
                 f'2 processes, ROS_DOMAIN_ID={result.domain_id}: discovery '
                 f'{result.discovery_s:.2f} s, round trip median {result.median_ms:.2f} ms, '
                 f'max {result.max_ms:.2f} ms', required=True)


def check_launch() -> Check:
    # Found, not imported: launch_ros imports rclpy, and loading rcl in this process would end
    # it on a bad RMW_IMPLEMENTATION (the rclpy check runs in a child for that reason).
    missing = [m for m in ('launch', 'launch_ros') if importlib.util.find_spec(m) is None]
    if missing:
        return Check('ros2 launch', WARN, f"{', '.join(missing)} not installed: launch files "
                     'need a ROS 2 distribution', 'install ROS 2 (Humble, Jazzy or Kilted) to '
                     'use launch/')
    cli = ('the ros2 CLI is there' if shutil.which('ros2') else
           'no ros2 CLI (a ROS 2 distribution has it)')
    return Check('ros2 launch', OK, f'launch and launch_ros installed; {cli}')


def check_numpy() -> Check:
    numpy, error = _import('numpy')
    if numpy is None:
        return Check('numpy', MISSING, error, 'pip install "numpy<2"', required=True)
    return Check('numpy', OK, numpy.__version__, required=True)


def check_torch() -> Check:
    torch, error = _import('torch')
    if torch is None:
        return Check('torch', MISSING, f'{error} (only training and export need it)',
                     'CPU wheel first: pip install torch==2.13.0 --index-url '
                     'https://download.pytorch.org/whl/cpu, then pip install -e .[train] '
                     '(on Jetson keep NVIDIA\'s JetPack torch)')
    cuda = (f'CUDA {torch.version.cuda} on {torch.cuda.get_device_name(0)}'
            if torch.cuda.is_available() else 'CPU only (no CUDA device)')
    return Check('torch', OK, f'{torch.__version__}, {cuda}')


def check_onnxruntime() -> Check:
    ort, error = _import('onnxruntime')
    if ort is None:
        return Check('onnxruntime', MISSING, error, PIP_ML)
    return Check('onnxruntime', OK,
                 f'{ort.__version__}, providers: {", ".join(ort.get_available_providers())}')


def check_tensorrt() -> Check:
    trt, error = _import('tensorrt')
    if trt is None:
        return Check('tensorrt', MISSING, 'not installed (optional; needs an NVIDIA GPU)',
                     'JetPack on Jetson, or pip install tensorrt on a CUDA machine')
    from lhg_ros.backends.base import cuda_devices

    if cuda_devices() == 0:
        return Check('tensorrt', WARN, f'{trt.__version__}, but no CUDA device is visible',
                     'check the NVIDIA driver, libcudart and CUDA_VISIBLE_DEVICES')
    return Check('tensorrt', OK, f'{trt.__version__} with CUDA')


def check_silero() -> Check:
    from lhg_ros.features.vad import SILERO_MODEL

    if not SILERO_MODEL.is_file():
        return Check('silero VAD model', FAIL, f'{SILERO_MODEL} is missing',
                     'reinstall lhg_ros')
    return Check('silero VAD model', OK, f'{SILERO_MODEL.name} (shipped, onnxruntime)')


def check_mediapipe() -> Check:
    with quiet_stderr():
        mp, error = _import('mediapipe')
    if mp is None:
        return Check('mediapipe', MISSING, error, 'pip install mediapipe==0.10.21')
    if not hasattr(getattr(mp, 'solutions', None), 'face_mesh'):
        return Check('mediapipe', FAIL, f'{mp.__version__} has no bundled face mesh',
                     'pip install mediapipe==0.10.21 (newer releases need a downloaded model)')
    return Check('mediapipe', OK, f'{mp.__version__}, face mesh bundled')


def _module_check(name: str, module: str, fix: str = PIP_ML) -> Callable[[], Check]:
    def check() -> Check:
        mod, error = _import(module)
        if mod is None:
            return Check(name, MISSING, error, fix)
        return Check(name, OK, str(getattr(mod, '__version__', 'importable')))

    return check


def check_microphone() -> Check:
    pyaudio, error = _import('pyaudio')
    if pyaudio is None:
        return Check('microphone', MISSING, 'PyAudio not installed (needed for live audio)',
                     'apt install portaudio19-dev && pip install -e .[microphone]')
    from lhg_ros.sources.audio import list_input_devices

    with quiet_stderr():
        audio = pyaudio.PyAudio()
        try:
            inputs = [name for _, name, _, _ in list_input_devices(audio)]
        finally:
            audio.terminate()
    if not inputs:
        return Check('microphone', WARN, 'no audio input device (file sources still work)',
                     'plug in a microphone for live audio')
    return Check('microphone', OK, f'{len(inputs)} input(s): ' + '; '.join(inputs[:3]))


def check_camera() -> Check:
    cameras = sorted(glob('/dev/video*'))
    if not cameras:
        return Check('camera', WARN, 'no /dev/video* device (video files still work)',
                     'plug in a camera for live head pose')
    return Check('camera', OK, ', '.join(cameras[:4]))


def check_tools() -> Check:
    tools = ['espeak-ng', 'sox', 'ffmpeg']
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        return Check('media tools', MISSING, 'missing: ' + ', '.join(missing) +
                     ' (demo inputs and video output)', 'apt install ' + ' '.join(missing))
    return Check('media tools', OK, ', '.join(tools))


def run_checks(dds_timeout_s: float = 15.0, with_dds: bool = True,
               progress: Callable[[str], None] | None = None) -> list[Check]:
    """Run every check in order; ``progress`` is told the name of each before it runs."""
    checks: list[tuple[str, Callable[[], Check]]] = [
        ('python', check_python),
        ('numpy', check_numpy),
        ('rclpy', check_rclpy),
        ('message packages', check_messages),
    ]
    if with_dds:
        checks.append(('DDS round trip', lambda: check_dds(dds_timeout_s)))
    checks += [
        ('ros2 launch', check_launch),
        ('torch', check_torch),
        ('onnxruntime', check_onnxruntime),
        ('tensorrt', check_tensorrt),
        ('mediapipe', check_mediapipe),
        ('kaldi-native-fbank', _module_check('kaldi-native-fbank', 'kaldi_native_fbank')),
        ('silero VAD model', check_silero),
        ('transforms3d', _module_check('transforms3d', 'transforms3d')),
        ('microphone', check_microphone),
        ('camera', check_camera),
        ('media tools', check_tools),
    ]
    results: list[Check] = []
    for name, check in checks:
        if progress is not None:
            progress(name)
        if name == 'DDS round trip' and results[2].failed:
            results.append(Check(name, SKIPPED, 'rclpy does not load'))
            continue
        results.append(check())
    return results


def report(checks: list[Check]) -> str:
    rows = [(c.name, c.status, c.detail, c.fix) for c in checks]
    table = format_table(['component', 'status', 'detail', 'to fix'], rows)
    failed = [c.name for c in checks if c.failed]
    optional = [c.name for c in checks if not c.required and c.status in (MISSING, FAIL)]
    verdict = ('lhg_ros cannot run: ' + ', '.join(failed) if failed
               else 'lhg_ros can run here.')
    if optional:
        verdict += ' Optional parts missing: ' + ', '.join(optional) + '.'
    return f'{table}\n\n{verdict}'


def as_dicts(checks: list[Check]) -> list[dict]:
    return [asdict(c) | {'failed': c.failed} for c in checks]


def main(args) -> int:
    """Entry point of ``lhg-ros doctor``; returns the exit code."""
    import json

    def progress(name: str) -> None:
        if not args.json and sys.stderr.isatty():
            print(f'\rchecking {name:<24}', end='', file=sys.stderr, flush=True)

    started = time.perf_counter()
    checks = run_checks(args.dds_timeout, with_dds=not args.skip_dds, progress=progress)
    if not args.json and sys.stderr.isatty():
        print('\r' + ' ' * 40 + '\r', end='', file=sys.stderr)
    if args.json:
        print(json.dumps(as_dicts(checks), indent=2))
    else:
        print(f'lhg-ros doctor ({time.perf_counter() - started:.1f} s)\n')
        print(report(checks))
    return 1 if any(c.failed for c in checks) else 0
