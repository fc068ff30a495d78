"""Every stamp from outside is untrusted: 0, far future, far past, going backwards. The core's
one policy (lhg_ros.stamps, used by the listener controller and the head-pose topic source)
drops and counts them and bounds the work any one message can cause."""

import time

import numpy as np
import pytest

from lhg_ros.filters import OneEuroFilter
from lhg_ros.motion.controller import ControllerConfig, ListenerController
from lhg_ros.motion.joints import JointMap
from lhg_ros.motion.rules import RuleListener
from lhg_ros.stamps import StampWindow

NOW = 1_800_000_000.0  # a wall clock


def speech_rows(n, power=8.0):
    rows = np.zeros((n, 81), np.float32)
    rows[:, :27] = power
    return rows


def controller():
    return ListenerController(RuleListener(), JointMap(), ControllerConfig())


def feed(c, seconds, start=NOW, stamp_offset=0.0):
    """Audio in 20 ms blocks and a control tick after each, as on a robot."""
    for k in range(int(seconds * 50)):
        now = start + k * 0.02
        c.add_audio(speech_rows(2), now - 0.02 + stamp_offset, now)
        command = c.tick(now)
    return command


@pytest.mark.parametrize('stamp, why', [(0.0, 'is 0'), (NOW + 3600, 'in the future'),
                                        (NOW - 300, 'old')])
def test_a_stamp_outside_the_window_is_dropped_counted_and_never_starts_a_stream(stamp, why):
    c = controller()
    assert not c.add_audio(speech_rows(2), stamp, NOW)
    assert c.origin is None and c.stamps.rejected == 1 and why in c.stamps.last_reason
    started = time.perf_counter()
    c.tick(NOW + 0.02)
    assert time.perf_counter() - started < 0.05, 'no catch-up from a bad origin'
    command = feed(c, 2.0, start=NOW + 0.04)  # then the real stream: it starts as usual
    assert c.origin == pytest.approx(NOW + 0.02) and c.counters['steps'] > 10
    assert np.isfinite(command.positions).all()


def test_a_stall_costs_at_most_half_a_second_of_frames_in_one_tick():
    c = controller()
    feed(c, 1.0)
    for k in range(250):  # 5 s of audio arrives while the control loop is stalled
        c.add_audio(speech_rows(2), NOW + 1.0 + k * 0.02, NOW + 1.0 + k * 0.02)
    steps = c.counters['steps']
    c.tick(NOW + 6.0)
    frames_cut = 3 * (c.counters['steps'] - steps)
    assert frames_cut <= 0.5 * c.rate + 3
    assert c.counters['skipped_frames'] > 0.4 * 5 * c.rate


def test_speaker_values_that_would_overflow_are_rejected_or_clipped():
    c = controller()
    huge = np.full(6, np.finfo(np.float32).max / 2)
    assert not c.add_speaker_pose(huge, NOW, NOW)  # a speaker 1e38 m away: not a pose
    assert c.counters['bad_poses'] == 1
    for k in range(100):
        now = NOW + k * 0.02
        c.add_audio(np.full((2, 81), np.finfo(np.float32).max, np.float32), now - 0.02, now)
        command = c.tick(now)
    assert np.isfinite(command.positions).all() and np.isfinite(command.relative).all()
    assert c.counters['steps'] > 10


def test_the_window_accepts_what_a_live_stream_sends():
    window = StampWindow(max_age_s=2.0, max_lead_s=0.5)
    assert window.accept(NOW - 0.08, NOW) and window.accept(NOW + 0.01, NOW)
    assert not window.accept(NOW - 2.5, NOW) and not window.accept(NOW + 1.0, NOW)
    assert window.rejected == 2


def test_the_one_euro_filter_restarts_when_time_jumps_instead_of_freezing():
    smoothing = OneEuroFilter(1.5, 0.3)
    smoothing(np.zeros(6), 10.0)
    smoothing(np.zeros(6), 1e9)  # one far-future stamp
    out = [smoothing(np.full(6, 0.3), 10.04 + 0.04 * k) for k in range(50)]
    assert np.allclose(out[-1], 0.3, atol=1e-3), 'it follows the pose again'
    assert smoothing.resets >= 1


def test_a_command_that_stops_changing_while_listening_is_noticed():
    class Stuck(RuleListener):
        def step(self, audio, speaker=None, listener=None, speaking=None):
            return np.full((self.frames_per_step, 6), 0.05)

    c = ListenerController(Stuck(), JointMap(), ControllerConfig())
    feed(c, 4.0)
    assert c.frozen_s > 2.0, 'a stuck policy shows as a frozen command'
    moving = controller()
    feed(moving, 4.0)
    assert moving.frozen_s < 0.5, 'the rule policy never holds one pose that long'
