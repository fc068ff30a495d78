"""head_pose_node: the speaker's face -> head pose (PoseStamped), face_detected, debug image.

Sources (parameter ``source``): ``camera`` (OpenCV), ``file`` (a video, real-time pace or as
fast as possible) or ``topic`` (``sensor_msgs/Image`` rgb8/bgr8/mono8/rgba8/bgra8 on ``image``).
Frames are only stored as they arrive; a timer at ``processing_rate`` processes the newest one,
so a slow CPU drops frames (counted, reported on /diagnostics) instead of falling behind.
"""

import threading
import time

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import Bool

from lhg_ros.features.face_mesh import FACE_SELECTIONS, FaceMeshDetector, FaceSelector
from lhg_ros.features.head_tracking import SpeakerHeadTracker, draw_pose
from lhg_ros.features.landmark_pose import CameraModel, HeadPoseSolver
from lhg_ros.filters import OneEuroFilter
from lhg_ros.nodes.common import (
    StartupError,
    SubscriberWait,
    declare,
    flush,
    run,
    seconds_from_stamp,
    sensor_qos,
    stamp_from_seconds,
)
from lhg_ros.ros4hri import FACES_TRACKED, TF_TOPIC, FaceIds, face_frame
from lhg_ros.sources.video import (
    CameraSource,
    VideoFileSource,
    VideoFrame,
    VideoSourceError,
    rgb_from_image_fields,
)
from lhg_ros.stamps import StampWindow

SOURCES = ('camera', 'file', 'topic')


class TopicVideoSource:
    """Frames from a sensor_msgs/Image topic; the callback keeps only the newest message."""

    def __init__(self, node: Node, reliable: bool):
        self._node = node
        self._lock = threading.Lock()
        self._latest: Image | None = None
        self._count = 0
        self.dropped = 0
        self.rejected = 0
        self.finished = False
        self.stamps = StampWindow()
        node.create_subscription(Image, 'image', self._on_image, sensor_qos(reliable, depth=2))

    def _on_image(self, msg: Image) -> None:
        with self._lock:
            if self._latest is not None:
                self.dropped += 1
            self._latest = msg

    def read(self) -> VideoFrame | None:
        with self._lock:
            msg, self._latest = self._latest, None
        if msg is None:
            return None
        try:
            rgb = rgb_from_image_fields(msg.encoding, msg.height, msg.width, msg.step, msg.data)
        except ValueError as exc:
            self.rejected += 1
            self._node.get_logger().warning(f'dropped an image: {exc}',
                                            throttle_duration_sec=5.0)
            return None
        stamp = seconds_from_stamp(msg.header.stamp)
        if not self.stamps.accept(stamp, self._node.get_clock().now().nanoseconds * 1e-9):
            self.rejected += 1
            self._node.get_logger().warning(f'dropped an image: {self.stamps.last_reason}',
                                            throttle_duration_sec=5.0)
            return None
        self._count += 1
        return VideoFrame(rgb, stamp, self._count)

    def close(self) -> None:
        pass


class HeadPoseNode(Node):
    NODE_NAME = 'head_pose_node'

    def __init__(self, **node_options):
        super().__init__(self.NODE_NAME, **node_options)
        source = declare(self, 'source', 'camera', 'where the speaker video comes from',
                         choices=SOURCES)
        rate = declare(self, 'processing_rate', 25.0,
                       'frames processed per second (the paper uses 25)',
                       value_range=(1.0, 120.0))
        self.frame_id = declare(self, 'frame_id', 'speaker_camera',
                                'camera body frame (REP-103: x forward, y left, z up) of the '
                                'published pose')
        self.exit_at_end = declare(self, 'file.exit_at_end', False,
                                   'shut the node down when a non-looping file has been read')
        self._debug = declare(self, 'publish_debug_image', False,
                              'publish the frame with landmarks and head axes drawn')
        reliable = declare(self, 'reliable', False,
                           'reliable instead of best-effort QoS for images and poses')
        self._setup_source(source, reliable)
        self.tracker = self._make_tracker()
        self._pose_pub = self.create_publisher(PoseStamped, 'speaker/head_pose',
                                               sensor_qos(reliable))
        self._wait = SubscriberWait(self, self._pose_pub, 'speaker/head_pose')
        self._face_pub = self.create_publisher(Bool, 'speaker/face_detected', 10)
        if self._debug:
            self._debug_pub = self.create_publisher(Image, 'speaker/debug_image',
                                                    sensor_qos(reliable, depth=2))
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self._hri = None
        if declare(self, 'ros4hri.publish', False, 'also publish REP-155 topics: the face id on '
                   '/humans/faces/tracked and the head as TF frame face_<id> on /tf'):
            self._hri = self._ros4hri_publishers()
        self._budget_s = 1.0 / rate
        self._stats = self._fresh_stats()
        self._dropped_before = 0
        self.poses_published = 0
        self._timer = self.create_timer(self._budget_s, self._on_timer)
        self.create_timer(1.0, self._publish_diagnostics)

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _setup_source(self, source: str, reliable: bool) -> None:
        p = {
            'camera.device': declare(self, 'camera.device', '0',
                                     'camera index or device path (e.g. /dev/video2)'),
            'camera.width': declare(self, 'camera.width', 640, 'capture width (pixels)',
                                    value_range=(64, 4096)),
            'camera.height': declare(self, 'camera.height', 480, 'capture height (pixels)',
                                     value_range=(48, 4096)),
            'camera.fps': declare(self, 'camera.fps', 30.0, 'capture rate (frames/s)',
                                  value_range=(1.0, 240.0)),
            'file.path': declare(self, 'file.path', '', 'video file to read'),
            'file.realtime': declare(self, 'file.realtime', True,
                                     'pace the file in real time (false: every frame, as fast '
                                     'as processing allows)'),
            'file.loop': declare(self, 'file.loop', False, 'start again at the end'),
        }
        try:
            if source == 'camera':
                self.source = CameraSource(p['camera.device'], p['camera.width'],
                                           p['camera.height'], p['camera.fps'], clock=self._now)
            elif source == 'file':
                if not p['file.path']:
                    raise StartupError("source 'file' needs the parameter file.path")
                self.source = VideoFileSource(p['file.path'], clock=self._now,
                                              realtime=p['file.realtime'], loop=p['file.loop'])
                self.get_logger().info(f"reading '{p['file.path']}' ({self.source.frame_count} "
                                       f'frames at {self.source.fps:.1f} fps)')
            else:
                self.source = TopicVideoSource(self, reliable)
        except VideoSourceError as exc:
            raise StartupError(str(exc)) from None

    def _make_tracker(self) -> SpeakerHeadTracker:
        smoothing = None
        if declare(self, 'smoothing.enabled', True, 'One-Euro filter on the 6-DoF pose'):
            smoothing = OneEuroFilter(
                min_cutoff=declare(self, 'smoothing.min_cutoff', 1.5,
                                   'cutoff (Hz) when the head is still: lower = less jitter',
                                   value_range=(0.01, 30.0)),
                beta=declare(self, 'smoothing.beta', 0.3,
                             'cutoff increase with speed: higher = less lag on fast moves',
                             value_range=(0.0, 10.0)))
        fx = declare(self, 'camera_info.fx', 0.0,
                     'focal length in pixels; 0 = from camera_info.horizontal_fov_deg',
                     value_range=(0.0, 100000.0))
        fov = declare(self, 'camera_info.horizontal_fov_deg', 60.0,
                      'assumed horizontal field of view when fx is 0',
                      value_range=(10.0, 170.0))
        self._camera_config = (fx, fov)
        return SpeakerHeadTracker(
            detector=FaceMeshDetector(
                max_faces=declare(self, 'max_faces', 2,
                                  'faces MediaPipe looks for (the speaker is chosen among them)',
                                  value_range=(1, 8)),
                min_detection_confidence=declare(self, 'min_detection_confidence', 0.5,
                                                 'MediaPipe face detection threshold',
                                                 value_range=(0.05, 0.99)),
                min_tracking_confidence=declare(self, 'min_tracking_confidence', 0.5,
                                                'MediaPipe landmark tracking threshold',
                                                value_range=(0.05, 0.99)),
                profile_fallback=declare(self, 'profile_fallback', True,
                                         'when Face Mesh finds no face, look with the '
                                         'full-range face detector and mesh each face it finds '
                                         '(finds three-quarter profiles)')),
            solver=HeadPoseSolver(eye_corner_distance_m=declare(
                self, 'eye_corner_distance_m', 0.09,
                "the speaker's outer eye-corner distance, which sets the depth scale (m)",
                value_range=(0.05, 0.15))),
            selector=FaceSelector(
                declare(self, 'face_selection', 'continuity',
                        'which face is the speaker: continuity (stay with the same person), '
                        'largest or center (chosen in each frame)', choices=FACE_SELECTIONS),
                switch_after_s=declare(self, 'face_switch_after_s', 1.0,
                                       'continuity: the speaker gone this long -> the largest '
                                       'face becomes the speaker', value_range=(0.0, 30.0)),
                min_size=declare(self, 'min_face_size', 0.05,
                                 'smallest face height (fraction of the image) taken as the '
                                 'speaker', value_range=(0.0, 1.0))),
            smoothing=smoothing)

    def _camera_for(self, width: int, height: int) -> CameraModel:
        fx, fov = self._camera_config
        if fx > 0:
            return CameraModel(fx, fx, width / 2.0, height / 2.0)
        return CameraModel.from_fov(width, height, fov)

    def _on_timer(self) -> None:
        if isinstance(self.source, VideoFileSource) and not self._wait.ready():
            return
        frame = self.source.read()
        if frame is None:
            if self.source.finished:
                self._timer.cancel()
                self.get_logger().info(f'end of the video: {self.poses_published} poses '
                                       'published')
                if self.exit_at_end:
                    # The last poses must reach every reliable subscriber before the exit.
                    flush([self._pose_pub, self._face_pub])
                    raise SystemExit(0)
            return
        started = time.perf_counter()
        self.tracker.camera = self._camera_for(frame.rgb.shape[1], frame.rgb.shape[0])
        try:
            pose = self.tracker.process(frame.rgb, frame.capture_time)
        except ValueError as exc:
            self.get_logger().warning(f'dropped a frame: {exc}', throttle_duration_sec=5.0)
            return
        stamp = stamp_from_seconds(frame.capture_time)
        self._face_pub.publish(Bool(data=pose is not None))
        message = None if pose is None else self._pose_message(pose, stamp)
        if message is not None:
            self._pose_pub.publish(message)
            self.poses_published += 1
        if self._hri is not None:
            self._publish_ros4hri(message, stamp)
        if self._debug:
            self._debug_pub.publish(self._image_message(
                draw_pose(frame.rgb, pose, rigid=self.tracker.solver.reference.rigid), stamp))
        self._account(time.perf_counter() - started, pose is not None)

    def _ros4hri_publishers(self):
        try:
            from geometry_msgs.msg import TransformStamped
            from hri_msgs.msg import IdsList
            from tf2_msgs.msg import TFMessage
        except ImportError as exc:
            raise StartupError(f'ros4hri.publish needs the hri_msgs and tf2_msgs packages '
                               f'({exc}): on a ROS 2 distribution apt '
                               'install ros-$ROS_DISTRO-hri-msgs ros-$ROS_DISTRO-tf2-msgs '
                               '(the pip route has no hri_msgs wheel)') from None
        self._face_ids = FaceIds()
        return {'types': (IdsList, TFMessage, TransformStamped),
                'tracked': self.create_publisher(IdsList, FACES_TRACKED, 10),
                'tf': self.create_publisher(TFMessage, TF_TOPIC, 100)}

    def _publish_ros4hri(self, pose: PoseStamped | None, stamp) -> None:
        """REP-155: the tracked face's id (none while no face is seen) and its head frame."""
        IdsList, TFMessage, TransformStamped = self._hri['types']
        face = self._face_ids.update(pose is not None)
        tracked = IdsList(ids=[face] if face else [])
        tracked.header.stamp, tracked.header.frame_id = stamp, self.frame_id
        self._hri['tracked'].publish(tracked)
        if pose is None:
            return
        transform = TransformStamped()
        transform.header = pose.header
        transform.child_frame_id = face_frame(face)
        position, t = pose.pose.position, transform.transform.translation
        t.x, t.y, t.z = position.x, position.y, position.z
        transform.transform.rotation = pose.pose.orientation
        self._hri['tf'].publish(TFMessage(transforms=[transform]))

    def _pose_message(self, pose, stamp) -> PoseStamped:
        import transforms3d

        msg = PoseStamped()
        msg.header.stamp = stamp
        msg.header.frame_id = self.frame_id
        msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = map(float, pose.position)
        w, x, y, z = transforms3d.quaternions.mat2quat(pose.orientation_in_camera())
        msg.pose.orientation.w, msg.pose.orientation.x = float(w), float(x)
        msg.pose.orientation.y, msg.pose.orientation.z = float(y), float(z)
        return msg

    def _image_message(self, rgb: np.ndarray, stamp) -> Image:
        msg = Image(height=rgb.shape[0], width=rgb.shape[1], encoding='rgb8',
                    step=rgb.shape[1] * 3)
        msg.header.stamp = stamp
        msg.header.frame_id = self.frame_id
        msg.data = np.ascontiguousarray(rgb).tobytes()
        return msg

    def _account(self, elapsed: float, face: bool) -> None:
        s = self._stats
        s['frames'] += 1
        s['faces'] += face
        s['busy_s'] += elapsed
        s['max_s'] = max(s['max_s'], elapsed)
        s['detect_s'] += self.tracker.times.detect
        s['solve_s'] += self.tracker.times.solve
        if elapsed > self._budget_s:
            s['slow'] += 1

    def _publish_diagnostics(self) -> None:
        s = self._stats
        frames = max(s['frames'], 1)
        total = self.source.dropped + getattr(self.source, 'rejected', 0)
        dropped = total - self._dropped_before  # this period's, not since start
        self._dropped_before = total
        status = DiagnosticStatus(name=f'{self.get_name()}: speaker head pose',
                                  hardware_id=self.frame_id)
        if s['slow'] or dropped:
            status.level = DiagnosticStatus.WARN
            status.message = (f"{s['slow']} frame(s) over the {1000 * self._budget_s:.0f} ms "
                              f'budget, {dropped} dropped')
        else:
            status.level = DiagnosticStatus.OK
            status.message = 'keeping up'
        values = {
            'frames processed': s['frames'], 'faces found': s['faces'],
            'frames dropped': dropped,
            'mean processing ms': round(1000 * s['busy_s'] / frames, 2),
            'max processing ms': round(1000 * s['max_s'], 2),
            'mean mediapipe ms': round(1000 * s['detect_s'] / frames, 2),
            'mean pose solve ms': round(1000 * s['solve_s'] / frames, 3),
        }
        status.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics_pub.publish(array)
        if s['slow']:
            self.get_logger().warning(status.message, throttle_duration_sec=10.0)
        self._stats = self._fresh_stats()

    @staticmethod
    def _fresh_stats() -> dict:
        """Counters of one diagnostics period."""
        return {'frames': 0, 'faces': 0, 'slow': 0, 'busy_s': 0.0, 'max_s': 0.0,
                'detect_s': 0.0, 'solve_s': 0.0}

    def destroy_node(self) -> None:
        # (Also on a node whose start-up failed half way.)
        for part in (getattr(self, 'source', None), getattr(self, 'tracker', None)):
            if part is not None:
                part.close()
        super().destroy_node()


def main(args=None) -> int:
    return run(HeadPoseNode, args)
