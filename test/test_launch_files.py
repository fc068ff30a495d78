"""Static checks of the launch files, URDF and RViz config (the launch files run for real in
test_launch_testing.py where the launch wheels are installed)."""

import ast
import re

import pytest

from conftest import REPO

LAUNCH_FILES = sorted((REPO / 'launch').glob('*.launch.py'))
CONSOLE_SCRIPTS = set(re.findall(r"'(\w+) = lhg_ros\.", (REPO / 'setup.py').read_text()))
EXTERNAL = {('robot_state_publisher', 'robot_state_publisher'), ('rviz2', 'rviz2')}


def calls(tree, name):
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)
            and getattr(n.func, 'id', getattr(n.func, 'attr', None)) == name]


def keyword(call, name):
    value = next((k.value for k in call.keywords if k.arg == name), None)
    return value.value if isinstance(value, ast.Constant) else None


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_compiles_and_defines_the_entry_point(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    compile(tree, str(path), 'exec')
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert 'generate_launch_description' in functions


def test_every_launched_executable_exists():
    text = (REPO / 'launch' / 'lhg.launch.py').read_text()
    started = re.findall(r"wanted\.append\(\('(\w+)', '(\w+)'", text)
    assert len(started) == 6, started
    for package, executable in started:
        if package == 'lhg_ros':
            assert executable in CONSOLE_SCRIPTS, f'no executable {executable}'
        else:
            assert (package, executable) in EXTERNAL, f'{package}/{executable}'


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_every_referenced_file_exists(path):
    text = path.read_text()
    for folder, name in re.findall(r"share / '(config|urdf|rviz|launch)' / '([^']+)'", text):
        assert (REPO / folder / name).is_file(), f'{path.name} refers to {folder}/{name}'


def test_every_launch_argument_is_described_and_choices_are_offered():
    tree = ast.parse((REPO / 'launch' / 'lhg.launch.py').read_text())
    arguments = next(n.value for n in tree.body if isinstance(n, ast.Assign)
                     and n.targets[0].id == 'ARGUMENTS')
    entries = ast.literal_eval(arguments)
    names = {name for name, *_ in entries}
    assert {'output', 'audio_source', 'video_source', 'backend', 'checkpoint', 'params_file',
            'namespace', 'use_rviz', 'policy'} <= names
    for name, _default, description, _choices in entries:
        assert len(description) > 15, f'{name} needs a description'
    with_choices = {name for name, _, _, choices in entries if choices}
    assert {'output', 'audio_source', 'video_source', 'backend', 'policy'} <= with_choices


def test_the_urdf_limits_are_the_listener_configs():
    """The avatar's joints move within the limits the listener commands (config/listener.yaml)."""
    import xml.etree.ElementTree as ET

    import yaml

    joints = yaml.safe_load((REPO / 'config' / 'listener.yaml').read_text())
    joints = joints['/**/listener_node']['ros__parameters']['joints']
    urdf = ET.parse(REPO / 'urdf' / 'listener_head.urdf').getroot()
    limits = {j.get('name'): j.find('limit') for j in urdf.iter('joint')
              if j.get('type') == 'revolute'}
    assert sorted(limits) == sorted(joints['name'])
    for i, name in enumerate(joints['name']):
        assert float(limits[name].get('lower')) == joints['lower'][i], name
        assert float(limits[name].get('upper')) == joints['upper'][i], name
        assert float(limits[name].get('velocity')) == joints['max_velocity'][i], name


def test_the_rviz_config_uses_relative_topics_and_shows_the_avatar():
    import yaml

    config = yaml.safe_load((REPO / 'rviz' / 'lhg.rviz').read_text())
    displays = {d['Name']: d for d in config['Visualization Manager']['Displays']}
    for display in displays.values():
        topic = display.get('Topic', display.get('Description Topic', {})).get('Value', '')
        assert not topic.startswith('/'), f"{display['Name']}: {topic} ignores the namespace"
    assert displays['Avatar face']['Enabled'] and displays['Listener head']['Enabled']
    assert not displays['Speaker audio (log-mel)']['Enabled']
    assert not displays['Speaker face']['Enabled']
    urdf = (REPO / 'urdf' / 'listener_head.urdf').read_text()
    assert '<link name="speaker_camera"/>' in urdf, 'RViz needs a TF for the speaker poses'
