"""Speaker head pose from MediaPipe Face Mesh: 478 landmarks -> pitch, yaw, roll and position.

Axes and signs (REP-103, the speaker's own head frame): x out of the face, y to the speaker's
left, z up. ``roll`` turns about x (positive: the head tilts toward the speaker's right
shoulder), ``pitch`` about y (positive: nod DOWN, chin toward the chest), ``yaw`` about z
(positive: the head turns to the speaker's left). Angles are radians; zero is the face looking
straight into the camera with its eye line level and its forehead-chin line upright. The
rotation is ``R = Rz(yaw) @ Ry(pitch) @ Rx(roll)`` (transforms3d axes ``'sxyz'``).

How rotation is estimated, and why: a weighted Procrustes (Umeyama) fit of MediaPipe's 3-D
landmarks to a reference face, on rigid landmarks only (forehead, nose, cheekbones, temples).
MediaPipe's x, y, z share one scale, so the fit needs no camera intrinsics (solvePnP does, and
video files rarely come with them); it is closed form (one 3x3 SVD, no iterations to diverge);
and leaving out the mouth, jaw, eyelids and brows keeps talking and blinking out of the head
angles, which matters because the speaker is, by definition, talking.

The reference face (``face_reference.npz``) is derived by :func:`build_face_reference` from
MediaPipe's landmarks on a real photograph (``skimage.data.astronaut()``): frontalised by its
eye line and forehead-chin line, made mirror-symmetric, and scaled so that the outer eye
corners are ``EYE_CORNER_DISTANCE_M`` apart. ``scripts/make_face_reference.py`` rebuilds it.

Position: the landmark centroid, in normalised image coordinates (u right, v down, 0..1), and
in metres in a REP-103 camera body frame (x forward from the camera, y left, z up), with depth
from the fitted face scale and the camera's focal length (given, or from an assumed field of
view).
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

NUM_LANDMARKS = 478
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263  # the speaker's right and left
FOREHEAD, CHIN, NOSE_TIP = 10, 152, 1
RIGHT_IRIS, LEFT_IRIS = 468, 473
EYE_CORNER_DISTANCE_M = 0.09  # adult outer eye-corner (exocanthion) breadth, about 87-91 mm
REFERENCE_FILE = Path(__file__).with_name('face_reference.npz')

# Head axes (x out of the face, y speaker's left, z up) seen from the camera's optical frame
# (x right, y down, z forward) when the face looks into the camera.
NEUTRAL_IN_OPTICAL = np.array([[0.0, 1.0, 0.0],
                               [0.0, 0.0, -1.0],
                               [-1.0, 0.0, 0.0]])
# The camera's optical frame expressed in its REP-103 body frame (x forward, y left, z up).
OPTICAL_IN_BODY = np.array([[0.0, 0.0, 1.0],
                            [-1.0, 0.0, 0.0],
                            [0.0, -1.0, 0.0]])


@dataclass(frozen=True)
class FaceReference:
    points: np.ndarray  # (478, 3) metres in the head frame
    rigid: np.ndarray  # indices of the landmarks used for the fit

    @classmethod
    def load(cls, path: Path = REFERENCE_FILE) -> 'FaceReference':
        with np.load(path) as data:
            return cls(data['points'].astype(np.float64), data['rigid'].astype(np.int64))

    def save(self, path: Path = REFERENCE_FILE) -> None:
        np.savez_compressed(path, points=self.points.astype(np.float32),
                            rigid=self.rigid.astype(np.int16))


def landmarks_in_pixels(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """MediaPipe's normalised (x, y, z) -> one isotropic pixel scale in the optical frame."""
    return np.asarray(landmarks, dtype=np.float64) * np.array([width, height, width])


def _head_axes(points: np.ndarray) -> np.ndarray:
    """Columns: the head's x, y, z axes in the coordinates of ``points`` (optical frame)."""
    left = points[LEFT_EYE_OUTER] - points[RIGHT_EYE_OUTER]
    left /= np.linalg.norm(left)
    up = points[FOREHEAD] - points[CHIN]
    up -= left * (up @ left)
    up /= np.linalg.norm(up)
    return np.column_stack([np.cross(left, up), left, up])


def build_face_reference(landmarks: np.ndarray, width: int, height: int) -> FaceReference:
    """A frontal, symmetric, metric reference face from one frontal-ish face's landmarks."""
    points = landmarks_in_pixels(landmarks, width, height)
    head = (points - points.mean(axis=0)) @ _head_axes(points)
    # Mirror partners: the nearest landmark to each landmark's reflection in the x-z plane.
    mirrored = head * np.array([1.0, -1.0, 1.0])
    partner = np.argmin(((head[None, :, :] - mirrored[:, None, :]) ** 2).sum(axis=2), axis=1)
    symmetric = (head + mirrored[partner]) / 2.0
    symmetric *= EYE_CORNER_DISTANCE_M / np.linalg.norm(
        symmetric[LEFT_EYE_OUTER] - symmetric[RIGHT_EYE_OUTER])
    # Rigid landmarks: above the nose tip, away from the eyes (lids, brows move) and not the
    # iris points themselves.
    eye_radius = 0.45 * EYE_CORNER_DISTANCE_M
    eyes = symmetric[[RIGHT_IRIS, LEFT_IRIS]]
    near_eye = (np.linalg.norm(symmetric[:, None, :] - eyes[None], axis=2) < eye_radius / 1.5)
    above_nose_tip = symmetric[:, 2] >= symmetric[NOSE_TIP, 2] - 0.005
    rigid = np.flatnonzero(above_nose_tip & ~near_eye.any(axis=1) &
                           (np.arange(len(symmetric)) < RIGHT_IRIS))
    return FaceReference(symmetric, rigid)


def umeyama(source: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Similarity (scale, R, t) minimising ``|scale R source + t - target|`` over rows."""
    mu_s, mu_t = source.mean(axis=0), target.mean(axis=0)
    s, t = source - mu_s, target - mu_t
    u, sigma, vt = np.linalg.svd(t.T @ s)
    d = np.ones(3)
    d[2] = np.sign(np.linalg.det(u @ vt)) or 1.0
    rotation = (u * d) @ vt
    scale = float((sigma * d).sum() / (s ** 2).sum())
    return scale, rotation, mu_t - scale * rotation @ mu_s


@dataclass(frozen=True)
class CameraModel:
    """Pinhole intrinsics in pixels; built from a field of view when no calibration exists."""

    fx: float
    fy: float
    cx: float
    cy: float

    @classmethod
    def from_fov(cls, width: int, height: int, horizontal_fov_deg: float = 60.0) -> 'CameraModel':
        f = (width / 2.0) / np.tan(np.radians(horizontal_fov_deg) / 2.0)
        return cls(f, f, width / 2.0, height / 2.0)


@dataclass(frozen=True)
class HeadPose:
    """One face in one frame."""

    pitch: float  # radians, positive = nod down
    yaw: float  # radians, positive = turn to the speaker's left
    roll: float  # radians, positive = tilt toward the speaker's right shoulder
    centroid: np.ndarray  # (u, v) landmark centroid, normalised image coordinates
    position: np.ndarray  # (x, y, z) metres in the camera body frame (x forward, y left, z up)
    rotation: np.ndarray  # 3x3 head rotation relative to facing the camera (R above)
    landmarks: np.ndarray  # (478, 3) MediaPipe's normalised landmarks
    fit_error: float  # RMS residual of the rigid fit, metres

    def dof(self) -> np.ndarray:
        """The paper's 6 DoF: [pitch, yaw, roll, x, y, z] (radians, metres)."""
        return np.array([self.pitch, self.yaw, self.roll, *self.position])

    def orientation_in_camera(self) -> np.ndarray:
        """The head's orientation in the camera body frame (for a PoseStamped), 3x3."""
        return OPTICAL_IN_BODY @ NEUTRAL_IN_OPTICAL @ self.rotation


class HeadPoseSolver:
    """Landmarks of one face -> :class:`HeadPose`."""

    def __init__(self, reference: FaceReference | None = None,
                 eye_corner_distance_m: float = EYE_CORNER_DISTANCE_M):
        self.reference = reference or FaceReference.load()
        self._metres = eye_corner_distance_m / EYE_CORNER_DISTANCE_M

    def solve(self, landmarks: np.ndarray, width: int, height: int,
              camera: CameraModel | None = None) -> HeadPose:
        import transforms3d

        landmarks = np.asarray(landmarks, dtype=np.float64)
        if landmarks.shape != (NUM_LANDMARKS, 3):
            raise ValueError(f'expected ({NUM_LANDMARKS}, 3) landmarks, got {landmarks.shape}')
        camera = camera or CameraModel.from_fov(width, height)
        observed = landmarks_in_pixels(landmarks[self.reference.rigid], width, height)
        reference = self.reference.points[self.reference.rigid] * self._metres
        scale, fit, shift = umeyama(reference, observed)  # scale: pixels per metre
        rotation = NEUTRAL_IN_OPTICAL.T @ fit
        roll, pitch, yaw = transforms3d.euler.mat2euler(rotation, 'sxyz')
        residual = observed - (scale * reference @ fit.T + shift)
        fit_error = float(np.sqrt((residual ** 2).sum(axis=1).mean()) / scale)
        centroid = landmarks[:, :2].mean(axis=0)
        depth = camera.fx / scale
        u, v = centroid * np.array([width, height])
        position = np.array([depth, -(u - camera.cx) / camera.fx * depth,
                             -(v - camera.cy) / camera.fy * depth])
        return HeadPose(pitch, yaw, roll, centroid, position, rotation, landmarks, fit_error)


def dof_from_camera_pose(quaternion_wxyz, position) -> np.ndarray:
    """Inverse of the published PoseStamped: orientation in the camera body frame and position
    -> the 6 DoF [pitch, yaw, roll, x, y, z] of :meth:`HeadPose.dof`."""
    import transforms3d

    in_camera = transforms3d.quaternions.quat2mat(quaternion_wxyz)
    rotation = (OPTICAL_IN_BODY @ NEUTRAL_IN_OPTICAL).T @ in_camera
    roll, pitch, yaw = transforms3d.euler.mat2euler(rotation, 'sxyz')
    return np.array([pitch, yaw, roll, *position], dtype=np.float64)
