"""Small synthetic dyadic sessions made from real parts, for tests, smoke runs and checking a
set-up: two espeak-ng voices taking turns; participant A on video (a real face photograph
moving with known in-plane motion), participant B as a head-pose track (like motion capture)
with scripted nods after A's pauses, since a nod (pitch) cannot be made from one photograph.
Both speak in turn, so each is a listener while the other speaks (training segments, and the
listening turns that validation and ``lhg-ros eval`` score). Not training data: that is the
starter corpus (lhg_ros.synthetic.corpus), with many listeners.

    lhg-ros data synth out/synthetic --sessions 3
"""

import subprocess
import tempfile
from pathlib import Path

import numpy as np

from lhg_ros.data.manifest import write_manifest
from lhg_ros.rates import MOTION_RATE
from lhg_ros.rates import SAMPLE_RATE as RATE

SENTENCES = (
    'I went to the market this morning to buy some bread.',
    'The baker told me a long story about his summer holidays.',
    'Then it started to rain, so I took the bus home.',
    'My sister is moving to a new flat next month.',
    'We spent the whole weekend packing boxes and painting walls.',
    'The new place has a small garden with an apple tree.',
    'Yesterday I finally finished reading that long novel.',
    'The ending was not at all what I had expected.',
    'I think I will start another book by the same author.',
)
VOICES = {'A': 'en-us', 'B': 'en-us+f3'}
NOD_AMPLITUDE = np.radians(7.0)


def _sentence_audio(text: str, voice: str) -> np.ndarray:
    import soundfile as sf

    with tempfile.TemporaryDirectory() as tmp:
        raw, wav = Path(tmp) / 'raw.wav', Path(tmp) / 'out.wav'
        subprocess.run(['espeak-ng', '-v', voice, '-s', '155', '-w', str(raw), text],
                       check=True, capture_output=True)
        subprocess.run(['sox', str(raw), '-r', str(RATE), '-c', '1', str(wav), 'silence', '1',
                        '0.01', '0.1%', 'reverse', 'silence', '1', '0.01', '0.1%', 'reverse'],
                       check=True, capture_output=True)
        samples, _ = sf.read(str(wav), dtype='float32')
    return samples


def _nod(t: np.ndarray, start: float, duration: float = 0.5) -> np.ndarray:
    inside = (t >= start) & (t < start + duration)
    out = np.zeros_like(t)
    out[inside] = NOD_AMPLITUDE * np.sin(np.pi * (t[inside] - start) / duration) ** 2
    return out


def make_session(folder: Path, session_id: str, turns: int = 4, seed: int = 0) -> dict:
    """Write one session's files into ``folder``; returns its manifest entry and, in
    ``truth.npz``, the motion it was made with."""
    import soundfile as sf

    from lhg_ros.synthetic.speaker_scene import speaker_motion, write_face_video

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    pieces = []  # (who, start_s, samples)
    sentence_ends = {'A': [], 'B': []}
    floor = []
    t = 0.5
    for k in range(turns):
        who = 'AB'[k % 2]
        start = t
        for text in rng.choice(SENTENCES, size=3, replace=False):
            samples = _sentence_audio(str(text), VOICES[who])
            pieces.append((who, t, samples))
            t += len(samples) / RATE
            sentence_ends[who].append(t)
            t += float(rng.uniform(0.6, 0.9))  # pause between sentences
        floor.append([who, round(start, 3), round(t - 0.3, 3)])
        t += 0.4  # gap before the other takes the floor
    total = t + 0.5
    tracks = {who: rng.normal(0, 3e-4, int(total * RATE)).astype(np.float32) for who in 'AB'}
    for who, start, samples in pieces:
        begin = int(start * RATE)
        tracks[who][begin:begin + len(samples)] += samples
    for who, track in tracks.items():
        sf.write(str(folder / f'{who}.wav'), track, RATE, subtype='PCM_16')

    frames = int(total * MOTION_RATE)
    times = np.arange(frames) / MOTION_RATE
    _, rolls, shifts = speaker_motion(total, MOTION_RATE, seed=seed)
    write_face_video(folder / 'A.mp4', rolls[:frames], shifts[:frames], MOTION_RATE)
    nods = [end + 0.3 for end in sentence_ends['A']]
    b = np.zeros((frames, 6))
    b[:, 0] = sum((_nod(times, n) for n in nods), np.zeros(frames))
    b[:, 1] = np.radians(2.0) * np.sin(2 * np.pi * 0.09 * times + seed)
    b[:, 2] = np.radians(1.5) * np.sin(2 * np.pi * 0.13 * times + 2 * seed)
    b[:, 3:] = [0.8, 0.0, 0.15]
    np.savez_compressed(folder / 'B_poses.npz', poses=b, rate=MOTION_RATE)
    np.savez_compressed(folder / 'truth.npz', a_rolls_deg=rolls[:frames],
                        a_shifts_px=shifts[:frames], b_nod_times=np.array(nods))
    rel = folder.name
    return {'id': session_id,
            'participants': {'A': {'person': 'speaker_a', 'audio': f'{rel}/A.wav',
                                   'video': f'{rel}/A.mp4'},
                             'B': {'person': 'listener_b', 'audio': f'{rel}/B.wav',
                                   'poses': f'{rel}/B_poses.npz'}},
            'floor': floor}


def make_dataset(root: str | Path, sessions: int = 3, turns: int = 4, seed: int = 0,
                 held_out: int = 1, progress=None) -> Path:
    """A synthetic dataset with a manifest (``root/manifest.yaml``); the last ``held_out``
    sessions are held out for evaluation."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    entries = []
    for i in range(sessions):
        entries.append(make_session(root / f's{i + 1:03d}', f's{i + 1:03d}', turns, seed + i))
        if progress is not None:
            progress(i + 1)
    held = [e['id'] for e in entries[len(entries) - held_out:]] if held_out else []
    return write_manifest(entries, root / 'manifest.yaml', held)
