"""Hostile input over real DDS: property-based bursts of malformed and extreme-but-well-formed
messages (NaN, inf, float32 max, stamps 0 / past / future / going backwards, wrong encodings
and shapes) against each running node. After every burst the node must still answer, never
publish a non-finite value or leave the joint limits; when the inputs stop the head returns to
neutral within the watchdog time. The number of examples is bounded for CI
(``LHG_HOSTILE_EXAMPLES``, default 12 bursts per node)."""

import contextlib
import os
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import node_command, spin_until
from lhg_ros.motion.joints import JointMap

pytestmark = pytest.mark.ros

EXAMPLES = int(os.environ.get('LHG_HOSTILE_EXAMPLES', '12'))
HOSTILE = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                   suppress_health_check=[HealthCheck.function_scoped_fixture,
                                          HealthCheck.too_slow])
F32_MAX = float(np.finfo(np.float32).max)
numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=32),
                    st.sampled_from([0.0, F32_MAX, -F32_MAX, 1e300, float('nan')]))
# Stamps as offsets from now (s), or absolute oddities.
stamps = st.one_of(st.sampled_from(['zero', 'future', 'past', 'now']),
                   st.floats(min_value=-600.0, max_value=600.0))


@contextlib.contextmanager
def running(executable: str, probe_name: str, **params):
    """A node started as its installed executable, and a probe node (on its own rclpy
    context) beside it; both stopped afterwards. Yields (process, probe node, executor)."""
    import subprocess

    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor

    proc = subprocess.Popen(node_command(executable, **params), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    context = Context()
    rclpy.init(context=context)
    node = rclpy.create_node(probe_name, context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    try:
        yield proc, node, executor
    finally:
        stop(proc)
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=context)


def stop(proc) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except Exception:  # noqa: BLE001 - a node busy with a backlog: kill it
        proc.kill()
        proc.wait()


def stamp_of(node, kind):
    from lhg_ros.nodes.common import stamp_from_seconds

    now = node.get_clock().now().nanoseconds * 1e-9
    offset = {'zero': -now, 'future': 1e6, 'past': -1e6, 'now': 0.0}.get(kind, kind)
    return stamp_from_seconds(max(now + offset, 0.0))


@st.composite
def feature_images(draw):
    """A sensor_msgs/Image for audio_features: well formed with extreme values, or not."""
    height = draw(st.integers(0, 6))
    width = draw(st.sampled_from([81, 81, 81, 0, 40, 200]))
    encoding = draw(st.sampled_from(['32FC1', '32FC1', 'mono8', '64FC1', '']))
    # Speech-like values, with extreme ones dropped in at random places.
    values = np.full(height * width, draw(st.floats(-20.0, 30.0)), dtype=np.float64)
    for index, value in draw(st.lists(st.tuples(st.integers(0, 10_000), numbers),
                                      max_size=8)):
        if len(values):
            values[index % len(values)] = value
    with np.errstate(over='ignore', invalid='ignore'):  # 1e300 becomes inf, as on a wire
        data = values.astype('<f4').tobytes()
    if draw(st.booleans()):
        data = data[:draw(st.integers(0, len(data)))]
    return {'height': height, 'width': width, 'encoding': encoding, 'step': width * 4,
            'data': data, 'stamp': draw(stamps)}


@st.composite
def speaker_poses(draw):
    return {'q': draw(st.lists(numbers, min_size=4, max_size=4)),
                'p': draw(st.lists(numbers, min_size=3, max_size=3)), 'stamp': draw(stamps)}


@pytest.fixture(scope='module')
def listener():
    """listener_node with the shipped model, and a probe that feeds and watches it."""
    from geometry_msgs.msg import PoseStamped
    from sensor_msgs.msg import Image, JointState
    from std_msgs.msg import Bool

    from lhg_ros.nodes.common import sensor_qos

    with running('listener_node', 'hostile_probe', backend='onnxruntime',
                 watchdog_timeout_s=0.5, neutral_return_s=1.0) as (proc, node, executor):
        joints = []
        node.create_subscription(JointState, 'joint_states',
                                 lambda m: joints.append((time.time(), list(m.position))), 200)
        probe = {'node': node, 'executor': executor, 'joints': joints, 'proc': proc,
                 'audio': node.create_publisher(Image, 'audio_features', sensor_qos()),
                 'pose': node.create_publisher(PoseStamped, 'speaker/head_pose',
                                               sensor_qos()),
                 'speaking': node.create_publisher(Bool, 'is_speaking', 10),
                 'gate': node.create_publisher(Bool, 'listening', 10)}
        assert spin_until(executor, lambda: bool(joints), 60.0), 'listener_node did not start'
        yield probe


def _within_limits(positions) -> bool:
    j = JointMap()
    p = np.asarray(positions, dtype=float)
    return bool(np.isfinite(p).all() and (p >= j.lower - 1e-9).all()
                and (p <= j.upper + 1e-9).all())


@HOSTILE
@given(images=st.lists(feature_images(), min_size=1, max_size=30),
       poses=st.lists(speaker_poses(), max_size=20),
       flags=st.lists(st.booleans(), max_size=10))
def test_the_listener_survives_any_burst_and_stays_within_its_limits(listener, images, poses,
                                                                    flags):
    from geometry_msgs.msg import PoseStamped
    from sensor_msgs.msg import Image
    from std_msgs.msg import Bool

    node = listener['node']
    for fields in images:
        msg = Image(height=fields['height'], width=fields['width'],
                    encoding=fields['encoding'], step=fields['step'], data=fields['data'])
        msg.header.stamp = stamp_of(node, fields['stamp'])
        listener['audio'].publish(msg)
    for fields in poses:
        msg = PoseStamped()
        msg.header.stamp = stamp_of(node, fields['stamp'])
        o, p = msg.pose.orientation, msg.pose.position
        o.w, o.x, o.y, o.z = (float(v) for v in fields['q'])
        p.x, p.y, p.z = (float(v) for v in fields['p'])
        listener['pose'].publish(msg)
    for flag in flags:
        listener['speaking'].publish(Bool(data=flag))
        listener['gate'].publish(Bool(data=flag or len(flags) % 2 == 0))
    listener['gate'].publish(Bool(data=True))
    before = len(listener['joints'])
    spin_until(listener['executor'], lambda: False, 0.4)
    assert listener['proc'].poll() is None, 'listener_node died'
    answered = listener['joints'][before:]
    assert len(answered) >= 10, f'only {len(answered)} joint states in 0.4 s'
    assert all(_within_limits(p) for _, p in answered)


def test_after_the_hostile_bursts_the_head_returns_to_neutral(listener):
    """Runs after the property test in this module: inputs have stopped."""
    spin_until(listener['executor'], lambda: False, 1.8)  # watchdog 0.5 s + return 1.0 s
    recent = [p for t, p in listener['joints'] if t > time.time() - 0.2]
    assert recent and np.abs(np.array(recent) - JointMap().neutral).max() < np.radians(1.0)


@st.composite
def camera_images(draw):
    height, width = draw(st.integers(0, 64)), draw(st.integers(0, 64))
    encoding = draw(st.sampled_from(['rgb8', 'bgr8', 'mono8', 'rgba8', 'yuv422', '']))
    step = draw(st.integers(0, 4 * width + 8))
    size = draw(st.sampled_from([height * step, 0, max(height * step - 5, 0), 17]))
    return {'height': height, 'width': width, 'encoding': encoding, 'step': step, 'size': size,
                'stamp': draw(stamps)}


@pytest.fixture(scope='module')
def head_pose():
    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import PoseStamped
    from sensor_msgs.msg import Image

    from lhg_ros.nodes.common import sensor_qos

    with running('head_pose_node', 'hostile_camera', source='topic') as (proc, node, executor):
        got = {'poses': [], 'diagnostics': []}
        node.create_subscription(PoseStamped, 'speaker/head_pose', got['poses'].append,
                                 sensor_qos(depth=50))
        node.create_subscription(DiagnosticArray, '/diagnostics',
                                 lambda m: got['diagnostics'].append(time.time()), 10)
        probe = {'node': node, 'executor': executor, 'proc': proc, 'got': got,
                 'image': node.create_publisher(Image, 'image', sensor_qos(depth=2))}
        assert spin_until(executor, lambda: bool(got['diagnostics']), 60.0)
        yield probe


@HOSTILE
@given(images=st.lists(camera_images(), min_size=1, max_size=20))
def test_the_head_pose_node_survives_any_image_burst(head_pose, images):
    from sensor_msgs.msg import Image

    node = head_pose['node']
    for fields in images:
        msg = Image(height=fields['height'], width=fields['width'],
                    encoding=fields['encoding'], step=fields['step'],
                    data=bytes(fields['size']))
        msg.header.stamp = stamp_of(node, fields['stamp'])
        head_pose['image'].publish(msg)
        spin_until(head_pose['executor'], lambda: False, 0.01)
    seen = len(head_pose['got']['diagnostics'])
    spin_until(head_pose['executor'], lambda: len(head_pose['got']['diagnostics']) > seen, 2.5)
    assert head_pose['proc'].poll() is None, 'head_pose_node died'
    assert len(head_pose['got']['diagnostics']) > seen, 'it stopped reporting'
    for pose in head_pose['got']['poses']:
        p, q = pose.pose.position, pose.pose.orientation
        assert np.isfinite([p.x, p.y, p.z, q.w, q.x, q.y, q.z]).all()


@pytest.fixture(scope='module')
def avatar():
    from sensor_msgs.msg import JointState
    from visualization_msgs.msg import MarkerArray

    with running('avatar_node', 'hostile_joints') as (proc, node, executor):
        markers = []
        node.create_subscription(MarkerArray, 'avatar', markers.append, 100)
        publisher = node.create_publisher(JointState, 'joint_states', 10)
        ok = JointState(name=['neck_pitch'], position=[0.0])
        assert spin_until(executor, lambda: (publisher.publish(ok), bool(markers))[1], 60.0)
        yield {'executor': executor, 'proc': proc, 'markers': markers, 'publisher': publisher}


@st.composite
def joint_states(draw):
    names = draw(st.lists(st.sampled_from(['neck_yaw', 'neck_pitch', 'neck_roll', 'other']),
                          min_size=1, max_size=4, unique=True))
    size = len(names) if draw(st.integers(0, 4)) else draw(st.integers(0, 5))  # mostly right
    return names, draw(st.lists(st.one_of(numbers, st.floats(-20.0, 20.0)), min_size=size,
                                max_size=size))


@HOSTILE
@given(messages=st.lists(joint_states(), min_size=1, max_size=20))
def test_the_avatar_never_draws_a_head_outside_its_limits(avatar, messages):
    from sensor_msgs.msg import JointState

    avatar['markers'].clear()
    for names, positions in messages:
        avatar['publisher'].publish(JointState(name=names,
                                               position=[float(p) for p in positions]))
    ok = JointState(name=['neck_pitch'], position=[0.1])
    assert spin_until(avatar['executor'], lambda: (avatar['publisher'].publish(ok),
                                                   bool(avatar['markers']))[1], 5.0)
    spin_until(avatar['executor'], lambda: False, 0.2)  # the answers to the whole burst
    assert avatar['proc'].poll() is None
    for array in avatar['markers']:
        for m in array.markers:
            o = m.pose.orientation
            assert np.isfinite([m.pose.position.x, m.pose.position.y, m.pose.position.z,
                                o.w, o.x, o.y, o.z]).all()
            assert abs(np.hypot(o.w, o.x) ** 2 + o.y ** 2 + o.z ** 2 - 1) < 1e-6
            # Never turned further than the three joint limits together (0.8 + 0.6 + 0.4).
            assert 2 * np.arccos(min(abs(o.w), 1.0)) <= 1.8 + 1e-6
