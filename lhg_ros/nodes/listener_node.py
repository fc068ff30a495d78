"""listener_node: speaker features + speaker head pose -> the listener's joint commands.

A lifecycle node: the policy (model on a backend, or the rule-based listener) is loaded on
configure, subscriptions and timers start on activate, the backend is released on deactivate.
With ``autostart`` (default) it configures and activates itself, for use without a lifecycle
manager. The control loop itself is :class:`lhg_ros.motion.controller.ListenerController`
(ROS-free, shared with ``lhg-ros generate``): the node hands it what it receives and publishes
what each tick of its ``control_rate`` timer returns.
"""

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped
from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool, Float64, Float64MultiArray, String
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from lhg_ros.features.audio import FEATURE_DIM
from lhg_ros.features.landmark_pose import dof_from_camera_pose
from lhg_ros.motion.controller import ControllerConfig, ListenerController
from lhg_ros.motion.joints import DEFAULT_JOINTS, JointMap, joints_from_lists
from lhg_ros.motion.model_policy import ModelPolicy
from lhg_ros.motion.rules import RuleListener
from lhg_ros.nodes.common import (
    StartupError,
    declare,
    rows_from_image,
    run,
    seconds_from_stamp,
    sensor_qos,
    stamp_from_seconds,
)
from lhg_ros.ros4hri import (
    FACES_TRACKED,
    TF_TOPIC,
    VOICES_TRACKED,
    Following,
    face_frame,
    valid_id,
    voice_speaking_topic,
)

POLICIES = ('model', 'rules')
FROZEN_AFTER_S = 2.0  # an unchanged command this long while listening is reported
BACKENDS = ('auto', 'onnxruntime', 'torch', 'tensorrt')
SPEAKER_SOURCES = ('lhg', 'ros4hri')


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
            'expressiveness': declare(
                self, 'expressiveness', 1.0, 'how freely the model samples its motion (times '
                "the style's temperature): 0 = the most likely motion (calm, repetitive), 1 = "
                'as learned for the style, above 1 = livelier', value_range=(0.0, 2.0)),
            'style': declare(
                self, 'style', '', "the model's listening style: a shipped style's name "
                "(the starter model: calm, attentive, animated, reserved, thoughtful, eager, "
                "average), the path of a style file (lhg-ros adapt), or empty for the model's "
                'default (attentive); can be changed while running (ros2 param set), taking '
                'effect from the next step', read_only=False),
            'seed': declare(self, 'seed', -1, 'seed of the model\'s sampling, for runs that '
                            'repeat exactly; -1 = a new seed each start',
                            value_range=(-1, 2 ** 31 - 1)),
            'speaker_source': declare(
                self, 'speaker_source', 'lhg', "where the speaker comes from: 'lhg' "
                "(speaker/head_pose and is_speaking, this package's nodes) or 'ros4hri' "
                '(REP-155: /humans/faces/tracked, the face_<id> frame on /tf, '
                '/humans/voices/<id>/is_speaking)', choices=SPEAKER_SOURCES),
            'ros4hri.face_id': declare(self, 'ros4hri.face_id', '', 'REP-155 face to follow; '
                                       'empty = the first tracked, kept while tracked'),
            'ros4hri.voice_id': declare(self, 'ros4hri.voice_id', '', 'REP-155 voice whose '
                                        'is_speaking to use; empty = the first tracked'),
            'onnxruntime.threads': declare(
                self, 'onnxruntime.threads', 1, 'ONNX Runtime intra-op threads; 1 leaves the '
                'other cores to FBank and the camera (more spin-wait and cost CPU for no gain '
                'on small models); 0 = one per core', value_range=(0, 64)),
            'tensorrt.fp16': declare(self, 'tensorrt.fp16', True,
                                     'build the TensorRT engine in fp16 (false: fp32)'),
            'tensorrt.workspace_mb': declare(self, 'tensorrt.workspace_mb', 1024,
                                             'TensorRT builder workspace (MB)',
                                             value_range=(16, 65536)),
            'tensorrt.engine_cache_dir': declare(
                self, 'tensorrt.engine_cache_dir', '', 'writable folder for built TensorRT '
                'engines; empty = $XDG_CACHE_HOME/lhg_ros/engines (~/.cache/...)'),
            'tensorrt.device': declare(self, 'tensorrt.device', 0, 'CUDA device index',
                                       value_range=(0, 16)),
            'control_rate': declare(self, 'control_rate', 50.0, 'joint command rate (Hz)',
                                    value_range=(5.0, 500.0)),
            'max_input_wait_s': declare(
                self, 'max_input_wait_s', 0.06, 'the most a motion frame waits for its '
                'voice-activity decision or, with wait_for_pose, a late speaker pose (only '
                'while a camera delivers, only as long as its stream is measured late); audio '
                'never waits', value_range=(0.0, 0.5)),
            'wait_for_pose': declare(
                self, 'wait_for_pose', False, "wait for the camera's speaker pose of the same "
                'motion frame (up to max_input_wait_s); false: step on the newest pose in '
                '(the camera runs 30-120 ms late, which the model tolerates; waiting puts '
                'that lateness on every command)'),
            'latency_log': declare(self, 'latency_log', '', 'CSV file to write every step\'s '
                                   'stage times to (lhg-ros latency-report reads it); empty '
                                   '= off'),
            'warmup_s': declare(self, 'warmup_s', 1.0,
                                'seconds the policy listens before moving (paper: 1 s)',
                                value_range=(0.0, 5.0)),
            'watchdog_timeout_s': declare(self, 'watchdog_timeout_s', 0.5,
                                          'no audio features for this long -> neutral',
                                          value_range=(0.05, 10.0)),
            'neutral_return_s': declare(self, 'neutral_return_s', 1.0,
                                        'time to settle at neutral after a stall or gate',
                                        value_range=(0.1, 10.0)),
            'smoothing_hz': declare(self, 'smoothing_hz', 6.0,
                                    'natural frequency of the critically damped joint filter',
                                    value_range=(0.2, 20.0)),
            'max_stamp_age_s': declare(self, 'max_stamp_age_s', 2.0,
                                       'inputs stamped older than this (against the node '
                                       'clock) are dropped; bags need use_sim_time',
                                       value_range=(0.05, 3600.0)),
            'max_stamp_lead_s': declare(self, 'max_stamp_lead_s', 0.5,
                                        'inputs stamped further ahead of the node clock than '
                                        'this are dropped', value_range=(0.0, 60.0)),
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
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._hri_types = self._ros4hri_types() if self.p['speaker_source'] == 'ros4hri' else None
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
        model = load_backend(backend, checkpoint, **self._backend_options(backend))
        policy = ModelPolicy(model, expressiveness=self.p['expressiveness'],
                             seed=None if self.p['seed'] < 0 else self.p['seed'],
                             style=self.p['style'])
        warm_up_ms = 1000 * model.warm_up()  # the first step's one-time work, before listening
        style = f' in style {policy.style_name}' if policy.style_name else ''
        self.get_logger().info(f'model {checkpoint} on {backend}{style} (warmed up in '
                               f'{warm_up_ms:.0f} ms)')
        self.backend_name, self.checkpoint_path = backend, str(checkpoint)
        return policy

    def _on_set_parameters(self, parameters):
        """``style`` changes take effect from the next step (the policy eases to the new style
        vector); a style the model cannot use is refused with the reason, and the head goes on
        in the style it had."""
        from rcl_interfaces.msg import SetParametersResult

        for parameter in parameters:
            if parameter.name != 'style':
                continue
            if not isinstance(self.policy, ModelPolicy):
                if self.policy is None:  # not loaded: checked against the checkpoint's sidecar
                    problem = self._style_problem(str(parameter.value))
                    if problem:
                        return SetParametersResult(successful=False, reason=problem)
                    self.p['style'] = str(parameter.value)
                    continue
                return SetParametersResult(successful=False,
                                           reason='style applies to policy model only')
            try:
                name = self.policy.set_style(str(parameter.value))
            except ValueError as exc:
                return SetParametersResult(successful=False, reason=str(exc))
            self.p['style'] = str(parameter.value)
            self.get_logger().info(f'listening in style {name}')
        return SetParametersResult(successful=True)

    def _style_problem(self, style: str) -> str:
        """Why ``style`` cannot be used with the configured checkpoint ('' if it can), read from
        its sidecar without loading the model (the node is not configured or not active)."""
        if not self.policy_is_model:
            return 'style applies to policy model only' if style else ''
        from lhg_ros.models import resolve_checkpoint
        from lhg_ros.network.checkpoint import read_sidecar
        from lhg_ros.network.style import resolve_style

        try:
            resolve_style(style, read_sidecar(resolve_checkpoint(self.p['checkpoint'])))
        except ValueError as exc:
            return str(exc)
        return ''

    def _backend_options(self, backend: str) -> dict:
        p = self.p
        if backend == 'torch':
            return {'device': p['device']}
        if backend == 'onnxruntime':
            return {'threads': p['onnxruntime.threads']}
        return {'fp16': p['tensorrt.fp16'], 'workspace_mb': p['tensorrt.workspace_mb'],
                'engine_cache_dir': p['tensorrt.engine_cache_dir'],
                'device': p['tensorrt.device'], 'log': self.get_logger().info}

    def on_activate(self, state) -> TransitionCallbackReturn:
        if self.policy is None:
            try:
                self.policy = self._load_policy()
            except Exception as exc:  # noqa: BLE001
                self.get_logger().error(f'cannot reload the policy: {exc}')
                return TransitionCallbackReturn.FAILURE
        p = self.p
        self.controller = ListenerController(self.policy, self.joint_map, ControllerConfig(
            control_rate=p['control_rate'], max_input_wait_s=p['max_input_wait_s'],
            wait_for_pose=p['wait_for_pose'],
            warmup_s=p['warmup_s'], watchdog_timeout_s=p['watchdog_timeout_s'],
            neutral_return_s=p['neutral_return_s'], smoothing_hz=p['smoothing_hz'],
            speaker_hold_s=p['speaker_hold_s'], max_stamp_age_s=p['max_stamp_age_s'],
            max_stamp_lead_s=p['max_stamp_lead_s']))
        self.control_dt = self.controller.control_dt
        self.malformed = 0
        self.speaker_poses = self.speaking_messages = 0
        self._reported = {'nonfinite': 0, 'out_of_limits': 0}
        self._period_nonfinite = 0
        self._period_rejected = 0
        self._inputs = [
            self.create_subscription(Image, 'audio_features', self._on_audio, sensor_qos()),
            self.create_subscription(Bool, 'listening', self._on_gate, 10),
            *self._speaker_inputs(),
        ]
        self._control_timer = self.create_timer(self.control_dt, self._on_control)
        self._loops = [self._control_timer, self.create_timer(1.0, self._publish_diagnostics)]
        self._last_command = None
        self._latency_log = None
        if p['latency_log']:
            from lhg_ros.latency_log import ListenerLatencyLog

            try:
                self._latency_log = ListenerLatencyLog(p['latency_log'])
            except OSError as exc:
                self.get_logger().error(f'cannot write latency_log: {exc}')
                return TransitionCallbackReturn.FAILURE
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
        if getattr(self, '_latency_log', None) is not None:
            self._latency_log.close()
            self._latency_log = None
        for timer in self._loops:
            self.destroy_timer(timer)
        for subscription in self._inputs:
            self.destroy_subscription(subscription)
        self._follow_voice(None)
        self._loops, self._inputs = [], []

    # -- inputs --------------------------------------------------------------------------
    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_audio(self, msg: Image) -> None:
        try:
            rows = rows_from_image(msg, FEATURE_DIM)
        except ValueError as exc:
            self.malformed += 1
            self.get_logger().warning(f'dropped an audio_features message: {exc}',
                                      throttle_duration_sec=5.0)
            return
        now = self._now()
        if not self.controller.add_audio(rows, seconds_from_stamp(msg.header.stamp), now):
            self._warn_stamp('audio_features')
            return
        self._react(now)

    def _ros4hri_types(self):
        for key in ('ros4hri.face_id', 'ros4hri.voice_id'):
            if self.p[key] and not valid_id(self.p[key]):
                raise StartupError(f"{key} '{self.p[key]}' is not a REP-155 id (letters, digits, "
                                   'underscores)')
        try:
            from hri_msgs.msg import IdsList
            from tf2_msgs.msg import TFMessage
        except ImportError as exc:
            raise StartupError(f'speaker_source ros4hri needs the hri_msgs and tf2_msgs '
                               f'packages ({exc}): on a ROS 2 distribution apt '
                               'install ros-$ROS_DISTRO-hri-msgs ros-$ROS_DISTRO-tf2-msgs '
                               '(the pip route has no hri_msgs wheel)') from None
        return IdsList, TFMessage

    def _speaker_inputs(self) -> list:
        """Subscriptions for the speaker's head pose and voice activity: this package's topics,
        or REP-155's (the face's TF frame, the voice's is_speaking)."""
        if self.p['speaker_source'] == 'lhg':
            return [self.create_subscription(PoseStamped, 'speaker/head_pose',
                                             self._on_speaker_pose, sensor_qos()),
                    self.create_subscription(Bool, 'is_speaking', self._on_speaking, 10)]
        IdsList, TFMessage = self._hri_types
        self._face = Following(self.p['ros4hri.face_id'])
        self._voice = Following(self.p['ros4hri.voice_id'])
        inputs = [self.create_subscription(IdsList, FACES_TRACKED,
                                           lambda m: self._face.update(list(m.ids)), 10),
                  self.create_subscription(TFMessage, TF_TOPIC, self._on_tf, 100)]
        if self.p['ros4hri.voice_id']:
            self._follow_voice(self.p['ros4hri.voice_id'])
        else:
            inputs.append(self.create_subscription(IdsList, VOICES_TRACKED,
                                                   self._on_voices_tracked, 10))
        return inputs

    def _on_tf(self, msg) -> None:
        if self._face.current is None:
            return
        frame = face_frame(self._face.current)
        for transform in msg.transforms:
            if transform.child_frame_id == frame:
                q, p = transform.transform.rotation, transform.transform.translation
                self._add_speaker_pose([q.w, q.x, q.y, q.z, p.x, p.y, p.z],
                                       transform.header.stamp, f'/tf {frame}')

    def _on_voices_tracked(self, msg) -> None:
        voice = self._voice.update(list(msg.ids))
        if voice != getattr(self, '_voice_followed', None):
            self._follow_voice(voice)

    def _follow_voice(self, voice: str | None) -> None:
        """Listen to this voice's is_speaking (None: to none)."""
        if getattr(self, '_voice_subscription', None) is not None:
            self.destroy_subscription(self._voice_subscription)
        self._voice_followed, self._voice_subscription = voice, None
        if voice:
            self._voice_subscription = self.create_subscription(
                Bool, voice_speaking_topic(voice), self._on_speaking, 10)

    def _on_speaker_pose(self, msg: PoseStamped) -> None:
        q, p = msg.pose.orientation, msg.pose.position
        self._add_speaker_pose([q.w, q.x, q.y, q.z, p.x, p.y, p.z], msg.header.stamp,
                               'speaker/head_pose')

    def _add_speaker_pose(self, values: list, stamp, source: str) -> None:
        """A head pose (w, x, y, z, position) in the camera's body frame, from ``source``."""
        if not np.all(np.isfinite(values)) or abs(np.linalg.norm(values[:4]) - 1.0) > 0.05:
            self.malformed += 1
            self.get_logger().warning('dropped a speaker pose with NaN or a non-unit '
                                      'quaternion', throttle_duration_sec=5.0)
            return
        before = self.controller.stamps.rejected
        now = self._now()
        if self.controller.add_speaker_pose(dof_from_camera_pose(values[:4], values[4:]),
                                            seconds_from_stamp(stamp), now):
            self.speaker_poses += 1
            self._react(now)
        elif self.controller.stamps.rejected > before:
            self._warn_stamp(source)
        else:
            self.malformed += 1
            self.get_logger().warning('dropped a speaker pose that is not a pose (a position '
                                      'over 100 m)', throttle_duration_sec=5.0)

    def _warn_stamp(self, topic: str) -> None:
        self.get_logger().warning(f'dropped a {topic} message: '
                                  f'{self.controller.stamps.last_reason}',
                                  throttle_duration_sec=5.0)

    def _on_speaking(self, msg: Bool) -> None:
        self.speaking_messages += 1
        now = self._now()
        self.controller.add_speaking(msg.data, now)
        self._react(now)

    def _speaker_source_text(self) -> str:
        if self.p['speaker_source'] == 'lhg':
            return 'speaker/head_pose, is_speaking'
        face = getattr(self, '_face', None)
        voice = getattr(self, '_voice_followed', None)
        return (f"ros4hri face {face.current if face and face.current else '(none tracked)'}, "
                f"voice {voice or '(none tracked)'}")

    def _on_gate(self, msg: Bool) -> None:
        if self.controller.set_gate(msg.data):
            self.get_logger().info('listening gate ' + ('opened' if msg.data else 'closed'),
                                   throttle_duration_sec=2.0)  # a toggling gate cannot flood

    # -- control -------------------------------------------------------------------------
    def _react(self, now: float) -> None:
        """An input arrived: when it completed a step, command its first pose now rather
        than at the next tick, and restart the control period from this command."""
        if self.controller.generate(now):
            since = None if self._last_command is None else now - self._last_command
            self._command(now, since)
            self._control_timer.reset()

    def _on_control(self) -> None:
        self._command(self._now(), None)

    def _command(self, now: float, since: float | None) -> None:
        command = self.controller.tick(now, dt=since)
        self._last_command = now
        self._report_predictions()
        self._publish(command, now)
        if command.latency_s is not None:
            self._outputs['latency'].publish(Float64(data=command.latency_s))
        if command.step is not None and self._latency_log is not None:
            self._latency_log.write(command.step, self._now())

    def _report_predictions(self) -> None:
        """Warn (throttled) about predictions that were not finite or left the limits."""
        c = self.controller.counters
        if c['nonfinite'] > self._reported['nonfinite']:
            self.get_logger().warning('the model predicted a non-finite pose: holding, then '
                                      'neutral', throttle_duration_sec=5.0)
        if c['out_of_limits'] > self._reported['out_of_limits']:
            self.get_logger().warning('the policy asked for a pose outside the joint limits; '
                                      'clamped', throttle_duration_sec=5.0)
        self._reported = {k: c[k] for k in self._reported}

    def _publish(self, command, now: float) -> None:
        import transforms3d

        positions, velocity = command.positions, command.velocity
        stamp = stamp_from_seconds(now)
        names = self.joint_map.names
        self._outputs['joints'].publish(JointState(
            header=self._header(stamp), name=names, position=positions.tolist(),
            velocity=velocity.tolist()))
        if 'forward' in self._outputs:
            self._outputs['forward'].publish(Float64MultiArray(data=positions.tolist()))
        if 'trajectory' in self._outputs:
            point = JointTrajectoryPoint(positions=positions.tolist(),
                                         velocities=velocity.tolist())
            point.time_from_start.nanosec = int(self.control_dt * 1e9)
            self._outputs['trajectory'].publish(JointTrajectory(joint_names=names,
                                                                   points=[point]))
        pitch, yaw, roll = command.relative[:3]
        w, x, y, z = transforms3d.euler.euler2quat(roll, pitch, yaw, 'sxyz')
        pose = PoseStamped(header=self._header(stamp))
        pose.pose.orientation.w, pose.pose.orientation.x = float(w), float(x)
        pose.pose.orientation.y, pose.pose.orientation.z = float(y), float(z)
        self._outputs['pose'].publish(pose)
        if command.nod:
            self._outputs['nod'].publish(String(data='nod'))

    def _header(self, stamp):
        header = PoseStamped().header
        header.stamp = stamp
        header.frame_id = self.p['frame_id']
        return header

    def _publish_diagnostics(self) -> None:
        controller = self.controller
        c = controller.counters
        now = self._now()
        status = DiagnosticStatus(name=f'{self.get_name()}: listener', hardware_id='listener')
        rejected = controller.stamps.rejected - self._period_rejected
        if controller.stale(now):
            status.level, status.message = DiagnosticStatus.WARN, 'no audio: holding neutral'
            if rejected:
                status.message += (f'; {rejected} message(s) dropped for their stamps: '
                                   f'{controller.stamps.last_reason}')
        elif c['nonfinite'] > self._period_nonfinite:
            status.level = DiagnosticStatus.ERROR
            status.message = 'the model predicted non-finite poses: holding neutral'
        elif controller.frozen_s >= FROZEN_AFTER_S:
            status.level = DiagnosticStatus.WARN
            status.message = (f'the commanded pose has not changed for '
                              f'{controller.frozen_s:.0f} s while listening: the policy may '
                              'be stuck')
        elif rejected:
            status.level = DiagnosticStatus.WARN
            status.message = (f'{rejected} message(s) dropped for their stamps: '
                              f'{controller.stamps.last_reason}')
        elif not controller.gate_open:
            status.level, status.message = DiagnosticStatus.OK, 'gate closed: neutral'
        else:
            status.level, status.message = DiagnosticStatus.OK, 'listening'
        values = {'policy': self.p['policy'],
                  'style': getattr(self.policy, 'style_name', ''),
                  'backend': getattr(self, 'backend_name', '') if self.policy_is_model else '',
                  'checkpoint': getattr(self, 'checkpoint_path', ''), 'steps': c['steps'],
                  'non-finite predictions': c['nonfinite'],
                  'predictions outside the limits': c['out_of_limits'],
                  'mean step ms': round(1000 * c['step_s'] / max(c['steps'], 1), 2),
                  'max step ms': round(1000 * c['step_max_s'], 2),
                  'audio gaps (frames)': controller.aligner.audio_gaps,
                  'stream origin': ('' if controller.origin is None
                                    else f'{controller.origin:.6f}'),
                  'malformed messages': self.malformed,
                  'dropped for their stamps': controller.stamps.rejected,
                  'frames skipped (catch-up)': c['skipped_frames'],
                  'rejected targets': controller.limiter.rejected_targets,
                  'speaker source': self._speaker_source_text(),
                  'speaker poses received': self.speaker_poses,
                  'voice activity messages': self.speaking_messages}
        status.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
        self._period_nonfinite = c['nonfinite']  # WARN/ERROR for this period only
        self._period_rejected = controller.stamps.rejected
        array = DiagnosticArray(status=[status])
        array.header.stamp = stamp_from_seconds(now)
        self._outputs['diagnostics'].publish(array)
        if self._latency_log is not None:
            self._latency_log.flush()


def main(args=None) -> int:
    return run(ListenerNode, args)
