"""Your own recordings, end to end, as docs/own-data.md describes them: two
people in conversation, each with their own microphone (espeak-ng speech, two voices, taking
turns) and their own camera (the real face photograph moving, one camera at 29.97 fps and one
at 25), described by a manifest; then, through the command line, validate, extract, train one
epoch, evaluate and generate. The generated corpus has no video and a listener who never
speaks; this is the route real recordings take."""

import json
import subprocess

import numpy as np
import pytest
import yaml

from conftest import BIN

# (who, sentences): turns of three sentences, so that each listens for more than 6 s at a time
TURNS = (('A', ('I went to the market this morning to buy some bread.',
                'The baker told me a long story about his summer holidays.',
                'Then it started to rain, so I took the bus home.')),
         ('B', ('My sister is moving to a new flat next month.',
                'We spent the whole weekend packing boxes and painting walls.',
                'The new place has a small garden with an apple tree.')),
         ('A', ('Yesterday I finally finished reading that long novel.',
                'The ending was not at all what I had expected.',
                'I think I will start another book by the same author.')))
VOICES = {'A': 'en-us', 'B': 'en-us+f3'}
CAMERAS = {'A': 29.97, 'B': 25.0}  # frames per second: real cameras differ
RATE = 16000


def record_session(folder, seed: int) -> dict:
    """One conversation: each person's own track (their speech, the other faintly, room
    noise) and their own video; returns its manifest entry with the floor annotated."""
    import soundfile as sf

    from lhg_ros.synthetic.speaker_scene import speak, speaker_motion, write_face_video

    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    turns, floor, t = [], [], 0.5
    for k, (who, sentences) in enumerate(TURNS):
        path = speak(sentences, folder / f'turn{k}.wav', pause_s=0.6, voice=VOICES[who])
        samples, _ = sf.read(str(path), dtype='float32')
        path.unlink()
        turns.append((who, t, samples))
        floor.append([who, round(t + 0.5, 2), round(t + len(samples) / RATE - 0.6, 2)])
        t += len(samples) / RATE + 0.4
    duration = t + 0.5
    for who in 'AB':
        track = rng.normal(0, 3e-4, int(duration * RATE)).astype(np.float32)
        for speaker, start, samples in turns:
            begin = int(start * RATE)
            track[begin:begin + len(samples)] += samples * (1.0 if speaker == who else 0.08)
        sf.write(str(folder / f'{who}.wav'), track, RATE, subtype='PCM_16')
        _, rolls, shifts = speaker_motion(duration, CAMERAS[who], seed=seed + ord(who))
        write_face_video(folder / f'{who}.mp4', rolls, shifts, CAMERAS[who])
    return {'id': folder.name, 'floor': floor, 'participants': {
        who: {'person': person, 'audio': f'{folder.name}/{who}.wav',
              'video': f'{folder.name}/{who}.mp4'}
        for who, person in (('A', 'alice'), ('B', 'bob'))}}


def lhg(*args, timeout=600):
    result = subprocess.run([str(BIN / 'lhg-ros'), *map(str, args)], capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, (f'lhg-ros {" ".join(map(str, args))}:\n'
                                    f'{result.stdout[-2000:]}{result.stderr[-2000:]}')
    assert 'Traceback' not in result.stderr
    return result


@pytest.fixture(scope='module')
def recordings(tmp_path_factory):
    root = tmp_path_factory.mktemp('recordings')
    sessions = [record_session(root / f'talk{i}', seed=i) for i in (1, 2)]
    manifest = root / 'manifest.yaml'
    manifest.write_text(yaml.safe_dump({'format': 'lhg_ros.dataset', 'version': 1,
                                        'held_out': ['talk2'], 'sessions': sessions}))
    return manifest


def test_two_people_on_camera_validate_extract_train_eval_and_generate(recordings, tmp_path):
    from lhg_ros.data.extract import load_features
    from lhg_ros.data.manifest import load_manifest

    lhg('data', 'validate', recordings)
    lhg('data', 'extract', recordings)
    dataset = load_manifest(recordings)
    for session in dataset.sessions:
        for who in 'AB':
            poses = load_features(dataset, session.id, who)['poses']
            seen = np.isfinite(poses).all(axis=1).mean()
            assert seen > 0.9, f'{session.id}/{who}: the face was found in {seen:.0%} of frames'
            roll = np.degrees(np.nanmax(poses[:, 2]) - np.nanmin(poses[:, 2]))
            assert roll > 5, f'{session.id}/{who}: the moving face rolls {roll:.1f} deg'

    run = tmp_path / 'run'
    lhg('train', '--data', recordings, '--out', run, '--preset', 'tiny', '--epochs', '1')
    checkpoint = run / 'last.safetensors'
    assert checkpoint.is_file() and json.loads((run / 'last.json').read_text())

    lhg('eval', '--data', recordings, '--checkpoint', checkpoint, '--out', tmp_path / 'eval')
    report = json.loads((tmp_path / 'eval' / 'report.json').read_text())
    # each person is scored while listening to the other, turn by turn
    names = report['recording_names']
    assert any(n.startswith('talk2/A@') for n in names), names
    assert any(n.startswith('talk2/B@') for n in names), names
    model = report['systems']['model']
    assert model['within_limits'] == 1.0 and model['nonfinite_steps'] == 0

    session = dataset.session('talk2')
    out = tmp_path / 'generated'
    lhg('generate', '--checkpoint', checkpoint, '--audio', session.participants['A'].audio,
        '--video', session.participants['A'].video, '--out', out, '--no-video')
    with np.load(out / 'listener.npz') as listener:
        poses, times = listener['poses'], listener['times']
    assert times[-1] > 0.9 * session_seconds(session.participants['A'].audio)
    assert np.isfinite(poses).all() and np.degrees(poses[:, :3]).std(axis=0).max() > 0.1


def session_seconds(path) -> float:
    import soundfile as sf

    return sf.info(str(path)).duration
