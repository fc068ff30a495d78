"""Each objective measure on cases with known answers."""

import numpy as np
import pytest

from lhg_ros.evaluation import measures

RATE = 25.0


def motion(seconds=20.0, seed=0):
    """A smooth random head motion (radians), (T, 6)."""
    rng = np.random.default_rng(seed)
    t = int(seconds * RATE)
    angles = np.cumsum(rng.normal(0, 0.004, size=(t, 3)), axis=0)
    return np.column_stack([angles - angles.mean(axis=0), np.zeros((t, 3))])


def test_identical_sequences_have_no_error_and_equal_statistics():
    poses = motion()
    errors = measures.pose_errors(poses, poses)
    assert all(v == 0 for v in errors.values())
    assert measures.frechet_distance(measures.motion_windows(poses, RATE),
                                     measures.motion_windows(poses, RATE)) == pytest.approx(
        0, abs=1e-6)


def test_a_constant_offset_shows_up_as_that_many_degrees():
    poses = motion()
    shifted = poses.copy()
    shifted[:, 0] += np.radians(2.0)
    errors = measures.pose_errors(shifted, poses)
    assert errors['l1_pitch_deg'] == pytest.approx(2.0)
    assert errors['rmse_pitch_deg'] == pytest.approx(2.0)
    assert errors['l1_yaw_deg'] == 0
    assert measures.motion_statistics(shifted, RATE) == pytest.approx(
        measures.motion_statistics(poses, RATE))


def test_a_still_head_has_no_speed_and_no_diversity():
    still = np.zeros((100, 6))
    stats = measures.motion_statistics(still, RATE)
    assert stats['speed_mean'] == 0 and stats['accel_mean'] == 0
    assert measures.diversity(still) == 0
    assert measures.diversity(motion()) > 0


def test_a_known_rotation_speed_is_measured():
    t = np.arange(50) / RATE
    poses = np.zeros((50, 6))
    poses[:, 1] = np.radians(10.0) * t  # 10 deg/s of yaw
    assert measures.motion_statistics(poses, RATE)['speed_mean'] == pytest.approx(10.0)


def test_frechet_distance_grows_with_the_difference_between_distributions():
    a = measures.motion_windows(motion(seed=1), RATE, 0.4)
    b = measures.motion_windows(motion(seed=2), RATE, 0.4)
    c = measures.motion_windows(3 * motion(seed=2), RATE, 0.4)
    assert 0 < measures.frechet_distance(a, b) < measures.frechet_distance(a, c)


def test_rpcc_is_zero_for_the_reference_and_large_for_a_mirror():
    speaker = motion(seed=3)
    listener = motion(seed=4)
    assert measures.rpcc(listener, listener, speaker, RATE) == 0
    mirror = speaker.copy()  # a listener that copies the speaker
    assert measures.rpcc(mirror, listener, speaker, RATE) > 0.8


def test_cross_correlation_peaks_at_the_lag_of_a_delayed_copy():
    speaker = motion(seed=5)
    delay = 12  # frames: 0.48 s
    listener = np.roll(speaker, delay, axis=0)
    lags, values = measures.cross_correlation(listener, speaker, RATE)
    assert lags[np.argmax(values)] == pytest.approx(delay / RATE)
    assert lags[0] == -2.0 and lags[-1] == 2.0
    lags, values = measures.cross_correlation(speaker, speaker, RATE)
    assert lags[np.argmax(values)] == 0 and values.max() == pytest.approx(1.0, abs=0.01)


def scripted_nods(times, seconds=20.0, amplitude_deg=7.0, duration=0.5):
    t = np.arange(int(seconds * RATE)) / RATE
    pitch = np.zeros_like(t)
    for start in times:
        inside = (t >= start) & (t < start + duration)
        pitch[inside] += np.radians(amplitude_deg) * np.sin(np.pi * (t[inside] - start)
                                                            / duration) ** 2
    poses = np.zeros((len(t), 6))
    poses[:, 0] = pitch
    return poses


def test_scripted_nods_are_all_detected_and_small_sways_are_not():
    starts = [2.0, 5.5, 9.0, 14.0]
    detected = measures.nod_times(scripted_nods(starts), RATE)
    assert len(detected) == len(starts)
    assert np.all((detected - starts > 0.1) & (detected - starts < 0.6))
    assert len(measures.nod_times(scripted_nods(starts, amplitude_deg=1.0), RATE)) == 0


def test_nod_f1_scores_timing_within_the_tolerance():
    reference = np.array([2.0, 5.0, 8.0])
    assert measures.event_f1(reference, reference, 0.1)['f1'] == 1.0
    late = measures.event_f1(reference + 0.3, reference, 0.16)
    assert late['f1'] == 0.0
    partial = measures.event_f1(np.array([2.05, 5.0, 12.0, 13.0]), reference, 0.16)
    assert partial['precision'] == 0.5 and partial['recall'] == pytest.approx(2 / 3)
    # A still head never scores, not even where the reference has no nods either.
    assert measures.event_f1([], [], 0.1)['f1'] == 0.0
    assert measures.event_f1([], reference, 0.1)['f1'] == 0.0


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match='generated has 10 frames, reference 12'):
        measures.pose_errors(np.zeros((10, 6)), np.zeros((12, 6)))
    with pytest.raises(ValueError, match=r'expected \(T, >= 3\) poses'):
        measures.diversity(np.zeros(5))
