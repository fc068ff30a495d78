"""avatar_node turns joint_states into a head of markers, over real DDS."""

import numpy as np
import pytest

from conftest import node_command, spin_until

pytestmark = pytest.mark.ros


def test_a_nod_moves_the_face_markers_down_and_forward(rclpy_context, child_processes):
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import JointState
    from visualization_msgs.msg import MarkerArray

    child_processes(node_command('avatar_node'))
    node = rclpy.create_node('avatar_probe', context=rclpy_context)
    executor = SingleThreadedExecutor(context=rclpy_context)
    executor.add_node(node)
    received = []
    node.create_subscription(MarkerArray, 'avatar', received.append, 10)
    publisher = node.create_publisher(JointState, 'joint_states', 10)

    def nose_at(pitch):
        msg = JointState(name=['neck_yaw', 'neck_pitch', 'neck_roll'],
                         position=[0.0, pitch, 0.0])
        assert spin_until(executor, lambda: (publisher.publish(msg), bool(received))[1], 20.0)
        for _ in range(10):  # let answers to earlier commands drain
            publisher.publish(msg)
            spin_until(executor, lambda: False, 0.05)
        nose = next(m for m in received[-1].markers if m.id == 1)
        return np.array([nose.pose.position.x, nose.pose.position.y, nose.pose.position.z])

    try:
        level, nodding = nose_at(0.0), nose_at(0.4)
        at_limit = nose_at(0.6)  # neck_pitch's upper limit
        for wild in (10.0, 1e300):
            np.testing.assert_allclose(nose_at(wild), at_limit, atol=1e-9)
        publisher.publish(JointState(name=['neck_pitch'], position=[float('nan')]))
        spin_until(executor, lambda: False, 0.3)
        received.clear()  # only answers given after the NaN count
        np.testing.assert_allclose(nose_at(0.0), level, atol=1e-9)
    finally:
        executor.shutdown()
        node.destroy_node()
    assert len(received[-1].markers) >= 7, 'head, eyes, pupils, nose, mouth'
    assert nodding[2] < level[2] - 0.02, 'a positive pitch nods the face down'
    assert abs(nodding[1] - level[1]) < 1e-6
