"""package.xml, setup.py and the installed package agree with each other."""

import importlib
import os
import xml.etree.ElementTree as ET
from importlib.metadata import distribution

import pytest

from conftest import REPO

PACKAGE_XML = ET.parse(REPO / 'package.xml').getroot()


@pytest.fixture(scope='module')
def setup_distribution():
    """The Distribution that setup.py describes, without building anything."""
    import distutils.core

    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        return distutils.core.run_setup('setup.py', stop_after='init')
    finally:
        os.chdir(cwd)


def test_package_xml_is_format_3_ament_python():
    assert PACKAGE_XML.get('format') == '3'
    assert PACKAGE_XML.findtext('name') == 'lhg_ros'
    assert PACKAGE_XML.findtext('export/build_type') == 'ament_python'


def test_package_xml_declares_the_ros_dependencies():
    exec_depends = {e.text for e in PACKAGE_XML.findall('exec_depend')}
    for dep in ['rclpy', 'std_msgs', 'sensor_msgs', 'geometry_msgs', 'trajectory_msgs',
                'visualization_msgs', 'robot_state_publisher', 'rviz2', 'python3-numpy']:
        assert dep in exec_depends, f'package.xml lacks <exec_depend>{dep}</exec_depend>'


def test_setup_py_name_and_version_match_package_xml(setup_distribution):
    assert setup_distribution.get_name() == PACKAGE_XML.findtext('name')
    assert setup_distribution.get_version() == PACKAGE_XML.findtext('version')


def test_installed_metadata_matches_package_xml():
    dist = distribution('lhg_ros')
    assert dist.version == PACKAGE_XML.findtext('version')
    assert importlib.import_module('lhg_ros').__version__ == dist.version


def test_every_console_script_points_at_a_callable(setup_distribution):
    scripts = setup_distribution.entry_points['console_scripts']
    assert any(s.startswith('lhg-ros =') for s in scripts)
    for spec in scripts:
        name, target = (part.strip() for part in spec.split('='))
        module, func = target.split(':')
        assert callable(getattr(importlib.import_module(module), func)), f'{name} -> {target}'


def test_every_data_file_exists_and_the_ament_marker_is_installed(setup_distribution):
    installed = dict(setup_distribution.data_files)
    assert installed['share/ament_index/resource_index/packages'] == ['resource/lhg_ros']
    assert 'package.xml' in installed['share/lhg_ros']
    for target, files in setup_distribution.data_files:
        assert files, f'{target} installs no file'
        for f in files:
            assert (REPO / f).is_file(), f'{target} lists {f}, which does not exist'


def test_ros_wheels_are_opt_in(setup_distribution):
    """A ROS distribution install must not get rclpy wheels that shadow the apt packages."""
    assert not any(r.startswith('ros-') for r in setup_distribution.install_requires)
    assert 'ros-rclpy' in setup_distribution.extras_require['ros']
    assert 'ros-rmw-fastrtps-cpp' in setup_distribution.extras_require['ros']


def _requirement_names(*files) -> set[str]:
    from packaging.requirements import Requirement

    names = set()
    for name in files:
        for line in (REPO / name).read_text().splitlines():
            if line.strip() and not line.startswith('#'):
                names.add(Requirement(line).name.lower())
    return names


# Where each third-party module the code and tests import comes from: its rosdep key in
# package.xml (None: no key that installs it well) and its pip distribution (None: apt only).
SOURCES = {
    'numpy': ('python3-numpy', 'numpy'), 'yaml': ('python3-yaml', 'pyyaml'),
    'cv2': ('python3-opencv', 'mediapipe'), 'soundfile': ('python3-soundfile', 'soundfile'),
    'mediapipe': (None, 'mediapipe'), 'transforms3d': (None, 'transforms3d'),
    'kaldi_native_fbank': (None, 'kaldi-native-fbank'), 'soxr': (None, 'soxr'),
    'onnxruntime': (None, 'onnxruntime'), 'pyaudio': ('python3-pyaudio', 'pyaudio'),
    'matplotlib': ('python3-matplotlib', 'matplotlib'), 'scipy': ('python3-scipy', 'scipy'),
    'skimage': ('python3-skimage', 'scikit-image'), 'tqdm': ('python3-tqdm', 'tqdm'),
    'torch': (None, 'torch'), 'onnx': (None, 'onnx'), 'safetensors': (None, 'safetensors'),
    'pytest': ('python3-pytest', 'pytest'), 'hypothesis': ('python3-hypothesis', 'hypothesis'),
    'packaging': (None, 'packaging'),
    'rosbags': (None, 'rosbags'), 'mcap': (None, 'mcap'), 'mcap_ros2': (None, 'mcap-ros2-support'),
    'librosa': (None, 'librosa'), 'python_speech_features': (None, 'python_speech_features'),
    # From JetPack (python3-libnvinfer) or NVIDIA's wheels; optional.
    'tensorrt': (None, None),
    # ROS packages: rosdep keys, and the ros-* wheels of the pip route.
    **{name: (name, f"ros-{name.replace('_', '-')}") for name in (
        'rclpy', 'std_msgs', 'sensor_msgs', 'geometry_msgs', 'trajectory_msgs',
        'visualization_msgs', 'diagnostic_msgs', 'builtin_interfaces', 'rcl_interfaces')},
    'launch': ('launch', None), 'launch_ros': ('launch_ros', None),
    'ament_index_python': ('ament_index_python', None),
    # ROS4HRI and the launch tests: apt on a distribution; here ../shared/wheels/ros2-launch.
    'hri_msgs': ('hri_msgs', None), 'tf2_msgs': ('tf2_msgs', None),
    'launch_testing': ('launch_testing', None),
    # audio_common 4.x messages: optional; in tests from ../shared/wheels/ros2-launch (skipped
    # without it), as hri_msgs.
    'audio_common_msgs': (None, None),
}


def _third_party_imports() -> dict[str, set[str]]:
    import ast
    import sys

    found: dict[str, set[str]] = {}
    for folder in ('lhg_ros', 'test', 'scripts', 'bench', 'launch'):
        for path in (REPO / folder).rglob('*.py'):
            local = {p.stem for p in path.parent.glob('*.py')}
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split('.')[0]
                    if (top not in sys.stdlib_module_names and top not in local
                            and top not in ('lhg_ros', 'conftest', 'check_platform_wheels')):
                        found.setdefault(top, set()).add(str(path.relative_to(REPO)))
    return found


def test_every_import_is_declared_where_rosdep_and_pip_find_it(setup_distribution):
    """A module imported anywhere must come from a rosdep key in package.xml or a pip
    requirement (the requirement files or a setup.py extra); an import nobody declared fails
    here, not on a user's robot."""
    keys = {e.text for tag in ('exec_depend', 'test_depend', 'depend')
            for e in PACKAGE_XML.findall(tag)}
    pip = _requirement_names('requirements.txt', 'requirements-tools.txt',
                             'requirements-train.txt')
    from packaging.requirements import Requirement

    pip |= {Requirement(r).name.lower() for extra in setup_distribution.extras_require.values()
            for r in extra}
    for module, files in sorted(_third_party_imports().items()):
        assert module in SOURCES, f'{module} (imported in {sorted(files)[0]}) is not declared'
        key, distribution_name = SOURCES[module]
        assert key is None or key in keys, f'package.xml lacks {key} (for {module})'
        assert distribution_name is None or distribution_name.lower() in pip, \
            f'no requirement installs {distribution_name} (for {module})'


def test_the_runtime_needs_no_torch_and_avoids_broken_rosdep_keys(setup_distribution):
    runtime = _requirement_names('requirements.txt')
    assert not runtime & {'torch', 'silero-vad', 'safetensors', 'onnx'}
    assert 'torch' in _requirement_names('requirements-train.txt')
    keys = {e.text for e in PACKAGE_XML.findall('exec_depend')}
    # The newest mediapipe (no bundled face mesh) and Ubuntu 22.04's transforms3d 0.3.1.
    assert not keys & {'python3-mediapipe-pip', 'python3-transforms3d', 'python3-torch'}
    extras = setup_distribution.extras_require
    assert not any(r.startswith('torch') for r in extras['runtime'] + extras['tools'])
