"""The whole listener: speaker audio and head pose in, a listening head out (RViz or a robot).

    ros2 launch lhg_ros lhg.launch.py                          # microphone + camera + RViz
    ros2 launch lhg_ros lhg.launch.py audio_source:=file audio_file:=talk.wav \
        video_source:=file video_file:=talk.mp4
    ros2 launch lhg_ros lhg.launch.py output:=robot use_head_pose:=false   # pose from elsewhere

Fails safe: every executable it would start is looked up first, and a missing one stops the
launch before anything runs, with one line naming the package and how to install it (or the
argument that turns that piece off); when any node exits, the others are shut down. All nodes
sit in one scoped group, so ``namespace`` applies to them and to nothing in a parent launch
file. Only APIs that Humble, Jazzy and Kilted share are used.
"""

import os
from pathlib import Path

from ament_index_python.packages import (
    PackageNotFoundError,
    get_package_prefix,
    get_package_share_directory,
)
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, GroupAction, OpaqueFunction, Shutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node, PushRosNamespace

BOOL = ['true', 'false']
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
    ('style', '', "the model's listening style for policy:=model: calm, attentive, animated, "
     "reserved, thoughtful, eager, average, or a style file (lhg-ros adapt); empty: the "
     "model's default", None),
    ('params_file', '', 'a YAML file whose parameters override the defaults in config/', None),
    ('namespace', '', 'namespace for all nodes and topics (scoped to this launch file)', None),
    ('use_audio', 'true', 'start audio_features_node (false: features come from elsewhere)',
     ['true', 'false']),
    ('use_head_pose', 'true', 'start head_pose_node (false: the speaker pose comes from '
     'elsewhere)', ['true', 'false']),
    ('use_avatar', 'true', 'start avatar_node (with output:=rviz)', ['true', 'false']),
    ('use_robot_state_publisher', 'true', "start robot_state_publisher with the avatar's "
     'URDF (with output:=rviz)', ['true', 'false']),
    ('use_rviz', 'true', 'start RViz (with output:=rviz)', ['true', 'false']),
    ('forward_command_topic', '', 'ros2_control forward_command_controller commands topic',
     None),
]

# How to get each package that does not come with lhg_ros.
INSTALL = {
    'robot_state_publisher': 'apt install ros-{distro}-robot-state-publisher',
    'rviz2': 'apt install ros-{distro}-rviz2',
    'lhg_ros': 'build and source this workspace (colcon build --packages-select lhg_ros)',
}
TURN_OFF = {'robot_state_publisher': 'use_robot_state_publisher:=false',
            'rviz2': 'use_rviz:=false', 'audio_features_node': 'use_audio:=false',
            'head_pose_node': 'use_head_pose:=false', 'avatar_node': 'use_avatar:=false'}


def missing_executable(package: str, executable: str) -> str:
    """Why ``package``'s ``executable`` cannot be started ('' when it can), as launch_ros
    looks for it: ``<package prefix>/lib/<package>/<executable>``."""
    try:
        prefix = get_package_prefix(package)
    except PackageNotFoundError:
        distro = os.environ.get('ROS_DISTRO', '<distro>')
        how = INSTALL.get(package, 'install it').format(distro=distro)
        return f'the package {package} is not installed ({how})'
    path = Path(prefix) / 'lib' / package / executable
    if not os.access(path, os.X_OK):
        return f'{package} has no executable {executable} (looked for {path})'
    return ''


def _group(context):
    arg = {name: LaunchConfiguration(name).perform(context) for name, *_ in ARGUMENTS}
    share = Path(get_package_share_directory('lhg_ros'))
    extra = [arg['params_file']] if arg['params_file'] else []
    on = {name: arg[name] == 'true' for name, _, _, choices in ARGUMENTS if choices == BOOL}
    avatar = arg['output'] == 'rviz'

    def params(node_file, overrides):
        return [str(share / 'config' / node_file), *extra, overrides]

    wanted = []  # (package, executable, Node keyword arguments)
    if on['use_audio']:
        wanted.append(('lhg_ros', 'audio_features_node', {'parameters': params(
            'audio_features.yaml', {'source': arg['audio_source'],
                                    'file.path': arg['audio_file']})}))
    if on['use_head_pose']:
        wanted.append(('lhg_ros', 'head_pose_node', {'parameters': params(
            'head_pose.yaml', {'source': arg['video_source'], 'file.path': arg['video_file']})}))
    wanted.append(('lhg_ros', 'listener_node', {'parameters': params('listener.yaml', {
        'policy': arg['policy'], 'backend': arg['backend'], 'checkpoint': arg['checkpoint'],
        'forward_command_topic': arg['forward_command_topic'],
        # (only when given: an empty argument must not override a params_file's style)
        **({'style': arg['style']} if arg['style'] else {})})}))
    if avatar and on['use_robot_state_publisher']:
        urdf = (share / 'urdf' / 'listener_head.urdf').read_text()
        wanted.append(('robot_state_publisher', 'robot_state_publisher',
                       {'parameters': [{'robot_description': urdf}]}))
    if avatar and on['use_avatar']:
        wanted.append(('lhg_ros', 'avatar_node', {}))
    if avatar and on['use_rviz']:
        wanted.append(('rviz2', 'rviz2', {'arguments': ['-d', str(share / 'rviz' / 'lhg.rviz')]}))

    problems = [(executable, why) for package, executable, _ in wanted
                if (why := missing_executable(package, executable))]
    if problems:
        executable, why = problems[0]
        off = f', or leave it out with {TURN_OFF[executable]}' if executable in TURN_OFF else ''
        more = f' (and {len(problems) - 1} more)' if len(problems) > 1 else ''
        raise RuntimeError(f'lhg.launch.py cannot start {executable}: {why}{off}{more}; '
                           'nothing was started')
    nodes = [Node(package=package, executable=executable, output='screen',
                  on_exit=Shutdown(reason=f'{executable} exited; stopping the other nodes'),
                  **kwargs)
             for package, executable, kwargs in wanted]
    namespace = [PushRosNamespace(arg['namespace'])] if arg['namespace'] else []
    return [GroupAction([*namespace, *nodes], scoped=True)]


def generate_launch_description():
    declared = [DeclareLaunchArgument(name, default_value=default, description=description,
                                      **({'choices': choices} if choices else {}))
                for name, default, description, choices in ARGUMENTS]
    return LaunchDescription([*declared, OpaqueFunction(function=_group)])
