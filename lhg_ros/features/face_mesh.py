"""MediaPipe Face Mesh (``mediapipe==0.10.21``, model bundled in the wheel): RGB frames ->
478 landmarks per face (468 mesh points + 10 iris points with ``refine_landmarks``)."""

import os

import numpy as np

FACE_SELECTIONS = ('continuity', 'largest', 'center')


class FaceMeshDetector:
    """Landmarks of the faces in a frame; tracking mode for video, per-image mode for photos.

    ``profile_fallback``: Face Mesh finds faces with a detector trained on near-frontal faces
    and misses many three-quarter views. When it finds none, MediaPipe's full-range face
    detector looks, and the mesh runs on each face it finds, cropped around it (on the
    three-quarter profile of ``skimage.data.camera()``, a real photograph, Face Mesh alone
    finds nothing at any confidence; with the fallback it finds the face, yaw about 50 deg).
    """

    CROP_SCALE = 2.0  # crop side / detected box side
    CROP_SIZE = 256  # pixels the crop is resized to for the mesh

    def __init__(self, max_faces: int = 2, static_images: bool = False,
                 min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5,
                 profile_fallback: bool = True):
        os.environ.setdefault('GLOG_minloglevel', '2')  # MediaPipe's start-up chatter
        from mediapipe.python.solutions import face_mesh

        self._mesh = face_mesh.FaceMesh(
            static_image_mode=static_images, max_num_faces=max_faces, refine_landmarks=True,
            min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence)
        self._fallback = None
        if profile_fallback:
            from mediapipe.python.solutions import face_detection

            self._finder = face_detection.FaceDetection(
                model_selection=1, min_detection_confidence=min_detection_confidence)
            self._fallback = face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1,
                                                refine_landmarks=True,
                                                min_detection_confidence=0.3)
        self.max_faces = max_faces
        self.fallback_faces = 0  # faces found only by the fallback

    def detect(self, rgb: np.ndarray) -> list[np.ndarray]:
        """(H, W, 3) uint8 RGB -> a (478, 3) normalised landmark array per face found."""
        rgb = np.ascontiguousarray(rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f'expected an (H, W, 3) uint8 RGB image, got {rgb.shape} '
                             f'{rgb.dtype}')
        if rgb.shape[0] == 0 or rgb.shape[1] == 0:
            raise ValueError('the image is empty')
        faces = _landmarks(self._mesh.process(rgb))
        if not faces and self._fallback is not None:
            faces = self._detect_cropped(rgb)
            self.fallback_faces += len(faces)
        return faces

    def _detect_cropped(self, rgb: np.ndarray) -> list[np.ndarray]:
        import cv2

        height, width = rgb.shape[:2]
        found = self._finder.process(rgb).detections or []
        faces = []
        for detection in found[:self.max_faces]:
            box = detection.location_data.relative_bounding_box
            cx, cy = (box.xmin + box.width / 2) * width, (box.ymin + box.height / 2) * height
            half = max(box.width * width, box.height * height) * self.CROP_SCALE / 2
            x0, y0 = int(max(cx - half, 0)), int(max(cy - half, 0))
            x1, y1 = int(min(cx + half, width)), int(min(cy + half, height))
            if x1 - x0 < 8 or y1 - y0 < 8:
                continue
            crop = cv2.resize(np.ascontiguousarray(rgb[y0:y1, x0:x1]),
                              (self.CROP_SIZE, self.CROP_SIZE))
            for face in _landmarks(self._fallback.process(crop)):
                # Back to the frame's normalised coordinates (z is scaled like x).
                face[:, 0] = (face[:, 0] * (x1 - x0) + x0) / width
                face[:, 1] = (face[:, 1] * (y1 - y0) + y0) / height
                face[:, 2] *= (x1 - x0) / width
                faces.append(face)
        return faces

    def close(self) -> None:
        self._mesh.close()
        if self._fallback is not None:
            self._finder.close()
            self._fallback.close()

    def __enter__(self) -> 'FaceMeshDetector':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _landmarks(result) -> list[np.ndarray]:
    if not result.multi_face_landmarks:
        return []
    return [np.array([(p.x, p.y, p.z) for p in face.landmark], dtype=np.float64)
            for face in result.multi_face_landmarks]


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
