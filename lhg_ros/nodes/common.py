"""What every lhg_ros node needs: declared parameters, message conversions, a standard main."""

import sys
from collections.abc import Callable, Sequence

import numpy as np
import rclpy
from builtin_interfaces.msg import Time
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image


class StartupError(RuntimeError):
    """A node cannot start (bad parameter, missing file or device); the message says what to do."""


def declare(node: Node, name: str, default, description: str, *, read_only: bool = True,
            value_range: tuple | None = None, choices: Sequence[str] | None = None):
    """Declare a parameter with a description (and range) and return its value.

    ``choices`` are checked here, ranges by rclpy; a bad value raises :class:`StartupError`
    naming the parameter, so a node fails at start-up instead of running misconfigured.
    """
    descriptor = ParameterDescriptor(description=description, read_only=read_only)
    if choices:
        descriptor.additional_constraints = 'one of: ' + ', '.join(choices)
    if value_range is not None:
        low, high = value_range
        if isinstance(default, float):
            descriptor.floating_point_range = [FloatingPointRange(from_value=float(low),
                                                                  to_value=float(high))]
        else:
            descriptor.integer_range = [IntegerRange(from_value=int(low), to_value=int(high))]
    try:
        value = node.declare_parameter(name, default, descriptor).value
    except Exception as exc:  # rclpy raises InvalidParameterValueException and friends
        raise StartupError(f"parameter '{name}': {exc}") from None
    if choices and value not in choices:
        raise StartupError(f"parameter '{name}' is '{value}'; it must be one of: "
                         + ', '.join(choices))
    return value


def sensor_qos(reliable: bool = False, depth: int = 10) -> QoSProfile:
    """Sensor-data QoS (best effort, keep last), or reliable where the user asks for it."""
    return QoSProfile(
        depth=depth, history=HistoryPolicy.KEEP_LAST, durability=DurabilityPolicy.VOLATILE,
        reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT)


def stamp_from_seconds(seconds: float) -> Time:
    nanoseconds = int(round(seconds * 1e9))
    return Time(sec=nanoseconds // 1_000_000_000, nanosec=nanoseconds % 1_000_000_000)


def seconds_from_stamp(stamp: Time) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def image_from_rows(rows: np.ndarray, stamp: float, frame_id: str) -> Image:
    """A (n, d) float32 block as a ``32FC1`` Image: one row per frame, stamp = first row."""
    rows = np.ascontiguousarray(rows, dtype=np.float32)
    msg = Image(height=rows.shape[0], width=rows.shape[1], encoding='32FC1',
                is_bigendian=int(sys.byteorder == 'big'), step=rows.shape[1] * 4)
    msg.header.stamp = stamp_from_seconds(stamp)
    msg.header.frame_id = frame_id
    msg.data = rows.tobytes()
    return msg


def mono8_image(pixels: np.ndarray, stamp: float, frame_id: str) -> Image:
    """A (height, width) uint8 array as a ``mono8`` Image."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    msg = Image(height=pixels.shape[0], width=pixels.shape[1], encoding='mono8',
                step=pixels.shape[1])
    msg.header.stamp = stamp_from_seconds(stamp)
    msg.header.frame_id = frame_id
    msg.data = pixels.tobytes()
    return msg


def rows_from_image(msg: Image, width: int) -> np.ndarray:
    """The (n, width) float32 block of a ``32FC1`` Image; ``ValueError`` says what is wrong."""
    if msg.encoding != '32FC1':
        raise ValueError(f"encoding is '{msg.encoding}', expected '32FC1'")
    if msg.width != width:
        raise ValueError(f'width is {msg.width}, expected {width} feature columns')
    if msg.step != width * 4 or len(msg.data) != msg.height * msg.step:
        raise ValueError(f'{len(msg.data)} data bytes do not match height {msg.height} x step '
                         f'{msg.step}')
    dtype = np.dtype('>f4' if msg.is_bigendian else '<f4')
    rows = np.frombuffer(bytes(msg.data), dtype=dtype).reshape(msg.height, width)
    if not np.isfinite(rows).all():
        raise ValueError('features contain NaN or inf')
    return rows.astype(np.float32)


class SubscriberWait:
    """A file source starts once its publisher has ``count`` matched subscribers, or after
    ``timeout_s`` (with one warning): messages published before a subscriber has matched
    never reach it."""

    def __init__(self, node: Node, publisher, topic: str, prefix: str = 'file'):
        self._node, self._publisher, self._topic = node, publisher, topic
        self.timeout_s = declare(
            node, f'{prefix}.wait_for_subscriber_s', 5.0,
            f'a file starts playing once {topic} has file.min_subscribers subscribers, or '
            'after this long: messages published before a subscriber has matched are lost',
            value_range=(0.0, 60.0))
        self.count = declare(node, f'{prefix}.min_subscribers', 1,
                             f'subscribers of {topic} to wait for before playing a file',
                             value_range=(0, 64))
        self._since: float | None = node.get_clock().now().nanoseconds * 1e-9

    def ready(self) -> bool:
        if self._since is None:
            return True
        waited = self._node.get_clock().now().nanoseconds * 1e-9 - self._since
        matched = self._publisher.get_subscription_count()
        if matched < self.count:
            if waited < self.timeout_s:
                return False
            self._node.get_logger().warning(
                f'{matched} of {self.count} subscriber(s) of {self._topic} after '
                f'{self.timeout_s:g} s; playing the file anyway')
        self._since = None
        return True


def flush(publishers, timeout_s: float = 2.0) -> bool:
    """Wait (bounded) until every reliable subscriber has acknowledged what ``publishers``
    sent, so a node that exits right after its last message does not lose it."""
    from rclpy.duration import Duration

    return all(p.wait_for_all_acked(Duration(seconds=timeout_s)) for p in publishers)


def run(node_factory: Callable[[], Node], args: Sequence[str] | None = None) -> int:
    """Create the node and spin it until Ctrl-C or shutdown; the same on Humble, Jazzy, Kilted.

    A node that cannot start raises during construction: its message is logged and the process
    exits with code 1, so launch files and supervisors see the failure; unless the context was
    shut down meanwhile (Ctrl-C, a launch stopping its nodes), which ends it cleanly.
    """
    name = getattr(node_factory, 'NODE_NAME', 'lhg_ros')
    try:
        rclpy.init(args=args)
    except Exception as exc:  # noqa: BLE001 - a bad --ros-args or params file: one line
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f'{name}: cannot start ROS with these arguments: {reason} (check --ros-args and '
              'the --params-file path and YAML)', file=sys.stderr)
        return 1
    node = None
    try:
        node = node_factory()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except StartupError as exc:
        if not rclpy.ok():  # shut down while starting (a launch stopping): not a start-up error
            return 0
        rclpy.logging.get_logger(name).fatal(str(exc))
        return 1
    except RuntimeError:
        # Ctrl-C shuts the context down from rclpy's signal handler; a timer callback that was
        # already running then fails to publish on it (rclpy's RCLError, a RuntimeError). That
        # is the shutdown, not an error; anything else while the context is up is re-raised.
        if rclpy.ok():
            raise
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0

