"""rclpy from the PyPI wheels talks to another process over real DDS."""

import sys
import textwrap

import numpy as np
import pytest

from conftest import spin_until

pytestmark = pytest.mark.ros

ROWS, COLS = 5, 81  # one chunk of the audio feature stream: 5 frames x 81 dims

PUBLISHER = textwrap.dedent(f"""
    import numpy as np, rclpy, time
    from sensor_msgs.msg import Image
    rclpy.init()
    node = rclpy.create_node('feature_talker')
    pub = node.create_publisher(Image, 'audio_features', 10)
    seq = 0
    while rclpy.ok():
        data = np.arange({ROWS} * {COLS}, dtype=np.float32) + seq
        msg = Image(height={ROWS}, width={COLS}, encoding='32FC1', step={COLS} * 4)
        msg.header.frame_id = str(seq)
        msg.data = data.tobytes()
        pub.publish(msg)
        seq += 1
        rclpy.spin_once(node, timeout_sec=0.05)
""")


def test_image_chunk_arrives_intact_from_another_process(rclpy_context, child_processes):
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import Image

    talker = child_processes([sys.executable, '-c', PUBLISHER])
    node = rclpy.create_node('feature_listener', context=rclpy_context)
    executor = SingleThreadedExecutor(context=rclpy_context)
    executor.add_node(node)
    received = []
    node.create_subscription(Image, 'audio_features', received.append, 10)
    try:
        assert spin_until(executor, lambda: len(received) >= 3, timeout_s=20.0), (
            'no message from the publisher process within 20 s; its output:\n'
            + (talker.stdout.read() if talker.poll() is not None else '(still running)'))
    finally:
        executor.shutdown()
        node.destroy_node()

    for msg in received:
        assert (msg.height, msg.width, msg.encoding, msg.step) == (ROWS, COLS, '32FC1', COLS * 4)
        seq = int(msg.header.frame_id)
        rows = np.frombuffer(bytes(msg.data), dtype=np.float32).reshape(ROWS, COLS)
        np.testing.assert_array_equal(rows.ravel(), np.arange(ROWS * COLS, dtype=np.float32) + seq)
    seqs = [int(m.header.frame_id) for m in received]
    assert seqs == sorted(seqs), 'messages arrived out of order on a reliable topic'
