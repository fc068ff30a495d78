"""MediaPipe Face Mesh (``mediapipe==0.10.21``, model bundled in the wheel): RGB frames ->
478 landmarks per face (468 mesh points + 10 iris points with ``refine_landmarks``)."""

import os

import numpy as np

FACE_SELECTIONS = ('continuity', 'largest', 'center')


class FaceMeshDetector:
    """Landmarks of the faces in a frame; tracking mode for video, per-image mode for photos."""

    def __init__(self, max_faces: int = 2, static_images: bool = False,
                 min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5):
        os.environ.setdefault('GLOG_minloglevel', '2')  # MediaPipe's start-up chatter
        from mediapipe.python.solutions import face_mesh

        self._mesh = face_mesh.FaceMesh(
            static_image_mode=static_images, max_num_faces=max_faces, refine_landmarks=True,
            min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence)

    def detect(self, rgb: np.ndarray) -> list[np.ndarray]:
        """(H, W, 3) uint8 RGB -> a (478, 3) normalised landmark array per face found."""
        rgb = np.ascontiguousarray(rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f'expected an (H, W, 3) uint8 RGB image, got {rgb.shape} '
                             f'{rgb.dtype}')
        if rgb.shape[0] == 0 or rgb.shape[1] == 0:
            raise ValueError('the image is empty')
        result = self._mesh.process(rgb)
        if not result.multi_face_landmarks:
            return []
        return [np.array([(p.x, p.y, p.z) for p in face.landmark], dtype=np.float64)
                for face in result.multi_face_landmarks]

    def close(self) -> None:
        self._mesh.close()

    def __enter__(self) -> 'FaceMeshDetector':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def face_box(face: np.ndarray) -> np.ndarray:
    """(centre u, centre v, width, height) of a face's landmarks, normalised image units."""
    low, high = face[:, :2].min(axis=0), face[:, :2].max(axis=0)
    return np.concatenate([(low + high) / 2, high - low])


def select_face(faces: list[np.ndarray], rule: str = 'largest') -> np.ndarray | None:
    """The speaker among several faces in one frame: the ``largest`` (closest) or the one
    nearest the image ``center``; None when there is no face."""
    if not faces:
        return None
    if rule == 'largest':
        def key(face):
            return -np.prod(face_box(face)[2:])
    elif rule == 'center':
        def key(face):
            return np.linalg.norm(face_box(face)[:2] - 0.5)
    else:
        raise ValueError(f"face selection '{rule}' is not one of {FACE_SELECTIONS}")
    return min(faces, key=key)


class FaceSelector:
    """Which face is the speaker, frame after frame.

    ``continuity`` (default): the face where the speaker's face was (centre within one face
    width, size within a factor of two) stays the speaker; while no face matches, there is no
    speaker (a turn away, someone passing); after ``switch_after_s`` without a match, the
    largest face becomes the speaker. ``largest`` and ``center`` choose in each frame on its
    own. Faces smaller than ``min_size`` (of the image height) are never the speaker: a small
    background face is not who the robot talks with.
    """

    def __init__(self, rule: str = 'continuity', switch_after_s: float = 1.0,
                 min_size: float = 0.05):
        if rule not in FACE_SELECTIONS:
            raise ValueError(f"face selection '{rule}' is not one of {FACE_SELECTIONS}")
        self.rule, self.switch_after_s, self.min_size = rule, switch_after_s, min_size
        self.reset()

    def reset(self) -> None:
        self._box: np.ndarray | None = None  # the speaker's last box
        self._seen_at = -np.inf
        self.switches = 0  # times the speaker changed to another face

    def select(self, faces: list[np.ndarray], t: float) -> np.ndarray | None:
        faces = [f for f in faces if face_box(f)[3] >= self.min_size]
        if self.rule != 'continuity':
            return select_face(faces, self.rule)
        if self._box is not None:
            matches = [(self._distance(face_box(f)), f) for f in faces]
            matches = [(d, f) for d, f in matches if d is not None]
            if matches:
                face = min(matches, key=lambda m: m[0])[1]
                return self._keep(face, t)
            if t - self._seen_at < self.switch_after_s:
                return None  # the speaker is out of view for now
        face = select_face(faces, 'largest')
        if face is not None:
            self.switches += self._box is not None
            return self._keep(face, t)
        return None

    def _distance(self, box: np.ndarray) -> float | None:
        """How far ``box`` is from the speaker's last box, or None if it is not them."""
        last = self._box
        ratio = box[3] / max(last[3], 1e-6)
        shift = np.linalg.norm(box[:2] - last[:2])
        if not 0.5 <= ratio <= 2.0 or shift > max(last[2], last[3]):
            return None
        return float(shift)

    def _keep(self, face: np.ndarray, t: float) -> np.ndarray:
        self._box, self._seen_at = face_box(face), t
        return face
