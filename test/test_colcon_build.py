"""The package builds the ROS way, with colcon, and its installed executable runs."""

import subprocess

import pytest

from conftest import BIN, REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope='module')
def colcon_install(tmp_path_factory):
    work = tmp_path_factory.mktemp('colcon')
    result = subprocess.run(
        [str(BIN / 'colcon'), '--log-base', str(work / 'log'), 'build',
         '--base-paths', str(REPO), '--build-base', str(work / 'build'),
         '--install-base', str(work / 'install'), '--packages-select', 'lhg_ros',
         '--event-handlers', 'console_direct-'],
        capture_output=True, text=True, timeout=300, cwd=work,
        env={'PATH': f'{BIN}:/usr/bin:/bin', 'HOME': str(work)},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return work / 'install'


def test_install_has_the_ament_layout(colcon_install):
    share = colcon_install / 'lhg_ros' / 'share'
    assert (share / 'ament_index' / 'resource_index' / 'packages' / 'lhg_ros').is_file()
    assert (share / 'lhg_ros' / 'package.xml').is_file()
    for folder, pattern in (('launch', '*.launch.py'), ('config', '*.yaml'), ('urdf', '*.urdf'),
                            ('rviz', '*.rviz')):
        installed = {p.name for p in (share / 'lhg_ros' / folder).glob(pattern)}
        assert installed == {p.name for p in (REPO / folder).glob(pattern)}, folder
    for executable in ('audio_features_node', 'head_pose_node', 'listener_node',
                       'avatar_node'):
        assert (colcon_install / 'lhg_ros' / 'lib' / 'lhg_ros' / executable).is_file()
    assert (colcon_install / 'lhg_ros' / 'lib' / 'lhg_ros' / 'lhg-ros').is_file(), (
        'console scripts must land in lib/lhg_ros for `ros2 run`')


def test_installed_executable_runs_from_the_sourced_workspace(colcon_install):
    result = subprocess.run(
        ['bash', '-c', f'source {colcon_install}/setup.bash && '
                       f'{colcon_install}/lhg_ros/lib/lhg_ros/lhg-ros --version'],
        capture_output=True, text=True, timeout=60,
        env={'PATH': f'{BIN}:/usr/bin:/bin', 'HOME': str(colcon_install)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith('lhg_ros ')


def test_install_holds_the_whole_python_package(colcon_install):
    site = next((colcon_install / 'lhg_ros' / 'lib').glob('python3*/site-packages'))
    installed = {p.relative_to(site) for p in (site / 'lhg_ros').rglob('*.py')}
    source = {p.relative_to(REPO) for p in (REPO / 'lhg_ros').rglob('*.py')}
    assert source <= installed, f'not installed: {sorted(source - installed)}'
