"""The LSTM-Transformer: size, causality, streaming == whole sequence, checkpoints."""

import json

import numpy as np
import pytest
import torch

from lhg_ros.network import mixture
from lhg_ros.network.checkpoint import (
    CheckpointError,
    checkpoint_paths,
    load_checkpoint,
    random_checkpoint,
    save_checkpoint,
)
from lhg_ros.network.config import PRESET_PARAMETERS, PRESETS, ModelConfig, preset
from lhg_ros.network.lstm_transformer import ListenerModel, count_parameters

# Windows shorter than the test sequences, so the bounded attention is really exercised.
SMALL_WINDOWS = ModelConfig(d_model=32, j_layers=2, q_layers=2, r_layers=2, ffn_bottleneck=16,
                            heads=4, audio_window_s=0.3, motion_window_s=0.4, dropout=0.0)


def random_model(config=SMALL_WINDOWS, seed=0) -> ListenerModel:
    torch.manual_seed(seed)
    model = ListenerModel(config).eval()
    with torch.no_grad():  # non-zero recency biases and normalisation, as after training
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
        model.set_normalization(torch.randn(81), torch.rand(81) + 0.5, torch.randn(18),
                                torch.rand(18) + 0.5)
    return model


def inputs(frames: int, batch: int = 2, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, 4 * frames, 81, generator=g),
            torch.randn(batch, frames, 18, generator=g),
            torch.randn(batch, frames, 18, generator=g))


def test_the_paper_preset_has_about_half_a_billion_parameters():
    with torch.device('meta'):
        model = ListenerModel(preset('paper'))
    assert abs(count_parameters(model) - 0.5e9) < 0.05e9
    c = preset('paper')
    assert (c.j_layers, c.q_layers, c.r_layers, c.d_model, c.ffn_bottleneck) == (
        12, 12, 12, 1024, 256)


@pytest.mark.parametrize('name, millions', [('base', 40), ('small', 10)])
def test_smaller_presets_are_the_advertised_size(name, millions):
    with torch.device('meta'):
        count = count_parameters(ListenerModel(preset(name)))
    assert abs(count / 1e6 - millions) < 0.15 * millions


@pytest.mark.parametrize('name', sorted(PRESET_PARAMETERS))
def test_the_parameter_counts_in_the_help_are_the_models(name):
    with torch.device('meta'):
        count = count_parameters(ListenerModel(preset(name)))
    assert abs(count - PRESET_PARAMETERS[name]) < 0.01 * count, count


def test_outputs_never_depend_on_the_future():
    model = random_model()
    audio, speaker, listener = inputs(24)
    with torch.no_grad():
        before = model(audio, speaker, listener)
        cut = 10  # change everything from motion frame 10 (audio frame 40) on
        audio[:, 4 * cut:] += 5.0
        speaker[:, cut:] -= 3.0
        listener[:, cut:] *= -2.0
        after = model(audio, speaker, listener)
    torch.testing.assert_close(after[:, :cut], before[:, :cut], rtol=0, atol=0)
    assert not torch.allclose(after[:, cut:], before[:, cut:])


def test_audio_within_a_motion_frame_is_visible_to_it_but_not_before():
    model = random_model()
    audio, speaker, listener = inputs(12)
    with torch.no_grad():
        before = model(audio, speaker, listener)
        audio[:, 4 * 5 + 3] += 5.0  # the last audio frame that starts within motion frame 5
        after = model(audio, speaker, listener)
    torch.testing.assert_close(after[:, :5], before[:, :5], rtol=0, atol=0)
    assert not torch.allclose(after[:, 5], before[:, 5])


MIXTURE = ModelConfig(**{**SMALL_WINDOWS.to_dict(), 'mixtures': 4, 'relative_to_rest': True})
# The presets' mixture: half a second ahead, in units of the listeners' own movement.
HORIZON = ModelConfig(**{**MIXTURE.to_dict(), 'horizon_s': 0.48, 'listener_hears': True})


@pytest.mark.parametrize('config', [SMALL_WINDOWS, MIXTURE, HORIZON],
                         ids=['poses', 'mixture', 'horizon'])
def test_streaming_steps_equal_the_whole_sequence(config):
    model = random_model(config)
    frames = 36  # 1.44 s: past both attention windows
    audio, speaker, listener = inputs(frames)
    with torch.no_grad():
        whole = model(audio, speaker, listener)
        if config.mixtures:
            whole = mixture.flat(*whole)
        state = model.initial_state(2)
        steps = []
        for k in range(frames // 3):
            poses, state = model.step(audio[:, 12 * k:12 * k + 12], speaker[:, 3 * k:3 * k + 3],
                                      listener[:, 3 * k:3 * k + 3], state)
            steps.append(poses)
    torch.testing.assert_close(torch.stack(steps, 1), whole[:, 2::3], rtol=0, atol=1e-4)


def test_a_mixture_step_continues_from_the_listeners_own_pose():
    """The means start from the pose the model is fed (leaking toward rest), so what it was
    fed changes what it predicts: the model is autoregressive."""
    model = random_model(MIXTURE)
    audio, speaker, listener = inputs(3, batch=1)
    moved = listener.clone()
    moved[..., 0] += 0.2  # the head 11 deg further down
    with torch.no_grad():
        a, _ = model.step(audio, speaker, listener, model.initial_state(1))
        b, _ = model.step(audio, speaker, moved, model.initial_state(1))
    _, means_a, _ = mixture.split(a[0].numpy(), 3, 6)
    _, means_b, _ = mixture.split(b[0].numpy(), 3, 6)
    shift = (means_b - means_a)[..., 0]
    # (a component whose mean sits at the bound either way may not move; the network's own
    # change also sees the input)
    assert shift.mean() > 0.1, shift


def test_a_horizon_mixture_covers_half_a_second_in_units_of_the_listeners_movement():
    """12 frames ahead at 25 Hz; a unit of the network's change moves a mean by the
    listeners' movement that far ahead, and no spread falls below MIN_SPREAD, even for a
    degree of freedom the listeners never moved (whose likelihood once froze the network)."""
    assert HORIZON.predicted_frames == 12 and HORIZON.prediction_shape == (1, 4, 1 + 2 * 72)
    assert preset('compact').predicted_frames == 12 and preset('paper').predicted_frames == 6
    model = random_model(HORIZON)
    scale = torch.full((12, 6), 1e-2)
    scale[:, 3:] = 1e-7  # never moved
    model.set_normalization(model.audio_mean, model.audio_std, model.motion_mean,
                            model.motion_std, torch.zeros(6), torch.full((6,), 0.5), scale)
    raw = torch.zeros(1, 4 * (1 + 2 * 72))
    raw.view(4, -1)[:, 1] = 1.0  # one unit of pitch change at frame 1 ...
    raw.view(4, -1)[:, 1 + 72:] = -30.0  # ... and the least spreads
    anchor = torch.zeros(1, 18)
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.copy_(raw[0])
        _, means, spreads = model._predict(torch.zeros(1, HORIZON.d_model), anchor)
    assert means.shape == (1, 4, 12, 6)
    torch.testing.assert_close(means[0, :, 0, 0], torch.full((4,), 1e-2))
    floor = torch.tensor(mixture.MIN_SPREAD)
    assert (spreads >= floor * 0.999).all() and spreads[..., 3:].max() < 3e-4
    prediction = mixture.flat(*model._predict(torch.zeros(1, HORIZON.d_model), anchor))
    step = mixture.sample(prediction[0].detach().numpy(), 12, 6, 0.0, None)
    assert step.shape == (12, 6)
    with pytest.raises(ValueError, match='horizon_s'):
        ModelConfig(horizon_s=0.48)  # a horizon needs a mixture


def test_sampling_follows_the_weights_and_the_seed_and_zero_is_the_most_likely():
    k, f, p = 3, 3, 6
    means = np.stack([np.full((f, p), v) for v in (-1.0, 0.0, 1.0)])
    prediction = np.concatenate([np.log([[0.2], [0.5], [0.3]]), means.reshape(k, -1),
                                 np.full((k, f * p), 0.01)], axis=1)
    rng = np.random.default_rng(0)
    draws = np.array([mixture.sample(prediction, f, p, 1.0, rng)[0, 0] for _ in range(3000)])
    shares = [np.mean(np.abs(draws - v) < 0.1) for v in (-1.0, 0.0, 1.0)]
    np.testing.assert_allclose(shares, [0.2, 0.5, 0.3], atol=0.04)
    one = mixture.sample(prediction, f, p, 1.0, np.random.default_rng(5))
    np.testing.assert_array_equal(one, mixture.sample(prediction, f, p, 1.0,
                                                      np.random.default_rng(5)))
    assert np.allclose(one, one[0]), 'one draw serves the whole step'
    np.testing.assert_array_equal(mixture.sample(prediction, f, p, 0.0, rng), means[1])
    cooler = [mixture.sample(prediction, f, p, 0.3, rng)[0, 0] for _ in range(500)]
    assert np.mean(np.abs(np.array(cooler)) < 0.1) > 0.8, 'a low temperature favours the mode'


def test_the_negative_log_likelihood_is_the_gaussian_one():
    means = torch.zeros(1, 1, 1, 3, 6)
    spreads = torch.full((1, 1, 1, 3, 6), 0.5)
    targets = torch.full((1, 1, 3, 6), 0.25)
    mask = torch.tensor([[[True, True, False]]])
    nll = mixture.negative_log_likelihood(torch.zeros(1, 1, 1), means, spreads, targets, mask)
    per_value = 0.5 * (0.25 / 0.5) ** 2 + np.log(0.5)  # up to the constant log(2 pi) / 2
    assert float(nll) == pytest.approx(12 * per_value, rel=1e-5)


def test_step_cost_does_not_grow_with_the_conversation():
    model = random_model()
    state = model.initial_state(1)
    sizes = {k: v.shape for k, v in state.items()}
    audio, speaker, listener = inputs(3, batch=1)
    with torch.no_grad():
        for _ in range(40):
            _, state = model.step(audio, speaker, listener, state)
    assert {k: v.shape for k, v in state.items()} == sizes


def test_config_is_data_that_round_trips_through_json():
    for config in PRESETS.values():
        assert ModelConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(ValueError, match='unknown model config keys: depth'):
        ModelConfig.from_dict({'depth': 3})
    with pytest.raises(ValueError, match='not divisible by heads'):
        ModelConfig(d_model=30, heads=4)
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        preset('huge')


def test_save_and_load_give_identical_outputs(tmp_path):
    model = random_model()
    path = save_checkpoint(model, tmp_path / 'listener', joint_mapping={'pitch': 'neck_pitch'})
    loaded, info = load_checkpoint(path)
    audio, speaker, listener = inputs(9)
    with torch.no_grad():
        torch.testing.assert_close(loaded(audio, speaker, listener),
                                   model(audio, speaker, listener), rtol=0, atol=0)
    assert info['joint_mapping'] == {'pitch': 'neck_pitch'}
    assert info['frame_rates'] == {'audio': 100.0, 'motion': 25.0}
    np.testing.assert_allclose(info['normalization']['audio']['mean'],
                               model.audio_mean.numpy(), rtol=1e-6)


@pytest.fixture
def checkpoint(tmp_path):
    return random_checkpoint(tmp_path / 'model', preset('tiny'))


def test_a_missing_weights_file_is_named(checkpoint):
    checkpoint.unlink()
    with pytest.raises(CheckpointError, match=r'model\.safetensors is missing'):
        load_checkpoint(checkpoint)


def test_a_missing_sidecar_is_named(checkpoint):
    checkpoint_paths(checkpoint)[1].unlink()
    with pytest.raises(CheckpointError, match=r'model\.json is missing'):
        load_checkpoint(checkpoint)


def test_an_unknown_format_version_is_refused(checkpoint):
    sidecar = checkpoint_paths(checkpoint)[1]
    info = json.loads(sidecar.read_text())
    info['format_version'] = 99
    sidecar.write_text(json.dumps(info))
    with pytest.raises(CheckpointError, match='format version 99; this lhg_ros .* reads '
                                              'version 1'):
        load_checkpoint(checkpoint)


def test_weights_that_do_not_fit_the_config_are_refused(checkpoint):
    sidecar = checkpoint_paths(checkpoint)[1]
    info = json.loads(sidecar.read_text())
    info['config']['d_model'] = 128
    sidecar.write_text(json.dumps(info))
    with pytest.raises(CheckpointError, match='shape mismatch'):
        load_checkpoint(checkpoint)


def test_corrupt_weights_are_refused(checkpoint):
    checkpoint.write_bytes(b'not a safetensors file')
    with pytest.raises(CheckpointError, match='cannot be read'):
        load_checkpoint(checkpoint)
