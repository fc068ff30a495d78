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


def sway(seconds=60.0, seed=0, amplitude_deg=1.0):
    """Bounded listener sway: a few slow sinusoids of random frequency and phase per angle
    (radians), (T, 6)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE))[:, None, None] / RATE
    frequencies, phases = rng.uniform(0.1, 0.6, (1, 3, 4)), rng.uniform(0, 2 * np.pi, (1, 3, 4))
    angles = np.radians(amplitude_deg) * np.sin(2 * np.pi * frequencies * t + phases).mean(2)
    return np.column_stack([angles, np.zeros((len(angles), 3))])


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


def test_identical_sequences_have_no_error_and_equal_statistics():
    poses = motion()
    errors = measures.pose_errors(poses, poses)
    assert all(v == 0 for v in errors.values())
    assert measures.frechet_motion(poses, poses) == pytest.approx(0, abs=1e-6)


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
    a, b, c = motion(seed=1), motion(seed=2), 3 * motion(seed=2)
    assert 0 < measures.frechet_motion(a, b) < measures.frechet_motion(a, c)


def test_a_still_head_is_further_from_a_listener_than_another_moving_listener():
    """The still head is the baseline a model must beat: its FD to a listener (here smooth
    sway with nods) is larger than that of another draw of the same listener, on one
    sequence or a pooled list, and the constant columns of a still head keep it finite."""
    listener = [sway(60.0, seed=6) + scripted_nods(np.arange(2, 58, 4.0), 60.0),
                sway(60.0, seed=7) + scripted_nods(np.arange(3, 57, 5.0), 60.0)]
    other = [sway(60.0, seed=8) + scripted_nods(np.arange(1, 59, 4.5), 60.0)]
    still = [np.zeros_like(p) for p in listener]
    moving = measures.frechet_motion(other, listener)
    frozen = measures.frechet_motion(still, listener)
    assert np.isfinite(frozen) and frozen > 2 * moving > 0
    assert measures.frechet_motion(listener[0], listener[0]) == pytest.approx(0, abs=1e-6)


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


def test_scripted_nods_are_all_detected_and_small_sways_are_not():
    starts = [2.0, 5.5, 9.0, 14.0]
    detected = measures.nod_times(scripted_nods(starts), RATE)
    assert len(detected) == len(starts)
    assert np.all((detected - starts > 0.1) & (detected - starts < 0.6))
    assert len(measures.nod_times(scripted_nods(starts, amplitude_deg=1.0), RATE)) == 0


def test_nods_of_known_size_and_time_are_counted_and_measured():
    starts = np.array([1.5, 4.0, 7.0, 9.5, 13.0, 16.0])
    poses = scripted_nods(starts, seconds=20.0, amplitude_deg=6.0)
    poses[:, 0] += np.radians(5.0) * np.clip(np.arange(len(poses)) / RATE / 20.0, 0, 1)  # posture
    stats = measures.nod_statistics(poses, RATE)
    assert stats['nods_per_min'] == pytest.approx(len(starts) * 3.0)  # 6 in 20 s
    assert stats['median_nod_deg'] == pytest.approx(6.0, abs=0.5)
    events = measures.nod_events(poses, RATE)
    assert np.abs(events[:, 0] - starts).max() <= 2 / RATE, 'each nod starts where it began'
    assert np.abs(events[:, 1] - (starts + 0.25)).max() <= 1 / RATE, 'and peaks mid-way'
    # A nod is no nod below 2 deg, nor a slow lowering of the head, nor a nod twice pooled.
    assert measures.nod_statistics(scripted_nods(starts, amplitude_deg=1.5), RATE
                                   )['nods_per_min'] == 0
    slow = np.zeros((500, 6))
    slow[:, 0] = np.radians(8.0) * np.sin(np.pi * np.arange(500) / 500)
    assert len(measures.nod_times(slow, RATE)) == 0
    assert measures.nod_statistics([poses, poses], RATE) == stats
    assert np.isnan(measures.nod_statistics(np.zeros((100, 6)), RATE)['median_nod_deg'])


def test_motion_rms_is_the_motion_about_the_running_median_not_the_posture():
    t = np.arange(int(30 * RATE)) / RATE
    still = np.tile(np.radians([10.0, -20.0, 5.0, 0.0, 0.0, 0.0]), (len(t), 1))
    assert all(v == 0 for v in measures.motion_rms(still, RATE).values())
    moving = still.copy()
    moving[:, 1] += np.radians(3.0) * np.sin(2 * np.pi * 1.0 * t)  # 1 Hz yaw, 3 deg
    moving[:, 2] += np.radians(5.0) * t / t[-1]  # a slow roll of 5 deg over 30 s
    rms = measures.motion_rms(moving, RATE)
    assert rms['rms_yaw_deg'] == pytest.approx(3.0 / np.sqrt(2), rel=0.05)
    assert rms['rms_pitch_deg'] == 0 and rms['rms_roll_deg'] < 0.05
    assert measures.motion_rms([moving, still], RATE)['rms_yaw_deg'] == pytest.approx(
        rms['rms_yaw_deg'] / np.sqrt(2))


def test_a_limit_cycle_shows_as_a_spectral_peak_and_a_listener_does_not():
    minutes = 10.0
    seconds = 60.0 * minutes
    nods = np.sort(np.random.default_rng(9).uniform(1, seconds - 1, 120))
    reference = motion(seconds, seed=10) + scripted_nods(nods, seconds)
    listener = motion(seconds, seed=11) + scripted_nods(nods + 0.3, seconds)
    cycling = listener.copy()
    t = np.arange(len(cycling)) / RATE
    cycling[:, 0] += np.radians(2.0) * np.sin(2 * np.pi * 1.0 * t)
    frequencies, power = measures.pitch_spectrum(cycling, RATE)
    assert frequencies[np.argmax(power * (frequencies > 0.3))] == pytest.approx(1.0, abs=0.05)
    peak = measures.spectral_peak(cycling, reference, RATE)
    assert peak['peak'] and peak['ratio'] > 10 and peak['frequency_hz'] == pytest.approx(
        1.0, abs=0.05)
    assert not measures.spectral_peak(listener, reference, RATE)['peak']
    assert measures.spectral_peak(reference, reference, RATE)['ratio'] == pytest.approx(1.0)
    with pytest.raises(ValueError, match='other frequencies'):
        measures.spectral_peak(reference[:200], reference, RATE)


def test_random_timing_scores_far_below_a_well_timed_head():
    rng = np.random.default_rng(12)
    seconds = 600.0
    reference = np.sort(rng.uniform(0, seconds, 100))  # 10 nods a minute
    timed = reference + rng.normal(0, 0.05, len(reference))
    f1 = measures.event_f1(timed, reference, 0.2)['f1']
    chance = measures.random_timing_f1(timed, reference, (0.0, seconds), 0.2)
    assert f1 > 0.9 and chance < 0.15 and f1 > 5 * chance
    assert chance == measures.random_timing_f1(timed, reference, [(0.0, seconds)], 0.2)
    # Over spans (pooled recordings) only: nothing lands in the gap between them.
    spans = [(0.0, 300.0), (400.0, 600.0)]
    inside = reference[(reference < 300) | (reference > 400)]
    assert measures.random_timing_f1(inside, inside, spans, 0.2) < 0.15
    assert measures.random_timing_f1([], reference, (0.0, seconds), 0.2) == 0.0


def test_variety_tells_two_samples_from_one_run_repeated():
    a = motion(seed=13) + scripted_nods([2.0, 6.0, 11.0])
    b = motion(seed=14) + scripted_nods([3.0, 8.0, 12.5, 16.0])
    assert measures.variety(a, a, RATE) == {'mean_abs_diff_deg': 0.0, 'nods_differ': False}
    apart = measures.variety(a, b, RATE)
    assert apart['nods_differ'] and apart['mean_abs_diff_deg'] > 0.5
    shifted = scripted_nods([2.0, 6.2, 11.0])  # one nod 0.2 s later: a different run
    assert measures.variety(scripted_nods([2.0, 6.0, 11.0]), shifted, RATE)['nods_differ']


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


def test_drift_finds_a_head_that_walks_away_not_a_person_whose_posture_comes_and_goes():
    """30 minutes of the starter corpus's listener (sway, posture shifts that settle) has no
    drift, though single minutes' means lie degrees apart; the same listener on a yaw that
    walks 1.5 deg over the half hour, or a random walk, has."""
    from lhg_ros.evaluation.closed_loop import drift_deg, minute_spread_deg
    from lhg_ros.synthetic import corpus

    rng = np.random.default_rng(5)
    utterances = [(t, t + 3.0) for t in np.arange(1.0, 1795.0, 4.5)]
    person, _ = corpus.listener_motion(corpus.SpeakerTimeline(utterances, 1800.0), rng)
    assert drift_deg(person, RATE) < 0.6
    assert minute_spread_deg(person, RATE) > drift_deg(person, RATE)
    walking = person.copy()
    walking[:, 1] += np.radians(np.linspace(0.0, 1.5, len(walking)))
    assert drift_deg(walking, RATE) > 1.0
    wandering = person.copy()
    wandering[:, 1] += np.cumsum(rng.normal(0, np.radians(0.05), len(wandering)))
    assert drift_deg(wandering, RATE) > drift_deg(person, RATE) + 0.5
    assert drift_deg(person[:int(90 * RATE)], RATE) == 0.0, 'under two minutes: no measure'
