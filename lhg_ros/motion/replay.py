"""A recording through the live pipeline on a simulated clock: what the three nodes would have
commanded, without ROS.

The audio file is read by the audio_features_node's own source and front-end (FBank and VAD,
in the node's publish period); the speaker's head poses come from the head_pose_node's
tracker, stamped with each video frame's own timestamp; the listener_node's controller
(:class:`lhg_ros.motion.controller.ListenerController`) receives both as the node would and
ticks at its control rate. The joint commands therefore equal the node's, up to the moment
each node happened to start (``video_offset_s``) and the phase of its timers.
"""

from dataclasses import dataclass, field

import numpy as np

from lhg_ros.motion.controller import ControllerConfig, ListenerController


@dataclass
class AudioBlock:
    arrival: float  # when the node would publish it (s from the start of the file)
    rows: np.ndarray  # (n, 81) features
    stamp: float  # capture time of the first row's first sample
    speaking: bool | None  # the VAD's decision after this block


def audio_blocks(path, publish_period_s: float = 0.01, vad: bool = True) -> list[AudioBlock]:
    """What audio_features_node publishes for a file played in real time: its source and
    front-end, read every ``publish_period_s`` on a simulated clock starting at 0."""
    from lhg_ros.features.audio_frontend import SpeakerAudioFrontEnd
    from lhg_ros.features.vad import VoiceActivityDetector
    from lhg_ros.sources.audio import FileAudioSource

    clock = [0.0]
    source = FileAudioSource(path, clock=lambda: clock[0], realtime=True)
    detector = VoiceActivityDetector() if vad else None
    frontend, blocks, tick = None, [], 0
    try:
        while not source.finished:
            clock[0] = tick * publish_period_s
            for chunk in source.read():
                if frontend is None:
                    frontend = SpeakerAudioFrontEnd(source.sample_rate, chunk.samples.shape[-1],
                                                    detector)
                block = frontend.accept(chunk.samples, chunk.first_sample_time)
                if len(block.frames):
                    blocks.append(AudioBlock(clock[0], block.frames, block.stamp,
                                             block.speaking))
            tick += 1
        if frontend is not None:
            block = frontend.finish()
            if len(block.frames):
                blocks.append(AudioBlock(clock[0], block.frames, block.stamp, block.speaking))
    finally:
        source.close()
    return blocks


@dataclass
class ReplayResult:
    times: np.ndarray  # (n,) control ticks, s from the start of the audio
    positions: np.ndarray  # (n, joints) joint commands (rad)
    relative: np.ndarray  # (n, 6) listener pose commanded, relative to neutral
    nods: np.ndarray  # tick times at which a nod completed
    rate: float  # control rate (Hz)
    motion_rate: float  # the policy's frame rate (Hz)
    counters: dict = field(default_factory=dict)


def replay(policy, joint_map, blocks: list[AudioBlock], pose_times=None, poses=None,
           config: ControllerConfig | None = None, video_offset_s: float = 0.0,
           settle_s: float = 0.0) -> ReplayResult:
    """Joint commands for ``blocks`` (from :func:`audio_blocks`) and the speaker's head poses
    (``poses`` (n, 6) at ``pose_times``, NaN rows where no face was seen; none = no camera).
    ``video_offset_s``: when the video started after the audio. Ticks run from the first
    audio block to the end of the audio plus ``settle_s``."""
    config = config or ControllerConfig()
    controller = ListenerController(policy, joint_map, config)
    events = [(b.arrival, 0, i) for i, b in enumerate(blocks)]
    if poses is not None:
        poses = np.asarray(poses, dtype=np.float64)
        pose_times = np.asarray(pose_times, dtype=np.float64) + video_offset_s
        events += [(t, 1, i) for i, t in enumerate(pose_times) if np.isfinite(poses[i]).all()]
    events.sort()
    if not blocks:
        raise ValueError('no audio to replay')
    dt = 1.0 / config.control_rate
    end = (blocks[-1].stamp + len(blocks[-1].rows) / 100.0 + config.max_input_wait_s
           + settle_s)
    times, positions, relative, nods = [], [], [], []

    def command(now: float, since: float | None) -> None:
        c = controller.tick(now, dt=since)
        times.append(now)
        positions.append(c.positions)
        relative.append(c.relative)
        if c.nod:
            nods.append(now)

    # As listener_node: every input may complete a step, whose first pose is commanded at
    # once; the control period then restarts from that command.
    next_tick, e = blocks[0].arrival, 0
    while next_tick <= end + 1e-9 or e < len(events):
        if e < len(events) and events[e][0] <= next_tick + 1e-9:
            now, kind, i = events[e]
            now = float(now)
            e += 1
            if kind == 0:
                block = blocks[i]
                controller.add_audio(block.rows, block.stamp, now)
                if block.speaking is not None:
                    controller.add_speaking(block.speaking, now)
            else:
                controller.add_speaker_pose(poses[i], float(pose_times[i]), now)
            if controller.generate(now) and times:
                command(now, now - times[-1])
                next_tick = now + dt
            continue
        if next_tick > end + 1e-9:
            break
        command(next_tick, None)
        next_tick += dt
    return ReplayResult(np.array(times), np.array(positions), np.array(relative),
                        np.array(nods), config.control_rate, controller.rate,
                        dict(controller.counters))
