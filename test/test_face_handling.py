"""Honest face handling: gaps where no face was seen are held then eased, never interpolated,
never faster than the speaker moved; the speaker stays the same person across frames."""

import numpy as np

from lhg_ros.data.extract import resample_poses
from lhg_ros.features.face_mesh import FaceSelector
from lhg_ros.motion.alignment import StreamAligner

FPS = 29.97


def _speaker_turning_away(seconds_before=4.0, gap_s=2.0, seconds_after=4.0):
    """A speaker who sways, turns to -47 deg yaw, is not seen for ``gap_s`` (turned away),
    and is seen again at +47 deg: yaw in radians at 29.97 fps, NaN rows in the gap."""
    t = np.arange(int((seconds_before + gap_s + seconds_after) * FPS)) / FPS
    yaw = np.where(t < seconds_before, -0.82 * np.clip(t / seconds_before, 0, 1) ** 2,
                   0.82 + 0.05 * np.sin(2 * np.pi * 0.5 * (t - seconds_before - gap_s)))
    poses = np.zeros((len(t), 6))
    poses[:, 1] = yaw
    poses[:, 0] = 0.05 * np.sin(2 * np.pi * 0.7 * t)
    poses[:, 3] = 1.0
    gap = (t >= seconds_before) & (t < seconds_before + gap_s)
    poses[gap] = np.nan
    return t, poses, gap


def _fastest(times, poses):
    """The fastest yaw speed (rad/s) between consecutive seen frames."""
    seen = np.isfinite(poses[:, 1])
    both = seen[1:] & seen[:-1]
    return np.max(np.abs(np.diff(poses[:, 1]))[both] / np.diff(times)[both])


def test_a_gap_in_the_face_track_invents_no_motion_faster_than_the_speaker_made():
    times, poses, gap = _speaker_turning_away()
    resampled, detected = resample_poses(times, poses, times[-1] + 1 / FPS, rate=25.0)
    # What fills the gap and leads back to the face: every frame not seen, and the next one.
    filled = ~detected[1:] | ~detected[:-1]
    speed = np.abs(np.diff(resampled[:, 1]))[filled] * 25.0
    assert filled.sum() > 50
    assert speed.max() <= _fastest(times, poses) + 1e-9, (
        f'{np.degrees(speed.max()):.0f} deg/s in the resampled track, the speaker at most '
        f'{np.degrees(_fastest(times, poses)):.0f} deg/s')
    grid = np.arange(len(resampled)) / 25.0
    in_gap = (grid >= 4.0) & (grid < 6.0 - 0.04)
    assert not detected[in_gap].any() and detected[~in_gap & (grid < 9.9)].mean() > 0.95
    # Held at first, then eased toward the recording's neutral: no sweep across the gap.
    assert np.degrees(resampled[(grid > 4.05) & (grid < 4.45), 1]).max() < -40
    assert np.degrees(np.abs(resampled[in_gap, 1])).max() <= 47.5


def test_the_live_aligner_fills_a_face_gap_the_same_way():
    times, poses, _ = _speaker_turning_away()
    aligner = StreamAligner(motion_rate=25.0, neutral_speaker=np.median(
        poses[np.isfinite(poses[:, 0])], axis=0))
    for t, pose in zip(times, poses, strict=True):
        if np.isfinite(pose).all():
            aligner.add_speaker_pose(pose, 100.0 + t)
    online = np.array([aligner.frame(100.0 + k / 25.0)[1] for k in range(int(times[-1] * 25))])
    offline, _ = resample_poses(times, poses, times[-1], rate=25.0)
    # keep_s bounds what the live aligner remembers; compare where both have seen it all
    np.testing.assert_allclose(online[-100:], offline[-100:], atol=1e-9)


def test_after_the_video_ends_the_pose_eases_to_neutral_instead_of_staying():
    times = np.arange(50) / 25.0  # 2 s of video
    poses = np.tile([0.3, 0.4, 0.0, 1.0, 0.1, 0.0], (50, 1))
    resampled, detected = resample_poses(times, poses, 60.0, rate=25.0, neutral=np.zeros(6))
    assert detected[:50].all() and not detected[51:].any()
    assert np.abs(resampled[-1]).max() < 1e-3, 'the last face must not be kept for a minute'


def _face(u, v, size):
    """Landmarks (478, 3) of a square face of ``size`` centred at (u, v)."""
    corners = np.array([[u - size / 2, v - size / 2, 0], [u + size / 2, v + size / 2, 0]])
    return np.repeat(corners, 239, axis=0)


def test_the_speaker_stays_the_same_person_when_a_larger_face_appears():
    selector = FaceSelector('continuity', switch_after_s=1.0)
    speaker, passer_by = _face(0.3, 0.5, 0.3), _face(0.7, 0.5, 0.5)
    assert selector.select([speaker], 0.0) is speaker
    for k in range(1, 10):
        moved = _face(0.3 + 0.01 * k, 0.5, 0.3)
        assert selector.select([passer_by, moved], k / 25) is moved
    assert FaceSelector('largest').select([speaker, passer_by], 0.0) is passer_by


def test_after_a_cut_the_speaker_is_gone_a_while_before_another_face_is_taken():
    selector = FaceSelector('continuity', switch_after_s=1.0, min_size=0.05)
    assert selector.select([_face(0.5, 0.5, 0.4)], 0.0) is not None
    background, other = _face(0.1, 0.1, 0.03), _face(0.8, 0.4, 0.2)
    # A scene cut: the speaker's face is gone; a small blurred background face is never
    # taken, and the other person only after the speaker has been gone for a second.
    assert selector.select([background], 0.04) is None
    assert selector.select([background, other], 0.5) is None
    assert selector.select([background, other], 1.1) is other
    assert selector.switches == 1
