"""Every bad start-up ends with one clear line and exit code 1, never a traceback."""

import subprocess

import pytest

from conftest import node_command

pytestmark = pytest.mark.ros


def run(args, timeout=60):
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    return result.returncode, result.stdout + result.stderr


def test_a_missing_params_file_is_one_line_not_a_traceback(tmp_path):
    code, out = run(node_command('audio_features_node') + ['--params-file',
                                                            str(tmp_path / 'nope.yaml')])
    assert code == 1 and 'Traceback' not in out
    assert 'cannot start ROS with these arguments' in out


def test_a_bad_choice_is_one_line_not_a_traceback(face_video):
    code, out = run(node_command('head_pose_node', source='file',
                                 file__path=face_video[0], face_selection='bogus'))
    assert code == 1 and 'Traceback' not in out and 'Exception ignored' not in out
    assert "parameter 'face_selection' is 'bogus'" in out


def test_a_truncated_wav_is_reported_as_truncated(speech, tmp_path):
    data = speech[0].read_bytes()
    cut = tmp_path / 'cut.wav'
    cut.write_bytes(data[:len(data) // 2])
    code, out = run(node_command('audio_features_node', file__path=cut))
    assert code == 1 and 'Traceback' not in out
    assert 'is truncated' in out and '(50%)' in out


def test_a_directory_given_as_a_file_says_so(tmp_path):
    code, out = run(node_command('audio_features_node', file__path=tmp_path))
    assert code == 1 and 'is a directory, not an audio file' in out
    code, out = run(node_command('head_pose_node', source='file', file__path=tmp_path))
    assert code == 1 and 'is a directory, not a video file' in out


def test_a_ros4hri_id_that_cannot_name_a_frame_is_one_line():
    code, out = run(node_command('listener_node', policy='rules', speaker_source='ros4hri',
                                 ros4hri__face_id='a-b'))
    assert code == 1 and 'Traceback' not in out
    assert "ros4hri.face_id 'a-b' is not a REP-155 id" in out, out
