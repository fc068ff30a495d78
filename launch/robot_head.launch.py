"""A ros2_control robot head: the listener streams joint positions to a
forward_command_controller (recommended for streaming), no avatar.

    ros2 launch lhg_ros robot_head.launch.py controller:=head_controller

Joint names, signs, offsets and limits: give them in a params_file (see config/listener.yaml,
section joints); the controller itself is started by your robot's bringup.
"""

from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import (
    DeclareLaunchArgument,
    GroupAction,
    IncludeLaunchDescription,
    OpaqueFunction,
)
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration

PASSED_ON = ['audio_source', 'audio_file', 'video_source', 'video_file', 'policy', 'backend',
             'checkpoint', 'style', 'params_file', 'namespace', 'use_audio', 'use_head_pose']


def _include(context):
    share = Path(get_package_share_directory('lhg_ros'))
    controller = LaunchConfiguration('controller').perform(context)
    arguments = {name: LaunchConfiguration(name) for name in PASSED_ON}
    arguments.update(output='robot', use_rviz='false',
                     forward_command_topic=f'/{controller}/commands')
    # Scoped: the arguments set for the include do not leak into a parent launch file.
    return [GroupAction([IncludeLaunchDescription(
        PythonLaunchDescriptionSource(str(share / 'launch' / 'lhg.launch.py')),
        launch_arguments=arguments.items())], scoped=True)]


def generate_launch_description():
    defaults = {'audio_source': 'microphone', 'video_source': 'camera', 'policy': 'model',
                'backend': 'auto', 'use_audio': 'true', 'use_head_pose': 'true'}
    declared = [DeclareLaunchArgument('controller', default_value='head_controller',
                                      description='name of the forward_command_controller')]
    declared += [DeclareLaunchArgument(name, default_value=defaults.get(name, ''),
                                       description=f'passed to lhg.launch.py ({name})')
                 for name in PASSED_ON]
    return LaunchDescription([*declared, OpaqueFunction(function=_include)])
