"""``lhg-ros audio-features``: the speaker features of a recording, as the node computes them,
with a summary table, an optional .npz and a picture of what the listener model will hear."""

import time
from pathlib import Path

import numpy as np

from lhg_ros.console import format_table
from lhg_ros.features.audio import FRAME_RATE, STATIC_DIM
from lhg_ros.features.audio_frontend import AudioFeatureTrack, extract_audio_file
from lhg_ros.plotting import pyplot


def plot_track(track: AudioFeatureTrack, title: str, path: Path) -> None:
    fig = track_figure(track, title)
    fig.savefig(path, dpi=110)
    pyplot().close(fig)


def track_figure(track: AudioFeatureTrack, title: str):
    """Log power with the VAD over the log-mel spectrogram, on one time axis."""
    plt = pyplot()
    times = track.times
    fig, (ax_power, ax_mel) = plt.subplots(2, 1, figsize=(11, 5.5), sharex=True,
                                           gridspec_kw={'height_ratios': [1, 2]})
    ax_power.plot(times, track.frames[:, 0], lw=0.8, color='tab:blue', label='log power')
    if track.speaking is not None:
        low, high = track.frames[:, 0].min(), track.frames[:, 0].max()
        ax_power.fill_between(times, low, high, where=track.speaking, color='tab:green',
                              alpha=0.2, step='post', label='speaking (VAD)')
    ax_power.set_ylabel('log power')
    ax_power.legend(loc='upper right', fontsize=8)
    ax_power.set_title(title)
    end = times[-1] + 1 / FRAME_RATE if len(times) else 0.0
    image = ax_mel.imshow(track.frames[:, 1:STATIC_DIM].T, origin='lower', aspect='auto',
                          extent=(0.0, end, 0, STATIC_DIM - 1), cmap='magma')
    ax_mel.set_ylabel('mel bin')
    ax_mel.set_xlabel('time (s)')
    fig.tight_layout()
    # The colour bar sits beside the mel panel without narrowing it, so both panels keep the
    # same time axis.
    fig.subplots_adjust(right=0.9)
    box = ax_mel.get_position()
    fig.colorbar(image, cax=fig.add_axes([0.915, box.y0, 0.015, box.height]), label='log-mel')
    return fig


def main(args) -> int:
    path = Path(args.audio)
    started = time.perf_counter()
    try:
        track = extract_audio_file(path, vad=not args.no_vad)
    except Exception as exc:  # noqa: BLE001 - shown to the user as one line
        print(f'lhg-ros audio-features: {exc}')
        return 1
    elapsed = time.perf_counter() - started
    rows = [
        ('file', str(path)),
        ('input', f'{track.sample_rate} Hz, {track.duration_s:.2f} s'),
        ('frames', f'{len(track.frames)} x {track.frames.shape[1]} (10 ms each)'),
        ('finite', 'yes' if np.isfinite(track.frames).all() else 'NO'),
        ('log power', f'{track.frames[:, 0].min():.1f} .. {track.frames[:, 0].max():.1f}'),
        ('extraction', f'{elapsed:.2f} s ({track.duration_s / max(elapsed, 1e-9):.0f}x real '
                       'time, incl. VAD)' if not args.no_vad else f'{elapsed:.2f} s'),
    ]
    if track.speaking is not None:
        rows.append(('speaking', f'{100 * track.speaking.mean():.0f}% of frames'))
    print(format_table(['', 'value'], rows))
    if args.output:
        np.savez_compressed(args.output, features=track.frames, times=track.times,
                            speaking=track.speaking if track.speaking is not None else [])
        print(f'\nwrote {args.output}')
    if args.plot:
        plot_track(track, path.name, Path(args.plot))
        print(f'wrote {args.plot}')
    return 0
