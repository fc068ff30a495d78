"""``lhg-ros demo`` on the user's own files, as a user runs it."""

import subprocess

import pytest

from conftest import BIN

pytestmark = pytest.mark.ros


def test_the_demo_runs_on_the_users_audio_and_video(speech, face_video, tmp_path):
    out = tmp_path / 'demo'
    result = subprocess.run([str(BIN / 'lhg-ros'), 'demo', '--audio', str(speech[0]), '--video',
                             str(face_video[0]), '--no-compare', '--style', 'calm',
                             '--output', str(out)],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f'inputs: {speech[0]} and {face_video[0]}' in result.stdout
    frames = int(result.stdout.split('audio feature frames')[1].split('(')[0].strip(' |'))
    expected = int(result.stdout.split('(expected')[1].split(')')[0])
    assert frames == expected, 'every feature frame of the file reaches the monitor'
    assert 'speaker poses' in result.stdout and 'joint commands' in result.stdout
    assert ', style calm' in result.stdout, 'the summary says which style the head listened in'
    assert (out / 'demo.png').stat().st_size > 10_000
    assert (out / 'demo.mp4').stat().st_size > 10_000
    assert not (out / 'speaker.wav').exists(), "the user's files are used, none generated"


def test_the_demo_says_what_is_wrong_with_the_users_files(tmp_path):
    run = [str(BIN / 'lhg-ros'), 'demo', '--output', str(tmp_path)]
    result = subprocess.run(run + ['--video', 'x.mp4'], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1 and '--video needs --audio' in result.stdout
    result = subprocess.run(run + ['--audio', str(tmp_path / 'missing.wav')],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stdout.strip().splitlines()[-1].endswith('does not exist')
    assert 'Traceback' not in result.stdout + result.stderr
