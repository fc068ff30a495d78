"""The whole listener: speaker audio and head pose in, a listening head out (RViz or a robot).

    ros2 launch lhg_ros lhg.launch.py                          # microphone + camera + RViz
    ros2 launch lhg_ros lhg.launch.py audio_source:=file audio_file:=talk.wav \
        video_source:=file video_file:=talk.mp4
    ros2 launch lhg_ros lhg.launch.py policy:=model checkpoint:=/path/listener.safetensors
"""

from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node, PushRosNamespace

ARGUMENTS = [
    ('output', 'rviz', 'rviz: an avatar in RViz; robot: no avatar, commands for a real head',
     ['rviz', 'robot']),
    ('audio_source', 'microphone', 'where the speaker audio comes from',
     ['microphone', 'file', 'topic']),
    ('audio_file', '', 'speech file for audio_source:=file', None),
    ('video_source', 'camera', 'where the speaker video comes from',
     ['camera', 'file', 'topic']),
    ('video_file', '', 'video file for video_source:=file', None),
    ('policy', 'model', 'model: the learned listener; rules: the rule-based baseline',
     ['model', 'rules']),
    ('backend', 'auto', 'inference backend for policy:=model (auto: TensorRT with a GPU, '
     'else ONNX Runtime, else PyTorch)', ['auto', 'onnxruntime', 'torch', 'tensorrt']),
    ('checkpoint', '', 'model checkpoint (.safetensors) for policy:=model; empty: the '
     'shipped model', None),
    ('params_file', '', 'a YAML file whose parameters override the defaults in config/', None),
    ('namespace', '', 'namespace for all nodes and topics', None),
    ('use_rviz', 'true', 'start RViz (with output:=rviz)', ['true', 'false']),
    ('forward_command_topic', '', 'ros2_control forward_command_controller commands topic',
     None),
]


def _nodes(context):
    share = Path(get_package_share_directory('lhg_ros'))
    arg = {name: LaunchConfiguration(name).perform(context) for name, *_ in ARGUMENTS}
    extra = [arg['params_file']] if arg['params_file'] else []

    def params(node_file, overrides):
        return [str(share / 'config' / node_file), *extra, overrides]

    nodes = [
        PushRosNamespace(arg['namespace']),
        Node(package='lhg_ros', executable='audio_features_node', output='screen',
             parameters=params('audio_features.yaml', {
                 'source': arg['audio_source'], 'file.path': arg['audio_file']})),
        Node(package='lhg_ros', executable='head_pose_node', output='screen',
             parameters=params('head_pose.yaml', {
                 'source': arg['video_source'], 'file.path': arg['video_file']})),
        Node(package='lhg_ros', executable='listener_node', output='screen',
             parameters=params('listener.yaml', {
                 'policy': arg['policy'], 'backend': arg['backend'],
                 'checkpoint': arg['checkpoint'],
                 'forward_command_topic': arg['forward_command_topic']})),
    ]
    if arg['output'] == 'rviz':
        urdf = (share / 'urdf' / 'listener_head.urdf').read_text()
        nodes += [
            Node(package='robot_state_publisher', executable='robot_state_publisher',
                 parameters=[{'robot_description': urdf}], output='screen'),
            Node(package='lhg_ros', executable='avatar_node', output='screen'),
            Node(package='rviz2', executable='rviz2', output='screen',
                 arguments=['-d', str(share / 'rviz' / 'lhg.rviz')],
                 condition=IfCondition(arg['use_rviz'])),
        ]
    return nodes


def generate_launch_description():
    declared = [DeclareLaunchArgument(name, default_value=default, description=description,
                                      **({'choices': choices} if choices else {}))
                for name, default, description, choices in ARGUMENTS]
    return LaunchDescription([*declared, OpaqueFunction(function=_nodes)])
