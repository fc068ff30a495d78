"""launch_testing: lhg.launch.py included from a parent launch file in a namespace, as a robot
bringup would: every node up, topics at their rates, the avatar without robot_state_publisher,
and the namespace applied to lhg's nodes only, not to the parent's node started after it.

    launch_test test/launch/lhg_in_parent.launch.py audio_file:=a.wav video_file:=v.mp4
"""

import time
import unittest
from pathlib import Path

import launch_testing
import launch_testing.actions
import pytest
import rclpy
from ament_index_python.packages import get_package_share_directory
from diagnostic_msgs.msg import DiagnosticArray  # noqa: F401 - the topic types below
from geometry_msgs.msg import PoseStamped
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from sensor_msgs.msg import Image, JointState
from visualization_msgs.msg import MarkerArray

NAMESPACE = 'lhg_test'
# topic -> (type, expected messages per second)
RATES = {f'/{NAMESPACE}/audio_features': (Image, 100.0),  # publish_period_s = 10 ms
         f'/{NAMESPACE}/speaker/head_pose': (PoseStamped, 25.0),
         f'/{NAMESPACE}/joint_states': (JointState, 50.0),
         f'/{NAMESPACE}/avatar': (MarkerArray, 50.0)}


@pytest.mark.launch_test
def generate_test_description():
    share = Path(get_package_share_directory('lhg_ros'))
    lhg = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(str(share / 'launch' / 'lhg.launch.py')),
        launch_arguments={
            'namespace': NAMESPACE, 'output': 'rviz', 'use_rviz': 'false',
            'use_robot_state_publisher': 'false', 'audio_source': 'file',
            'audio_file': LaunchConfiguration('audio_file'), 'video_source': 'file',
            'video_file': LaunchConfiguration('video_file'),
            'params_file': LaunchConfiguration('params_file'),
            'backend': 'onnxruntime'}.items())
    # Started after the include: must stay in the parent's (root) namespace.
    parent = Node(package='lhg_ros', executable='avatar_node', name='parent_avatar',
                  output='screen')
    return LaunchDescription([
        DeclareLaunchArgument('audio_file'), DeclareLaunchArgument('video_file'),
        DeclareLaunchArgument('params_file'),
        lhg, parent, launch_testing.actions.ReadyToTest()]), {'parent': parent}


class TestTheIncludedListener(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.context = rclpy.Context()
        rclpy.init(context=cls.context)
        cls.node = rclpy.create_node('launch_probe', context=cls.context)
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

    def test_every_node_is_up_in_the_namespace_and_the_parent_node_is_not(self):
        wanted = {('audio_features_node', f'/{NAMESPACE}'), ('head_pose_node', f'/{NAMESPACE}'),
                  ('listener_node', f'/{NAMESPACE}'), ('avatar_node', f'/{NAMESPACE}'),
                  ('parent_avatar', '/')}

        def seen():
            return wanted <= set(self.node.get_node_names_and_namespaces())

        self.spin(40.0, seen)
        self.assertTrue(seen(), sorted(self.node.get_node_names_and_namespaces()))
        names = set(self.node.get_node_names_and_namespaces())
        self.assertNotIn(('parent_avatar', f'/{NAMESPACE}'), names)
        self.assertNotIn(('robot_state_publisher', f'/{NAMESPACE}'), names)

    def test_topics_flow_at_their_rates(self):
        stamps = {topic: [] for topic in RATES}
        for topic, (kind, _) in RATES.items():
            self.node.create_subscription(
                kind, topic, lambda msg, t=topic: stamps[t].append(time.monotonic()),
                rclpy.qos.qos_profile_sensor_data)
        self.spin(60.0, lambda: all(len(v) > 5 for v in stamps.values()))
        for values in stamps.values():
            values.clear()
        self.spin(5.0)
        for topic, (_, rate) in RATES.items():
            measured = len(stamps[topic]) / 5.0
            self.assertGreater(measured, 0.7 * rate, f'{topic}: {measured:.1f}/s')
            self.assertLess(measured, 1.3 * rate, f'{topic}: {measured:.1f}/s')


@launch_testing.post_shutdown_test()
class TestShutdown(unittest.TestCase):
    def test_the_parent_node_ended_cleanly(self, proc_info, parent):
        launch_testing.asserts.assertExitCodes(proc_info, [0, -2, -15, 130], process=parent)
