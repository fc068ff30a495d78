"""The lhg-ros command as a user runs it."""

import json
import os
import re
import subprocess

import pytest

from conftest import BIN, REPO

LHG_ROS = str(BIN / 'lhg-ros')


def run(*args, env=None, timeout=120):
    return subprocess.run([LHG_ROS, *args], capture_output=True, text=True, timeout=timeout,
                          env=env)


def package_xml_version():
    return re.search(r'<version>(.*?)</version>', (REPO / 'package.xml').read_text()).group(1)


def test_help_lists_the_commands():
    result = run('--help')
    assert result.returncode == 0
    assert 'doctor' in result.stdout


def test_no_command_prints_help_and_fails():
    result = run()
    assert result.returncode == 2
    assert 'doctor' in result.stdout


def test_a_wrong_option_is_answered_with_the_usage_of_its_own_command():
    result = run('generate', '--model')
    assert result.returncode == 2
    assert result.stderr.startswith('usage: lhg-ros generate'), result.stderr
    assert result.stderr.strip().endswith('lhg-ros generate: error: unrecognized arguments: '
                                          '--model')
    nested = run('data', 'corpus', 'out', '--minutes', '3')
    assert 'lhg-ros data corpus: error: unrecognized arguments: --minutes 3' in nested.stderr


def test_help_shows_the_defaults_that_apply():
    from lhg_ros.training.config import TrainConfig

    corpus = run('data', 'corpus', '--help').stdout
    assert re.search(r'--sessions SESSIONS\s+sessions to make .*\(default:\s+60\)', corpus,
                     re.S)
    train = ' '.join(run('train', '--help').stdout.split())
    recipe = TrainConfig()
    assert f'--epochs EPOCHS (default: {recipe.epochs})' in train
    assert f'learning rate (default: {recipe.learning_rate:g})' in train
    assert ('paper (473 M), base (40.1 M), small (10.2 M), compact (1.63 M), tiny (0.43 M)'
            in train) and '(default: None)' not in train
    finetune = ' '.join(run('finetune', '--help').stdout.split())
    assert '--preset' not in finetune
    assert 'enough for 200 optimiser steps' in finetune
    assert 'learning rate (default: 0.0003, a third of training' in finetune


def test_version_matches_package_xml():
    result = run('--version')
    assert result.returncode == 0
    assert result.stdout.strip() == f'lhg_ros {package_xml_version()}'


@pytest.mark.ros
def test_doctor_reports_working_rclpy_and_dds():
    result = run('doctor')
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert re.search(r'^rclpy\s+ok\s+RMW rmw_\w+', rows['rclpy'])
    dds = next(line for line in result.stdout.splitlines() if line.startswith('DDS round trip'))
    assert re.search(r'\bok\b.*round trip median [\d.]+ ms', dds)
    assert 'lhg_ros can run here.' in result.stdout


@pytest.mark.ros
def test_doctor_json_names_every_component():
    result = run('doctor', '--json', '--skip-dds')
    assert result.returncode == 0, result.stderr
    checks = {c['name']: c for c in json.loads(result.stdout)}
    for name in ['rclpy', 'torch', 'onnxruntime', 'tensorrt', 'mediapipe', 'microphone']:
        assert name in checks
    assert checks['rclpy']['status'] == 'ok'
    assert checks['mediapipe']['status'] == 'ok', checks['mediapipe']
    # tensorrt is optional: whatever its state, it never fails the doctor.
    assert checks['tensorrt']['failed'] is False


@pytest.mark.ros
def test_doctor_fails_and_says_what_to_do_when_the_rmw_cannot_load():
    env = dict(os.environ, RMW_IMPLEMENTATION='rmw_does_not_exist_cpp')
    result = run('doctor', '--skip-dds', env=env)
    assert result.returncode == 1
    rclpy_row = next(line for line in result.stdout.splitlines() if line.startswith('rclpy'))
    assert 'FAIL' in rclpy_row and 'RMW' in rclpy_row
    assert 'lhg_ros cannot run: rclpy' in result.stdout
