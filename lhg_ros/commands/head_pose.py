"""``lhg-ros head-pose``: the speaker's head motion in a video, as head_pose_node computes it,
with a summary table, an optional .npz and a plot of the six degrees of freedom."""

import time
from pathlib import Path

import numpy as np

from lhg_ros.console import format_table, quiet_stderr
from lhg_ros.features.head_tracking import HeadPoseTrack, extract_video_file
from lhg_ros.features.motion_features import DOF_NAMES
from lhg_ros.filters import OneEuroFilter
from lhg_ros.plotting import pyplot


def plot_track(track: HeadPoseTrack, title: str, path: Path) -> None:
    plt = pyplot()
    fig, (ax_angles, ax_position) = plt.subplots(2, 1, figsize=(11, 5.5), sharex=True)
    for i, name in enumerate(DOF_NAMES[:3]):
        ax_angles.plot(track.times, np.degrees(track.poses[:, i]), lw=1.2, label=name)
    ax_angles.set_ylabel('degrees')
    ax_angles.legend(loc='upper right', fontsize=8, ncol=3)
    ax_angles.set_title(f'{title}: pitch + = nod down, yaw + = turn to own left, '
                        'roll + = tilt to own right')
    for i, name in enumerate(DOF_NAMES[3:], start=3):
        ax_position.plot(track.times, track.poses[:, i] - np.nanmedian(track.poses[:, i]),
                         lw=1.2, label=f'{name} - median')
    missing = ~track.detected
    if missing.any():
        ax_position.fill_between(track.times, 0, 1, where=missing, color='red', alpha=0.15,
                                 transform=ax_position.get_xaxis_transform(), label='no face')
    ax_position.set_ylabel('metres (camera frame)')
    ax_position.set_xlabel('time (s)')
    ax_position.legend(loc='upper right', fontsize=8, ncol=4)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(args) -> int:
    path = Path(args.video)
    started = time.perf_counter()
    smoothing = None if args.no_smoothing else OneEuroFilter(min_cutoff=1.5, beta=0.3)
    try:
        with quiet_stderr():  # MediaPipe's C++ start-up log; errors still raise
            track = extract_video_file(path, smoothing=smoothing)
    except Exception as exc:  # noqa: BLE001 - shown to the user as one line
        print(f'lhg-ros head-pose: {exc}')
        return 1
    elapsed = time.perf_counter() - started
    found = track.poses[track.detected]
    rows = [('file', str(path)),
            ('frames', f'{len(track.poses)} at {track.fps:.1f} fps '
                       f'({len(track.poses) / max(track.fps, 1e-9):.1f} s)'),
            ('face found', f'{100 * track.detected.mean():.0f}% of frames'
                           if len(track.poses) else 'no frames'),
            ('processing', f'{len(track.poses) / max(elapsed, 1e-9):.0f} frames/s')]
    for i, name in enumerate(DOF_NAMES):
        if len(found):
            low, high = np.percentile(found[:, i], [2, 98])
            unit = 'deg' if i < 3 else 'm'
            scale = np.degrees(1.0) if i < 3 else 1.0
            rows.append((name, f'{low * scale:+.2f} .. {high * scale:+.2f} {unit} (2-98%)'))
    print(format_table(['', 'value'], rows))
    if args.output:
        np.savez_compressed(args.output, poses=track.poses, times=track.times,
                            dof=np.array(DOF_NAMES))
        print(f'\nwrote {args.output}')
    if args.plot:
        plot_track(track, path.name, Path(args.plot))
        print(f'wrote {args.plot}')
    return 0
