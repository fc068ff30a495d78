"""Datasets: manifest validation, extraction with the nodes' code, segments and splits."""

import shutil

import numpy as np
import pytest
import soundfile as sf

from lhg_ros.data.extract import extract_dataset, is_cached, load_features
from lhg_ros.data.manifest import ManifestError, load_manifest, validate, write_manifest
from lhg_ros.data.segments import listener_segments, split_sessions


def test_a_synthetic_dataset_is_valid(synthetic):
    assert validate(synthetic) == []
    assert synthetic.held_out == ['s002']


def broken_copy(synthetic, tmp_path, edit):
    root = tmp_path / 'copy'
    shutil.copytree(synthetic.root / 's001', root / 's001')
    entry = {'id': 's001', 'participants': {
        'A': {'person': 'a', 'audio': 's001/A.wav', 'video': 's001/A.mp4'},
        'B': {'person': 'b', 'audio': 's001/B.wav', 'poses': 's001/B_poses.npz'}},
        'floor': [['A', 0.5, 5.0], ['B', 6.0, 9.0]]}
    edit(root, entry)
    return validate(load_manifest(write_manifest([entry], root / 'manifest.yaml')))


@pytest.mark.parametrize('edit, message', [
    (lambda root, e: (root / 's001' / 'B.wav').unlink(), 'audio file .*B.wav is missing'),
    (lambda root, e: e['participants']['A'].update(poses='s001/B_poses.npz'),
     'give exactly one of video or poses'),
    (lambda root, e: e['floor'].append(['A', 4.0, 6.0]), 'floor intervals of A overlap'),
    (lambda root, e: e['floor'].append(['B', 9.0, 8.0]), 'is negative or empty'),
    (lambda root, e: e['floor'].append(['C', 1.0, 2.0]), 'unknown participant C'),
    (lambda root, e: e['floor'].append(['B', 10.0, 400.0]), 'after the recording'),
    (lambda root, e: sf.write(str(root / 's001' / 'A.wav'), np.zeros(8000 * 3, np.float32),
                              8000), 'at 8000 Hz; at least 16 kHz'),
    (lambda root, e: sf.write(str(root / 's001' / 'A.wav'), np.zeros(16000 * 3, np.float32),
                              16000), 'track lengths differ'),
    (lambda root, e: np.savez(root / 's001' / 'B_poses.npz', poses=np.zeros((10, 4)), rate=25),
     r'must hold poses \(T, 6\)'),
], ids=['missing file', 'video and poses', 'overlap', 'negative', 'unknown participant',
        'past the end', 'low rate', 'length mismatch', 'bad poses'])
def test_validation_names_each_problem(synthetic, tmp_path, edit, message):
    problems = broken_copy(synthetic, tmp_path, edit)
    assert any(__import__('re').search(message, p) for p in problems), problems


def test_held_out_listeners_must_be_people_of_the_manifest(synthetic, tmp_path):
    root = tmp_path / 'copy'
    shutil.copytree(synthetic.root / 's001', root / 's001')
    entry = {'id': 's001', 'floor': [['A', 0.5, 9.0]], 'participants': {
        'A': {'person': 'a', 'audio': 's001/A.wav', 'video': 's001/A.mp4'},
        'B': {'person': 'b', 'audio': 's001/B.wav', 'poses': 's001/B_poses.npz'}}}
    for people, problem in ((['b'], None), (['b', 'carol'], 'held_out_listeners names carol, '
                                                              'who is in no session')):
        dataset = load_manifest(write_manifest([entry], root / 'manifest.yaml',
                                               held_out_listeners=people))
        assert dataset.held_out_listeners == people
        assert (validate(dataset) == []) if problem is None else problem in validate(dataset)


def test_an_unreadable_manifest_says_why(tmp_path):
    (tmp_path / 'm.yaml').write_text('sessions: []\n')
    with pytest.raises(ManifestError, match="'format: lhg_ros.dataset' is missing"):
        load_manifest(tmp_path / 'm.yaml')


def test_extraction_gives_the_known_motion_back(synthetic):
    session = synthetic.sessions[0]
    truth = np.load(synthetic.root / session.id / 'truth.npz')
    a = load_features(synthetic, session.id, 'A')
    assert a['detected'].mean() > 0.95
    rolls = np.degrees(a['poses'][:, 2])
    n = min(len(rolls), len(truth['a_rolls_deg']))
    # The node's causal One-Euro smoothing runs in extraction too: it lags by a few frames.
    best = None
    for lag in range(4):
        error = rolls[lag:n] - truth['a_rolls_deg'][:n - lag]
        error -= np.median(error)  # the photograph's own roll
        p95 = np.percentile(np.abs(error), 95)
        best = p95 if best is None else min(best, p95)
    assert best < 2.0, f'roll error (95th percentile) {best:.2f} deg'
    assert a['audio'].shape[1] == 81 and abs(len(a['audio']) - 4 * len(a['poses'])) <= 4
    b = load_features(synthetic, session.id, 'B')
    assert np.degrees(b['poses'][:, 0].max()) == pytest.approx(7.0, abs=0.3)


def test_extraction_is_resumable_and_redoes_only_what_changed(synthetic):
    assert extract_dataset(synthetic, progress=False) == {'done': 0, 'cached': 4}
    session = synthetic.sessions[0]
    audio = session.participants['B'].audio
    sf.write(str(audio), *sf.read(str(audio)))  # same content, newer file
    assert not is_cached(synthetic, session.id, session.participants['B'])
    assert extract_dataset(synthetic, progress=False) == {'done': 1, 'cached': 3}


def test_segments_cover_only_listening_and_last_6_to_11_seconds(synthetic):
    for session in synthetic.sessions:
        frames = len(load_features(synthetic, session.id, 'A')['poses'])
        segments = listener_segments(session, frames)
        assert segments
        for seg in segments:
            assert 6.0 <= seg.seconds <= 11.0
            start, end = seg.start / 25, (seg.start + seg.frames) / 25
            spoken = [t for t in session.floor if t.participant == seg.speaker
                      and t.start <= start + 0.04 and end <= t.end + 0.04]
            assert spoken, 'the partner holds the floor throughout the segment'
            assert not any(t.participant == seg.listener and t.start < end and start < t.end
                           for t in session.floor), 'the listener never holds it'


def test_splits_are_by_session_and_keep_the_held_out_apart(synthetic):
    splits = split_sessions(synthetic)
    assert splits['eval'] == ['s002']
    assert set(splits['train']) | set(splits['valid']) == {'s001'}
    assert not set(splits['train']) & set(splits['valid'])
