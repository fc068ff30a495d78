"""Time from timestamps: a 29.97 fps video is read at its own frame times, and the MP4 that
``generate`` and the demo write stays in sync with the speech for minutes."""

import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from lhg_ros.commands.demo_output import render_session
from lhg_ros.sources.video import VideoFileSource

NTSC = 30000 / 1001  # 29.97 fps
BITS, BLOCK = 11, 14  # each frame shows its index as 11 black/white blocks


def _barcode_video(path, frames: int, fps: float):
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), fps,
                             (BITS * BLOCK, 96))
    for index in range(frames):
        frame = np.full((96, BITS * BLOCK, 3), 90, np.uint8)
        for bit in range(BITS):
            if index >> bit & 1:
                frame[:BLOCK, bit * BLOCK:(bit + 1) * BLOCK] = 255
            else:
                frame[:BLOCK, bit * BLOCK:(bit + 1) * BLOCK] = 0
        writer.write(frame)
    writer.release()
    return path


def _read_barcode(bgr) -> int:
    blocks = [bgr[2:BLOCK - 2, b * BLOCK + 2:(b + 1) * BLOCK - 2].mean() for b in range(BITS)]
    return sum(1 << b for b, level in enumerate(blocks) if level > 128)


def test_a_29_97_fps_video_is_read_at_its_own_frame_times(tmp_path):
    path = _barcode_video(tmp_path / 'ntsc.mp4', 300, NTSC)
    source = VideoFileSource(path, clock=lambda: 100.0, realtime=False)
    times, codes = [], []
    while (frame := source.read()) is not None:
        times.append(frame.capture_time - 100.0)
        codes.append(_read_barcode(frame.rgb[..., ::-1]))
    assert codes == list(range(300))
    np.testing.assert_allclose(times, np.arange(300) / NTSC, atol=1e-3)


@pytest.mark.skipif(shutil.which('ffmpeg') is None, reason='muxing the speech needs ffmpeg')
def test_the_mp4_of_a_29_97_fps_recording_stays_in_sync_with_the_speech_after_60_s(tmp_path):
    seconds = 61.0
    video = _barcode_video(tmp_path / 'speaker.mp4', int(seconds * NTSC), NTSC)
    rate = 16000
    samples = np.zeros(int(seconds * rate), np.float32)
    clicks = [1.0, 30.0, 60.0]
    for t in clicks:
        samples[int(t * rate):int(t * rate) + 160] = 0.9
    audio = tmp_path / 'speech.wav'
    sf.write(str(audio), samples, rate)
    times = np.arange(0, seconds, 0.02)
    heads = [(times, np.zeros((len(times), 3)), 'listener')]
    out = render_session(tmp_path / 'out.mp4', video, seconds, heads,
                         ['neck_yaw', 'neck_pitch', 'neck_roll'], audio=audio, fps=25.0)

    # Video: output frame k (time k / 25) shows the input frame on screen then.
    source = VideoFileSource(out, clock=lambda: 0.0, realtime=False)
    assert source.fps == pytest.approx(25.0)
    errors = []
    while (frame := source.read()) is not None:
        shown = _read_barcode(frame.rgb[..., ::-1]) / NTSC  # input time of the frame shown
        errors.append(frame.capture_time - shown)
    source.close()
    assert len(errors) == int(seconds * 25)
    late = np.array(errors[-25:])  # the last second, after 60 s
    assert (np.abs(late) <= 0.040).all(), f'out of sync by up to {np.abs(late).max():.3f} s'

    # Audio: the speech in the MP4 starts with the video; each click is where it was.
    decoded = tmp_path / 'decoded.wav'
    subprocess.run(['ffmpeg', '-y', '-loglevel', 'error', '-i', str(out), '-ac', '1', '-ar',
                    str(rate), str(decoded)], check=True)
    heard, _ = sf.read(str(decoded), dtype='float32')
    loud = np.flatnonzero(np.abs(heard) > 0.3) / rate
    onsets = [loud[np.argmin(np.abs(loud - t))] for t in clicks]
    np.testing.assert_allclose(onsets, clicks, atol=0.040)
