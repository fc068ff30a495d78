"""Speaker head pose from a real face photograph through real MediaPipe."""

import numpy as np
import pytest
import transforms3d

from lhg_ros.features.face_mesh import FaceMeshDetector, select_face
from lhg_ros.features.head_tracking import SpeakerHeadTracker, extract_video_file
from lhg_ros.features.landmark_pose import (
    FaceReference,
    HeadPoseSolver,
    build_face_reference,
    umeyama,
)
from lhg_ros.features.motion_features import MOTION_DIM, MotionFeatureStream, motion_features
from lhg_ros.filters import OneEuroFilter
from lhg_ros.synthetic.speaker_scene import CANVAS, face_frame


@pytest.fixture(scope='module')
def tracker():
    """The video (tracking) configuration the node uses, without smoothing."""
    tracker = SpeakerHeadTracker(FaceMeshDetector())
    yield tracker
    tracker.close()


def held_pose(tracker, frame):
    """The pose once the head has held still for a few video frames, as MediaPipe's tracking
    mode sees it in a real video."""
    for _ in range(3):
        pose = tracker.process(frame, 0.0)
    return pose


@pytest.fixture(scope='module')
def upright(tracker):
    pose = held_pose(tracker, face_frame())
    assert pose is not None, 'MediaPipe found no face in the photograph'
    return pose


def expected_after_image_roll(base_rotation: np.ndarray, roll_deg: float) -> np.ndarray:
    """Turning the image counter-clockwise by theta turns the head about the camera's viewing
    axis, which is the head's x axis when it faces the camera: R' = Rx(theta) R. For a head
    that is not level, this changes the Euler pitch and yaw a little too."""
    turn = transforms3d.euler.euler2mat(np.radians(roll_deg), 0.0, 0.0, 'sxyz')
    roll, pitch, yaw = transforms3d.euler.mat2euler(turn @ base_rotation, 'sxyz')
    return np.degrees([pitch, yaw, roll])


@pytest.mark.parametrize('roll_deg', [-30, -20, -10, -5, 5, 10, 20, 30])
def test_in_plane_rotation_gives_the_known_roll(tracker, upright, roll_deg):
    pose = held_pose(tracker, face_frame(roll_deg))
    assert pose is not None
    pitch, yaw, roll = np.degrees([pose.pitch, pose.yaw, pose.roll])
    want_pitch, want_yaw, want_roll = expected_after_image_roll(upright.rotation, roll_deg)
    assert abs(roll - want_roll) < 2.0, f'roll {roll:.2f}, truth {want_roll:.2f}'
    assert abs(pitch - want_pitch) < 3.0 and abs(yaw - want_yaw) < 3.0, (
        f'pitch/yaw {pitch:.2f}/{yaw:.2f} drifted from {want_pitch:.2f}/{want_yaw:.2f}')


def test_positive_roll_is_a_tilt_toward_the_speakers_right_shoulder(tracker, upright):
    """Counter-clockwise in the image moves the top of the head to the image's left, which is
    the speaker's right: REP-103's positive rotation about the forward axis."""
    pose = held_pose(tracker, face_frame(15))
    assert pose.roll > upright.roll + np.radians(10)


@pytest.mark.parametrize('dx, dy', [(-60, 0), (60, 0), (0, -40), (0, 40), (50, 30)])
def test_shifts_move_the_centroid_by_the_same_fraction_of_the_image(tracker, upright, dx, dy):
    pose = held_pose(tracker, face_frame(0, dx, dy))
    height, width = CANVAS
    shift = pose.centroid - upright.centroid
    np.testing.assert_allclose(shift, [dx / width, dy / height], atol=0.02)
    # The metric position moves the same way: right in the image = the camera's -y.
    assert np.sign(pose.position[1] - upright.position[1]) == -np.sign(dx) or dx == 0
    assert np.degrees(abs(pose.pitch - upright.pitch)) < 3.0
    assert np.degrees(abs(pose.yaw - upright.yaw)) < 3.0


def test_the_face_is_placed_in_front_of_the_camera_at_a_plausible_distance(upright):
    x, y, z = upright.position
    assert 0.2 < x < 2.0, f'depth {x:.2f} m'
    assert upright.fit_error < 0.005, 'rigid landmarks fit the reference within 5 mm RMS'


@pytest.mark.parametrize('frame', [
    np.zeros((480, 640, 3), np.uint8),
    np.full((480, 640, 3), 255, np.uint8),
    np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8),
], ids=['black', 'white', 'noise'])
def test_frames_without_a_face_give_no_pose(tracker, frame):
    assert tracker.process(frame, 0.0) is None


def test_malformed_frames_are_refused_with_the_reason(tracker):
    with pytest.raises(ValueError, match='uint8 RGB'):
        tracker.process(np.zeros((480, 640), np.uint8), 0.0)
    with pytest.raises(ValueError, match='empty'):
        tracker.process(np.zeros((0, 640, 3), np.uint8), 0.0)


def test_the_committed_reference_face_is_what_the_script_builds():
    """scripts/make_face_reference.py output; rebuilt here to catch a stale file."""
    from skimage import data

    photo = data.astronaut()
    with FaceMeshDetector(static_images=True) as detector:
        landmarks = select_face(detector.detect(photo))
    rebuilt = build_face_reference(landmarks, photo.shape[1], photo.shape[0])
    committed = FaceReference.load()
    np.testing.assert_allclose(rebuilt.points, committed.points, atol=1e-3)
    assert set(committed.rigid) == set(rebuilt.rigid)
    # Mirror-symmetric and frontal: the eye corners differ only in y.
    left, right = committed.points[263], committed.points[33]
    np.testing.assert_allclose(left[[0, 2]], right[[0, 2]], atol=1e-6)


def test_umeyama_recovers_a_known_similarity():
    rng = np.random.default_rng(3)
    source = rng.normal(size=(40, 3))
    rotation = transforms3d.euler.euler2mat(0.3, -0.5, 1.1, 'sxyz')
    target = 2.5 * source @ rotation.T + [1.0, -2.0, 0.5]
    scale, fitted, shift = umeyama(source, target)
    assert abs(scale - 2.5) < 1e-9
    np.testing.assert_allclose(fitted, rotation, atol=1e-9)
    np.testing.assert_allclose(shift, [1.0, -2.0, 0.5], atol=1e-9)


def test_solver_refuses_the_wrong_landmark_count():
    with pytest.raises(ValueError, match='478, 3'):
        HeadPoseSolver().solve(np.zeros((468, 3)), 640, 480)


def test_a_video_file_gives_the_known_motion(face_video):
    path, rolls, shifts = face_video
    track = extract_video_file(path)
    assert len(track.poses) == len(rolls) and track.fps == pytest.approx(25.0)
    assert track.detected.all()
    roll_change = np.degrees(track.poses[:, 2] - track.poses[0, 2])
    np.testing.assert_allclose(roll_change, rolls - rolls[0], atol=2.5)
    assert np.all(np.diff(track.times) > 0)


def test_motion_features_are_the_pose_and_its_causal_differences(face_video):
    poses = np.cumsum(np.random.default_rng(2).normal(size=(30, 6)), axis=0)
    features = motion_features(poses)
    assert features.shape == (30, MOTION_DIM)
    np.testing.assert_allclose(features[1:, 6:12], np.diff(poses, axis=0), atol=1e-4)
    stream = MotionFeatureStream()
    streamed = np.concatenate([stream.update(poses[i:i + 7]) for i in range(0, 30, 7)])
    np.testing.assert_array_equal(streamed, features)


def test_one_euro_filter_removes_jitter_and_follows_movement():
    rng = np.random.default_rng(4)
    t = np.arange(200) / 25.0
    still = 0.1 + rng.normal(0.0, 0.01, size=200)
    f = OneEuroFilter(min_cutoff=1.0, beta=0.3)
    out = np.array([f(np.array([x]), ti)[0] for x, ti in zip(still, t, strict=True)])
    assert out[50:].std() < 0.5 * still[50:].std()
    f.reset()
    step = np.where(t < 4.0, 0.0, 0.5)
    out = np.array([f(np.array([x]), ti)[0] for x, ti in zip(step, t, strict=True)])
    assert out[t > 4.5].min() > 0.45, 'a real movement gets through within half a second'


def _cameraman() -> np.ndarray:
    """``skimage.data.camera()``: a real photograph of a man in three-quarter profile."""
    from skimage import data

    return np.repeat(data.camera()[..., None], 3, axis=2)


@pytest.mark.parametrize('mirrored', [False, True])
def test_a_three_quarter_profile_is_found_by_the_fallback_detector(mirrored):
    frame = np.ascontiguousarray(_cameraman()[:, ::-1]) if mirrored else _cameraman()
    if not mirrored:
        with FaceMeshDetector(profile_fallback=False) as plain:
            assert plain.detect(frame) == [], 'Face Mesh alone misses this view'
    with FaceMeshDetector() as detector:
        faces = detector.detect(frame)
    assert len(faces) == 1 and detector.fallback_faces == (0 if mirrored else 1)
    pose = HeadPoseSolver().solve(faces[0], frame.shape[1], frame.shape[0])
    # Turned well away from the camera, to one side or the other when mirrored.
    assert 35 < abs(np.degrees(pose.yaw)) < 70
    assert np.sign(pose.yaw) == (-1 if mirrored else 1)
    # The face sits where the photograph has it (upper middle).
    u, v = pose.centroid
    assert 0.35 < u < 0.6 and 0.2 < v < 0.45
