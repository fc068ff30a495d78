"""Training on a tiny synthetic set: the loss falls, resume continues, checkpoints serve."""

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


def test_training_halves_the_loss(trained):
    rows = read_log(trained)
    first, last = float(rows[0]['train_loss']), float(rows[-1]['train_loss'])
    assert last <= 0.5 * first, f'loss {first:.4f} -> {last:.4f}'
    assert (trained / 'loss.png').is_file()


def test_resume_continues_from_the_same_step(synthetic, tmp_path):
    quiet = {'progress': False, 'log': lambda m: None}
    train(synthetic, tmp_path, TrainConfig(epochs=2, **FAST), **quiet)
    steps = [int(r['step']) for r in read_log(tmp_path)]
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
    for _ in range(20):
        inputs = (rng.normal(size=(12, 81)).astype(np.float32),
                  rng.normal(size=(3, 18)).astype(np.float32),
                  rng.normal(size=(3, 18)).astype(np.float32))
        a, states[0] = torch_backend.step(*inputs, states[0])
        b, states[1] = ort_backend.step(*inputs, states[1])
        np.testing.assert_allclose(a, b, atol=1e-4)
    assert torch_backend.info['metadata']['segments']['train'] >= 1


def test_fine_tuning_on_a_listener_who_never_listens_fails_clearly(synthetic, trained,
                                                                   tmp_path):
    with pytest.raises(ValueError, match="no training segments where 'nobody' listens"):
        train(synthetic, tmp_path, TrainConfig(epochs=1, listener='nobody', **FAST),
              init_checkpoint=trained / 'last.safetensors', progress=False)


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
