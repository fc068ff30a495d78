"""avatar_node: the listener head as a visualization_msgs/MarkerArray, driven by joint_states,
for setups without robot_state_publisher (RViz shows it under ``avatar``). Positions are
clamped to the head's joint limits (those of ``urdf/listener_head.urdf``); messages with
non-finite positions are dropped; both are counted and logged (throttled)."""

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import JointState
from visualization_msgs.msg import Marker, MarkerArray

from lhg_ros.motion.avatar import HEAD_PARTS, head_rotation, neck_angles
from lhg_ros.motion.joints import DEFAULT_JOINTS
from lhg_ros.nodes.common import declare, run


class AvatarNode(Node):
    NODE_NAME = 'avatar_node'

    def __init__(self, **node_options):
        super().__init__(self.NODE_NAME, **node_options)
        self.frame_id = declare(self, 'frame_id', 'listener_base', 'frame of the markers')
        self._publisher = self.create_publisher(MarkerArray, 'avatar', 10)
        self.create_subscription(JointState, 'joint_states', self._on_joints, 10)
        self._limits = {j.name: (j.lower, j.upper) for j in DEFAULT_JOINTS}
        self.dropped = 0
        self.clamped = 0

    def _on_joints(self, msg: JointState) -> None:
        import transforms3d

        if len(msg.name) != len(msg.position) or not np.all(np.isfinite(msg.position)):
            self.dropped += 1
            self.get_logger().warning('dropped a malformed joint_states message (names and '
                                      'positions differ in length, or NaN/inf)',
                                      throttle_duration_sec=5.0)
            return
        positions = [float(np.clip(p, *self._limits.get(n, (-np.pi, np.pi))))
                     for n, p in zip(msg.name, msg.position, strict=True)]
        if positions != list(msg.position):
            self.clamped += 1
            self.get_logger().warning('joint positions outside the head\'s limits: clamped',
                                      throttle_duration_sec=5.0)
        rotation = head_rotation(*neck_angles(msg.name, positions))
        w, x, y, z = transforms3d.quaternions.mat2quat(rotation)
        markers = MarkerArray()
        for i, part in enumerate(HEAD_PARTS):
            marker = Marker(id=i, ns='listener_head', action=Marker.ADD,
                            type=Marker.SPHERE if part.shape == 'sphere' else Marker.CUBE)
            marker.header.frame_id = self.frame_id
            marker.header.stamp = msg.header.stamp
            centre = rotation @ np.array(part.centre)
            marker.pose.position.x, marker.pose.position.y, marker.pose.position.z = (
                float(v) for v in centre)
            marker.pose.orientation.w, marker.pose.orientation.x = float(w), float(x)
            marker.pose.orientation.y, marker.pose.orientation.z = float(y), float(z)
            marker.scale.x, marker.scale.y, marker.scale.z = part.size
            marker.color.r, marker.color.g, marker.color.b = part.colour
            marker.color.a = 1.0
            markers.markers.append(marker)
        self._publisher.publish(markers)


def main(args=None) -> int:
    return run(AvatarNode, args)
