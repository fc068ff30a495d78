"""lhg-ros eval and lhg-ros generate, as a user runs them."""

import json
import subprocess

import numpy as np
import pytest

from conftest import BIN
from lhg_ros.evaluation.report import evaluate, write_report
from lhg_ros.model.checkpoint import random_checkpoint
from lhg_ros.model.config import preset


@pytest.fixture(scope='module')
def report(corpus, tmp_path_factory):
    checkpoint = random_checkpoint(tmp_path_factory.mktemp('ck') / 'model', preset('tiny'))
    return evaluate(corpus, checkpoint, teacher_forced=True)


def test_eval_scores_every_system_in_closed_loop_and_the_reference_perfectly(report):
    systems = report['systems']
    assert report['mode'] == 'closed loop' and report['minutes'] >= 1.0
    assert set(systems) == {'reference', 'still head', 'mean pose', 'copy the speaker',
                            'rules', 'model', 'model (teacher-forced)'}
    reference = systems['reference']
    assert reference['l1_pitch_deg'] == 0 and reference['fd'] == pytest.approx(0, abs=1e-6)
    assert reference['nod_f1'] == 1.0 and reference['rpcc'] == 0
    still = systems['still head']
    assert still['speed_mean'] == 0 and still['diversity_deg'] == pytest.approx(0, abs=1e-9)
    assert still['nod_f1'] == 0, 'a head that never nods scores no nod timing'
    rules = systems['rules']
    assert rules['nods_per_min'] > 0 and rules['within_limits'] == 1.0
    assert rules['nonfinite_steps'] == 0 and rules['drift_deg'] < 5
    assert 0 <= systems['model']['within_limits'] <= 1
    assert set(systems['model (teacher-forced)']) >= {'l1_deg', 'l1_pitch_deg'}


def test_a_speaker_copy_shows_the_mirroring_peak_at_lag_zero(report):
    curves = report['cross_correlation']
    zero = curves['lags_s'].index(0.0)
    assert curves['copy the speaker'][zero] > 0.9
    assert abs(curves['reference'][zero]) < 0.5


def test_the_report_files_are_written(report, tmp_path):
    files = write_report(report, tmp_path)
    assert all(f.is_file() for f in files)
    assert (json.loads((tmp_path / 'report.json').read_text())['recordings']
            == report['recordings'])
    markdown = (tmp_path / 'report.md').read_text()
    assert '| rules |' in markdown and 'closed loop' in markdown
    assert 'teacher-forced' in markdown


def test_generate_writes_motion_and_a_video(tmp_path):
    from lhg_ros.synthetic_speaker import speak, speaker_motion, write_face_video

    audio = speak(['I went to the market this morning to buy some bread.',
                   'The baker told me a long story about his holidays.'], tmp_path / 's.wav')
    _, rolls, shifts = speaker_motion(8.0)
    video = write_face_video(tmp_path / 's.mp4', rolls, shifts)
    result = subprocess.run([str(BIN / 'lhg-ros'), 'generate', '--audio', str(audio),
                             '--video', str(video), '--out', str(tmp_path / 'out'),
                             '--policy', 'rules'], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    data = np.load(tmp_path / 'out' / 'listener.npz')
    assert data['poses'].shape[1] == 6 and len(data['poses']) > 100
    assert np.degrees(data['poses'][:, 0].max()) > 4, 'the rules nodded after a sentence'
    assert (tmp_path / 'out' / 'listener.mp4').stat().st_size > 10_000
    rows = np.loadtxt(tmp_path / 'out' / 'listener.csv', delimiter=',', skiprows=1)
    assert rows.shape[1] == 10
    # The default policy is the shipped model, named in the summary.
    result = subprocess.run([str(BIN / 'lhg-ros'), 'generate', '--audio', str(audio),
                             '--video', str(video), '--out', str(tmp_path / 'model'),
                             '--no-video'], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'starter/listener.safetensors on' in result.stdout
    poses = np.load(tmp_path / 'model' / 'listener.npz')['poses']
    assert np.isfinite(poses).all() and np.ptp(poses[:, 0]) > 0


def test_generate_on_a_clip_with_cuts_and_empty_frames_reports_what_it_saw(tmp_path):
    """29.97 fps: 2 s of face, 1.5 s of empty frames, a cut to the face elsewhere for 2 s;
    the speech lasts over a second longer than the video."""
    import cv2

    from lhg_ros.synthetic_speaker import face_frame, speak

    audio = speak(['I went to the market this morning to buy some bread.',
                   'The baker told me a long story about his summer holidays.'],
                  tmp_path / 's.wav')
    fps = 30000 / 1001
    writer = cv2.VideoWriter(str(tmp_path / 'cuts.mp4'), cv2.VideoWriter_fourcc(*'mp4v'), fps,
                             (640, 480))
    kinds = ['face'] * 60 + ['empty'] * 45 + ['cut'] * 60
    for kind in kinds:
        frame = {'face': lambda: face_frame(5.0, 0, 0),
                 'empty': lambda: np.full((480, 640, 3), 40, np.uint8),
                 'cut': lambda: face_frame(-5.0, 120, 20)}[kind]()
        writer.write(np.ascontiguousarray(frame[..., ::-1]))
    writer.release()
    result = subprocess.run([str(BIN / 'lhg-ros'), 'generate', '--audio', str(audio),
                             '--video', str(tmp_path / 'cuts.mp4'), '--policy', 'rules',
                             '--out', str(tmp_path / 'out')], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    share = int(result.stdout.split('face found')[1].split('%')[0].strip(' |'))
    assert abs(share - 100 * 120 / 165) <= 5, result.stdout
    assert '165 frames at 29.97 fps' in result.stdout
    assert 'warning: the audio lasts' in result.stdout
    # The MP4 is placed by time: as long as the speech, at the stated 25 fps.
    import soundfile as sf

    from lhg_ros.sources.video import VideoFileSource

    mp4 = VideoFileSource(tmp_path / 'out' / 'listener.mp4', realtime=False)
    assert mp4.fps == pytest.approx(25.0)
    assert abs(mp4.frame_count / 25.0 - sf.info(str(audio)).duration) < 0.1
    mp4.close()


def test_generate_without_a_face_says_so(tmp_path):
    import cv2

    from lhg_ros.synthetic_speaker import speak

    audio = speak(['Hello there.'], tmp_path / 's.wav')
    writer = cv2.VideoWriter(str(tmp_path / 'blank.mp4'), cv2.VideoWriter_fourcc(*'mp4v'), 25,
                             (320, 240))
    for _ in range(50):
        writer.write(np.zeros((240, 320, 3), np.uint8))
    writer.release()
    result = subprocess.run([str(BIN / 'lhg-ros'), 'generate', '--audio', str(audio),
                             '--video', str(tmp_path / 'blank.mp4'), '--no-video',
                             '--out', str(tmp_path / 'out')], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1
    assert 'no face found' in result.stdout


def test_eval_of_the_shipped_model_from_the_command_line(corpus, tmp_path):
    result = subprocess.run([str(BIN / 'lhg-ros'), 'eval', '--data',
                             str(corpus.root / 'manifest.yaml'), '--checkpoint', 'starter',
                             '--out', str(tmp_path)], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / 'report.json').read_text())
    model = report['systems']['model']
    assert model['within_limits'] == 1.0 and model['nonfinite_steps'] == 0
    assert model['drift_deg'] < 5.0
    assert 'model' in result.stdout and 'within limits' in result.stdout


def test_a_corpus_is_made_from_the_command_line(tmp_path):
    from lhg_ros.data.manifest import load_manifest, validate

    result = subprocess.run([str(BIN / 'lhg-ros'), 'data', 'corpus', str(tmp_path / 'c'),
                             '--sessions', '2', '--held-out', '1', '--min-minutes', '0.3',
                             '--max-minutes', '0.4'], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    dataset = load_manifest(tmp_path / 'c' / 'manifest.yaml')
    assert validate(dataset) == [] and dataset.held_out == ['c002']
    bad = subprocess.run([str(BIN / 'lhg-ros'), 'data', 'corpus', str(tmp_path / 'd'),
                          '--sessions', '1', '--held-out', '1'], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 1 and '--held-out < --sessions' in bad.stdout

