"""MediaPipe Face Mesh (``mediapipe==0.10.21``, model bundled in the wheel): RGB frames ->
478 landmarks per face (468 mesh points + 10 iris points with ``refine_landmarks``)."""

import os

import numpy as np

FACE_SELECTIONS = ('largest', 'center')


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


def select_face(faces: list[np.ndarray], rule: str = 'largest') -> np.ndarray | None:
    """The speaker among several faces: the ``largest`` (closest) or the one nearest the image
    ``center``; None when there is no face."""
    if not faces:
        return None
    if rule == 'largest':
        def key(face):
            return -np.prod(face[:, :2].max(axis=0) - face[:, :2].min(axis=0))
    elif rule == 'center':
        def key(face):
            return np.linalg.norm(face[:, :2].mean(axis=0) - 0.5)
    else:
        raise ValueError(f"face selection '{rule}' is not one of {FACE_SELECTIONS}")
    return min(faces, key=key)
