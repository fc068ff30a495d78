"""The Dockerfiles (docker/) cannot be built here (no Docker, no Jetson); what can drift is
checked: they install the same requirement file that test_platforms.py resolves for their
platform, nothing else by pip, keep the engine cache on a volume and copy only what exists."""

import re
import xml.etree.ElementTree as ET

import pytest

from conftest import REPO

DOCKERFILES = {'jetson-humble.Dockerfile': ('l4t-jetpack:r36', 'humble'),
               'x86_64-jazzy.Dockerfile': ('ros:jazzy', 'jazzy')}


def instructions(name: str) -> list[tuple[str, str]]:
    """(instruction, arguments) with continuation lines joined and comments dropped."""
    text = (REPO / 'docker' / name).read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith('#')]
    joined = re.sub(r'\\\n', ' ', '\n'.join(lines))
    return [tuple(line.strip().split(None, 1)) for line in joined.splitlines() if line.strip()]


@pytest.mark.parametrize('name', DOCKERFILES)
def test_python_packages_come_from_the_checked_requirement_file_only(name):
    runs = ' && '.join(args for op, args in instructions(name) if op == 'RUN')
    installs = [part.strip() for part in runs.split('&&') if 'pip install' in part]
    assert installs, f'{name} installs no Python requirements'
    for command in installs:
        assert re.fullmatch(r'\S*pip install --no-cache-dir -r src/lhg_ros/requirements\.txt',
                            command), f'{name}: {command!r} installs something CI never checks'
    assert '--system-site-packages' in runs, 'the venv must see rclpy and TensorRT from apt'


@pytest.mark.parametrize('name', DOCKERFILES)
def test_the_image_matches_its_platform_and_keeps_engines_on_a_volume(name):
    base, distro = DOCKERFILES[name]
    steps = instructions(name)
    assert any(op == 'ARG' and base in args for op, args in steps), f'{name}: base {base}'
    assert ('VOLUME', '/cache') in steps
    assert ('ENV', 'XDG_CACHE_HOME=/cache') in steps
    runs = ' '.join(args for op, args in steps if op == 'RUN')
    assert f'/opt/ros/{distro}/setup.bash' in runs and 'colcon build' in runs


@pytest.mark.parametrize('name', DOCKERFILES)
def test_every_copied_file_exists_and_skipped_rosdep_keys_are_declared(name):
    steps = instructions(name)
    for op, args in steps:
        if op == 'COPY':
            *sources, _ = args.split()
            for source in sources:
                assert source == '.' or (REPO / source).exists(), f'{name} copies {source}'
    declared = {e.text for e in ET.parse(REPO / 'package.xml').getroot().iter()
                if e.tag.endswith('depend')}
    for skipped in re.findall(r'--skip-keys "([^"]+)"', ' '.join(a for _, a in steps)):
        for key in skipped.split():
            assert key in declared, f'{name} skips {key}, which package.xml does not declare'
