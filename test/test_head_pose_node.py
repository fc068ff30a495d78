"""head_pose_node over real DDS, run as the installed executable."""

import time

import numpy as np
import pytest

from conftest import node_command, spin_until
from lhg_ros.synthetic.speaker_scene import face_frame

pytestmark = pytest.mark.ros


def start_node(child_processes, *params):
    return child_processes(node_command('head_pose_node', **dict(
        p.split(':=', 1) for p in params)))


@pytest.fixture
def sink(rclpy_context):
    """A node collecting what head_pose_node publishes."""
    import rclpy
    from geometry_msgs.msg import PoseStamped
    from rclpy.executors import SingleThreadedExecutor
    from std_msgs.msg import Bool

    from lhg_ros.nodes.common import sensor_qos

    node = rclpy.create_node('pose_sink', context=rclpy_context)
    executor = SingleThreadedExecutor(context=rclpy_context)
    executor.add_node(node)
    got = {'poses': [], 'faces': [], 'node': node, 'executor': executor}
    node.create_subscription(PoseStamped, 'speaker/head_pose', got['poses'].append,
                             sensor_qos(reliable=True, depth=100))
    node.create_subscription(Bool, 'speaker/face_detected',
                             lambda m: got['faces'].append(m.data), 100)
    yield got
    executor.shutdown()
    node.destroy_node()


def test_a_video_file_publishes_the_speakers_head_motion(face_video, sink, child_processes):
    import transforms3d

    from lhg_ros.nodes.common import seconds_from_stamp

    path, rolls, _ = face_video
    proc = start_node(child_processes, 'source:=file', f'file.path:={path}', 'reliable:=true',
                      'file.exit_at_end:=true', 'smoothing.enabled:=false')
    spin_until(sink['executor'], lambda: proc.poll() is not None, timeout_s=60)
    spin_until(sink['executor'], lambda: False, timeout_s=0.5)
    assert proc.returncode == 0, proc.stdout.read()
    poses = sink['poses']
    assert len(poses) >= 0.8 * len(rolls), f'{len(poses)} poses for {len(rolls)} frames'
    assert all(sink['faces'])
    stamps = np.array([seconds_from_stamp(p.header.stamp) for p in poses])
    assert np.all(np.diff(stamps) > 0)
    np.testing.assert_allclose(np.median(np.diff(stamps)), 1 / 25.0, atol=1e-3)
    assert poses[0].header.frame_id == 'speaker_camera'
    # The face rolls +-20 degrees: the orientation's tilt about the viewing axis follows.
    angles = []
    for p in poses:
        q = p.pose.orientation
        rotation = transforms3d.quaternions.quat2mat([q.w, q.x, q.y, q.z])
        angles.append(transforms3d.euler.mat2euler(rotation, 'sxyz')[0])
    assert np.degrees(np.ptp(np.unwrap(angles))) > 30
    assert all(0.2 < p.pose.position.x < 3.0 for p in poses), 'the face is in front'


def test_bad_images_are_dropped_and_the_node_keeps_working(sink, rclpy_context,
                                                           child_processes):
    from sensor_msgs.msg import Image

    from lhg_ros.nodes.common import sensor_qos

    proc = start_node(child_processes, 'source:=topic', 'reliable:=true')
    pub = sink['node'].create_publisher(Image, 'image', sensor_qos(reliable=True, depth=2))
    face = face_frame()
    good = Image(height=face.shape[0], width=face.shape[1], encoding='rgb8',
                 step=face.shape[1] * 3, data=face.tobytes())
    bad = [Image(height=4, width=4, encoding='yuv422', step=8, data=bytes(32)),
           Image(height=0, width=0, encoding='rgb8', step=0, data=b''),
           Image(height=480, width=640, encoding='rgb8', step=1920, data=bytes(100))]
    deadline = time.monotonic() + 30
    while not sink['poses'] and time.monotonic() < deadline and proc.poll() is None:
        for msg in bad:
            pub.publish(msg)
            spin_until(sink['executor'], lambda: False, timeout_s=0.05)
        good.header.stamp = sink['node'].get_clock().now().to_msg()
        pub.publish(good)
        spin_until(sink['executor'], lambda: bool(sink['poses']), timeout_s=0.3)
    assert proc.poll() is None, proc.stdout.read()
    assert sink['poses'], 'no pose for the good frame after the bad ones'


def test_badly_stamped_images_are_dropped_and_warn_only_for_their_period(sink,
                                                                        child_processes):
    """A face image stamped 0 or far in the future gives no pose; /diagnostics counts it in
    that period only, so one bad burst does not leave the node in WARN for ever."""
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
    from sensor_msgs.msg import Image

    from lhg_ros.nodes.common import sensor_qos, stamp_from_seconds

    statuses = []
    sink['node'].create_subscription(DiagnosticArray, '/diagnostics', lambda m: statuses.extend(
        s for s in m.status if s.name.startswith('head_pose_node')), 10)
    proc = start_node(child_processes, 'source:=topic', 'reliable:=true')
    pub = sink['node'].create_publisher(Image, 'image', sensor_qos(reliable=True, depth=2))
    face = face_frame()
    image = Image(height=face.shape[0], width=face.shape[1], encoding='rgb8',
                  step=face.shape[1] * 3, data=face.tobytes())
    assert spin_until(sink['executor'], lambda: bool(statuses), 30.0)
    now = sink['node'].get_clock().now().nanoseconds * 1e-9
    for stamp in (0.0, now + 3600.0, 0.0, now + 3600.0):
        image.header.stamp = stamp_from_seconds(stamp)
        pub.publish(image)
        spin_until(sink['executor'], lambda: False, timeout_s=0.1)
    seen = len(statuses)
    spin_until(sink['executor'], lambda: len(statuses) >= seen + 3, 5.0)
    assert proc.poll() is None and not sink['poses'], 'no pose from a badly stamped frame'
    dropped = [int({kv.key: kv.value for kv in s.values}['frames dropped']) for s in statuses]
    assert sum(dropped) == 4, dropped
    assert statuses[-1].level == DiagnosticStatus.OK and dropped[-1] == 0


def test_a_missing_video_file_stops_the_node_with_its_name(child_processes):
    proc = start_node(child_processes, 'source:=file', 'file.path:=/no/such/video.mp4')
    assert proc.wait(timeout=30) == 1
    assert "video file '/no/such/video.mp4' does not exist" in proc.stdout.read()


def test_a_missing_camera_fails_at_start_up_naming_the_devices(child_processes):
    proc = start_node(child_processes, 'source:=camera', 'camera.device:=/dev/video42')
    assert proc.wait(timeout=30) == 1
    assert "cannot open camera '/dev/video42' (video devices:" in proc.stdout.read()
