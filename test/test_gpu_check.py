"""``scripts/gpu_check.sh`` without a GPU (one line, exit 0), its options, and the parts of
``scripts/gpu_check.py`` that need no CUDA: the closed-loop comparison (run for real, ONNX
Runtime against torch on the CPU), the tolerance and timing verdicts and the table."""

import math
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, load_module_at

SCRIPT = REPO / 'scripts' / 'gpu_check.sh'
gpu_check = load_module_at(REPO / 'scripts' / 'gpu_check.py')


def run_script(*args, nvidia_smi='no-such-nvidia-smi'):
    # The system Python, as a machine without the venv has; a GPU here is hidden.
    env = {**os.environ, 'GPU_CHECK_NVIDIA_SMI': nvidia_smi, 'PYTHON': sys.executable}
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, env=env,
                          timeout=60, check=False)


def test_without_a_gpu_the_script_says_so_in_one_line_and_exits_0(tmp_path):
    result = run_script()
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        'gpu-check: no NVIDIA GPU here (no-such-nvidia-smi not found); nothing to check']
    assert result.stderr == ''
    # An nvidia-smi that lists no GPU (a driver without a device) is the same.
    empty = tmp_path / 'nvidia-smi'
    empty.write_text('#!/bin/sh\necho "No devices were found"\nexit 6\n')
    empty.chmod(0o755)
    result = run_script(nvidia_smi=str(empty))
    assert result.returncode == 0
    assert result.stdout.strip().endswith('-L lists none); nothing to check')


def test_help_lists_the_options_and_exits_0():
    result = run_script('--help')
    assert result.returncode == 0
    for option in ('--steps', '--timing-steps', '--dds-seconds', '--no-paper',
                   '--engine-cache-dir'):
        assert option in result.stdout
    assert '--validate-only' not in result.stdout, 'an internal option'


@pytest.mark.parametrize('args, message', [
    (['--bogus'], 'unrecognized arguments: --bogus'),
    (['--steps', '0'], "argument --steps: must be a whole number >= 1, got '0'"),
    (['--timing-steps', 'many'], "argument --timing-steps: must be a whole number >= 1, got "
                                 "'many'"),
    (['--dds-seconds', '-1'], "argument --dds-seconds: must be a number of seconds >= 0"),
])
def test_bad_options_exit_2_with_the_reason_before_looking_for_a_gpu(args, message):
    result = run_script(*args)
    assert result.returncode == 2
    assert message in result.stderr.splitlines()[-1]
    assert 'no NVIDIA GPU' not in result.stdout


def test_the_defaults_are_the_issues_numbers():
    args = gpu_check.parse_args([])
    assert (args.steps, args.timing_steps, args.dds_seconds, args.no_paper) == (200, 200, 20.0,
                                                                                 False)
    assert gpu_check.parse_args(['--dds-seconds', '0']).dds_seconds == 0.0
    assert (args.no_tensorrt, args.style) == (False, 'animated')


def test_the_export_check_compares_a_fresh_export_with_the_shipped_file(tmp_path):
    """The check a GPU machine's torch runs: export a copy of the shipped model anew and run it
    against the shipped ONNX file, within ONNX Runtime's own rounding."""
    from lhg_ros.models import starter_checkpoint

    text, passed = gpu_check.export_check(starter_checkpoint(), tmp_path,
                                          gpu_check.parse_args(['--steps', '30']))
    assert passed, text
    assert text.startswith('exported and loaded in ') and 'steps: prediction ' in text
    assert list(tmp_path.iterdir()) == [], 'the exported copy is removed'


@pytest.fixture(scope='module')
def onnx_vs_torch():
    """200 closed-loop steps of the shipped model, torch (CPU) checked against ONNX Runtime:
    the comparison the GPU run makes for TensorRT."""
    from lhg_ros.backends import load_backend
    from lhg_ros.models import starter_checkpoint

    reference = load_backend('onnxruntime', starter_checkpoint())
    candidate = load_backend('torch', starter_checkpoint(), threads=1)
    return gpu_check.closed_loop_differences(reference, candidate, steps=200)


def test_the_closed_loop_comparison_covers_every_output_of_the_step(onnx_vs_torch):
    from lhg_ros.models import starter_checkpoint
    from lhg_ros.network.checkpoint import read_model_config

    worst, steps = onnx_vs_torch
    config, _ = read_model_config(starter_checkpoint())
    _, outputs = config.step_io()
    assert steps >= 200
    assert set(worst) == set(outputs), 'prediction and every state output are compared'
    assert all(math.isfinite(v) for v in worst.values())
    assert 0 < worst['prediction'] < gpu_check.TOLERANCES['cpu'], worst['prediction']


def test_the_tolerance_verdict_on_real_differences(onnx_vs_torch):
    worst, steps = onnx_vs_torch
    text, passed = gpu_check.parity_result(worst, steps, gpu_check.TOLERANCES['cpu'])
    assert passed and text.startswith(f'{steps} steps: prediction ')
    assert 'state worst ' in text
    # The same numbers against a tolerance below them fail; a non-finite output always does.
    _, passed = gpu_check.parity_result(worst, steps, worst['prediction'] / 2)
    assert not passed
    broken = {**worst, 'prediction': gpu_check.largest_difference([1.0, np.nan], [1.0, 1.0])}
    assert broken['prediction'] == math.inf
    assert not gpu_check.parity_result(broken, steps, 1e9)[1]
    assert gpu_check.largest_difference(np.zeros(3), np.zeros(4)) == math.inf


def test_the_comparing_backend_follows_the_reference():
    """The closed loop runs on the reference's predictions whatever the candidate returns."""
    from lhg_ros.backends import load_backend
    from lhg_ros.models import starter_checkpoint

    reference = load_backend('onnxruntime', starter_checkpoint())
    comparing = gpu_check.make_comparing_backend(reference, reference)
    c = reference.config
    rng = np.random.default_rng(1)
    audio = rng.normal(size=(c.audio_per_step, c.audio_input_dim)).astype(np.float32)
    motion = rng.normal(size=(c.frames_per_step, c.motion_dim)).astype(np.float32)
    prediction, _ = comparing.step(audio, motion, motion, comparing.initial_state())
    expected, _ = reference.step(audio, motion, motion, reference.initial_state())
    np.testing.assert_array_equal(prediction, expected)
    assert set(comparing.worst.values()) == {0.0}, 'a backend equals itself'


def test_step_times_pass_within_the_budget_only():
    times = np.arange(1, 201) * 1e-4  # 0.1 to 20 ms
    text, passed = gpu_check.timing_result(times, budget_ms=120)
    assert passed and text == 'p50 10.050 ms, p99 19.801 ms (200 steps)'
    # The verdict is on the slow steps: a median within the budget is not enough.
    assert not gpu_check.timing_result(times, budget_ms=15)[1]


def test_the_report_is_one_table_and_a_failed_row_fails_the_run(onnx_vs_torch):
    worst, steps = onnx_vs_torch
    result, passed = gpu_check.parity_result(worst, steps, gpu_check.TOLERANCES['cpu'])
    checks = [gpu_check.Check('torch cpu vs ONNX Runtime', result, '<= 0.0001',
                              gpu_check.OK if passed else gpu_check.FAILED),
              gpu_check.Check('paper: tensorrt fp16', gpu_check.PAPER_TENSORRT_SKIP,
                              'p99 <= 240 ms', gpu_check.SKIPPED)]
    table = gpu_check.format_report(checks)
    print(table)
    lines = table.splitlines()
    assert lines[0].split() == ['check', 'result', 'limit', 'status']
    assert len(lines) == 2 + len(checks)
    assert lines[2].endswith(' ok') and lines[3].endswith(' skipped')
    assert gpu_check.exit_code(checks) == 0
    checks.append(gpu_check.Check('TensorRT engine fp16', 'no CUDA', '', gpu_check.FAILED))
    assert gpu_check.exit_code(checks) == 1


def test_a_failing_check_becomes_a_failed_row_with_one_line_and_the_run_goes_on():
    checks, logged = [], []

    def broken():
        raise ValueError('first line\nsecond line')

    gpu_check.run_check(checks, 'broken', '', broken, logged.append)
    gpu_check.run_check(checks, 'fine', '<= 1', lambda: ('0.5', True), logged.append)
    assert [(c.name, c.result, c.status) for c in checks] == [
        ('broken', 'ValueError: first line', 'FAILED'), ('fine', '0.5', 'ok')]
    assert any('Traceback' in line for line in logged), 'the traceback goes to the log'
