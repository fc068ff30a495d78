"""Training on a tiny synthetic set: the loss falls, resume continues, checkpoints serve, and a
model fed its own samples holds in closed loop."""

import csv

import numpy as np
import pytest

from lhg_ros.training.config import TrainConfig
from lhg_ros.training.trainer import train

FAST = {'preset': 'tiny', 'batch_size': 2, 'learning_rate': 3e-3}


def read_log(folder):
    with open(folder / 'log.csv') as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope='module')
def trained(synthetic, tmp_path_factory):
    out = tmp_path_factory.mktemp('run')
    train(synthetic, out, TrainConfig(epochs=60, **FAST), progress=False, log=lambda m: None)
    return out


def test_training_lowers_the_negative_log_likelihood(trained):
    rows = read_log(trained)
    first, last = float(rows[0]['train_loss']), float(rows[-1]['train_loss'])
    # Per frame, in nats: 2 nats more likely is e^2, about 7 times the likelihood.
    assert last <= first - 2.0, f'loss {first:.4f} -> {last:.4f}'
    assert (trained / 'loss.png').is_file()


def test_resume_continues_from_the_same_step(synthetic, tmp_path):
    said = []
    train(synthetic, tmp_path, TrainConfig(epochs=2, **FAST), progress=False, log=said.append)
    steps = [int(r['step']) for r in read_log(tmp_path)]
    # two sessions, two epochs: a run this small is told it will learn little, and how to fix it
    warning = next(m for m in said if m.startswith('warning:'))
    assert f'takes {steps[-1]} optimiser steps' in warning and '--epochs' in warning
    quiet = {'progress': False, 'log': lambda m: None}
    train(synthetic, tmp_path, TrainConfig(epochs=4, **FAST), resume=True, **quiet)
    rows = read_log(tmp_path)
    assert [int(r['epoch']) for r in rows] == [1, 2, 3, 4]
    per_epoch = steps[0]
    assert [int(r['step']) for r in rows] == [per_epoch * e for e in (1, 2, 3, 4)]


def test_a_trained_checkpoint_runs_in_every_backend_alike(trained):
    from lhg_ros.backends import load_backend

    torch_backend = load_backend('torch', trained / 'last.safetensors')
    ort_backend = load_backend('onnxruntime', trained / 'last.safetensors')
    rng = np.random.default_rng(0)
    states = [torch_backend.initial_state(), ort_backend.initial_state()]
    audio_columns = torch_backend.config.audio_input_dim
    for _ in range(20):
        inputs = (rng.normal(size=(12, audio_columns)).astype(np.float32),
                  rng.normal(size=(3, 18)).astype(np.float32),
                  rng.normal(size=(3, 18)).astype(np.float32))
        a, states[0] = torch_backend.step(*inputs, states[0])
        b, states[1] = ort_backend.step(*inputs, states[1])
        np.testing.assert_allclose(a, b, atol=1e-4)
    assert torch_backend.info['metadata']['segments']['train'] >= 1


def test_fine_tuning_to_someone_who_is_not_there_or_never_listens_says_who_does(
        synthetic, trained, tmp_path):
    with pytest.raises(ValueError, match=r"no one called 'bob' in the manifest.*"
                                         r"listener_b \(\d+\.\d min\), speaker_a \(\d+\.\d min\)"):
        train(synthetic, tmp_path, TrainConfig(epochs=1, listener='bob', **FAST),
              init_checkpoint=trained / 'last.safetensors', progress=False)
    # there, but never listening for a whole segment (here: a minute)
    with pytest.raises(ValueError, match=r"no training segments where 'listener_b' listens.*"
                                         r"at least 60 s.*listener_b \(none\)"):
        train(synthetic, tmp_path, TrainConfig(epochs=1, listener='listener_b',
                                               min_segment_s=60.0, max_segment_s=70.0, **FAST),
              init_checkpoint=trained / 'last.safetensors', progress=False)


def test_resume_takes_the_recipe_from_the_run_and_a_conflicting_flag_is_one_line(
        synthetic, trained, tmp_path):
    """`train --resume` with no other flag continues a `--preset tiny` run (it used to load
    the default preset and fail on a size mismatch); a flag that asks for another recipe, or
    a folder with no run, is one line; a fine-tuned model records the checkpoint it came from,
    not a preset it never used, and `finetune` takes no --preset."""
    import json
    import subprocess

    from conftest import BIN

    def lhg(*args):
        return subprocess.run([str(BIN / 'lhg-ros'), *args], capture_output=True, text=True,
                              timeout=300)

    data = ['--data', str(synthetic.root / 'manifest.yaml')]
    run = tmp_path / 'run'
    first = lhg('train', *data, '--out', str(run), '--preset', 'tiny', '--epochs', '1',
                '--batch-size', '2')
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    again = lhg('train', *data, '--out', str(run), '--resume')
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert 'resumed at epoch 1' in again.stdout + again.stderr
    assert 'Traceback' not in again.stderr
    other = lhg('train', *data, '--out', str(run), '--resume', '--preset', 'small')
    assert other.returncode == 1 and other.stdout.strip().count('\n') == 0, other.stdout
    assert '--preset small differs from the run being resumed (preset: tiny)' in other.stdout
    empty = lhg('train', *data, '--out', str(tmp_path / 'none'), '--resume')
    assert empty.returncode == 1 and 'nothing to resume' in empty.stdout

    tuned = tmp_path / 'tuned'
    result = lhg('finetune', *data, '--out', str(tuned), '--checkpoint',
                 str(trained / 'last.safetensors'), '--listener', 'listener_b', '--epochs', '1',
                 '--batch-size', '2')
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    recorded = json.loads((tuned / 'last.json').read_text())['metadata']['train_config']
    assert recorded['preset'] == '' and recorded['model'] == {}
    assert recorded['init_checkpoint'] == str(trained / 'last.safetensors')
    # A model trained on a dataset that names no styles ships 'average'; fine-tuned to a
    # listener, that listener's own style alone, as its default.
    assert json.loads((trained / 'last.json').read_text())['default_style'] == 'average'
    sidecar = json.loads((tuned / 'last.json').read_text())
    assert sidecar['default_style'] == 'listener_b' and list(sidecar['styles']) == ['listener_b']
    resumed = lhg('finetune', *data, '--out', str(tuned), '--checkpoint',
                  str(trained / 'last.safetensors'), '--listener', 'listener_b', '--resume')
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    assert lhg('finetune', *data, '--out', str(tuned), '--checkpoint', 'x', '--listener', 'y',
               '--preset', 'tiny').returncode == 2  # (argparse: no such option)


def test_unknown_training_config_keys_are_named(tmp_path):
    (tmp_path / 'c.yaml').write_text('epochs: 3\nlearning_rat: 0.1\n')
    with pytest.raises(ValueError, match='unknown training config keys: learning_rat'):
        TrainConfig.from_file(tmp_path / 'c.yaml')


def test_the_same_command_trains_on_two_processes_with_torchrun(synthetic, tmp_path):
    """DistributedDataParallel on the CPU (gloo); rank 0 alone writes and reports."""
    import subprocess

    from conftest import BIN

    result = subprocess.run(
        [str(BIN / 'torchrun'), '--nproc_per_node=2', str(BIN / 'lhg-ros'), 'train', '--data',
         str(synthetic.root / 'manifest.yaml'), '--out', str(tmp_path), '--preset', 'tiny',
         '--epochs', '2', '--batch-size', '2', '--lr', '1e-3'],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert [r['epoch'] for r in read_log(tmp_path)] == ['1', '2']
    assert result.stdout.count('checkpoint:') == 1
    assert (tmp_path / 'last.safetensors').is_file()


def test_the_paper_timing_with_its_motion_fed_back_holds_for_five_minutes(corpus, tmp_path):
    """The paper preset's design (motion at 12.5 Hz, three 80 ms frames a step, the listener's
    own motion fed back) with a tiny model, trained for seconds, then run as the node runs it,
    sampling and feeding on its own samples, over 5 minutes of speech: within the joint
    limits, finite, no drift (the last minute's mean within 1 deg of the first's; single
    minutes within a few degrees), and it moves."""
    from lhg_ros.backends import load_backend
    from lhg_ros.evaluation.closed_loop import evaluate_policy, generated_speech
    from lhg_ros.motion.model_policy import ModelPolicy
    from lhg_ros.network.config import preset

    assert preset('paper').motion_rate == 12.5 and preset('paper').step_seconds == 0.24
    assert preset('paper').listener_input == 'motion' and preset('paper').mixtures
    checkpoint = train(corpus, tmp_path, TrainConfig(epochs=3, model={'motion_rate': 12.5},
                                                     feedback_ramp=0.0, **FAST),
                       progress=False, log=lambda m: None)
    policy = ModelPolicy(load_backend('onnxruntime', checkpoint), seed=0)
    assert policy.motion_rate == 12.5 and policy.backend.config.audio_per_step == 24
    assert 'listener' in {i.name for i in policy.backend.session.get_inputs()}
    speech = generated_speech(300.0, tmp_path, seed=5)
    metrics = evaluate_policy(policy, [speech])
    assert metrics['within_limits'] == 1.0 and metrics['nonfinite_steps'] == 0
    # Changes from the last pose without the leak wandered 8-9 deg in two minutes.
    assert metrics['drift_deg'] <= 1.0, metrics
    assert metrics['minute_spread_deg'] <= 3.0, metrics
    assert metrics['rms_pitch_deg'] > 0.1, 'it moves'
    # Training validated in closed loop every epoch and logged it beside the loss.
    rows = read_log(tmp_path)
    assert len(rows) == 3 and all(float(r['cl_within_limits']) == 1.0 for r in rows)
    assert checkpoint.name == 'best.safetensors'


def test_the_listeners_movement_sets_the_mixtures_unit():
    """fit_normalization's change_scale: the RMS movement k frames ahead, growing with k for a
    head that sways, at the floor for a degree of freedom that never moved."""
    from lhg_ros.training.trainer import MIN_CHANGE_SCALE, Example, fit_normalization

    t = np.arange(500) / 25.0
    poses = np.zeros((500, 6))
    poses[:, 0] = np.radians(3.0) * np.sin(2 * np.pi * 0.5 * t)
    example = Example(np.zeros((2000, 82)), np.zeros((500, 18)), np.zeros((500, 18)), poses,
                      np.zeros((500, 6)))
    scale = fit_normalization([example])['change_scale']
    assert scale.shape == (50, 6)
    assert np.all(np.diff(scale[:25, 0]) > 0), 'further ahead, further moved (up to 1 s)'
    # 1 frame of a 3 deg, 0.5 Hz sway: RMS 3 * 2 pi * 0.5 / 25 / sqrt 2 deg
    assert np.degrees(scale[0, 0]) == pytest.approx(3 * np.pi / 25 / np.sqrt(2), rel=0.02)
    assert np.all(scale[:, 1:] == MIN_CHANGE_SCALE)


def test_listener_dropout_hides_the_models_own_motion_but_not_its_pose():
    """A hidden token's own motion does not reach R: inputs that differ only in their
    motion features give the same prediction (the means still continue from the pose)."""
    import torch

    from lhg_ros.network.config import preset
    from lhg_ros.network.lstm_transformer import ListenerModel

    torch.manual_seed(0)
    model = ListenerModel(preset('tiny')).eval()
    g = torch.Generator().manual_seed(1)
    audio, speaker = torch.randn(1, 48, 82, generator=g), torch.randn(1, 12, 18, generator=g)
    own = torch.randn(1, 12, 18, generator=g)
    other = own.clone()
    other[..., 6:] += 1.0  # the same poses, other differences
    hidden = torch.ones(1, 12, dtype=torch.bool)
    with torch.no_grad():
        a, b = model(audio, speaker, own, hidden), model(audio, speaker, other, hidden)
        seen = model(audio, speaker, other)
    for x, y in zip(a, b, strict=True):
        torch.testing.assert_close(x, y)
    assert not torch.allclose(a[0], seen[0]), 'without hiding, the motion reaches R'


def test_scheduled_sampling_feeds_back_what_the_runtime_would():
    """Frame s of a step starting at b comes from token b - 1's prediction s - b ahead, as
    ListenerRuntime feeds a step's predictions back as the next step's listener input."""
    import torch

    from lhg_ros.training.trainer import fed_back

    t, f = 12, 3
    predicted = torch.zeros(1, t, f, 6)
    for token in range(t):
        for k in range(f):
            predicted[0, token, k, 0] = 100 * token + k  # token t's prediction of t + k + 1
    truth = -torch.ones(1, t, 6)
    generator = torch.Generator().manual_seed(0)
    mixed = fed_back(predicted, truth, share=1.0, phase=0, warmup_frames=3,
                     generator=generator)
    # Step 1 (frames 3-5) gets token 2's predictions, step 2 (6-8) token 5's, ...
    assert mixed[0, :, 0].tolist() == [-1, -1, -1, 200, 201, 202, 500, 501, 502, 800, 801,
                                       802]
    none = fed_back(predicted, truth, share=0.0, phase=0, warmup_frames=3,
                    generator=generator)
    assert torch.equal(none, truth)
