"""listener_node: speaker features + speaker head pose -> the listener's joint commands.

A lifecycle node: the policy (model on a backend, or the rule-based listener) is loaded on
configure, subscriptions and timers start on activate, the backend is released on deactivate.
With ``autostart`` (default) it configures and activates itself, for use without a lifecycle
manager. One control timer at ``control_rate``: each tick first cuts every motion frame whose
inputs are in (``input_delay_s``) and steps the policy every 3 frames, then applies the limits
to the current frame's pose and publishes.
"""

import time

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped
from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool, Float64, Float64MultiArray, String
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from lhg_ros.features.audio import FEATURE_DIM
from lhg_ros.features.head_pose import dof_from_camera_pose
from lhg_ros.motion.joints import DEFAULT_JOINTS, JointMap, joints_from_lists
from lhg_ros.motion.listener import ListenerRuntime, ModelPolicy, StreamAligner
from lhg_ros.motion.nods import NodDetector
from lhg_ros.motion.rules import RuleListener
from lhg_ros.motion.safety import MotionLimiter, Watchdog, return_omega
from lhg_ros.nodes.common import (
    StartupError,
    declare,
    rows_from_image,
    run,
    seconds_from_stamp,
    sensor_qos,
    stamp_from_seconds,
)

POLICIES = ('model', 'rules')
BACKENDS = ('auto', 'onnxruntime', 'torch', 'tensorrt')


class ListenerNode(LifecycleNode):
    NODE_NAME = 'listener_node'

    def __init__(self, **node_options):
        super().__init__(self.NODE_NAME, **node_options)
        self.p = {
            'policy': declare(self, 'policy', 'model', "'model' (the learned listener) or "
                              "'rules' (the rule-based baseline)", choices=POLICIES),
            'checkpoint': declare(self, 'checkpoint', '', 'model checkpoint (.safetensors with '
                                  'its .json) for policy model; empty = the shipped model'),
            'backend': declare(self, 'backend', 'auto', 'inference backend; auto = TensorRT '
                               'with a GPU, else ONNX Runtime, else PyTorch', choices=BACKENDS),
            'device': declare(self, 'device', 'cpu', "torch backend device: 'cpu' or 'cuda'"),
            'control_rate': declare(self, 'control_rate', 50.0, 'joint command rate (Hz)',
                                    value_range=(5.0, 500.0)),
            'input_delay_s': declare(self, 'input_delay_s', 0.06,
                                     'how long to wait for inputs of a frame before using it',
                                     value_range=(0.0, 0.5)),
            'warmup_s': declare(self, 'warmup_s', 1.0,
                                'seconds the policy listens before moving (paper: 1 s)',
                                value_range=(0.0, 5.0)),
            'watchdog_timeout_s': declare(self, 'watchdog_timeout_s', 0.5,
                                          'no audio features for this long -> neutral',
                                          value_range=(0.05, 10.0)),
            'neutral_return_s': declare(self, 'neutral_return_s', 1.0,
                                        'time to settle at neutral after a stall or gate',
                                        value_range=(0.1, 10.0)),
            'smoothing_hz': declare(self, 'smoothing_hz', 3.0,
                                    'natural frequency of the critically damped joint filter',
                                    value_range=(0.2, 20.0)),
            'speaker_hold_s': declare(self, 'speaker_hold_s', 0.5,
                                      'hold the last speaker pose this long when the face is '
                                      'lost, then ease to neutral', value_range=(0.0, 5.0)),
            'forward_command_topic': declare(self, 'forward_command_topic', '',
                                             'Float64MultiArray topic of a ros2_control '
                                             'forward_command_controller; empty = off'),
            'trajectory_topic': declare(self, 'trajectory_topic', '',
                                        'JointTrajectory topic of a joint_trajectory_controller;'
                                        ' empty = off'),
            'frame_id': declare(self, 'frame_id', 'listener_base',
                                'frame of listener/head_pose'),
            'autostart': declare(self, 'autostart', True,
                                 'configure and activate at start-up without a lifecycle '
                                 'manager'),
        }
        default = {f: [getattr(j, f) for j in DEFAULT_JOINTS] for f in (
            'name', 'dof', 'sign', 'gain', 'offset', 'lower', 'upper', 'max_velocity',
            'max_acceleration')}
        try:
            joints = joints_from_lists(*(
                declare(self, f'joints.{field}', default[field],
                        f'per joint: {field} (one entry per joint, SI units)')
                for field in default))
        except ValueError as exc:
            raise StartupError(f'joint configuration: {exc}') from None
        self.joint_map = JointMap(joints)
        self.policy = None
        self._loops, self._inputs = [], []
        self._outputs = {}
        if self.p['autostart']:
            if self.trigger_configure() != TransitionCallbackReturn.SUCCESS:
                raise StartupError('listener_node could not configure; see the error above')
            self.trigger_activate()

    # -- lifecycle -----------------------------------------------------------------------
    def on_configure(self, state) -> TransitionCallbackReturn:
        try:
            self.policy = self._load_policy()
        except Exception as exc:  # noqa: BLE001 - any failure to load is reported and refused
            self.get_logger().error(f'cannot load the {self.p["policy"]} policy: {exc}')
            return TransitionCallbackReturn.FAILURE
        qos_cmd = 10
        self._outputs = {
            'joints': self.create_lifecycle_publisher(JointState, 'joint_states', qos_cmd),
            'pose': self.create_lifecycle_publisher(PoseStamped, 'listener/head_pose', qos_cmd),
            'nod': self.create_lifecycle_publisher(String, 'listener/nod', qos_cmd),
            'latency': self.create_lifecycle_publisher(Float64, 'listener/latency', qos_cmd),
            'diagnostics': self.create_lifecycle_publisher(DiagnosticArray, '/diagnostics',
                                                           qos_cmd),
        }
        if self.p['forward_command_topic']:
            self._outputs['forward'] = self.create_lifecycle_publisher(
                Float64MultiArray, self.p['forward_command_topic'], qos_cmd)
        if self.p['trajectory_topic']:
            self._outputs['trajectory'] = self.create_lifecycle_publisher(
                JointTrajectory, self.p['trajectory_topic'], qos_cmd)
        self.get_logger().info(f"configured: policy {self.p['policy']}")
        return TransitionCallbackReturn.SUCCESS

    @property
    def policy_is_model(self) -> bool:
        return self.p['policy'] == 'model'

    def _load_policy(self):
        if not self.policy_is_model:
            return RuleListener()
        from lhg_ros.backends import load_backend
        from lhg_ros.backends.base import available_backend
        from lhg_ros.models import resolve_checkpoint

        checkpoint = resolve_checkpoint(self.p['checkpoint'])
        backend = (available_backend() if self.p['backend'] == 'auto'
                   else self.p['backend'])
        options = {'device': self.p['device']} if backend == 'torch' else {}
        policy = ModelPolicy(load_backend(backend, checkpoint, **options))
        self.get_logger().info(f'model {checkpoint} on {backend}')
        self.backend_name, self.checkpoint_path = backend, str(checkpoint)
        return policy

    def on_activate(self, state) -> TransitionCallbackReturn:
        if self.policy is None:
            try:
                self.policy = self._load_policy()
            except Exception as exc:  # noqa: BLE001
                self.get_logger().error(f'cannot reload the policy: {exc}')
                return TransitionCallbackReturn.FAILURE
        j = self.joint_map
        self.control_dt = 1.0 / self.p['control_rate']
        self.limiter = MotionLimiter(j.lower, j.upper, j.max_velocity, j.max_acceleration,
                                     self.control_dt, start=j.neutral,
                                     omega=2 * np.pi * self.p['smoothing_hz'])
        self.watchdog = Watchdog(self.p['watchdog_timeout_s'])
        self.nods = NodDetector(self.p['control_rate'])
        self.counters = {'malformed': 0, 'audio_messages': 0, 'poses': 0, 'steps': 0,
                         'step_s': 0.0, 'step_max_s': 0.0, 'nonfinite': 0, 'out_of_limits': 0}
        self.gate_open = True
        self._reported_nonfinite = 0
        self._reset_stream()
        self._inputs = [
            self.create_subscription(Image, 'audio_features', self._on_audio, sensor_qos()),
            self.create_subscription(PoseStamped, 'speaker/head_pose', self._on_speaker_pose,
                                     sensor_qos()),
            self.create_subscription(Bool, 'listening', self._on_gate, 10),
            self.create_subscription(Bool, 'is_speaking', self._on_speaking, 10),
        ]
        self.speaking: tuple[bool, float] | None = None  # (flag, arrival time)
        self._loops = [self.create_timer(self.control_dt, self._on_control),
                       self.create_timer(1.0, self._publish_diagnostics)]
        self.get_logger().info('active: listening')
        return super().on_activate(state)

    def on_deactivate(self, state) -> TransitionCallbackReturn:
        self._stop()
        if self.policy_is_model and self.policy is not None:
            self.policy.backend.close()  # frees GPU memory; activate loads it again
            self.policy = None
        return super().on_deactivate(state)

    def on_cleanup(self, state) -> TransitionCallbackReturn:
        for publisher in self._outputs.values():
            self.destroy_publisher(publisher)
        self._outputs = {}
        self.policy = None
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state) -> TransitionCallbackReturn:
        self._stop()
        return TransitionCallbackReturn.SUCCESS

    def _stop(self) -> None:
        for timer in self._loops:
            self.destroy_timer(timer)
        for subscription in self._inputs:
            self.destroy_subscription(subscription)
        self._loops, self._inputs = [], []

    # -- inputs --------------------------------------------------------------------------
    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _reset_stream(self) -> None:
        neutral_speaker = getattr(self.policy, 'speaker_neutral', None)
        self.rate = self.policy.motion_rate
        self.aligner = StreamAligner(self.rate, hold_s=self.p['speaker_hold_s'],
                                     neutral_speaker=neutral_speaker)
        self.runtime = ListenerRuntime(self.policy, self.p['warmup_s'], self.rate)
        self.origin = None  # start of motion frame 0
        self.next_frame = 0
        self.schedule: dict[int, tuple[np.ndarray, float]] = {}
        self.last_output_frame = -1
        self.current_relative = np.zeros(6)

    def _on_audio(self, msg: Image) -> None:
        try:
            rows = rows_from_image(msg, FEATURE_DIM)
        except ValueError as exc:
            self.counters['malformed'] += 1
            self.get_logger().warning(f'dropped an audio_features message: {exc}',
                                      throttle_duration_sec=5.0)
            return
        stamp = seconds_from_stamp(msg.header.stamp)
        now = self._now()
        if self.watchdog.stale(now):  # audio (re)starts: a fresh conversation
            self._reset_stream()
        if self.origin is None:
            self.origin = stamp
        self.aligner.add_audio(rows, stamp)
        self.watchdog.feed('audio', now)
        self.counters['audio_messages'] += 1

    def _on_speaker_pose(self, msg: PoseStamped) -> None:
        q, p = msg.pose.orientation, msg.pose.position
        values = [q.w, q.x, q.y, q.z, p.x, p.y, p.z]
        if not np.all(np.isfinite(values)) or abs(np.linalg.norm(values[:4]) - 1.0) > 0.05:
            self.counters['malformed'] += 1
            self.get_logger().warning('dropped a speaker pose with NaN or a non-unit '
                                      'quaternion', throttle_duration_sec=5.0)
            return
        self.aligner.add_speaker_pose(dof_from_camera_pose(values[:4], values[4:]),
                                      seconds_from_stamp(msg.header.stamp))
        self.counters['poses'] += 1

    def _on_speaking(self, msg: Bool) -> None:
        self.speaking = (msg.data, self._now())

    def _fresh_speaking(self, now: float) -> bool | None:
        """The VAD's latest decision if it is recent; otherwise the policy decides alone."""
        if self.speaking is None or now - self.speaking[1] > self.p['watchdog_timeout_s']:
            return None
        return self.speaking[0]

    def _on_gate(self, msg: Bool) -> None:
        if msg.data != self.gate_open:
            self.get_logger().info('listening gate ' + ('opened' if msg.data else 'closed'))
        self.gate_open = msg.data

    # -- generation and control ------------------------------------------------------------
    def _on_generate(self) -> None:
        now = self._now()
        if self.origin is None or self.watchdog.stale(now):
            return  # nothing to listen to; the stream restarts when audio comes back
        ready_until = now - self.p['input_delay_s']
        speaking = self._fresh_speaking(now)
        while self.origin + (self.next_frame + 1) / self.rate <= ready_until:
            start = self.origin + self.next_frame / self.rate
            audio, speaker = self.aligner.frame(start)
            began = time.perf_counter()
            poses = self.runtime.push(audio, speaker, speaking)
            if poses is not None:
                self._check_prediction(poses)
                elapsed = time.perf_counter() - began
                self.counters['steps'] += 1
                self.counters['step_s'] += elapsed
                self.counters['step_max_s'] = max(self.counters['step_max_s'], elapsed)
                newest_capture = self.aligner.latest_audio_stamp
                for i, pose in enumerate(poses, start=1):
                    self.schedule[self.next_frame + i] = (pose, newest_capture)
            self.next_frame += 1
        for frame in [f for f in self.schedule if f < self.next_frame - 50]:
            del self.schedule[frame]

    def _check_prediction(self, poses: np.ndarray) -> None:
        """Count and report (throttled) predictions that are not finite or would leave the
        joint limits; the policy holds then returns to neutral on the first, the limiter
        clamps the second."""
        raw = getattr(self.policy, 'last_raw', poses)
        if not np.isfinite(raw).all():
            self.counters['nonfinite'] += 1
            self.get_logger().warning('the model predicted a non-finite pose: holding, then '
                                      'neutral', throttle_duration_sec=5.0)
            return
        targets = np.array([self.joint_map.targets(p) for p in raw])
        if ((targets < self.joint_map.lower) | (targets > self.joint_map.upper)).any():
            self.counters['out_of_limits'] += 1
            self.get_logger().warning('the policy asked for a pose outside the joint limits; '
                                      'clamped', throttle_duration_sec=5.0)

    def _on_control(self) -> None:
        self._on_generate()  # in the same tick, so a fresh prediction is used at once
        now = self._now()
        stale = self.watchdog.stale(now)
        omega = None
        if stale or not self.gate_open or self.origin is None:
            relative = np.zeros(6)
            omega = return_omega(self.p['neutral_return_s'])
        else:
            frame = int(np.floor((now - self.p['input_delay_s'] - self.origin) * self.rate))
            if frame in self.schedule:
                relative, capture = self.schedule[frame]
                if frame > self.last_output_frame and self.last_output_frame >= 0:
                    self._outputs['latency'].publish(Float64(data=now - capture))
                self.last_output_frame = frame
            else:
                relative = self.current_relative
        self.current_relative = relative
        positions = self.limiter.update(self.joint_map.targets(relative), omega=omega)
        self._publish(positions, relative, now)

    def _publish(self, positions: np.ndarray, relative: np.ndarray, now: float) -> None:
        import transforms3d

        stamp = stamp_from_seconds(now)
        names = self.joint_map.names
        self._outputs['joints'].publish(JointState(
            header=self._header(stamp), name=names, position=positions.tolist(),
            velocity=self.limiter.velocity.tolist()))
        if 'forward' in self._outputs:
            self._outputs['forward'].publish(Float64MultiArray(data=positions.tolist()))
        if 'trajectory' in self._outputs:
            point = JointTrajectoryPoint(positions=positions.tolist(),
                                         velocities=self.limiter.velocity.tolist())
            point.time_from_start.nanosec = int(self.control_dt * 1e9)
            self._outputs['trajectory'].publish(JointTrajectory(joint_names=names,
                                                                   points=[point]))
        pitch, yaw, roll = relative[:3]
        w, x, y, z = transforms3d.euler.euler2quat(roll, pitch, yaw, 'sxyz')
        pose = PoseStamped(header=self._header(stamp))
        pose.pose.orientation.w, pose.pose.orientation.x = float(w), float(x)
        pose.pose.orientation.y, pose.pose.orientation.z = float(y), float(z)
        self._outputs['pose'].publish(pose)
        if self.nods.update(float(relative[0])):
            self._outputs['nod'].publish(String(data='nod'))

    def _header(self, stamp):
        header = PoseStamped().header
        header.stamp = stamp
        header.frame_id = self.p['frame_id']
        return header

    def _publish_diagnostics(self) -> None:
        c = self.counters
        now = self._now()
        stale = self.watchdog.stale(now)
        status = DiagnosticStatus(name=f'{self.get_name()}: listener', hardware_id='listener')
        if stale:
            status.level, status.message = DiagnosticStatus.WARN, 'no audio: holding neutral'
        elif c['nonfinite'] > self._reported_nonfinite:
            status.level = DiagnosticStatus.ERROR
            status.message = 'the model predicted non-finite poses: holding neutral'
        elif not self.gate_open:
            status.level, status.message = DiagnosticStatus.OK, 'gate closed: neutral'
        else:
            status.level, status.message = DiagnosticStatus.OK, 'listening'
        values = {'policy': self.p['policy'],
                  'backend': getattr(self, 'backend_name', '') if self.policy_is_model else '',
                  'checkpoint': getattr(self, 'checkpoint_path', ''), 'steps': c['steps'],
                  'non-finite predictions': c['nonfinite'],
                  'predictions outside the limits': c['out_of_limits'],
                  'mean step ms': round(1000 * c['step_s'] / max(c['steps'], 1), 2),
                  'max step ms': round(1000 * c['step_max_s'], 2),
                  'audio gaps (frames)': self.aligner.audio_gaps,
                  'malformed messages': c['malformed'],
                  'rejected targets': self.limiter.rejected_targets}
        status.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
        self._reported_nonfinite = c['nonfinite']  # WARN/ERROR for this period only
        array = DiagnosticArray(status=[status])
        array.header.stamp = stamp_from_seconds(now)
        self._outputs['diagnostics'].publish(array)


def main(args=None) -> int:
    return run(ListenerNode, args)
