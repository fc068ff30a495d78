"""The runtime installs on every target from wheels alone: linux aarch64 / CPython 3.10
(JetPack 6) and x86_64 / 3.10 and 3.12, resolved by pip for each platform, binary only."""

import subprocess
import sys
from functools import cache

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / 'scripts'))
import check_platform_wheels as wheels  # noqa: E402

SCRIPT = REPO / 'scripts' / 'check_platform_wheels.py'


@cache
def index_reachable() -> bool:
    result = subprocess.run([sys.executable, '-m', 'pip', 'install', '--dry-run', '--quiet',
                             '--no-deps', '--ignore-installed', 'six'],
                            capture_output=True, text=True, timeout=120, check=False)
    return result.returncode == 0


needs_index = pytest.mark.skipif('not index_reachable()',
                                 reason='the package index is not reachable from here')


def check(*args, timeout=300):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, check=False)


def test_markers_are_evaluated_for_the_target_not_for_this_machine():
    requirements = wheels.read_requirements([REPO / 'requirements.txt'])
    jetson = wheels.for_target(requirements, wheels.TARGETS['aarch64-cp310'])
    desktop = wheels.for_target(requirements, wheels.TARGETS['x86_64-cp312'])
    assert 'mediapipe==0.10.18' in jetson and 'mediapipe==0.10.21' not in jetson
    assert 'mediapipe==0.10.21' in desktop and 'mediapipe==0.10.18' not in desktop
    assert not any(line.startswith('torch') for line in jetson + desktop)
    tags = wheels.TARGETS['aarch64-cp310'].platforms()
    assert 'manylinux_2_35_aarch64' in tags and 'manylinux_2_28_aarch64' in tags
    assert 'manylinux_2_39_aarch64' not in tags  # newer than JetPack 6's glibc 2.35


@pytest.mark.slow
@needs_index
def test_the_runtime_requirements_have_wheels_for_jetson_and_x86_64():
    result = check()
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[1:4]}
    assert set(rows) == {'aarch64-cp310', 'x86_64-cp310', 'x86_64-cp312'}, result.stdout
    assert 'mediapipe 0.10.18' in rows['aarch64-cp310'], result.stdout
    assert 'mediapipe 0.10.21' in rows['x86_64-cp310'], result.stdout
    assert 'mediapipe 0.10.21' in rows['x86_64-cp312'], result.stdout
    for row in rows.values():
        assert ' ok ' in row and 'numpy 1.' in row, result.stdout


@pytest.mark.slow
@needs_index
def test_the_check_fails_for_a_dependency_without_a_wheel(tmp_path):
    """mediapipe 0.10.21, today's x86_64 pin, has no aarch64 wheel: the check must say so."""
    requirements = tmp_path / 'requirements.txt'
    requirements.write_text('numpy<2\nmediapipe==0.10.21\n')
    result = check('--target', 'aarch64-cp310', '-r', requirements)
    assert result.returncode == 1, result.stdout
    assert 'FAIL' in result.stdout and 'mediapipe' in result.stdout, result.stdout
    requirements.write_text('torch==2.13.0; platform_machine == "x86_64"\n')
    result = check('--target', 'x86_64-cp312', '-r', requirements, timeout=600)
    assert result.returncode == 1 and 'pulls in torch' in result.stdout, result.stdout
