"""Rebuild lhg_ros/features/face_reference.npz from MediaPipe's landmarks on a real photograph.

    .venv/bin/python scripts/make_face_reference.py

See lhg_ros/features/landmark_pose.py for what the reference is and how it is used.
"""

from skimage import data

from lhg_ros.features.face_mesh import FaceMeshDetector
from lhg_ros.features.landmark_pose import REFERENCE_FILE, build_face_reference


def main() -> None:
    image = data.astronaut()
    with FaceMeshDetector(static_images=True) as detector:
        faces = detector.detect(image)
    if len(faces) != 1:
        raise SystemExit(f'expected one face in the photograph, found {len(faces)}')
    reference = build_face_reference(faces[0], image.shape[1], image.shape[0])
    reference.save(REFERENCE_FILE)
    print(f'wrote {REFERENCE_FILE}: {len(reference.points)} landmarks, '
          f'{len(reference.rigid)} rigid')


if __name__ == '__main__':
    main()
