"""Listener styles: the corpus's listeners as people with a style, the style encoder, style files,
the shipped styles in closed loop, changing style while running, and ``lhg-ros adapt``."""

import json
import subprocess

import numpy as np
import pytest

from conftest import BIN


def lhg(*args, timeout=300):
    return subprocess.run([str(BIN / 'lhg-ros'), *args], capture_output=True, text=True,
                          timeout=timeout)


def test_corpus_listeners_are_people_of_a_style_in_several_sessions(tmp_path):
    """Each training listener is one person in several sessions, with their style in the
    manifest; held-out listeners are people of their own, whom no general model trains on,
    with a session to fine-tune from and one held out to judge by."""
    from lhg_ros.data.manifest import load_manifest
    from lhg_ros.data.segments import split_sessions
    from lhg_ros.synthetic.corpus import STYLES, make_corpus

    dataset = load_manifest(make_corpus(tmp_path, sessions=8, held_out=4, minutes=(0.2, 0.25),
                                        per_listener=2))
    listeners = [s.participants['B'] for s in dataset.sessions]
    assert all(p.style in STYLES for p in listeners)
    training = [p.person for p in listeners if p.person not in dataset.held_out_listeners]
    held = [p.person for s, p in zip(dataset.sessions, listeners, strict=True)
            if s.id in dataset.held_out]
    assert len(set(training)) == 2 and all(training.count(p) == 2 for p in training)
    assert len(set(held)) == 2 and not set(held) & set(training)
    assert set(dataset.held_out_listeners) == set(held)
    # each held-out listener: one session to fine-tune or adapt from, one held out to judge by
    assert all(sum(p.person == person for p in listeners) == 2 for person in held)
    assert len(dataset.held_out) == 2
    splits = split_sessions(dataset)
    assert not {p for s in splits['train'] + splits['valid']
                for p in dataset.people_in(s)} & set(held), 'no general model trains on them'
    tune = split_sessions(dataset, listener=held[0])
    assert tune['train'] + tune['valid'] and all(
        held[0] in dataset.people_in(s) for s in tune['train'] + tune['valid'])
    # adapt --person reads the session they can be adapted from, not the one to judge by
    from lhg_ros.commands.adapt import _manifest_runs

    runs = _manifest_runs(tmp_path / 'manifest.yaml', held[0])
    outside = next(s for s in dataset.sessions
                   if held[0] in dataset.people_in(s.id) and s.id not in dataset.held_out)
    with np.load(outside.participants['B'].poses) as track:
        assert 0 < sum(len(r) for r in runs) <= len(track['poses'])
    assert all(p.person.startswith(p.style) for p in listeners)


def test_the_numpy_style_encoder_is_the_trained_one(tmp_path):
    """lhg-ros adapt makes styles without torch: its encoder gives the network's numbers."""
    import torch

    from lhg_ros.network.checkpoint import load_checkpoint, random_checkpoint
    from lhg_ros.network.config import preset
    from lhg_ros.network.style import StyleEncoder, style_features

    path = random_checkpoint(tmp_path / 'm', preset('tiny'))
    model, _ = load_checkpoint(path)
    poses = np.cumsum(np.random.default_rng(0).normal(0, 0.003, (900, 6)), axis=0)
    features = style_features(poses, 25.0)
    assert features.shape == (900, 18)
    with torch.no_grad():
        expected = model.encode_style(torch.from_numpy(features)[None])[0].numpy()
    np.testing.assert_allclose(StyleEncoder(path)(features), expected, rtol=1e-4, atol=1e-5)


def test_style_files_belong_to_their_model(tmp_path):
    from lhg_ros.models import starter_checkpoint
    from lhg_ros.network.checkpoint import read_sidecar
    from lhg_ros.network.style import StyleError, read_style, resolve_style, write_style

    info = read_sidecar(starter_checkpoint())
    dim = info['config']['style_dim']
    path = write_style(tmp_path / 'alice.json', np.arange(dim) / 10, 'alice', info)
    name, vector = resolve_style(str(path), info)
    assert name == 'alice' and np.allclose(vector, np.arange(dim) / 10)
    other = dict(info, style_space='another model')
    with pytest.raises(StyleError, match='made for another model'):
        read_style(path, other)
    with pytest.raises(StyleError, match="unknown style 'grumpy'.*calm"):
        resolve_style('grumpy', info)
    with pytest.raises(StyleError, match='does not exist'):
        resolve_style(str(tmp_path / 'absent.json'), info)
    assert resolve_style('', info)[0] == info['default_style'] == 'attentive'


def test_a_style_carries_its_temperature(tmp_path):
    """A style is how a listener moves and how much: a style file's temperature (and a named
    style's, from the sidecar) scales the sampling, eases in with the style when it changes
    while running, and a temperature out of range is refused with one line."""
    from lhg_ros.backends import load_backend
    from lhg_ros.models import starter_checkpoint
    from lhg_ros.motion.model_policy import ModelPolicy
    from lhg_ros.network.style import StyleError, resolve_style_temperature, write_style

    backend = load_backend('onnxruntime', starter_checkpoint())
    info = backend.info
    temperatures = info['style_temperatures']
    # calm listeners move less than animated ones: their fitted temperatures say so
    assert temperatures['calm'] < temperatures['animated']
    assert resolve_style_temperature('calm', info)[2] == temperatures['calm']
    # the default style is the model as trained, in which its closed-loop measures are taken
    assert resolve_style_temperature('', info)[2] == 1.0
    vector = resolve_style_temperature('animated', info)[1]
    quiet = write_style(tmp_path / 'quiet.json', vector, 'quiet', info, temperature=0.4)
    policy = ModelPolicy(backend, style=str(quiet), expressiveness=1.5)
    assert policy.temperature == pytest.approx(0.6)
    policy.set_style('animated')
    audio = np.zeros((backend.config.audio_per_step, 81), np.float32)
    poses = np.zeros((backend.config.frames_per_step, backend.config.motion_dim), np.float32)
    policy.step(audio, poses, poses)
    eased = policy.temperature
    assert 0.6 < eased < 1.5 * temperatures['animated']
    for _ in range(40):
        policy.step(audio, poses, poses)
    assert policy.temperature == pytest.approx(1.5 * temperatures['animated'], rel=1e-3)
    hot = write_style(tmp_path / 'hot.json', vector, 'hot', info, temperature=40.0)
    with pytest.raises(StyleError, match='temperature must be a number in'):
        ModelPolicy(backend, style=str(hot))


def test_a_lower_temperature_moves_the_head_less(speech_recording):
    """The same style vector at half its temperature, on the same speech: less head motion
    (what makes calm calm and what adapt fits to a person)."""
    from lhg_ros.backends import load_backend
    from lhg_ros.evaluation.styles import closed_loop_poses, listening_statistics
    from lhg_ros.models import starter_checkpoint
    from lhg_ros.network.style import resolve_style

    backend = load_backend('onnxruntime', starter_checkpoint())
    vector = resolve_style('animated', backend.info)[1]
    stats = {t: listening_statistics(*closed_loop_poses(backend, [speech_recording], vector, 0,
                                                        t)) for t in (0.5, 1.0)}
    assert stats[0.5]['rms_pitch'] < 0.85 * stats[1.0]['rms_pitch'], stats
    assert stats[0.5]['nod_rate'] < stats[1.0]['nod_rate'], stats


def test_the_temperature_fit_finds_the_temperature_a_listener_moved_at(speech_recording):
    """A listener who is the model in a style at temperature 0.5 (another seed): fitting that
    style's temperature to their statistics picks 0.5 among 0.5, 1 and 1.5, for a named style
    as for a vector (what ship_starter_model --styles-from and adapt do)."""
    from lhg_ros.backends import load_backend
    from lhg_ros.evaluation.styles import (
        closed_loop_poses,
        fit_named_temperatures,
        fit_temperature,
        listening_statistics,
    )
    from lhg_ros.models import starter_checkpoint
    from lhg_ros.network.style import resolve_style

    backend = load_backend('onnxruntime', starter_checkpoint())
    vector = resolve_style('animated', backend.info)[1]
    listener, rate = closed_loop_poses(backend, [speech_recording], vector, 5, 0.5)
    grid = (0.5, 1.0, 1.5)
    best, tried = fit_temperature(backend, [speech_recording], vector,
                                  listening_statistics(listener, rate), grid=grid)
    assert best == 0.5 and tried[0.5] < tried[1.0] < tried[1.5], tried
    fits = fit_named_temperatures(backend, {'animated': listener}, [speech_recording],
                                  grid=grid)
    assert fits['animated']['temperature'] == 0.5
    assert fits['animated']['distance'] < fits['animated']['distance_at_1']


@pytest.fixture(scope='module')
def speech_recording(tmp_path_factory):
    from lhg_ros.evaluation.closed_loop import generated_speech

    return generated_speech(120.0, tmp_path_factory.mktemp('speech'), seed=11)


def stats_in(style, recording, seed=0):
    from lhg_ros.backends import load_backend
    from lhg_ros.evaluation.closed_loop import rollout
    from lhg_ros.evaluation.styles import listening_statistics
    from lhg_ros.models import starter_checkpoint
    from lhg_ros.motion.model_policy import ModelPolicy

    policy = ModelPolicy(load_backend('onnxruntime', starter_checkpoint()), seed=seed,
                         style=style)
    poses, _, rate, _ = rollout(policy, recording)
    return listening_statistics(poses[int(rate):], rate)


def test_the_shipped_calm_and_animated_styles_differ_on_the_same_speech(speech_recording):
    """Two minutes of the same speech, closed loop: animated nods more often and moves its
    head more than calm (bench/bench_styles.py measures the 2x over 40 minutes and 3 seeds)."""
    from lhg_ros.models import starter_checkpoint
    from lhg_ros.network.checkpoint import read_sidecar

    assert {'calm', 'attentive', 'animated'} <= set(read_sidecar(starter_checkpoint())['styles'])
    calm, animated = stats_in('calm', speech_recording), stats_in('animated', speech_recording)
    assert animated['nod_rate'] > 1.5 * calm['nod_rate'], (calm, animated)
    assert animated['rms_pitch'] > 1.5 * calm['rms_pitch'], (calm, animated)


def test_changing_style_while_running_shows_at_the_next_step_without_a_jump(
        speech_recording):
    """ModelPolicy.set_style (what ros2 param set does): the step after it differs from the
    same run without it, the style vector eases over a few steps, and the head does not jump:
    no step moves further than the model's steps do in either style."""
    from lhg_ros.backends import load_backend
    from lhg_ros.evaluation.offline import run_policy
    from lhg_ros.models import starter_checkpoint
    from lhg_ros.motion.model_policy import ModelPolicy

    backend = load_backend('onnxruntime', starter_checkpoint())
    change_at = 200  # steps

    class Switching(ModelPolicy):
        steps = 0
        vectors = []

        def step(self, *args, **kwargs):
            if self.steps == change_at:
                self.set_style('animated')
            self.steps += 1
            out = super().step(*args, **kwargs)
            self.vectors.append(self.style_vector)
            return out

    r = speech_recording
    plain = run_policy(ModelPolicy(backend, seed=3, style='calm'), r.audio, r.speaker_poses,
                       r.speaking)
    switching = Switching(backend, seed=3, style='calm')
    switched = run_policy(switching, r.audio, r.speaker_poses, r.speaking)
    differ = np.flatnonzero(~np.isclose(plain, switched).all(axis=1))
    frame = 3 * (change_at + 1)  # the frames step change_at commands (after the first step's)
    assert differ[0] == frame, differ[:5]
    vectors = np.array(switching.vectors)
    animated = ModelPolicy(backend, style='animated').style_vector
    moved = np.linalg.norm(vectors[change_at] - vectors[change_at - 1])
    assert 0 < moved < np.linalg.norm(animated - vectors[change_at - 1])
    assert np.allclose(vectors[change_at + 40], animated, atol=1e-3)
    biggest = np.abs(np.diff(np.degrees(plain[:, :3]), axis=0)).max()
    after = np.abs(np.diff(np.degrees(switched[frame - 3:frame + 50, :3]), axis=0)).max()
    assert after <= 1.5 * biggest


def test_adapt_from_a_pose_track_writes_a_style_the_node_can_use(corpus, tmp_path):
    """A minute of one listener's head motion -> a style file with a report; generate runs the
    model in it; the vector differs from the default's."""
    from lhg_ros.models import starter_checkpoint
    from lhg_ros.network.checkpoint import read_sidecar
    from lhg_ros.network.style import resolve_style

    session = corpus.sessions[0]
    track = session.participants['B'].poses
    out = tmp_path / 'listener.json'
    result = lhg('adapt', str(track), '--out', str(out), '--name', 'someone')
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert 'model, adapted to someone' in result.stdout
    assert 'nearest shipped style' in result.stdout
    data = json.loads(out.read_text())
    assert data['name'] == 'someone' and {'person', 'default', 'adapted'} <= set(data['report'])
    from lhg_ros.evaluation.styles import TEMPERATURE_GRID

    # the temperature fitted is the one of those tried that came closest to the person
    tried = data['report']['distance_by_temperature']
    assert data['temperature'] in TEMPERATURE_GRID and len(tried) == len(TEMPERATURE_GRID)
    assert tried[f"{data['temperature']:g}"] == min(tried.values())
    info = read_sidecar(starter_checkpoint())
    name, vector = resolve_style(str(out), info)
    assert not np.allclose(vector, resolve_style('', info)[1])
    generated = lhg('generate', '--audio', str(session.participants['A'].audio), '--style',
                    str(out), '--out', str(tmp_path / 'gen'))
    assert generated.returncode == 0, generated.stdout[-2000:] + generated.stderr[-2000:]


def test_adapt_from_a_video_of_a_face(tmp_path):
    """The path from a video: the real face photograph made into a 12 s moving clip."""
    from lhg_ros.synthetic.speaker_scene import write_face_video

    t = np.arange(300) / 25.0
    video = write_face_video(tmp_path / 'listener.mp4', 10.0 * np.sin(2 * np.pi * 0.4 * t),
                             np.round(10 * np.sin(2 * np.pi * 0.2 * t)).astype(int))
    result = lhg('adapt', str(video), '--out', str(tmp_path / 'v.json'))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert '12.0 s of motion' in result.stdout, result.stdout


def test_adapt_says_when_the_adapted_style_is_further_than_the_default():
    from lhg_ros.commands.adapt import further_warning

    result = {'distance': {'default': 0.3, 'adapted': 0.5}, 'nearest_style': 'calm'}
    warning = further_warning(result, 'kim')
    assert warning.startswith('note: the adapted style moves the model further from kim')
    assert '(by 0.20)' in warning and 'nearest shipped style (calm)' in warning
    assert further_warning({**result, 'distance': {'default': 0.3, 'adapted': 0.2}}, 'kim') == ''


def test_adapt_refuses_bad_input_with_one_line(tmp_path, face_video):
    import cv2

    blank = tmp_path / 'blank.mp4'
    writer = cv2.VideoWriter(str(blank), cv2.VideoWriter_fourcc(*'mp4v'), 25.0, (320, 240))
    for _ in range(50):
        writer.write(np.full((240, 320, 3), 90, np.uint8))
    writer.release()
    short = tmp_path / 'short.npz'
    np.savez(short, poses=np.zeros((75, 6)), rate=25.0)
    garbage = tmp_path / 'garbage.mp4'
    garbage.write_text('not a video')
    cases = {str(tmp_path / 'absent.npz'): 'does not exist',
             str(blank): 'no face found',
             str(garbage): 'cannot decode video file',
             str(short): 'has 3.0 s of motion',
             str(face_video[0]): 'adapt needs at least 10 s'}
    for source, expected in cases.items():
        result = lhg('adapt', source, '--out', str(tmp_path / 'x.json'))
        assert result.returncode == 1, result.stdout
        lines = [line for line in result.stdout.splitlines() if line.startswith('lhg-ros')]
        assert len(lines) == 1 and expected in lines[0], result.stdout
        assert 'Traceback' not in result.stderr
    result = lhg('adapt', str(face_video[0]), '--seconds', '5')
    assert result.returncode == 1 and '--seconds 5 is too little' in result.stdout
