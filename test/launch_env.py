"""What a pip-installed lhg_ros needs for launch_ros to find it, as a ROS install would have it:
an ament prefix with the package marker, ``share/lhg_ros`` (launch, config, urdf, rviz) and
``lib/lhg_ros/<executable>`` wrappers that run this environment's console scripts. Tests only;
a ROS distribution install gets all of this from colcon."""

import os
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
EXECUTABLES = sorted(set(re.findall(r"'(\w+) = lhg_ros\.nodes\.",
                                    (REPO / 'setup.py').read_text())))


def launch_available() -> bool:
    from importlib.util import find_spec

    return all(find_spec(m) is not None for m in ('launch', 'launch_ros', 'launch_testing'))


def make_ament_prefix(root: Path) -> Path:
    prefix = root / 'ament_prefix'
    marker = prefix / 'share' / 'ament_index' / 'resource_index' / 'packages' / 'lhg_ros'
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    share = prefix / 'share' / 'lhg_ros'
    share.mkdir(parents=True, exist_ok=True)
    for name in ('launch', 'config', 'urdf', 'rviz', 'package.xml'):
        if not (share / name).exists():
            (share / name).symlink_to(REPO / name)
    lib = prefix / 'lib' / 'lhg_ros'
    lib.mkdir(parents=True, exist_ok=True)
    for executable in EXECUTABLES:
        wrapper = lib / executable
        wrapper.write_text(f'#!/bin/sh\nexec "{BIN / executable}" "$@"\n')
        wrapper.chmod(0o755)
    return prefix


def launch_env(prefix: Path) -> dict:
    """The environment to launch with: this prefix first, then the venv (where the launch and
    message wheels keep their share/ files)."""
    env = dict(os.environ)
    env['AMENT_PREFIX_PATH'] = os.pathsep.join([str(prefix), sys.prefix])
    return env
