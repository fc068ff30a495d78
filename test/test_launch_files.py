"""Launch files cannot run here (no launch/launch_ros wheels): check what can be checked."""

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


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_every_launched_executable_exists(path):
    tree = ast.parse(path.read_text())
    for call in calls(tree, 'Node'):
        package, executable = keyword(call, 'package'), keyword(call, 'executable')
        if package == 'lhg_ros':
            assert executable in CONSOLE_SCRIPTS, f'{path.name}: no executable {executable}'
        else:
            assert (package, executable) in EXTERNAL, f'{path.name}: {package}/{executable}'


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
