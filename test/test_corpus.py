"""The starter corpus: real speech with varied voices and pauses, and listeners of several styles
who move as much as people do while listening (lhg_ros.synthetic.corpus cites the figures)."""

import numpy as np

from lhg_ros.data.extract import load_features
from lhg_ros.evaluation import measures
from lhg_ros.motion.nods import detect_nods
from lhg_ros.synthetic import corpus as corpus_module


def truths(corpus):
    return [np.load(corpus.root / s.id / 'truth.npz') for s in corpus.sessions]


def test_sessions_differ_in_voice_and_pause_lengths(corpus):
    found = truths(corpus)
    assert len({str(t['voice']) for t in found} | {tuple(t['rate_pitch']) for t in found}) > 1
    gaps = np.concatenate([t['utterances'][1:, 0] - t['utterances'][:-1, 1] for t in found])
    assert gaps.min() < 0.35 and np.percentile(gaps, 50) > 0.35, 'hesitations and pauses'
    assert gaps.max() > 1.4, 'long pauses or silences where nobody talks'


def test_the_speech_is_real_speech_the_vad_finds(corpus):
    session = corpus.sessions[0]
    truth = np.load(corpus.root / session.id / 'truth.npz')
    features = load_features(corpus, session.id, 'A')
    times = np.arange(len(features['speaking'])) / 100.0
    inside = np.zeros(len(times), dtype=bool)
    for start, end in truth['utterances']:
        inside |= (times >= start + 0.1) & (times < end - 0.1)
    assert features['speaking'][inside].mean() > 0.9, 'the VAD hears the utterances'
    silent = np.ones(len(times), dtype=bool)
    for start, end in truth['utterances']:
        silent &= ~((times >= start - 0.1) & (times < end + 0.6))
    assert features['speaking'][silent].mean() < 0.1


def timeline(rng, duration=90.0):
    """Utterances of 1.5-5 s with the corpus's pauses, a stressed syllable about every second."""
    utterances, stresses, t = [], [], rng.uniform(0.5, 2.0)
    while t < duration - 3.0:
        length = rng.uniform(1.5, 5.0)
        utterances.append((t, t + length))
        stresses += list(np.arange(t + 0.2, t + length, rng.uniform(0.7, 1.2)))
        t += length + corpus_module._pause(rng)
    return corpus_module.SpeakerTimeline(utterances, duration, stresses=tuple(stresses))


def listeners(count, style=None, seed=0):
    """(style name, RMS per axis, nods/min, median nod size) of ``count`` drawn listeners."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        listener = corpus_module.draw_listener(rng, style)
        poses, _ = corpus_module.listener_motion(timeline(rng), rng, listener)
        rms = measures.motion_rms(poses, 25.0)
        nods = measures.nod_statistics(poses, 25.0)
        out.append((listener.name, [rms[f'rms_{a}_deg'] for a in measures.ANGLES],
                    nods['nods_per_min'], nods['median_nod_deg']))
    return out


def test_the_listener_moves_as_much_as_people_do_while_listening():
    drawn = listeners(36)
    rms = np.mean([r for _, r, _, _ in drawn], axis=0)
    assert np.all((rms >= 1.0) & (rms <= 3.0)), f'per-axis RMS {rms.round(2)} deg'
    rate = np.mean([n for _, _, n, _ in drawn])
    assert 10 <= rate <= 35, f'{rate:.1f} nods a minute'
    size = np.median([s for _, _, _, s in drawn])
    assert 4.0 <= size <= 8.0, f'median nod {size:.1f} deg'
    assert len({name for name, *_ in drawn}) >= 5, 'listeners of several styles'


def test_calm_and_animated_listeners_differ_at_least_twofold():
    calm, animated = listeners(8, 'calm', seed=1), listeners(8, 'animated', seed=1)

    def mean(rows, i):
        return np.mean([np.mean(r[i]) for r in rows])

    assert mean(animated, 2) >= 2.0 * mean(calm, 2), 'nod rate'
    assert mean(animated, 1) >= 2.0 * mean(calm, 1), 'motion RMS'


def test_no_listener_nods_in_silence_but_none_is_still():
    rng = np.random.default_rng(3)
    silence = corpus_module.SpeakerTimeline([], 180.0)
    for style in corpus_module.STYLES:
        poses, starts = corpus_module.listener_motion(silence, rng,
                                                      corpus_module.draw_listener(rng, style))
        assert measures.nod_statistics(poses, 25.0)['nods_per_min'] <= 2.0, style
        assert len(starts) == 0
        assert np.degrees(poses[:, 1]).std() > 0.2, f'{style}: sways in silence'


def test_small_nods_fall_on_the_stressed_syllables_of_the_real_speech(corpus):
    for session, truth in zip(corpus.sessions, truths(corpus), strict=True):
        stresses, nods = truth['stresses'], truth['nod_starts']
        minutes = load_features(corpus, session.id, 'B')['duration'] / 60.0
        assert 20 <= len(stresses) / minutes <= 150, 'syllable peaks of the espeak-ng speech'
        inside = np.zeros(len(stresses), dtype=bool)
        for start, end in truth['utterances']:
            inside |= (stresses >= start) & (stresses <= end)
        assert inside.all(), 'stresses lie in the utterances'
        near = [np.abs(stresses - nod).min() <= 0.15 for nod in nods]
        assert np.mean(near) >= 0.3, 'a share of the nods fall on stressed syllables'
        assert str(truth['style']) in corpus_module.STYLES


def test_nods_vary_in_amplitude_and_the_detector_finds_them(corpus):
    every = []
    for session, truth in zip(corpus.sessions, truths(corpus), strict=True):
        poses = load_features(corpus, session.id, 'B')['poses']
        peaks, sizes = detect_nods(poses[:, 0], 25.0)
        starts = truth['nod_starts']
        # Most planned nods (a fast burst counts once) are found, within their cycle.
        found = [np.any((peaks >= s) & (peaks <= s + 0.6)) for s in starts]
        assert np.mean(found) >= 0.7, f'{np.mean(found):.2f} of the nods found'
        assert np.ptp(sizes) > 1.0, 'nod sizes vary within a session'
        every.append(sizes)
    # (a short session with a long quiet stretch may hold only a handful of nods)
    assert np.ptp(np.concatenate(every)) > 3.0, 'nod sizes vary'
