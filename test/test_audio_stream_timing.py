"""Stamps of published features: capture time of the first row, monotonic, robust to jitter."""

import numpy as np

from lhg_ros.features.audio_frontend import SpeakerAudioFrontEnd, StreamClock
from lhg_ros.features.spectrogram import SpectrogramImage


def test_jittered_arrivals_keep_the_true_capture_times():
    clock = StreamClock(16000)
    rng = np.random.default_rng(0)
    for chunk in range(100):
        first = chunk * 320
        clock.observe(first, 100.0 + first / 16000 + rng.uniform(0.0, 0.015))
    assert abs(clock.time_of(16000) - 101.0) < 0.002
    assert clock.reanchors == 0


def test_lost_samples_move_the_clock_forward():
    clock = StreamClock(16000, max_error_s=0.05)
    clock.observe(0, 10.0)
    clock.observe(16000, 11.3)  # 0.3 s of audio never arrived
    assert clock.reanchors == 1
    assert abs(clock.time_of(16000) - 11.3) < 1e-9


def test_block_stamps_are_the_capture_time_of_their_first_frame(speech_samples):
    frontend = SpeakerAudioFrontEnd(16000)
    blocks = []
    for start in range(0, 16000 * 3, 320):
        blocks.append(frontend.accept(speech_samples[start:start + 320], 50.0 + start / 16000))
        assert blocks[-1].first_frame == sum(len(b.frames) for b in blocks[:-1])
    for block in blocks:
        if len(block.frames):
            assert abs(block.stamp - (50.0 + block.first_frame * 0.01)) < 1e-9


def test_spectrogram_scrolls_newest_frame_in_on_the_right():
    picture = SpectrogramImage(bins=4, width=6, floor=0.0, ceiling=10.0)
    picture.push(np.array([[10.0, 0.0, 0.0, 5.0]]))
    image = picture.image()
    assert image.shape == (4, 6) and image.dtype == np.uint8
    assert list(image[:, -1]) == [127, 0, 0, 255], 'low frequencies at the bottom'
    assert not image[:, :-1].any()
