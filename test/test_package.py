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
