"""``lhg-ros demo``: the whole system on a machine with no ROS distribution and no hardware.

Real speech (espeak-ng) and a speaker video (a real face photograph moving with known head
motion) feed the real nodes, each its own process, over real DDS on a private domain: the
audio_features_node and head_pose_node read the files at real-time pace, the listener_node
answers. A monitor in this process prints a live summary and, at the end, writes a plot of
speaker audio, speaker pose and listener joints, and an MP4 of the speaker beside the
listener's head.
"""

import gc
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from lhg_ros.console import format_table

COMPARE = 'rules'  # namespace of the rule-policy listener the demo runs beside the model


class Recorder:
    """An rclpy node that keeps what the demo's nodes publish, with arrival times, and each
    message serialized (CDR) for the session's bag."""

    def __init__(self, context, compare: str | None = None):
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from geometry_msgs.msg import PoseStamped
        from rclpy.serialization import serialize_message
        from sensor_msgs.msg import Image, JointState
        from std_msgs.msg import Bool, Float64, String

        from lhg_ros.features.audio import FEATURE_DIM
        from lhg_ros.features.landmark_pose import dof_from_camera_pose
        from lhg_ros.nodes.common import rows_from_image, seconds_from_stamp, sensor_qos

        self.node = rclpy.create_node('lhg_demo_monitor', context=context)
        self.audio, self.speaking, self.speaker, self.joints = [], [], [], []
        self.nods, self.latency = [], []
        self.joint_names: list[str] = []
        self.bag: list[tuple[str, str, int, bytes]] = []  # (topic, type, arrival ns, CDR)
        n = self.node

        def subscribe(msg_type, topic, callback, qos):
            """Subscribe, and keep every message for the bag as well."""
            name = f'/{topic.lstrip("/")}'
            type_name = f'{msg_type.__module__.split(".")[0]}/msg/{msg_type.__name__}'

            def keep(msg):
                self.bag.append((name, type_name, time.time_ns(), serialize_message(msg)))
                callback(msg)

            n.create_subscription(msg_type, topic, keep, qos)

        def on_audio(msg):
            start = seconds_from_stamp(msg.header.stamp)
            for i, row in enumerate(rows_from_image(msg, FEATURE_DIM)):
                self.audio.append((start + i / 100.0, float(row[0])))

        def on_pose(msg):
            q, p = msg.pose.orientation, msg.pose.position
            self.speaker.append((seconds_from_stamp(msg.header.stamp),
                                 dof_from_camera_pose([q.w, q.x, q.y, q.z], [p.x, p.y, p.z])))

        def on_joints(msg):
            self.joint_names = list(msg.name)
            self.joints.append((seconds_from_stamp(msg.header.stamp), list(msg.position)))

        # Deep queues: on a loaded machine this process may fall a few seconds behind, and a
        # keep-last reader drops what overflows (reliable or not): 17 feature rows once in CI.
        subscribe(Image, 'audio_features', on_audio, sensor_qos(reliable=True, depth=1000))
        subscribe(Bool, 'is_speaking', lambda m: self.speaking.append((time.time(), m.data)),
                  1000)
        subscribe(PoseStamped, 'speaker/head_pose', on_pose, sensor_qos(depth=250))
        subscribe(JointState, 'joint_states', on_joints, 500)
        # The second listener (the rule policy, beside the model), under its own namespace.
        self.compare_joints: list = []
        self.compare_nods: list = []
        if compare:
            subscribe(JointState, f'{compare}/joint_states',
                      lambda m: self.compare_joints.append(
                          (seconds_from_stamp(m.header.stamp), list(m.position))), 500)
            subscribe(String, f'{compare}/listener/nod',
                      lambda m: self.compare_nods.append(time.time()), 10)
        subscribe(String, 'listener/nod', lambda m: self.nods.append(time.time()), 10)
        n.create_subscription(Float64, 'listener/latency',
                              lambda m: self.latency.append(m.data), 100)
        self.listener_status: dict[str, str] = {}
        self.compare_status: dict[str, str] = {}

        def on_diagnostics(msg):
            for status in msg.status:
                values = {kv.key: kv.value for kv in status.values}
                if status.name.startswith('listener_node'):
                    self.listener_status = values
                elif status.name.startswith('listener_rules'):
                    self.compare_status = values

        subscribe(DiagnosticArray, '/diagnostics', on_diagnostics, 10)


# Topics a listener under a namespace must still take from the root (the shared inputs).
SHARED_INPUTS = ('audio_features', 'speaker/head_pose', 'is_speaking', 'listening')


def _start(executable: str, params: dict, env: dict, log: Path, namespace: str = '',
           node_name: str = '', bin_dir: Path | None = None) -> subprocess.Popen:
    args = [str((bin_dir or Path(sys.executable).parent) / executable), '--ros-args']
    for key, value in params.items():
        args += ['-p', f'{key}:={value}']
    if namespace:
        args += ['-r', f'__ns:=/{namespace}']
        for topic in SHARED_INPUTS:
            args += ['-r', f'{topic}:=/{topic}']
    if node_name:
        args += ['-r', f'__node:={node_name}']
    return subprocess.Popen(args, env=env, stdout=open(log, 'w'), stderr=subprocess.STDOUT)


def _stop(processes) -> None:
    for proc in processes:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    for proc in processes:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def make_inputs(out: Path, seconds_hint: float | None = None) -> tuple[Path, Path, float]:
    """Speech and a speaker video of the same length in ``out``."""
    import soundfile as sf

    from lhg_ros.synthetic.speaker_scene import (
        DEMO_SENTENCES,
        speak,
        speaker_motion,
        write_face_video,
    )

    speech = speak(DEMO_SENTENCES, out / 'speaker.wav')
    duration = sf.info(str(speech)).duration
    _, rolls, shifts = speaker_motion(seconds_hint or duration)
    video = write_face_video(out / 'speaker.mp4', rolls, shifts)
    return speech, video, duration


def user_inputs(args) -> tuple[Path, Path | None, float]:
    """The user's --audio / --video, checked; one clear error when a file cannot be used."""
    import soundfile as sf

    from lhg_ros.sources.audio import FileAudioSource
    from lhg_ros.sources.video import VideoFileSource

    speech = Path(args.audio).resolve()
    FileAudioSource(speech, realtime=False).close()  # raises with the reason
    video = None
    if args.video:
        video = Path(args.video).resolve()
        VideoFileSource(video, realtime=False).close()
    return speech, video, sf.info(str(speech)).duration


def run_pipeline(speech: Path, video: Path | None, duration: float, out: Path,
                 listener_params: dict, compare: str | None, report=print,
                 bin_dir: Path | None = None) -> Recorder:
    """Start the listener(s), wait until they are up, play the files through the two input
    nodes over a private DDS domain and record everything until the head has settled.
    ``report`` gets one progress line a second; the nodes are the executables in ``bin_dir``
    (default: this Python's environment)."""
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor

    from lhg_ros.dds_probe import pick_private_domain, private_ros_env

    domain = pick_private_domain()
    env = private_ros_env(domain)
    os.environ.update(env)
    context = Context()
    rclpy.init(context=context, domain_id=domain)
    recorder = Recorder(context, compare)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(recorder.node)
    processes = [_start('listener_node', listener_params, env, out / 'listener_node.log',
                        bin_dir=bin_dir)]
    if compare:
        processes.append(_start('listener_node', {'policy': 'rules'}, env,
                                out / 'listener_rules.log', namespace=compare,
                                node_name='listener_rules', bin_dir=bin_dir))
    listeners = len(processes)

    def up() -> bool:
        return bool(recorder.joints) and (not compare or bool(recorder.compare_joints))

    try:
        # Inputs start once the listeners are up and the monitor sees them, so nothing is
        # missed.
        deadline = time.time() + 60.0
        while (not up() and time.time() < deadline
               and all(p.poll() is None for p in processes)):
            executor.spin_once(timeout_sec=0.05)
        if not up():
            raise RuntimeError(f'listener_node did not start; see {out}/listener_node.log')
        # Reliable, so the monitor's record is complete; the listener reads best effort.
        # Each file plays once every listener and the monitor have matched its topic.
        processes.append(_start('audio_features_node', {
            'source': 'file', 'file.path': speech, 'file.exit_at_end': True,
            'file.min_subscribers': listeners + 1, 'reliable': True}, env,
            out / 'audio_features_node.log', bin_dir=bin_dir))
        if video is not None:
            processes.append(_start('head_pose_node', {
                'source': 'file', 'file.path': video, 'file.exit_at_end': True,
                'file.min_subscribers': listeners + 1}, env, out / 'head_pose_node.log',
                bin_dir=bin_dir))
        names = ['audio_features_node'] + (['head_pose_node'] if video is not None else [])
        beside = f', listener_rules (rules, in /{compare})' if compare else ''
        report(f"nodes: listener_node ({listener_params.get('policy', 'model')}){beside}, "
               f"{', '.join(names)} on ROS_DOMAIN_ID={domain}; the files play for "
               f'{duration:.0f} s\n')
        started = time.time()
        next_report = started + 1.0
        inputs_done = None
        # Until the file nodes have played their files, then 1.5 s for the head to settle.
        while inputs_done is None or time.time() < inputs_done + 1.5:
            if inputs_done is None and all(p.poll() is not None
                                           for p in processes[listeners:]):
                inputs_done = time.time()
            if time.time() - started > duration + 30.0:
                raise RuntimeError('the input nodes did not finish their files in time')
            executor.spin_once(timeout_sec=0.02)
            if time.time() >= next_report:
                next_report += 1.0
                report(progress_line(recorder, time.time() - started))
            dead = [p for p in processes if p.poll() is not None and p.returncode != 0]
            if dead:
                raise RuntimeError(f'a node exited with code {dead[0].returncode}; see the '
                                   f'logs in {out}/')
    finally:
        _stop(processes)
        executor.shutdown()
        # The executor's dropped wait generator may hold handles until collected; without
        # this, destroy_node can wait for them for ever.
        gc.collect()
        recorder.node.destroy_node()
        rclpy.try_shutdown(context=context)
    return recorder


def progress_line(recorder: Recorder, elapsed: float) -> str:
    pitch = recorder.joints[-1][1][1] if recorder.joints else float('nan')
    talking = recorder.speaking[-1][1] if recorder.speaking else False
    return (f'  t={elapsed:5.1f} s  audio frames {len(recorder.audio):5d}  speaker '
            f'{"talking" if talking else "quiet  "}  face poses {len(recorder.speaker):4d}  '
            f'listener pitch {np.degrees(pitch):+5.1f} deg  nods {len(recorder.nods)}')


def main(args) -> int:
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    if args.video and not args.audio:
        print('lhg-ros demo: --video needs --audio (the listener listens to speech)')
        return 1
    if args.audio:
        try:
            speech, video, duration = user_inputs(args)
        except Exception as exc:  # noqa: BLE001 - one clear line for the user
            print(f'lhg-ros demo: {exc}')
            return 1
        print(f'inputs: {speech}' + (f' and {video}' if video else ' (no video: the speaker '
                                      "pose stays neutral)") + f' -> {out}/')
    else:
        print(f'inputs: real speech (espeak-ng) and a moving face photograph -> {out}/')
        speech, video, duration = make_inputs(out)
    listener_params = {'policy': args.policy}
    if args.policy == 'model':
        listener_params.update(backend=args.backend, expressiveness=args.expressiveness,
                               seed=args.seed)
        if args.style:  # a name, or a style file (its path made absolute for the node)
            listener_params['style'] = (Path(args.style).resolve() if Path(args.style).is_file()
                                        else args.style)
        if args.checkpoint:
            listener_params['checkpoint'] = Path(args.checkpoint).resolve()
    compare = None if args.no_compare or args.policy == 'rules' else COMPARE
    try:
        recorder = run_pipeline(speech, video, duration, out, listener_params, compare,
                                report=lambda line: print(line, flush=True))
    except RuntimeError as exc:
        print(f'lhg-ros demo: {exc}')
        return 1
    summary = summarise(recorder, duration)
    print()
    print(format_table(['', 'value'], summary))
    from lhg_ros.commands.demo_output import plot_session, render_video

    plot_session(recorder, out / 'demo.png')
    print(f'\nwrote {out / "demo.png"}')
    if recorder.audio:
        from lhg_ros.commands.demo_output import write_bag

        print(f'wrote {write_bag(recorder, speech, out / "bag")} (replay it: lhg-ros generate '
              f'--bag {out / "bag"})')
    if not args.no_video:
        path = render_video(recorder, video, out / 'demo.mp4', audio=speech,
                            first_face_s=first_face_time(video) if video else 0.0)
        print(f'wrote {path}')
    return 0


def first_face_time(video: Path) -> float:
    """Video time of the first frame with a face (the first pose the node published)."""
    from lhg_ros.console import quiet_stderr
    from lhg_ros.features.face_mesh import FaceMeshDetector
    from lhg_ros.sources.video import VideoFileSource

    source = VideoFileSource(video, clock=lambda: 0.0, realtime=False)
    with quiet_stderr(), FaceMeshDetector() as detector:
        try:
            while (frame := source.read()) is not None:
                if detector.detect(frame.rgb):
                    return frame.capture_time
        finally:
            source.close()
    return 0.0


def summarise(recorder: Recorder, duration: float) -> list[tuple[str, str]]:
    from lhg_ros.features.audio import SAMPLE_RATE, num_frames

    joints = np.array([p for _, p in recorder.joints]) if recorder.joints else np.zeros((0, 3))
    latency = np.array(recorder.latency) * 1000
    rows = [('speech', f'{duration:.1f} s'),
            ('audio feature frames', f'{len(recorder.audio)} (expected '
                                     f'{num_frames(round(duration * SAMPLE_RATE))})'),
            ('speaker poses', f'{len(recorder.speaker)}'),
            ('joint commands', f'{len(recorder.joints)} ({_rate(recorder.joints):.0f} Hz)')]
    rows += motion_rows('listener', recorder.joints, recorder.joint_names)
    status = recorder.listener_status
    if 'policy' in status:
        described = status['policy']
        if status.get('backend'):
            described += f" on {status['backend']}: {status.get('checkpoint', '')}"
        if status.get('style'):
            described += f", style {status['style']}"
        rows.insert(0, ('policy', described))
    if recorder.compare_joints:
        rows += motion_rows('rule policy beside it', recorder.compare_joints,
                            recorder.joint_names)
    if len(joints):
        for i, name in enumerate(recorder.joint_names):
            rows.append((f'{name} range', f'{np.degrees(joints[:, i].min()):+.1f} .. '
                                          f'{np.degrees(joints[:, i].max()):+.1f} deg'))
    for key in ('audio gaps (frames)', 'malformed messages', 'mean step ms'):
        if key in recorder.listener_status:
            rows.append((f'listener: {key}', recorder.listener_status[key]))
    if len(latency):
        rows.append(('capture -> command latency', f'p50 {np.percentile(latency, 50):.0f} ms, '
                                                   f'p99 {np.percentile(latency, 99):.0f} ms'))
    return rows


def joint_angles(stamped, names, rate: float = 50.0) -> np.ndarray:
    """(T, 3) neck pitch, yaw and roll (rad) of stamped joint commands on a uniform grid at
    ``rate`` (commands come early when a step completes, so their stamps are not a grid)."""
    if len(stamped) < 2:
        return np.zeros((0, 3))
    times = np.array([t for t, _ in stamped])
    positions = np.array([p for _, p in stamped])
    grid = np.arange(times[0], times[-1], 1.0 / rate)
    columns = []
    for dof in ('pitch', 'yaw', 'roll'):
        index = next((i for i, n in enumerate(names) if n.endswith(dof)), None)
        columns.append(np.zeros(len(grid)) if index is None
                       else np.interp(grid, times, positions[:, index]))
    return np.stack(columns, axis=1)


def motion_rows(label: str, stamped, names, rate: float = 50.0) -> list[tuple[str, str]]:
    """How much a listener moved, from its joint commands."""
    from lhg_ros.commands.demo_output import motion_summary

    angles = joint_angles(stamped, names, rate)
    if len(angles) < 2 * rate:
        return [(f'{label}: nods', '0 (under 2 s of commands)')]
    return motion_summary(label, angles, rate)


def _rate(stamped) -> float:
    """Messages per second over the time they span."""
    if len(stamped) < 2:
        return 0.0
    return (len(stamped) - 1) / max(stamped[-1][0] - stamped[0][0], 1e-9)
