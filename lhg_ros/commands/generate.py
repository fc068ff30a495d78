"""``lhg-ros generate``: listener motion for a speaker recording (audio + video), as CSV and NPZ,
and an MP4 of the speaker beside the listener's head with the speech waveform."""

from pathlib import Path

import numpy as np

from lhg_ros.console import format_table, quiet_stderr
from lhg_ros.features.motion import DOF_NAMES


def write_video(speaker_video: Path, samples: np.ndarray, sample_rate: int, joints,
                names, path: Path, fps: float = 25.0) -> Path:
    """Speaker video | listener head (front, side) over a scrolling waveform strip."""
    import cv2

    from lhg_ros.commands.demo_output import heads_panel
    from lhg_ros.motion.avatar import neck_angles
    from lhg_ros.plotting import Mp4Writer

    capture = cv2.VideoCapture(str(speaker_video))
    writer = Mp4Writer(path, fps)
    window = int(4 * sample_rate)  # 4 s of waveform, the present in the middle
    padded = np.concatenate([np.zeros(window // 2), samples, np.zeros(window // 2)])
    for index in range(len(joints)):
        ok, bgr = capture.read()
        if not ok:
            break
        top = np.concatenate([bgr, heads_panel(*neck_angles(names, joints[index]),
                                               bgr.shape[0])], axis=1)
        strip = np.full((90, top.shape[1], 3), 255, np.uint8)
        centre = int(index / fps * sample_rate)
        part = np.abs(padded[centre:centre + window])
        for x, chunk in enumerate(np.array_split(part, top.shape[1])):
            half = int(min(chunk.max(initial=0.0), 1.0) * 40)
            cv2.line(strip, (x, 45 - half), (x, 45 + half), (160, 90, 40), 1)
        cv2.line(strip, (top.shape[1] // 2, 0), (top.shape[1] // 2, 89), (0, 0, 200), 1)
        writer.write(np.concatenate([top, strip], axis=0))
    capture.release()
    return writer.close()


def main(args) -> int:
    import soundfile as sf

    from lhg_ros.data.extract import resample_poses
    from lhg_ros.evaluation.offline import make_policy, run_policy
    from lhg_ros.features.audio_frontend import extract_audio_file
    from lhg_ros.features.speaker_head import extract_video_file
    from lhg_ros.filters import OneEuroFilter
    from lhg_ros.motion.joints import JointMap
    from lhg_ros.motion.safety import MotionLimiter

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        audio = extract_audio_file(args.audio)
        with quiet_stderr():
            track = extract_video_file(args.video, smoothing=OneEuroFilter(1.5, 0.3))
        policy = make_policy(args.policy, args.checkpoint, args.backend)
    except Exception as exc:  # noqa: BLE001 - one clear line for the user
        print(f'lhg-ros generate: {exc}')
        return 1
    speaker, detected = resample_poses(track.times - track.times[0], track.poses,
                                       audio.duration_s)
    if not detected.any():
        print(f'lhg-ros generate: no face found in {args.video}')
        return 1
    relative = run_policy(policy, audio.frames, speaker, audio.speaking)
    rate = policy.motion_rate
    joints = JointMap()
    limiter = MotionLimiter(joints.lower, joints.upper, joints.max_velocity,
                            joints.max_acceleration, 1 / rate, start=joints.neutral,
                            omega=2 * np.pi * 3.0)
    commands = np.array([limiter.update(joints.targets(pose)) for pose in relative])
    times = np.arange(len(relative)) / rate
    np.savez_compressed(out / 'listener.npz', times=times, poses=relative, joints=commands,
                        joint_names=np.array(joints.names), dof=np.array(DOF_NAMES))
    header = 'time,' + ','.join(f'{d}' for d in DOF_NAMES) + ',' + ','.join(joints.names)
    np.savetxt(out / 'listener.csv', np.column_stack([times, relative, commands]),
               delimiter=',', header=header, comments='', fmt='%.6f')
    from lhg_ros.models import resolve_checkpoint

    described = (f'model {resolve_checkpoint(args.checkpoint)} on {policy.backend.name}'
                 if args.policy == 'model' else 'rules')
    rows = [('policy', described),
            ('frames', f'{len(relative)} at {rate:g} Hz ({len(relative) / rate:.1f} s)'),
            ('face found', f'{100 * detected.mean():.0f}% of frames'),
            ('pitch range', f'{np.degrees(relative[:, 0].min()):+.1f} .. '
                            f'{np.degrees(relative[:, 0].max()):+.1f} deg'),
            ('outputs', f'{out}/listener.csv, listener.npz')]
    if not args.no_video:
        samples, sample_rate = sf.read(str(args.audio), dtype='float32', always_2d=True)
        video = write_video(Path(args.video), samples.mean(axis=1), sample_rate, commands,
                            joints.names, out / 'listener.mp4', fps=rate)
        rows.append(('video', str(video)))
    print(format_table(['', 'value'], rows))
    return 0
