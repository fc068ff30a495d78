"""The starter corpus: real speech with varied voices and pauses, and a listener whose nods
follow the published statistics the generator cites (lhg_ros.data.corpus)."""

import numpy as np

from lhg_ros.data.extract import load_features
from lhg_ros.evaluation import measures


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


def test_the_listener_nods_mostly_shortly_after_pauses_and_never_in_silence(corpus):
    rates, after, in_silence = [], [], 0
    for session, truth in zip(corpus.sessions, truths(corpus), strict=True):
        nods, cues = truth['nod_starts'], truth['pause_cues'][:, 0]
        minutes = load_features(corpus, session.id, 'B')['duration'] / 60.0
        rates.append(len(nods) / minutes)
        after += list(measures.after_pause(nods, cues, within_s=1.0))
        ends = truth['utterances'][:, 1]
        starts = np.append(truth['utterances'][1:, 0], np.inf)
        for nod in nods:  # a nod more than 1 s into a silence of 3 s or more
            previous = np.searchsorted(ends, nod) - 1
            if previous >= 0 and starts[previous] - ends[previous] > 3.0:
                in_silence += nod - ends[previous] > 1.0
    assert 4 <= np.mean(rates) <= 20, f'{np.mean(rates):.1f} nods a minute'
    assert np.mean(after) >= 0.8, f'{100 * np.mean(after):.0f}% of nods after a pause'
    assert in_silence == 0


def test_nods_vary_in_amplitude_and_the_detector_finds_them(corpus):
    session = corpus.sessions[0]
    poses = load_features(corpus, session.id, 'B')['poses']
    events = measures.nod_events(poses, 25.0)
    truth = np.load(corpus.root / session.id / 'truth.npz')
    assert len(events) >= len(truth['nod_starts'])  # repeated nods count once a cycle
    peaks = [np.degrees(poses[int(25 * s):int(25 * s) + 15, 0].max()) for s in
             truth['nod_starts']]
    assert np.ptp(peaks) > 2.0, 'nod amplitudes vary'
    sway = np.degrees(np.abs(poses[:, 1] - np.median(poses[:, 1])))
    assert np.percentile(sway, 50) < 2.0, 'yaw only sways'
