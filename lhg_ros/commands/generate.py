"""``lhg-ros generate``: listener motion for a speaker recording (audio, and video if there is
one), as CSV and NPZ, and an MP4 of the speaker beside the listener's head over the waveform,
with the speech.

The recording goes through the live pipeline on a simulated clock
(:mod:`lhg_ros.evaluation.replay`): the same FBank, VAD, head-pose tracker, alignment, policy
and safety as the three nodes, so the joint commands are the ones the nodes would send.
"""

from pathlib import Path

import numpy as np

from lhg_ros.console import format_table, quiet_stderr
from lhg_ros.features.pose_features import DOF_NAMES

LENGTH_MISMATCH_S = 1.0  # warn when audio and video lengths differ by more than this


def video_summary(track, audio_s: float) -> tuple[list[tuple[str, str]], list[str]]:
    """Rows for the summary table and warnings about a speaker video's head-pose track."""
    frames = len(track.times)
    video_s = track.times[-1] + 1.0 / track.fps if frames else 0.0
    share = float(track.detected.mean()) if frames else 0.0
    rows = [('video', f'{frames} frames at {track.fps:.2f} fps ({video_s:.1f} s)'),
            ('face found', f'{100 * share:.0f}% of video frames')]
    warnings = []
    if abs(video_s - audio_s) > LENGTH_MISMATCH_S:
        warnings.append(f'the audio lasts {audio_s:.1f} s and the video {video_s:.1f} s: '
                        'both are taken to start together; where the video is missing the '
                        "speaker's pose eases to neutral")
    if frames and share < 0.5:
        warnings.append(f'a face was found in only {100 * share:.0f}% of the video frames')
    return rows, warnings


def main(args) -> int:
    import soundfile as sf

    from lhg_ros.evaluation.offline import make_policy
    from lhg_ros.evaluation.replay import audio_blocks, replay
    from lhg_ros.features.speaker_head import extract_video_file
    from lhg_ros.filters import OneEuroFilter
    from lhg_ros.motion.controller import ControllerConfig
    from lhg_ros.motion.joints import JointMap

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        audio_s = sf.info(str(args.audio)).duration if Path(args.audio).is_file() else 0.0
        blocks = audio_blocks(args.audio)
        track = None
        if args.video:
            with quiet_stderr():
                track = extract_video_file(args.video, smoothing=OneEuroFilter(1.5, 0.3),
                                           face_selection=args.face_selection)
        policy = make_policy(args.policy, args.checkpoint, args.backend, args.expressiveness,
                             args.seed)
    except Exception as exc:  # noqa: BLE001 - one clear line for the user
        print(f'lhg-ros generate: {exc}')
        return 1
    if not blocks:
        print(f'lhg-ros generate: no audio in {args.audio}')
        return 1
    if track is not None and not track.detected.any():
        print(f'lhg-ros generate: no face found in {args.video} (omit --video to run '
              'without a camera)')
        return 1
    joints = JointMap()
    config = ControllerConfig(control_rate=args.rate)

    def run(listener):
        return replay(listener, joints, blocks, None if track is None else track.times,
                      None if track is None else track.poses, config)

    result = run(policy)
    runs = [(args.policy, result)]
    if args.policy == 'model' and not args.no_compare:
        runs.append(('rules', run(make_policy('rules'))))
    np.savez_compressed(out / 'listener.npz', times=result.times, poses=result.relative,
                        joints=result.positions, nods=result.nods,
                        joint_names=np.array(joints.names), dof=np.array(DOF_NAMES))
    header = 'time,' + ','.join(DOF_NAMES) + ',' + ','.join(joints.names)
    np.savetxt(out / 'listener.csv', np.column_stack([result.times, result.relative,
                                                      result.positions]),
               delimiter=',', header=header, comments='', fmt='%.6f')
    from lhg_ros.models import resolve_checkpoint

    described = (f'model {resolve_checkpoint(args.checkpoint)} on {policy.backend.name}'
                 if args.policy == 'model' else 'rules')
    rows = [('policy', described),
            ('audio', f'{audio_s:.1f} s'),
            ('joint commands', f'{len(result.times)} at {result.rate:g} Hz (the model steps '
                               f'at {result.motion_rate:g} Hz)')]
    from lhg_ros.commands.demo_output import motion_summary, plot_motion

    for name, run_result in runs:
        rows += motion_summary(name, run_result.relative, run_result.rate)
    plot_motion(out / 'listener.png', [(name, r.times, r.relative) for name, r in runs])
    rows.append(('outputs', f'{out}/listener.csv, listener.npz, listener.png'))
    warnings = []
    if track is not None:
        video_rows, warnings = video_summary(track, audio_s)
        rows[2:2] = video_rows
    if not args.no_video:
        from lhg_ros.commands.demo_output import render_session

        video = render_session(out / 'listener.mp4', Path(args.video) if args.video else None,
                               audio_s, [(r.times, r.positions, name) for name, r in runs],
                               joints.names, audio=Path(args.audio), fps=args.fps)
        rows.append(('video', f'{video} ({args.fps:g} fps'
                              + (', with the speech)' if _has_ffmpeg() else ', silent: '
                                 'install ffmpeg to add the speech)')))
    print(format_table(['', 'value'], rows))
    for warning in warnings:
        print(f'warning: {warning}')
    return 0


def _has_ffmpeg() -> bool:
    import shutil

    return shutil.which('ffmpeg') is not None
