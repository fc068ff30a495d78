"""ROS4HRI (REP-155) interop over real DDS, both ways: the listener takes the speaker from a
publisher that speaks REP-155 as hri_face_detect does (tracked face ids, the ``face_<id>``
frame on /tf, a voice's is_speaking), and head_pose_node publishes those topics itself."""


from importlib.util import find_spec

import numpy as np
import pytest

from conftest import node_command, spin_until
from lhg_ros.ros4hri import FaceIds, Following, valid_id

HAS_HRI = all(find_spec(m) is not None for m in ('hri_msgs', 'tf2_msgs'))
needs_hri = pytest.mark.skipif(not HAS_HRI, reason='hri_msgs / tf2_msgs are not installed '
                               '(scripts/install_launch_wheels.sh, ../shared/wheels/ros2-launch)')


def test_the_followed_face_stays_while_tracked_then_the_next_one_is_taken():
    follow = Following()
    assert follow.update(['abcde', 'fghij']) == 'abcde'
    assert follow.update(['fghij', 'abcde']) == 'abcde', 'kept while still tracked'
    assert follow.update(['fghij']) == 'fghij'
    assert follow.update([]) is None
    assert follow.update(['bad id/../x', 'k1']) == 'k1', 'ids that cannot name a frame are skipped'
    wanted = Following('fghij')
    assert wanted.update(['abcde']) is None and wanted.update(['abcde', 'fghij']) == 'fghij'
    assert valid_id('anonymous_speaker') and not valid_id('') and not valid_id('a-b')


def test_a_face_that_comes_back_gets_a_new_id():
    ids = FaceIds()
    first = ids.update(True)
    assert ids.update(True) == first and ids.update(False) is None
    assert ids.update(True) not in (None, first)


def diagnostics_values(executor, node, name, predicate, timeout_s):
    from diagnostic_msgs.msg import DiagnosticArray

    latest = {}

    def on_diagnostics(msg):
        for status in msg.status:
            if status.name.startswith(name):
                latest.clear()
                latest.update({v.key: v.value for v in status.values})

    subscription = node.create_subscription(DiagnosticArray, '/diagnostics', on_diagnostics, 10)
    spin_until(executor, lambda: bool(latest) and predicate(latest), timeout_s)
    node.destroy_subscription(subscription)
    return latest


@pytest.mark.ros
@needs_hri
def test_the_listener_follows_the_speaker_given_in_ros4hri_topics(rclpy_context, child_processes):
    import rclpy
    from geometry_msgs.msg import TransformStamped
    from hri_msgs.msg import IdsList
    from rclpy.executors import SingleThreadedExecutor
    from std_msgs.msg import Bool
    from tf2_msgs.msg import TFMessage

    child_processes(node_command('listener_node', policy='rules', speaker_source='ros4hri'))
    node = rclpy.create_node('hri_face_detect_like', context=rclpy_context)
    executor = SingleThreadedExecutor(context=rclpy_context)
    executor.add_node(node)
    faces = node.create_publisher(IdsList, '/humans/faces/tracked', 10)
    voices = node.create_publisher(IdsList, '/humans/voices/tracked', 10)
    tf = node.create_publisher(TFMessage, '/tf', 100)
    speaking = node.create_publisher(Bool, '/humans/voices/anonymous_speaker/is_speaking', 10)

    def publish():
        now = node.get_clock().now().to_msg()
        faces.publish(IdsList(ids=['abcde', 'fghij']))
        voices.publish(IdsList(ids=['anonymous_speaker']))
        transforms = []
        for face, bad in (('abcde', False), ('fghij', True)):
            t = TransformStamped()
            t.header.stamp, t.header.frame_id = now, 'camera'
            t.child_frame_id = f'face_{face}'
            t.transform.translation.x = 1.0
            # The other face carries a broken quaternion: following it would count malformed.
            t.transform.rotation.w = 0.0 if bad else 1.0
            transforms.append(t)
        tf.publish(TFMessage(transforms=transforms))
        speaking.publish(Bool(data=True))

    node.create_timer(0.04, publish)  # 25 Hz, as a camera pipeline
    values = diagnostics_values(executor, node, 'listener_node',
                                lambda v: int(v.get('speaker poses received', 0)) > 25
                                and int(v.get('voice activity messages', 0)) > 5, 30.0)
    executor.shutdown()
    node.destroy_node()
    assert values.get('speaker source') == 'ros4hri face abcde, voice anonymous_speaker', values
    assert int(values['speaker poses received']) > 25, values
    assert int(values['voice activity messages']) > 5, values
    assert values['malformed messages'] == '0', 'the untracked or other face was used'


@pytest.mark.ros
@needs_hri
def test_head_pose_node_publishes_the_speaker_as_a_ros4hri_face(
        face_video, rclpy_context, child_processes):
    import rclpy
    from geometry_msgs.msg import PoseStamped
    from hri_msgs.msg import IdsList
    from rclpy.executors import SingleThreadedExecutor
    from tf2_msgs.msg import TFMessage

    from lhg_ros.nodes.common import sensor_qos

    node = rclpy.create_node('ros4hri_consumer', context=rclpy_context)
    executor = SingleThreadedExecutor(context=rclpy_context)
    executor.add_node(node)
    tracked, transforms, poses = [], {}, {}
    node.create_subscription(IdsList, '/humans/faces/tracked',
                             lambda m: tracked.append(list(m.ids)), 10)

    def on_tf(msg):
        for t in msg.transforms:
            transforms[(t.header.stamp.sec, t.header.stamp.nanosec)] = t

    node.create_subscription(TFMessage, '/tf', on_tf, 100)
    node.create_subscription(PoseStamped, 'speaker/head_pose', lambda m: poses.__setitem__(
        (m.header.stamp.sec, m.header.stamp.nanosec), m), sensor_qos())
    child_processes(node_command('head_pose_node', source='file', file__path=face_video[0],
                                 file__loop='true', ros4hri__publish='true'))
    spin_until(executor, lambda: len(set(transforms) & set(poses)) >= 20, 60.0)
    executor.shutdown()
    node.destroy_node()
    common = sorted(set(transforms) & set(poses))
    assert len(common) >= 20, (len(transforms), len(poses))
    ids = {i for frame in tracked for i in frame}
    assert len(ids) == 1 and valid_id(next(iter(ids))), ids  # the face never left the video
    face = next(iter(ids))
    for key in common:
        t, p = transforms[key], poses[key]
        assert t.child_frame_id == f'face_{face}'
        assert t.header.frame_id == p.header.frame_id == 'speaker_camera'
        q, r = t.transform.rotation, p.pose.orientation
        assert np.allclose([q.w, q.x, q.y, q.z], [r.w, r.x, r.y, r.z])
        v, w = t.transform.translation, p.pose.position
        assert np.allclose([v.x, v.y, v.z], [w.x, w.y, w.z])
