"""The speaker head pipeline: frames in, smoothed 6-DoF head poses out. The node and offline
extraction share it."""

import time
from dataclasses import dataclass, replace

import numpy as np

from lhg_ros.features.face_mesh import FaceMeshDetector, FaceSelector
from lhg_ros.features.landmark_pose import CameraModel, HeadPose, HeadPoseSolver
from lhg_ros.features.motion_features import POSE_DIM
from lhg_ros.filters import OneEuroFilter


@dataclass
class StageTimes:
    """Seconds spent in the last frame's stages, for diagnostics and the benchmark."""

    detect: float = 0.0
    solve: float = 0.0


class SpeakerHeadTracker:
    def __init__(self, detector: FaceMeshDetector | None = None,
                 solver: HeadPoseSolver | None = None, face_selection: str = 'continuity',
                 smoothing: OneEuroFilter | None = None, camera: CameraModel | None = None,
                 reset_after_s: float = 0.5, selector: FaceSelector | None = None):
        self.detector = detector or FaceMeshDetector()
        self.solver = solver or HeadPoseSolver()
        self.selector = selector or FaceSelector(face_selection)
        self.smoothing = smoothing
        self.camera = camera
        self._reset_after_s = reset_after_s
        self._last_face_time: float | None = None
        self.times = StageTimes()

    def process(self, rgb: np.ndarray, t: float) -> HeadPose | None:
        """The speaker's head pose in this frame, or None when no face is visible."""
        start = time.perf_counter()
        face = self.selector.select(self.detector.detect(rgb), t)
        detected = time.perf_counter()
        self.times = StageTimes(detected - start, 0.0)
        if face is None:
            return None
        pose = self.solver.solve(face, rgb.shape[1], rgb.shape[0], self.camera)
        if self.smoothing is not None:
            if self._last_face_time is None or t - self._last_face_time > self._reset_after_s:
                self.smoothing.reset()  # the face came back: do not glide from the old pose
            pose = smoothed(pose, self.smoothing(pose.dof(), t))
        self._last_face_time = t
        self.times.solve = time.perf_counter() - detected
        return pose

    def close(self) -> None:
        self.detector.close()


def smoothed(pose: HeadPose, dof: np.ndarray) -> HeadPose:
    """``pose`` with its 6 DoF replaced by filtered values (rotation rebuilt to match)."""
    import transforms3d

    pitch, yaw, roll = dof[:3]
    rotation = transforms3d.euler.euler2mat(roll, pitch, yaw, 'sxyz')
    return replace(pose, pitch=float(pitch), yaw=float(yaw), roll=float(roll),
                   position=np.asarray(dof[3:], dtype=np.float64), rotation=rotation)


@dataclass
class HeadPoseTrack:
    """Head poses of a whole video."""

    times: np.ndarray  # (n,) seconds from the first frame
    poses: np.ndarray  # (n, 6) [pitch, yaw, roll, x, y, z]; NaN where no face was found
    fps: float

    @property
    def detected(self) -> np.ndarray:
        return ~np.isnan(self.poses[:, 0])


def extract_video_file(path, smoothing: OneEuroFilter | None = None,
                       face_selection: str = 'continuity', progress=None) -> HeadPoseTrack:
    """Head poses of every frame of a video file, at the frames' own timestamps (seconds from
    the start of the file), through the node's own code path; ``progress()`` is called after
    each frame."""
    from lhg_ros.sources.video import VideoFileSource

    source = VideoFileSource(path, clock=lambda: 0.0, realtime=False)
    tracker = SpeakerHeadTracker(smoothing=smoothing, face_selection=face_selection)
    times, poses = [], []
    try:
        while (frame := source.read()) is not None:
            pose = tracker.process(frame.rgb, frame.capture_time)
            times.append(frame.capture_time)
            poses.append(pose.dof() if pose is not None else np.full(POSE_DIM, np.nan))
            if progress is not None:
                progress()
    finally:
        source.close()
        tracker.close()
    return HeadPoseTrack(np.array(times), np.array(poses).reshape(-1, POSE_DIM), source.fps)


def draw_pose(rgb: np.ndarray, pose: HeadPose | None, camera: CameraModel | None = None,
              rigid: np.ndarray | None = None) -> np.ndarray:
    """A copy of the frame with the landmarks (rigid ones green) and the head axes drawn:
    x (out of the face) red, y (speaker's left) green, z (up) blue."""
    import cv2

    from lhg_ros.features.landmark_pose import NEUTRAL_IN_OPTICAL

    canvas = np.ascontiguousarray(rgb).copy()
    if pose is None:
        cv2.putText(canvas, 'no face', (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 80, 80), 2)
        return canvas
    height, width = canvas.shape[:2]
    points = (pose.landmarks[:, :2] * (width, height)).astype(int)
    rigid_set = set(() if rigid is None else rigid.tolist())
    for i, (u, v) in enumerate(points):
        cv2.circle(canvas, (int(u), int(v)), 1, (0, 255, 0) if i in rigid_set else (200, 200, 200),
                   -1)
    centre = pose.centroid * (width, height)
    length = 0.5 * (points[:, 0].max() - points[:, 0].min())
    axes = NEUTRAL_IN_OPTICAL @ pose.rotation  # head axes in the optical frame
    for axis, colour in zip(axes.T, [(255, 0, 0), (0, 255, 0), (0, 0, 255)], strict=True):
        tip = centre + length * axis[:2]
        cv2.arrowedLine(canvas, tuple(int(c) for c in centre), tuple(int(c) for c in tip),
                        colour, 2, tipLength=0.2)
    label = (f'pitch {np.degrees(pose.pitch):+.0f}  yaw {np.degrees(pose.yaw):+.0f}  '
             f'roll {np.degrees(pose.roll):+.0f} deg')
    cv2.putText(canvas, label, (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 0), 2)
    return canvas
