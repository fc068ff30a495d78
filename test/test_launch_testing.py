"""The real launch files, run with the real ROS 2 ``launch``, ``launch_ros`` and
``launch_testing`` (wheels from ../shared/wheels/ros2-launch, installed by the test set-up):
included from a parent launch file (launch_testing), a missing executable, a node that dies.
robot_state_publisher and rviz2 are not installed here, which is the missing-executable case."""

import subprocess
import sys
import time
from pathlib import Path

import pytest
from launch_env import launch_available, launch_env, make_ament_prefix

from conftest import BIN, REPO

pytestmark = [
    pytest.mark.ros, pytest.mark.slow,
    pytest.mark.skipif(not launch_available(), reason='the ROS 2 launch wheels are not '
                       'installed (scripts/install_launch_wheels.sh needs '
                       '../shared/wheels/ros2-launch)')]

LHG = REPO / 'launch' / 'lhg.launch.py'
RUN = Path(__file__).parent / 'launch' / 'run_launch.py'


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    return launch_env(make_ament_prefix(tmp_path_factory.mktemp('ament')))


@pytest.fixture
def marker(tmp_path):
    """A params file whose path appears on every lhg_ros node's command line: how the tests
    find the processes a launch left behind. It also loops the file sources."""
    path = tmp_path / 'lhg_launch_test_params.yaml'
    path.write_text('/**/audio_features_node:\n  ros__parameters:\n    file:\n      loop: true\n'
                    '/**/head_pose_node:\n  ros__parameters:\n    file:\n      loop: true\n')
    return path


def processes_with(text: str) -> list[str]:
    found = []
    for cmdline in Path('/proc').glob('[0-9]*/cmdline'):
        try:
            args = cmdline.read_bytes().replace(b'\0', b' ').decode(errors='replace')
        except OSError:
            continue
        if text in args and 'pytest' not in args:
            found.append(args.strip())
    return found


def launch(env, *arguments, timeout=60):
    return subprocess.run([sys.executable, str(RUN), str(LHG), *arguments], env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.mark.parametrize('launch_test', ['lhg_in_parent', 'robot_head_in_parent'])
def test_included_from_a_parent_every_node_is_up_at_its_rate_in_its_namespace(
        env, marker, speech, face_video, launch_test):
    """launch_testing files in test/launch/: lhg.launch.py (avatar without
    robot_state_publisher) and robot_head.launch.py (commands to a ros2_control topic)."""
    result = subprocess.run(
        [str(BIN / 'launch_test'), str(Path(__file__).parent / 'launch' /
                                       f'{launch_test}.launch.py'),
         f'audio_file:={speech[0]}', f'video_file:={face_video[0]}', f'params_file:={marker}'],
        env=env, capture_output=True, text=True, timeout=300, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert 'FAILED' not in output and 'Ran 2 tests' in output, output[-3000:]
    assert not processes_with(str(marker)), 'nodes outlived the launch'


def test_a_missing_executable_is_named_with_how_to_install_it_and_nothing_starts(env, marker):
    """The default output:=rviz needs robot_state_publisher and rviz2, absent here."""
    result = launch(env, f'params_file:={marker}')
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert 'cannot start robot_state_publisher: the package robot_state_publisher is not ' \
           'installed (apt install ros-' in output, output
    assert 'use_robot_state_publisher:=false' in output and '(and 1 more)' in output, output
    assert 'Traceback' not in output, output
    assert not processes_with(str(marker)), 'nothing may run after a failed start'


def test_when_one_node_dies_the_launch_stops_the_others(env, marker, tmp_path):
    started = time.monotonic()
    result = launch(env, 'output:=robot', 'audio_source:=file',
                    f'audio_file:={tmp_path / "missing.wav"}', 'video_source:=topic',
                    f'params_file:={marker}', timeout=90)
    output = result.stdout + result.stderr
    assert 'audio_features_node-1]: process has died' in output, output[-3000:]
    assert 'shutting down launched system' in output, output[-3000:]
    for other in ('listener_node', 'head_pose_node'):
        assert f'{other}-' in output and 'finished cleanly' in output, output[-3000:]
    assert time.monotonic() - started < 60, 'the launch kept running without its audio'
    time.sleep(1.0)
    assert not processes_with(str(marker)), processes_with(str(marker))
