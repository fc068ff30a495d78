"""launch_testing: robot_head.launch.py included from a parent launch file in a namespace, as a
robot bringup would: the listener streams to the ros2_control controller's commands topic at
the control rate, no avatar or RViz starts, and the namespace stays inside the include.

    launch_test test/launch/robot_head_in_parent.launch.py audio_file:=a.wav \
        video_file:=v.mp4 params_file:=p.yaml
"""

import time
import unittest
from pathlib import Path

import launch_testing
import launch_testing.actions
import pytest
import rclpy
from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from std_msgs.msg import Float64MultiArray

NAMESPACE = 'head_test'
COMMANDS = '/test_head_controller/commands'  # absolute: the controller lives outside


@pytest.mark.launch_test
def generate_test_description():
    share = Path(get_package_share_directory('lhg_ros'))
    head = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(str(share / 'launch' / 'robot_head.launch.py')),
        launch_arguments={
            'controller': 'test_head_controller', 'namespace': NAMESPACE,
            'audio_source': 'file', 'audio_file': LaunchConfiguration('audio_file'),
            'video_source': 'file', 'video_file': LaunchConfiguration('video_file'),
            'params_file': LaunchConfiguration('params_file'), 'policy': 'rules'}.items())
    parent = Node(package='lhg_ros', executable='avatar_node', name='parent_avatar',
                  output='screen')
    return LaunchDescription([
        DeclareLaunchArgument('audio_file'), DeclareLaunchArgument('video_file'),
        DeclareLaunchArgument('params_file'),
        head, parent, launch_testing.actions.ReadyToTest()]), {'parent': parent}


class TestTheRobotHead(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.context = rclpy.Context()
        rclpy.init(context=cls.context)
        cls.node = rclpy.create_node('head_probe', context=cls.context)
        cls.executor = rclpy.executors.SingleThreadedExecutor(context=cls.context)
        cls.executor.add_node(cls.node)

    @classmethod
    def tearDownClass(cls):
        cls.executor.shutdown()
        cls.node.destroy_node()
        rclpy.try_shutdown(context=cls.context)

    def spin(self, seconds, until=lambda: False):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not until():
            self.executor.spin_once(timeout_sec=0.05)

    def test_commands_reach_the_controller_at_the_control_rate(self):
        commands = []
        self.node.create_subscription(Float64MultiArray, COMMANDS,
                                      lambda m: commands.append(list(m.data)), 100)
        self.spin(60.0, lambda: len(commands) > 5)
        commands.clear()
        self.spin(5.0)
        rate = len(commands) / 5.0
        self.assertGreater(rate, 35.0, f'{COMMANDS}: {rate:.1f}/s')
        self.assertLess(rate, 65.0, f'{COMMANDS}: {rate:.1f}/s')
        self.assertTrue(all(len(c) == 3 for c in commands), commands[:3])

    def test_only_the_robot_nodes_run_and_only_they_are_in_the_namespace(self):
        wanted = {('audio_features_node', f'/{NAMESPACE}'), ('head_pose_node', f'/{NAMESPACE}'),
                  ('listener_node', f'/{NAMESPACE}'), ('parent_avatar', '/')}
        self.spin(40.0, lambda: wanted <= set(self.node.get_node_names_and_namespaces()))
        names = set(self.node.get_node_names_and_namespaces())
        self.assertTrue(wanted <= names, sorted(names))
        self.assertNotIn(('avatar_node', f'/{NAMESPACE}'), names, 'output:=robot has no avatar')


@launch_testing.post_shutdown_test()
class TestShutdown(unittest.TestCase):
    def test_the_parent_node_ended_cleanly(self, proc_info, parent):
        launch_testing.asserts.assertExitCodes(proc_info, [0, -2, -15, 130], process=parent)
