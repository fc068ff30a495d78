"""Every parameter in config/*.yaml exists on its node (ROS silently ignores typos there)."""

from pathlib import Path

import pytest
import yaml

from conftest import REPO

pytestmark = pytest.mark.ros


def flatten(params: dict, prefix: str = '') -> dict:
    flat = {}
    for key, value in params.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f'{prefix}{key}.'))
        else:
            flat[f'{prefix}{key}'] = value
    return flat


def yaml_parameters(path: Path, node_name: str) -> dict:
    data = yaml.safe_load(path.read_text())
    (key, section), = data.items()
    assert key.endswith(f'/{node_name}'), f'{path.name}: section {key} is not for {node_name}'
    return flatten(section['ros__parameters'])


def test_audio_features_yaml_matches_the_declared_parameters(rclpy_context, speech):
    from lhg_ros.nodes.audio_features_node import AudioFeaturesNode

    path = REPO / 'config' / 'audio_features.yaml'
    expected = yaml_parameters(path, 'audio_features_node')
    # The file's own source is the microphone, which this machine lacks: read a file instead.
    node = AudioFeaturesNode(context=rclpy_context, cli_args=[
        '--ros-args', '--params-file', str(path), '-p', 'source:=file',
        '-p', f'file.path:={speech[0]}'])
    try:
        declared = {name: node.get_parameter(name).value for name in node._parameters}
    finally:
        node.destroy_node()
    not_declared = set(expected) - set(declared)
    assert not not_declared, f'unknown parameters in {path.name}: {sorted(not_declared)}'
    for key, value in expected.items():
        if key not in ('source', 'file.path'):
            assert declared[key] == value, f'{key}: node has {declared[key]}, yaml {value}'


def test_head_pose_yaml_matches_the_declared_parameters(rclpy_context, face_video):
    from lhg_ros.nodes.head_pose_node import HeadPoseNode

    path = REPO / 'config' / 'head_pose.yaml'
    expected = yaml_parameters(path, 'head_pose_node')
    node = HeadPoseNode(context=rclpy_context, cli_args=[
        '--ros-args', '--params-file', str(path), '-p', 'source:=file',
        '-p', f'file.path:={face_video[0]}'])
    try:
        declared = {name: node.get_parameter(name).value for name in node._parameters}
    finally:
        node.destroy_node()
    assert not set(expected) - set(declared), sorted(set(expected) - set(declared))
    for key, value in expected.items():
        if key not in ('source', 'file.path'):
            assert declared[key] == value, f'{key}: node has {declared[key]}, yaml {value}'


def test_listener_yaml_matches_the_declared_parameters(rclpy_context):
    from lhg_ros.nodes.listener_node import ListenerNode

    path = REPO / 'config' / 'listener.yaml'
    expected = yaml_parameters(path, 'listener_node')
    node = ListenerNode(context=rclpy_context, cli_args=['--ros-args', '--params-file',
                                                         str(path)])
    try:
        declared = {name: node.get_parameter(name).value for name in node._parameters}
    finally:
        node.destroy_node()
    assert not set(expected) - set(declared), sorted(set(expected) - set(declared))
    for key, value in expected.items():
        assert declared[key] == value, f'{key}: node has {declared[key]}, yaml {value}'
