"""The 81-d speaker features on real speech: exact options, streaming == offline, robustness."""

import subprocess

import numpy as np
import pytest

from lhg_ros.features.audio import (
    FEATURE_DIM,
    STATIC_DIM,
    AudioFeatureStream,
    compute_audio_features,
    num_frames,
    to_mono_float,
)
from lhg_ros.features.dynamics import with_causal_differences


def kaldi_fbank_reference(samples: np.ndarray) -> np.ndarray:
    """Kaldi's fbank recipe written out in numpy (float64), independently of the library:
    400-sample frames every 160 (snip edges), DC removal, raw log energy, pre-emphasis 0.97,
    Hamming window, 512-point power spectrum, 26 triangular mel filters 20-8000 Hz on the
    1127 ln(1 + f/700) scale, log with float32-epsilon floor. Returns [log energy, 26 log-mel]."""
    x = samples.astype(np.float64) * 32768.0
    n = num_frames(len(x))
    frames = np.stack([x[i * 160:i * 160 + 400] for i in range(n)])
    frames = frames - frames.mean(axis=1, keepdims=True)
    eps = np.finfo(np.float32).eps
    log_energy = np.log(np.maximum((frames ** 2).sum(axis=1), eps))
    emphasised = frames.copy()
    emphasised[:, 1:] -= 0.97 * frames[:, :-1]
    emphasised[:, 0] -= 0.97 * frames[:, 0]
    window = 0.54 - 0.46 * np.cos(2 * np.pi * np.arange(400) / 399)
    power = np.abs(np.fft.rfft(emphasised * window, n=512)) ** 2

    def mel(f):
        return 1127.0 * np.log(1.0 + f / 700.0)

    low, high = mel(20.0), mel(8000.0)
    centres = np.linspace(low, high, 26 + 2)
    bin_mel = mel(np.arange(257) * 16000 / 512)
    banks = np.zeros((26, 257))
    for m in range(26):
        left, centre, right = centres[m:m + 3]
        up = (bin_mel - left) / (centre - left)
        down = (right - bin_mel) / (right - centre)
        banks[m] = np.where((bin_mel > left) & (bin_mel < right), np.minimum(up, down), 0.0)
    log_mel = np.log(np.maximum(power @ banks.T, eps))
    return np.column_stack([log_energy, log_mel])


def test_static_dims_match_kaldi_fbank_with_the_papers_options(speech_samples):
    features = compute_audio_features(speech_samples, 16000)
    reference = kaldi_fbank_reference(speech_samples)
    assert features.shape == (len(reference), FEATURE_DIM)
    np.testing.assert_allclose(features[:, :STATIC_DIM], reference, atol=2e-3, rtol=1e-4)


def test_differences_are_causal_first_and_second_differences(speech_samples):
    features = compute_audio_features(speech_samples, 16000)
    static, d1, d2 = np.split(features, 3, axis=1)
    np.testing.assert_allclose(d1[1:], np.diff(static, axis=0), atol=1e-5)
    np.testing.assert_allclose(d2[1:], np.diff(d1, axis=0), atol=1e-5)
    assert not d1[0].any() and not d2[0].any(), 'the stream starts at rest'


def test_the_frame_count_follows_25ms_windows_every_10ms(speech_samples):
    features = compute_audio_features(speech_samples, 16000)
    assert len(features) == 1 + (len(speech_samples) - 400) // 160
    assert len(compute_audio_features(np.zeros(399, np.float32), 16000)) == 0


@pytest.mark.parametrize('chunk', [1, 160, 512, 4000, 'random'])
def test_any_chunking_gives_the_offline_frames(speech_samples, chunk):
    offline = compute_audio_features(speech_samples, 16000)
    samples = speech_samples[:16000 * 2] if chunk == 1 else speech_samples  # 1-sample: 2 s
    if chunk == 'random':
        rng = np.random.default_rng(0)
        bounds = np.cumsum(rng.integers(1, 3000, size=len(samples) // 100))
        pieces = np.split(samples, bounds[bounds < len(samples)])
    else:
        pieces = [samples[i:i + chunk] for i in range(0, len(samples), chunk)]
    stream = AudioFeatureStream()
    blocks = [stream.accept(piece) for piece in pieces]
    streamed = np.concatenate([b.frames for b in blocks])
    np.testing.assert_allclose(streamed, offline[:len(streamed)], atol=1e-6, rtol=0)
    assert len(streamed) == num_frames(len(samples))
    starts = [b.first_frame for b in blocks if len(b.frames)]
    assert starts == sorted(starts) and starts[0] == 0


def test_int16_input_gives_the_float_features(speech_samples):
    pcm = np.round(speech_samples * 32768).clip(-32768, 32767).astype(np.int16)
    np.testing.assert_allclose(compute_audio_features(pcm, 16000),
                               compute_audio_features(pcm / np.float32(32768), 16000), atol=1e-5)


def test_silence_and_clipping_stay_finite(speech_samples):
    silence = compute_audio_features(np.zeros(16000, np.float32), 16000)
    clipped = compute_audio_features(np.clip(speech_samples * 50, -1, 1), 16000)
    assert np.isfinite(silence).all() and np.isfinite(clipped).all()
    # Digital silence sits at the log floor, far below speech.
    assert silence[:, 0].max() < compute_audio_features(speech_samples, 16000)[:, 0].max() - 20


def test_nan_samples_are_zeroed_and_counted(speech_samples):
    broken = speech_samples[:16000].copy()
    broken[1000:1100] = np.nan
    broken[5000] = np.inf
    stream = AudioFeatureStream()
    frames = stream.accept(broken).frames
    assert np.isfinite(frames).all()
    assert stream.nonfinite_samples == 101


def test_48k_stereo_microphone_audio_gives_the_same_features(speech, speech_samples, tmp_path):
    """A real microphone often runs at 48 kHz stereo: sox makes such a file from the speech."""
    import soundfile as sf

    stereo = tmp_path / 'stereo48k.wav'
    subprocess.run(['sox', str(speech[0]), '-r', '48000', '-c', '2', str(stereo)], check=True)
    samples, rate = sf.read(str(stereo), dtype='float32')
    assert samples.shape[1] == 2 and rate == 48000
    resampled = compute_audio_features(samples, 48000, channels=2)
    reference = compute_audio_features(speech_samples, 16000)
    assert abs(len(resampled) - len(reference)) <= 1
    n = min(len(resampled), len(reference))
    voiced = reference[:n, 0] > 10  # compare where there is speech, not the -15.9 floor
    mel_a, mel_b = resampled[:n, 1:STATIC_DIM][voiced], reference[:n, 1:STATIC_DIM][voiced]
    assert np.corrcoef(mel_a.ravel(), mel_b.ravel())[0, 1] > 0.99
    assert np.median(np.abs(mel_a - mel_b)) < 0.3


def test_interleaved_channels_are_averaged():
    left = np.sin(np.linspace(0, 100, 3200)).astype(np.float32)
    interleaved = np.column_stack([left, np.zeros_like(left)]).ravel()
    mono, bad = to_mono_float(interleaved, channels=2)
    np.testing.assert_allclose(mono, left / 2, atol=1e-7)
    assert bad == 0
    with pytest.raises(ValueError, match='do not split into 2 channels'):
        to_mono_float(interleaved[:-1], channels=2)


def test_causal_differences_do_not_look_ahead():
    rng = np.random.default_rng(1)
    frames = rng.normal(size=(50, 6)).astype(np.float32)
    changed = frames.copy()
    changed[30:] += 10.0
    a, b = with_causal_differences(frames), with_causal_differences(changed)
    np.testing.assert_array_equal(a[:30], b[:30])
    assert not np.allclose(a[30], b[30])


def test_the_feature_picture_keeps_both_panels_on_one_time_axis(speech):
    from lhg_ros.commands.audio_features import track_figure
    from lhg_ros.features.audio_frontend import extract_audio_file
    from lhg_ros.plotting import pyplot

    fig = track_figure(extract_audio_file(speech[0]), 'speech')
    power, mel = (ax.get_position() for ax in fig.axes[:2])
    pyplot().close(fig)
    assert power.x0 == pytest.approx(mel.x0) and power.x1 == pytest.approx(mel.x1)
