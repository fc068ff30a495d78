"""``lhg-ros generate``: listener motion for a speaker recording (audio, and video if there is
one), as CSV and NPZ, and an MP4 of the speaker beside the listener's head over the waveform,
with the speech. The recording is a speaker's audio file (and video), or a rosbag2 bag of a
robot's session (:mod:`lhg_ros.data.bag`).

The recording goes through the live pipeline on a simulated clock
(:mod:`lhg_ros.motion.replay`): the same FBank, VAD, head-pose tracker, alignment, policy
and safety as the three nodes, so the joint commands are the ones the nodes would send.
"""

from pathlib import Path

import numpy as np

from lhg_ros.console import format_table, quiet_stderr
from lhg_ros.features.motion_features import DOF_NAMES

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


def bag_summary(recording) -> tuple[list[tuple[str, str]], list[str]]:
    """Rows for the summary table and warnings about what a bag gave the replay."""
    audio = recording.audio
    rows = [('bag', str(recording.path)),
            ('audio topic', f'{audio.name} ({audio.msgtype.split("/")[-1]}): {audio.used} '
                            f'messages at {audio.rate:.1f}/s, {audio.gaps} gaps '
                            f'({audio.gap_s:.2f} s), {audio.drops()}')]
    warnings = [f'{audio.name}: {count} messages dropped: {reason}'
                for reason, count in audio.dropped.items()]
    speaker = recording.speaker
    if speaker is None:
        rows.append(('speaker', "no camera or pose topic: the speaker's pose stays neutral"))
        return rows, warnings
    kind = 'camera' if 'Image' in speaker.msgtype else 'speaker poses'
    rows.append((f'{kind} topic', f'{speaker.name} ({speaker.msgtype.split("/")[-1]}): '
                                  f'{speaker.used} at {speaker.rate:.2f}/s, {speaker.drops()}'))
    if speaker.used:
        rows.append((f'{kind} span', f'{speaker.first - recording.start_stamp:+.2f} .. '
                                     f'{speaker.last - recording.start_stamp:+.2f} s from the '
                                     'first audio sample'))
    share_of = 'camera frames' if kind == 'camera' else 'the audio with a pose within 0.2 s'
    rows.append(('face found', f'{100 * recording.face_share:.0f}% of {share_of}'))
    # (Frames or poses outside the audio are skipped on purpose, not worth a warning.)
    warnings += [f'{speaker.name}: {count} messages dropped: {reason}'
                 for reason, count in speaker.dropped.items() if 'outside the audio' not in reason]
    if speaker.used and recording.face_share < 0.5:
        warnings.append(f'a face was found in only {100 * recording.face_share:.0f}% of '
                        f'{share_of}')
    return rows, warnings


def _bag_inputs(args, out: Path):
    """(blocks, pose times, poses, audio seconds, audio file for the MP4, summary rows,
    warnings) of ``--bag``; ``BagError`` with one line."""
    import soundfile as sf
    from tqdm import tqdm

    from lhg_ros.data.bag import read_bag

    bar = tqdm(desc='reading the bag', unit=' messages', leave=False)

    def progress(done, total):
        bar.total = total
        bar.update(done - bar.n)

    try:
        recording = read_bag(args.bag, args.audio_topic, args.image_topic, args.pose_topic,
                             args.face_selection, keep_audio=not args.no_video,
                             progress=progress)
    finally:
        bar.close()
    audio = None
    if recording.audio16k is not None:
        audio = out / 'speaker.wav'
        sf.write(str(audio), recording.audio16k, 16000)
    rows, warnings = bag_summary(recording)
    return (recording.blocks, recording.pose_times, recording.poses, recording.audio_s, audio,
            rows, warnings)


def main(args) -> int:
    from lhg_ros.evaluation.offline import make_policy
    from lhg_ros.motion.controller import ControllerConfig
    from lhg_ros.motion.joints import JointMap
    from lhg_ros.motion.replay import replay

    if bool(args.bag) == bool(args.audio):
        print('lhg-ros generate: give either --audio (and --video) or --bag')
        return 1
    if args.bag and args.video:
        print('lhg-ros generate: --video goes with --audio; a bag brings its own camera')
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        if args.bag:
            blocks, pose_times, poses, audio_s, audio, input_rows, warnings = _bag_inputs(
                args, out)
        else:
            blocks, pose_times, poses, audio_s, audio, input_rows, warnings = _file_inputs(
                args)
        policy = make_policy(args.policy, args.checkpoint, args.backend, args.expressiveness,
                             args.seed, args.style)
    except Exception as exc:  # noqa: BLE001 - one clear line for the user
        print(f'lhg-ros generate: {exc}')
        return 1
    if not blocks:
        print(f'lhg-ros generate: no audio in {args.bag or args.audio}')
        return 1
    if poses is not None and args.video and not np.isfinite(poses[:, 0]).any():
        print(f'lhg-ros generate: no face found in {args.video} (omit --video to run '
              'without a camera)')
        return 1
    joints = JointMap()
    config = ControllerConfig(control_rate=args.rate)

    def run(listener):
        return replay(listener, joints, blocks, pose_times, poses, config)

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
            *input_rows,
            ('joint commands', f'{len(result.times)} at {result.rate:g} Hz (the model steps '
                               f'at {result.motion_rate:g} Hz)')]
    from lhg_ros.commands.demo_output import motion_summary, plot_motion

    for name, run_result in runs:
        rows += motion_summary(name, run_result.relative, run_result.rate)
    plot_motion(out / 'listener.png', [(name, r.times, r.relative) for name, r in runs])
    rows.append(('outputs', f'{out}/listener.csv, listener.npz, listener.png'))
    if not args.no_video:
        from lhg_ros.commands.demo_output import render_session

        video = render_session(out / 'listener.mp4', Path(args.video) if args.video else None,
                               audio_s, [(r.times, r.positions, name) for name, r in runs],
                               joints.names, audio=audio, fps=args.fps)
        rows.append(('video', f'{video} ({args.fps:g} fps'
                              + (', with the speech)' if _has_ffmpeg() else ', silent: '
                                 'install ffmpeg to add the speech)')))
    print(format_table(['', 'value'], rows))
    for warning in warnings:
        print(f'warning: {warning}')
    return 0


def _file_inputs(args):
    """The same as :func:`_bag_inputs` for ``--audio`` and ``--video`` files."""
    import soundfile as sf

    from lhg_ros.features.head_tracking import extract_video_file
    from lhg_ros.filters import OneEuroFilter
    from lhg_ros.motion.replay import audio_blocks

    audio_s = sf.info(str(args.audio)).duration if Path(args.audio).is_file() else 0.0
    blocks = audio_blocks(args.audio)
    if not args.video:
        return blocks, None, None, audio_s, Path(args.audio), [], []
    with quiet_stderr():
        track = extract_video_file(args.video, smoothing=OneEuroFilter(1.5, 0.3),
                                   face_selection=args.face_selection)
    rows, warnings = video_summary(track, audio_s)
    return blocks, track.times, track.poses, audio_s, Path(args.audio), rows, warnings


def _has_ffmpeg() -> bool:
    import shutil

    return shutil.which('ffmpeg') is not None
