"""The listener's control loop without ROS: stamped inputs in, joint commands out, tick by tick.

``listener_node`` feeds it from its subscriptions and its control timer; ``lhg-ros generate``
feeds it a recording on a simulated clock (:mod:`lhg_ros.motion.replay`). Both therefore
cut the same motion frames, give the policy the same inputs and voice-activity decisions, and
send the result through the same limits, smoothing, watchdog and nod detector.

A motion frame is cut as soon as its inputs are in, not after a fixed delay: its audio rows
(the features node publishes each as soon as its audio is in) and the voice-activity decision
for them when a VAD is running. The speaker's pose is the newest one in: a camera pipeline
runs 30-120 ms behind the microphone, and the shipped model's closed-loop measures do not
change when its poses come that late (``bench/bench_closed_loop.py``), while waiting for the
pose of the same frame put that lateness on every step. With ``wait_for_pose``, a frame also
waits, while a camera is delivering, for a speaker pose stamped at or after its end, or else
for as long as that stream has been measured to run late (at most ``max_input_wait_s``). A
missing camera never holds audio-driven reactions back.
Inputs call :meth:`ListenerController.generate`; a completed step's first pose is commanded at
once (the node publishes it outside its timer), the rest at the motion rate after it. Each
control tick moves the joints toward the pose due then.
"""

import math
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from lhg_ros.features.audio import FRAME_LENGTH, FRAME_RATE, SAMPLE_RATE
from lhg_ros.motion.alignment import StampedBuffer, StreamAligner
from lhg_ros.motion.nods import NodDetector
from lhg_ros.motion.runtime import ListenerRuntime
from lhg_ros.motion.safety import MotionLimiter, Watchdog, return_omega
from lhg_ros.stamps import StampWindow

FEATURE_LIMIT = 1e4  # |feature| beyond this is no speech feature; clipped at the input
POSITION_LIMIT_M = 100.0  # a speaker further than this from the camera is an error
ROW_S = 1.0 / FRAME_RATE
WINDOW_S = FRAME_LENGTH / SAMPLE_RATE  # a feature row's samples span 25 ms from its stamp
LATENESS_WINDOW = 30  # speaker poses over which the stream's lateness is measured


@dataclass(frozen=True)
class ControllerConfig:
    control_rate: float = 50.0  # Hz, joint commands
    max_input_wait_s: float = 0.06  # the most a frame waits for a late pose or VAD decision
    wait_for_pose: bool = False  # wait for the camera's pose of the same frame (see above)
    warmup_s: float = 1.0  # the policy listens this long before the head moves
    watchdog_timeout_s: float = 0.5  # no audio for this long: back to neutral
    neutral_return_s: float = 1.0  # time to settle at neutral after a stall or the gate
    # Natural frequency of the joint filter: smooths the 25 Hz steps into commands. 3 Hz kept
    # 0.64 of a quarter-second nod, and the nod detector missed a third of the model's nods.
    smoothing_hz: float = 6.0
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
    latency_s: float | None  # capture of the newest audio sample used -> now, on a new step
    step: 'StepTiming | None' = None  # that step's timing, on the command that first uses it


@dataclass(frozen=True)
class StepTiming:
    """When one step's inputs came and went: node-clock seconds, for the latency budget."""

    audio_stamp: float  # stamp of the audio message whose rows completed the step's last frame
    capture_end: float  # capture time of the newest audio sample the step used
    received: float  # when that message arrived
    cut: float  # when the frame was cut (inputs complete, or waited for long enough)
    step_s: float  # the policy step itself (s)
    waited_for: str  # what the cut waited for after the audio: '', 'pose' or 'vad'


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
        self._pose_lateness = np.zeros(LATENESS_WINDOW)
        self._pose_arrival = -math.inf
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
        self._due: deque = deque()  # (due time, relative pose, step timing or None)
        self.current_relative = np.zeros(6)
        self._speaking = StampedBuffer(1, 512)  # (audio time each decision covers, flag)
        self._speaking_arrival = -math.inf
        # Per audio message, by its last row's stamp: (its stamp, when it arrived).
        self._arrivals = StampedBuffer(2, 256, dtype=np.float64)
        self._waited = ''  # what the next frame to cut has waited for

    def add_audio(self, rows: np.ndarray, stamp: float, now: float) -> bool:
        """Feature rows (n, 81) whose first row starts at ``stamp``, received at ``now``;
        False (and counted in ``stamps``) when the stamp is outside the window."""
        # Its last row too: a message cannot reach further ahead than one stamp may.
        if not (self.stamps.accept(stamp, now)
                and self.stamps.accept(stamp + max(len(rows) - 1, 0) * ROW_S, now)):
            return False
        rows = np.clip(rows, -FEATURE_LIMIT, FEATURE_LIMIT)  # no overflow downstream
        if self.watchdog.stale(now):  # audio (re)starts: a fresh conversation
            self.reset_stream()
            self.counters['stream_starts'] += 1
        if self.origin is None:
            self.origin = stamp
        self.aligner.add_audio(rows, stamp)
        self._arrivals.extend(np.array([stamp + max(len(rows) - 1, 0) * ROW_S]),
                              np.array([[stamp, now]]))
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
        self._pose_lateness[self.counters['poses'] % LATENESS_WINDOW] = max(0.0, now - stamp)
        self._pose_arrival = now
        self.counters['poses'] += 1
        return True

    @property
    def pose_lateness_s(self) -> float:
        """How late the speaker-pose stream runs (arrival - stamp, the most over its last
        poses); a frame waits at most this long for a pose, and never over the cap."""
        return min(float(self._pose_lateness.max()), self.config.max_input_wait_s)

    def add_speaking(self, flag: bool, now: float) -> None:
        """A voice-activity decision, for the audio received so far."""
        covers = self.aligner.latest_audio_stamp + ROW_S
        self._speaking.extend(np.array([covers]), np.array([[float(flag)]], np.float32))
        self._speaking_arrival = now

    def set_gate(self, open_: bool) -> bool:
        """Open or close the listening gate; True when that changed it."""
        changed = open_ != self.gate_open
        self.gate_open = open_
        return changed

    def stale(self, now: float) -> bool:
        return bool(self.watchdog.stale(now))

    def _vad_running(self, now: float) -> bool:
        return now - self._speaking_arrival <= self.config.watchdog_timeout_s

    def _speaking_at(self, end: float, now: float) -> bool | None:
        """The decision known at audio time ``end``; None when no VAD is running."""
        if not self._vad_running(now):
            return None
        known = self._speaking.latest_before(end + 1e-6)
        # (before its first decision, the VAD has not heard speech)
        return known is not None and bool(known[1][0])

    def _waiting_for(self, end: float, now: float) -> str:
        """What the frame ending at ``end`` still waits for: '' when it can be cut."""
        overdue = now - end
        if (self._vad_running(now) and self._speaking.newest_stamp < end - 1e-6
                and overdue < self.config.max_input_wait_s):
            return 'vad'  # its decision follows the features within a publish period
        if (self.config.wait_for_pose and self.aligner.latest_pose_stamp < end
                and now - self._pose_arrival <= self.config.speaker_hold_s
                and overdue < self.pose_lateness_s):
            return 'pose'  # a camera is delivering; its pose for this frame may be in flight
        return ''

    # -- generation and control ------------------------------------------------------------
    def generate(self, now: float) -> bool:
        """Cut every frame whose inputs are in and step the policy on them; True when a step
        completed. Called on every input and every tick; at most ``max_catch_up_s`` of frames
        per call (the rest are skipped), so one message can only cause bounded work."""
        if self.origin is None or self.watchdog.stale(now):
            return False  # nothing to listen to; the stream restarts when audio comes back
        # Frames whose last audio row has arrived (rows start every 10 ms; half a row slack).
        audio_until = self.aligner.latest_audio_stamp + 1.5 * ROW_S
        if not math.isfinite(audio_until):
            return False  # (messages without rows)
        ready = int(np.floor((audio_until - self.origin) * self.rate))
        most = max(1, int(self.config.max_catch_up_s * self.rate))
        if ready - self.next_frame > most:  # fell behind (a stall): skip, bounded work a call
            self.counters['skipped_frames'] += ready - self.next_frame - most
            self.next_frame = ready - most
        stepped = False
        while self.next_frame < ready:
            start = self.origin + self.next_frame / self.rate
            end = start + 1.0 / self.rate
            waiting = self._waiting_for(end, now)
            if waiting:
                self._waited = waiting
                break
            stepped |= self._cut(start, end, now)
        return stepped

    def _cut(self, start: float, end: float, now: float) -> bool:
        audio, speaker = self.aligner.frame(start)
        speaking = self._speaking_at(end, now)
        began = time.perf_counter()
        poses = self.runtime.push(audio, speaker, speaking)
        self.next_frame += 1
        waited, self._waited = self._waited, ''
        if poses is None:
            return False
        elapsed = time.perf_counter() - began
        c = self.counters
        c['steps'] += 1
        c['step_s'] += elapsed
        c['step_max_s'] = max(c['step_max_s'], elapsed)
        self._check_prediction(poses)
        # The newest sample used: the last row of this frame ends 25 ms after its stamp; the
        # message that brought it (not a later one that came while the frame waited).
        newest_row = min(self.aligner.latest_audio_stamp, end - ROW_S)
        brought = self._arrivals.between(newest_row - 0.5 * ROW_S, math.inf)
        stamp, received = brought[0] if len(brought) else (math.nan, math.nan)
        timing = StepTiming(stamp, newest_row + WINDOW_S, received, now, elapsed, waited)
        # The first predicted pose is due now, the others at the motion rate after it.
        self._due.clear()
        for i, pose in enumerate(poses):
            self._due.append((now + i / self.rate, pose, timing if i == 0 else None))
        return True

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

    def tick(self, now: float, dt: float | None = None) -> Command:
        """One control command at time ``now``; ``dt``: the time since the last one, when the
        node commands outside its period (a fresh step is published at once)."""
        self.generate(now)  # in the same tick, so a fresh prediction is used at once
        omega, latency, step = None, None, None
        if self.watchdog.stale(now) or not self.gate_open or self.origin is None:
            relative = np.zeros(6)
            omega = return_omega(self.config.neutral_return_s)
            self._due.clear()
        else:
            relative = self.current_relative
            tolerance = 0.5 * self.control_dt
            while self._due and self._due[0][0] <= now + tolerance:
                _, relative, timing = self._due.popleft()
                if timing is not None:
                    latency, step = now - timing.capture_end, timing
        self.current_relative = relative
        listening = omega is None and self.next_frame > self.runtime.warmup_frames
        if listening and self._last_relative is not None and \
                np.array_equal(relative, self._last_relative):
            self.frozen_s += self.control_dt if dt is None else dt
        else:
            self.frozen_s = 0.0
        self._last_relative = np.array(relative, dtype=np.float64)
        positions = self.limiter.update(self.joint_map.targets(relative), omega=omega, dt=dt)
        nod = self.nods.update(float(relative[0]))
        return Command(positions, self.limiter.velocity.copy(), np.asarray(relative), nod,
                       latency, step)
