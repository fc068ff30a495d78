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


def test_a_real_time_file_is_delivered_as_a_sound_card_would_each_chunk_when_it_is_due(
        speech, speech_samples):
    """With a wake-up, a file is handed over 5 ms at a time by a thread of its own, each chunk
    no sooner than its last sample is due and soon after (so a feature frame never waits for
    a poll), every sample once and in order; then the file is finished."""
    import threading
    import time

    from lhg_ros.sources.audio import FileAudioSource

    path, _, _ = speech
    woken = threading.Event()
    source = FileAudioSource(path, clock=time.monotonic, notify=woken.set)
    assert source.read() == []  # the first read starts the file
    chunks, lateness = [], []
    deadline = time.monotonic() + len(speech_samples) / 16000 + 5.0
    while not source.finished and time.monotonic() < deadline:
        woken.wait(0.1)
        woken.clear()
        now = time.monotonic()
        for chunk in source.read():
            chunks.append(chunk)
            lateness.append(now - (chunk.first_sample_time + len(chunk.samples) / 16000))
    source.close()
    assert source.finished
    samples = np.concatenate([c.samples[:, 0] for c in chunks])
    np.testing.assert_allclose(samples, speech_samples, atol=1e-6)
    sizes = np.array([len(c.samples) for c in chunks[:-1]])
    assert (sizes == 80).mean() > 0.95, 'chunks of 5 ms (80 samples at 16 kHz)'
    lateness = np.array(lateness)
    assert lateness.min() > -1e-3, 'no chunk before its time'
    assert np.median(lateness) < 0.002, f'handed over {1000 * np.median(lateness):.1f} ms late'
