"""The latency budget without ROS: a frame is cut as soon as its inputs are in (never after a
fixed delay), a late camera holds nothing back (or, with ``wait_for_pose``, is waited for only
as long as it is measured late), a missing one not at all; a step's first pose is commanded
at once; the stage logs add up."""

import numpy as np
import pytest

from lhg_ros.cli import main as cli
from lhg_ros.evaluation.latency import STAGES, WORK, stage_times
from lhg_ros.latency_log import FeaturesLatencyLog, ListenerLatencyLog
from lhg_ros.motion.alignment import StampedBuffer
from lhg_ros.motion.controller import WINDOW_S, ControllerConfig, ListenerController
from lhg_ros.motion.joints import JointMap
from lhg_ros.motion.rules import RuleListener

NOW = 1_800_000_000.0
AUDIO_LATE_S = 0.03  # a row's features arrive this long after its stamp (25 ms window + 5)


def speech_rows(n, power=8.0):
    rows = np.zeros((n, 81), np.float32)
    rows[:, :27] = power
    return rows


def run(seconds, pose_late_s=None, pose_until_s=None, vad=False, config=None):
    """Audio rows one every 10 ms, arriving AUDIO_LATE_S after their stamp, a VAD decision
    right after them when ``vad``; speaker poses at 30 fps arriving ``pose_late_s`` after
    their stamp (none: no camera) until ``pose_until_s``; control ticks every 20 ms. Returns
    the controller and every command with its time."""
    c = ListenerController(RuleListener(), JointMap(), config or ControllerConfig())
    events = [(NOW + k * 0.01 + AUDIO_LATE_S, 0, NOW + k * 0.01)
              for k in range(int(seconds * 100))]
    if pose_late_s is not None:
        until = seconds if pose_until_s is None else pose_until_s
        events += [(NOW + k / 30 + pose_late_s, 1, NOW + k / 30) for k in range(int(until * 30))]
    events += [(NOW + k * 0.02 + 0.007, 2, None) for k in range(int(seconds * 50))]
    commands = []
    for now, kind, stamp in sorted(events):
        if kind == 0:
            c.add_audio(speech_rows(1), stamp, now)
            if vad:
                c.add_speaking(True, now)
        elif kind == 1:
            c.add_speaker_pose(np.array([0.0, 0.1, 0.0, 0.0, 0.0, 1.0]), stamp, now)
        if kind != 2 and not c.generate(now):
            continue
        commands.append((now, c.tick(now, dt=None if kind == 2 else 0.005)))
    return c, commands


def steps(commands):
    return [(now, cmd) for now, cmd in commands if cmd.step is not None]


def test_without_a_camera_a_step_is_commanded_when_its_last_audio_arrives():
    c, commands = run(6.0)
    stepped = steps(commands)
    assert len(stepped) >= 45, 'one step every 120 ms'
    for now, cmd in stepped:
        assert cmd.step.cut == cmd.step.received == now, 'no wait, no tick to wait for'
        assert cmd.step.waited_for == ''
        # capture end of the newest sample -> command: only the features' own lateness
        assert cmd.latency_s == pytest.approx(AUDIO_LATE_S - WINDOW_S, abs=1e-6)


def test_by_default_a_late_camera_holds_no_step_back_and_its_newest_pose_is_used():
    c, commands = run(6.0, pose_late_s=0.045)
    stepped = steps(commands)[10:-2]
    assert len(stepped) >= 35
    for _, cmd in stepped:
        assert cmd.step.waited_for == ''
        assert cmd.latency_s == pytest.approx(AUDIO_LATE_S - WINDOW_S, abs=1e-6)
    assert c.counters['poses'] > 100
    # a frame gets the camera's newest pose (not the neutral of a lost face)
    assert np.allclose(c.aligner.frame(NOW + 5.0)[1], [0.0, 0.1, 0.0, 0.0, 0.0, 1.0])


def test_with_wait_for_pose_a_late_camera_is_waited_for_as_long_as_it_is_late():
    c, commands = run(6.0, pose_late_s=0.045, config=ControllerConfig(wait_for_pose=True))
    stepped = steps(commands)[10:-2]  # (the inputs end at the end)
    waited = [cmd for _, cmd in stepped if cmd.step.waited_for == 'pose']
    assert len(waited) > len(stepped) / 2, 'audio comes first; the pose is awaited'
    for _, cmd in stepped:
        end = cmd.step.capture_end - WINDOW_S + 0.01  # end of the step's last frame
        # never longer than the stream is late, up to the next input or tick that looks
        assert cmd.step.cut - end <= 0.045 + 0.01 + 1e-6
        # the stages name the message that brought the frame's last audio, so the wait shows
        # as alignment wait, not as late features
        assert cmd.step.received - cmd.step.capture_end == pytest.approx(
            AUDIO_LATE_S - WINDOW_S, abs=1e-6)
    assert max(cmd.step.cut - cmd.step.received for cmd in waited) > 0.02
    assert c.pose_lateness_s == pytest.approx(0.045, abs=1e-6)


def test_the_wait_for_a_camera_is_capped_at_max_input_wait_s():
    c, commands = run(6.0, pose_late_s=0.3, config=ControllerConfig(max_input_wait_s=0.04,
                                                                     wait_for_pose=True))
    for _, cmd in steps(commands)[10:-2]:  # (the inputs end at the end)
        end = cmd.step.capture_end - WINDOW_S + 0.01
        assert cmd.step.cut - end <= 0.04 + 0.02 + 1e-6  # the cap, then the next tick


def test_a_camera_that_stops_holds_nothing_back():
    c, commands = run(8.0, pose_late_s=0.045, pose_until_s=3.0,
                      config=ControllerConfig(wait_for_pose=True))
    late = [cmd for now, cmd in steps(commands) if now > NOW + 4.0]
    assert late and all(cmd.step.waited_for == '' for cmd in late)
    assert all(cmd.latency_s == pytest.approx(AUDIO_LATE_S - WINDOW_S, abs=1e-6)
               for cmd in late)


def test_the_voice_activity_decision_of_a_frame_is_waited_for_then_used():
    c, commands = run(4.0, vad=True)
    stepped = steps(commands)
    assert stepped
    assert all(cmd.step.waited_for in ('', 'vad') for _, cmd in stepped)
    assert c._speaking_at(NOW + 3.0, NOW + 3.1) is True


def test_early_commands_keep_velocity_and_acceleration_limits():
    j = JointMap()
    c, commands = run(10.0, pose_late_s=0.02)
    times = np.array([now for now, _ in commands])
    positions = np.array([cmd.positions for _, cmd in commands])
    assert (np.diff(times) < 0.015).any(), 'some commands came early, outside the period'
    # over the real time between commands, however short
    moved, dt = np.abs(np.diff(positions, axis=0)), np.diff(times)[:, None]
    assert (moved <= j.max_velocity * dt + 1e-9).all()
    assert ((positions >= j.lower - 1e-9) & (positions <= j.upper + 1e-9)).all()


def test_one_message_causes_bounded_work():
    config = ControllerConfig()
    c = ListenerController(RuleListener(), JointMap(), config)
    c.add_audio(speech_rows(1), NOW, NOW + 0.03)
    c.generate(NOW + 0.03)
    # 100 s of rows in one message: its end is far in the future, so it is dropped
    assert not c.add_audio(speech_rows(10_000), NOW + 0.01, NOW + 0.04)
    assert c.stamps.rejected == 1
    # 1.9 s of rows at once (a stalled publisher catching up): a bounded number of frames
    cut = c.runtime.frames
    assert c.add_audio(speech_rows(190), NOW + 0.01, NOW + 1.95)
    c.generate(NOW + 1.95)
    assert c.runtime.frames - cut <= int(config.max_catch_up_s * c.rate)
    assert c.counters['skipped_frames'] > 0


def test_the_stamped_buffer_answers_as_a_scan_would():
    """Lookups by bisection over what is kept (at least the newest ``keep`` rows) equal a
    scan of everything received, a source that jumped back starting a new timeline."""
    rng = np.random.default_rng(3)
    buffer, kept, t = StampedBuffer(2, keep=50), [], 0.0
    for _ in range(400):
        t += -rng.uniform(0, 0.3) if rng.random() < 0.05 else rng.uniform(0.001, 0.05)
        stamps = t + np.arange(int(rng.integers(1, 8))) * 0.01
        rows = rng.normal(size=(len(stamps), 2)).astype(np.float32)
        buffer.extend(stamps, rows)
        kept = [(s, r) for s, r in kept if s < stamps[0]] + list(zip(stamps, rows, strict=True))
        t = stamps[-1]
        oldest_kept = kept[-50][0] if len(kept) >= 50 else -np.inf
        low = max(t - rng.uniform(0, 0.5), oldest_kept)
        high = t - rng.uniform(0, 0.1)
        expected = [r for s, r in kept if low <= s < high]
        assert np.array_equal(buffer.between(low, high), np.array(expected).reshape(-1, 2))
        before = [s for s, _ in kept if s < high]
        latest = buffer.latest_before(high)
        assert (latest is None) == (not before)
        assert latest is None or latest[0] == before[-1]


def test_the_stage_logs_add_up_to_the_total_and_the_report_prints_them(tmp_path, capsys):
    c, commands = run(5.0, pose_late_s=0.045, config=ControllerConfig(wait_for_pose=True))
    features = FeaturesLatencyLog(tmp_path / 'features.csv')
    for k in range(500):
        features.write(NOW + k * 0.01, 1, NOW + k * 0.01 + AUDIO_LATE_S - 0.001, 0.0002)
    features.close()
    listener = ListenerLatencyLog(tmp_path / 'listener.csv')
    for now, cmd in steps(commands):
        listener.write(cmd.step, now + 0.0005)
    listener.close()
    stages = stage_times(tmp_path / 'listener.csv', tmp_path / 'features.csv')
    parts = sum(stages[name] for name in STAGES[:-1])
    assert np.allclose(parts, stages['total'], atol=2e-6)  # (the logs keep microseconds)
    assert np.allclose(stages['features -> received'], 0.001, atol=1e-5)
    assert (stages['alignment wait'] > 0.005).any(), 'the late camera shows as a wait'
    # the work alone: FBank 0.2 ms, DDS 1 ms, 0.5 ms from the cut to the command; no waits
    np.testing.assert_allclose(stages[WORK], 0.0017, atol=2e-6)
    assert (stages[WORK] < stages['total'] - 0.005).any()
    assert cli(['latency-report', '--listener', str(tmp_path / 'listener.csv'), '--features',
                str(tmp_path / 'features.csv'), '--skip', '0',
                '--plot', str(tmp_path / 'stages.png')]) == 0
    out = capsys.readouterr().out
    assert 'alignment wait' in out and 'model step' in out and 'waited for a speaker pose' in out
    assert 'the work alone' in out
    # a features log from before the work was logged still reads (the work unknown)
    old = tmp_path / 'old.csv'
    old.write_text('\n'.join(','.join(r.split(',')[:3])
                             for r in (tmp_path / 'features.csv').read_text().splitlines()))
    stages = stage_times(tmp_path / 'listener.csv', old)
    assert np.isfinite(stages['total']).all() and np.isnan(stages[WORK]).all()
    assert (tmp_path / 'stages.png').stat().st_size > 5000


def test_the_report_says_in_one_line_when_a_log_is_not_a_latency_log(tmp_path, capsys):
    (tmp_path / 'x.csv').write_text('a,b\n1,2\n')
    assert cli(['latency-report', '--listener', str(tmp_path / 'x.csv')]) == 1
    out = capsys.readouterr().out.strip()
    assert out.count('\n') == 0 and 'is not a latency log' in out
