"""The listener's control loop without ROS: stamped inputs in, joint commands out, tick by tick.

``listener_node`` feeds it from its subscriptions and its control timer; ``lhg-ros generate``
feeds it a recording on a simulated clock (:mod:`lhg_ros.evaluation.replay`). Both therefore
cut the same motion frames, give the policy the same inputs and voice-activity decisions, and
send the result through the same limits, smoothing, watchdog and nod detector.

Each tick: cut every motion frame whose inputs are in (``input_delay_s`` after its end), step
the policy every ``frames_per_step`` frames, then move the joints toward the current frame's
pose. A voice-activity decision counts for the audio received before it (the features node
publishes it right after the features it was made from), so a frame gets the decision that
was known at its end, whenever it is cut.
"""

import math
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from lhg_ros.features.audio import FRAME_RATE
from lhg_ros.motion.listener import ListenerRuntime, StreamAligner
from lhg_ros.motion.nods import NodDetector
from lhg_ros.motion.safety import MotionLimiter, Watchdog, return_omega
from lhg_ros.stamps import StampWindow

FEATURE_LIMIT = 1e4  # |feature| beyond this is no speech feature; clipped at the input
POSITION_LIMIT_M = 100.0  # a speaker further than this from the camera is an error


@dataclass(frozen=True)
class ControllerConfig:
    control_rate: float = 50.0  # Hz, joint commands
    input_delay_s: float = 0.06  # wait this long for a frame's inputs before cutting it
    warmup_s: float = 1.0  # the policy listens this long before the head moves
    watchdog_timeout_s: float = 0.5  # no audio for this long: back to neutral
    neutral_return_s: float = 1.0  # time to settle at neutral after a stall or the gate
    smoothing_hz: float = 3.0  # natural frequency of the joint filter
    speaker_hold_s: float = 0.5  # face lost: hold the last pose this long, then ease
    max_stamp_age_s: float = 2.0  # inputs stamped older than this (vs. now) are dropped
    max_stamp_lead_s: float = 0.5  # inputs stamped further ahead than this are dropped
    max_catch_up_s: float = 0.5  # the most frames one tick cuts; the rest are skipped


@dataclass
class Command:
    """One control tick's output."""

    positions: np.ndarray  # joint positions (rad), within the limits
    velocity: np.ndarray  # joint velocities (rad/s)
    relative: np.ndarray  # (6,) the listener pose commanded, relative to neutral
    nod: bool  # this tick completed a nod
    latency_s: float | None  # capture of the newest audio used -> now, on a new frame


class ListenerController:
    def __init__(self, policy, joint_map, config: ControllerConfig | None = None):
        config = config or ControllerConfig()
        self.policy, self.joint_map, self.config = policy, joint_map, config
        self.control_dt = 1.0 / config.control_rate
        j = joint_map
        self.limiter = MotionLimiter(j.lower, j.upper, j.max_velocity, j.max_acceleration,
                                     self.control_dt, start=j.neutral,
                                     omega=2 * np.pi * config.smoothing_hz)
        self.watchdog = Watchdog(config.watchdog_timeout_s)
        self.nods = NodDetector(config.control_rate)
        self.counters = {'audio_messages': 0, 'poses': 0, 'steps': 0, 'step_s': 0.0,
                         'step_max_s': 0.0, 'nonfinite': 0, 'out_of_limits': 0,
                         'stream_starts': 0, 'skipped_frames': 0, 'bad_poses': 0}
        self.stamps = StampWindow(config.max_stamp_age_s, config.max_stamp_lead_s)
        self.gate_open = True
        self.frozen_s = 0.0  # how long the command has not changed while listening
        self._last_relative = None
        self.reset_stream()

    # -- inputs --------------------------------------------------------------------------
    def reset_stream(self) -> None:
        """A fresh conversation: new frame grid, policy state, alignment buffers."""
        self.rate = self.policy.motion_rate
        self.aligner = StreamAligner(self.rate, hold_s=self.config.speaker_hold_s,
                                     neutral_speaker=getattr(self.policy, 'speaker_neutral',
                                                             None))
        self.runtime = ListenerRuntime(self.policy, self.config.warmup_s, self.rate)
        self.origin: float | None = None  # start of motion frame 0
        self.next_frame = 0
        self.schedule: dict[int, tuple[np.ndarray, float]] = {}
        self.last_output_frame = -1
        self.current_relative = np.zeros(6)
        self._speaking: deque = deque(maxlen=512)  # (audio time it covers, flag)
        self._speaking_arrival = -math.inf

    def add_audio(self, rows: np.ndarray, stamp: float, now: float) -> bool:
        """Feature rows (n, 81) whose first row starts at ``stamp``, received at ``now``;
        False (and counted in ``stamps``) when the stamp is outside the window."""
        if not self.stamps.accept(stamp, now):
            return False
        rows = np.clip(rows, -FEATURE_LIMIT, FEATURE_LIMIT)  # no overflow downstream
        if self.watchdog.stale(now):  # audio (re)starts: a fresh conversation
            self.reset_stream()
            self.counters['stream_starts'] += 1
        if self.origin is None:
            self.origin = stamp
        self.aligner.add_audio(rows, stamp)
        self.watchdog.feed('audio', now)
        self.counters['audio_messages'] += 1
        return True

    def add_speaker_pose(self, dof: np.ndarray, stamp: float, now: float) -> bool:
        """The speaker's 6 DoF at ``stamp``; False when the stamp is outside the window or
        the pose is not a pose (non-finite, or further than ``POSITION_LIMIT_M``)."""
        dof = np.asarray(dof, dtype=np.float64)
        if not np.isfinite(dof).all() or np.abs(dof[3:]).max() > POSITION_LIMIT_M:
            self.counters['bad_poses'] += 1
            return False
        if not self.stamps.accept(stamp, now):
            return False
        self.aligner.add_speaker_pose(dof, stamp)
        self.counters['poses'] += 1
        return True

    def add_speaking(self, flag: bool, now: float) -> None:
        """A voice-activity decision, for the audio received so far."""
        covers = self.aligner.latest_audio_stamp + 1.0 / FRAME_RATE
        self._speaking.append((covers, bool(flag)))
        self._speaking_arrival = now

    def set_gate(self, open_: bool) -> bool:
        """Open or close the listening gate; True when that changed it."""
        changed = open_ != self.gate_open
        self.gate_open = open_
        return changed

    def stale(self, now: float) -> bool:
        return bool(self.watchdog.stale(now))

    def _speaking_at(self, end: float, now: float) -> bool | None:
        """The decision known at audio time ``end``; None when no VAD is running."""
        if now - self._speaking_arrival > self.config.watchdog_timeout_s:
            return None
        known = False  # before its first decision, the VAD has not heard speech
        for covers, flag in self._speaking:
            if covers > end + 1e-6:
                break
            known = flag
        return known

    # -- generation and control ------------------------------------------------------------
    def _generate(self, now: float) -> None:
        if self.origin is None or self.watchdog.stale(now):
            return  # nothing to listen to; the stream restarts when audio comes back
        ready_until = now - self.config.input_delay_s
        due = int(np.floor((ready_until - self.origin) * self.rate))  # frames ready to cut
        most = max(1, int(self.config.max_catch_up_s * self.rate))
        if due - self.next_frame > most:  # fell behind (a stall): skip, bounded work a tick
            self.counters['skipped_frames'] += due - self.next_frame - most
            self.next_frame = due - most
        while self.origin + (self.next_frame + 1) / self.rate <= ready_until:
            start = self.origin + self.next_frame / self.rate
            audio, speaker = self.aligner.frame(start)
            speaking = self._speaking_at(start + 1.0 / self.rate, now)
            began = time.perf_counter()
            poses = self.runtime.push(audio, speaker, speaking)
            if poses is not None:
                elapsed = time.perf_counter() - began
                c = self.counters
                c['steps'] += 1
                c['step_s'] += elapsed
                c['step_max_s'] = max(c['step_max_s'], elapsed)
                self._check_prediction(poses)
                newest_capture = self.aligner.latest_audio_stamp
                for i, pose in enumerate(poses, start=1):
                    self.schedule[self.next_frame + i] = (pose, newest_capture)
            self.next_frame += 1
        for frame in [f for f in self.schedule if f < self.next_frame - 50]:
            del self.schedule[frame]

    def _check_prediction(self, poses: np.ndarray) -> None:
        """Count predictions that are not finite or would leave the joint limits; the policy
        holds then returns to neutral on the first, the limiter clamps the second."""
        raw = getattr(self.policy, 'last_raw', poses)
        if not np.isfinite(raw).all():
            self.counters['nonfinite'] += 1
            return
        targets = np.array([self.joint_map.targets(p) for p in raw])
        if ((targets < self.joint_map.lower) | (targets > self.joint_map.upper)).any():
            self.counters['out_of_limits'] += 1

    def tick(self, now: float) -> Command:
        """One control period at time ``now``."""
        self._generate(now)  # in the same tick, so a fresh prediction is used at once
        omega, latency = None, None
        if self.watchdog.stale(now) or not self.gate_open or self.origin is None:
            relative = np.zeros(6)
            omega = return_omega(self.config.neutral_return_s)
        else:
            frame = int(np.floor((now - self.config.input_delay_s - self.origin) * self.rate))
            if frame in self.schedule:
                relative, capture = self.schedule[frame]
                if frame > self.last_output_frame and self.last_output_frame >= 0:
                    latency = now - capture
                self.last_output_frame = frame
            else:
                relative = self.current_relative
        self.current_relative = relative
        listening = omega is None and self.next_frame > self.runtime.warmup_frames
        if listening and self._last_relative is not None and \
                np.array_equal(relative, self._last_relative):
            self.frozen_s += self.control_dt
        else:
            self.frozen_s = 0.0
        self._last_relative = np.array(relative, dtype=np.float64)
        positions = self.limiter.update(self.joint_map.targets(relative), omega=omega)
        nod = self.nods.update(float(relative[0]))
        return Command(positions, self.limiter.velocity.copy(), np.asarray(relative), nod,
                       latency)
