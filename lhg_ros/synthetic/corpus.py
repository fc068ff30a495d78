"""The starter corpus: generated speaker sessions and a stochastic listener, for training the
shipped model and for closed-loop evaluation when no paired human recordings are at hand.

No public dataset of paired speaker audio and listener head motion can be reached from here,
so this is the most honest substitute we could build, and it is named as such wherever the
shipped model is described. Every session is a manifest entry like a real recording (audio
files and head-pose tracks), so training and evaluation run the same pipeline a user runs on
real data (``lhg-ros data extract``, ``train``, ``eval``).

The speaker (participant ``A``): real speech from espeak-ng with a voice, rate and pitch drawn
per session from several English voices, sentences built from a phrase bank, pauses of varied
length between utterances (short hesitations, phrase boundaries, long silences where nobody
talks), and room noise at a drawn level. The speaker's head moves more while talking than in
silence and makes small beats at stressed moments and at phrase ends (Hadar et al. 1983); it
sometimes looks away, and some stretches have the face out of view (the pose held at the
neutral pose, what the listener runtime eases to when the face is lost).

The listener (participant ``B``) is drawn per session from a named listening style
(:data:`STYLES`) with per-listener variation inside it, so the corpus holds calm and animated
listeners (more than a 2x spread in nod rate and motion). The behaviours and their sources;
the numbers are our choices within the ranges these sources describe:

* People listening are never still. Motion capture of people in conversation shows a
  head-rotation RMS about a 2 s running median of 2-5 deg (pitch), 3-9 (yaw), 2-3 (roll); a
  public analysis of listeners in the Seamless Interaction dataset reports 1.8 / 2.3 / 1.5 deg
  while listening and about 30 nods a minute. Here: fast sway of yaw and roll (about 0.35 s
  time constant) of 0.6-2 deg by style, half of that in silence, slow postural sway below it,
  posture shifts that settle (Hadar et al. 1985), and a head-tilt habit (roll held a few
  seconds) for some styles. Pitch sways little on its own: its motion is the nods.
* Narrow, small nods in phase with the speaker's stressed syllables (Hadar, Steiner & Rose
  1985): here the loudest syllable peaks of the real speech (its energy envelope) draw a
  small nod (2.5-6 deg, one cycle of 0.25-0.4 s) at a style's rate, starting with the
  syllable. Some styles add short bursts of fast nodding at 3-5 Hz (Hale et al. 2020 find
  listeners' fast nodding at 2.6-6.5 Hz).
* Wide, larger and multi-cycle nods in the pauses and at phrase ends (Hadar et al. 1985;
  Maynard 1987; McClave 2000), shortly after the cue (Ward and Tsukahara 2000: a few hundred
  milliseconds): a pause of at least 0.35 s after at least 1 s of speech draws a nod with a
  style's probability, after a style's latency; one, two or three cycles, each later cycle
  smaller than the one before (Mori, Den & Jokinen 2025).
* Nobody speaks, nobody nods: in silence only sway, tilts and posture shifts go on.

Targets over the corpus (checked by ``test/test_corpus.py`` with the one nod detector,
:func:`lhg_ros.motion.nods.detect_nods`): per-axis RMS 1-3 deg, 10-35 nods a minute with a
median size of 4-8 deg, at most 2 nods a minute in silence.

References: U. Hadar, T. Steiner, E. Grant, F. C. Rose (1983), Head movement correlates of
juncture and stress at sentence level, Language and Speech 26(2):117-129. U. Hadar, T. Steiner,
F. C. Rose (1985), Head movement during listening turns in conversation, Journal of Nonverbal
Behavior 9(4):214-228. S. K. Maynard (1987), Interactional functions of a nonverbal sign: head
movement in Japanese dyadic casual conversation, Journal of Pragmatics 11(5):589-606.
E. McClave (2000), Linguistic functions of head movements in the context of speech, Journal of
Pragmatics 32(7):855-878. R. Poppe, K. P. Truong, D. Reidsma, D. Heylen (2010), Backchannel
strategies for artificial listeners, IVA 2010, LNCS 6356:146-158. T. Stivers (2008), Stance,
alignment, and affiliation during storytelling: when nodding is a token of affiliation,
Research on Language and Social Interaction 41(1):31-57. A. Hale, G. Ward, F. Ortiz, et al.
(2020), Interactional head movements: listeners' fast nodding, PMC7054373 (Journal of
Experimental Psychology: General 149(3)). M. Mori, Y. Den, K. Jokinen (2025), nod cycles,
PLoS ONE e0323448. N. Ward, W. Tsukahara (2000),
Prosodic features which cue back-channel responses in English and Japanese, Journal of
Pragmatics 32(8):1177-1207.

    lhg-ros data corpus out/corpus --sessions 48 --held-out 4
"""

import io
import math
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lhg_ros.data.manifest import write_manifest
from lhg_ros.features.motion_features import MOTION_RATE, POSE_DIM
from lhg_ros.rates import SAMPLE_RATE

VOICES = ('en-us', 'en-gb', 'en-gb-scotland', 'en-gb-x-rp', 'en-gb-x-gbclan', 'en-029',
          'en-us-nyc', 'en-gb-x-gbcwmd')
VARIANTS = ('', '+m1', '+m2', '+m3', '+m4', '+m7', '+f1', '+f2', '+f3', '+f4', '+f5')
SPEAKER_NEUTRAL = np.array([0.0, 0.0, 0.0, 0.9, 0.0, 0.0])  # face straight ahead, 0.9 m

OPENINGS = ('so', 'well', 'and then', 'you know', 'actually', 'anyway', 'the thing is',
            'honestly', 'at first', 'later on', 'in the end', 'to be fair')
SUBJECTS = ('my brother', 'the teacher', 'our neighbour', 'I', 'we', 'my friend from work',
            'the old man next door', 'my sister', 'the whole team', 'a woman on the train',
            'the manager', 'they')
ACTIONS = ('went to the market to buy some bread', 'told me a long story about the summer',
           'took the last bus home in the rain', 'started painting the kitchen walls',
           'found a little cafe near the harbour', 'lost the keys somewhere in the park',
           'booked a trip to the mountains', 'cooked dinner for twelve people',
           'moved into a flat with a small garden', 'fixed the old bicycle in the garage',
           'read the whole novel in one night', 'missed the train by a minute',
           'planted tomatoes on the balcony', 'waited for hours at the station',
           'called the office about the broken heater', 'learned to play the piano')
ENDINGS = ('last weekend', 'yesterday afternoon', 'a few years ago', 'every single morning',
           'without telling anyone', 'which was a bit strange', 'and nobody believed it',
           'just before the holidays', 'in the middle of the night', 'for no reason at all')


@dataclass
class SpeakerTimeline:
    """Where the speaker talks: (start, end) seconds of each utterance, the session's length
    and the voice (espeak-ng voice, words per minute, pitch)."""
    utterances: list[tuple[float, float]]
    duration: float
    voice: tuple[str, int, int] = ('', 0, 0)
    stresses: tuple[float, ...] = ()  # seconds of the stressed (loudest) syllable peaks


def _sentence(rng) -> str:
    parts = []
    if rng.random() < 0.5:
        parts.append(str(rng.choice(OPENINGS)) + ',')
    parts += [str(rng.choice(SUBJECTS)), str(rng.choice(ACTIONS))]
    if rng.random() < 0.6:
        parts.append(str(rng.choice(ENDINGS)))
    if rng.random() < 0.3:
        parts += ['and', str(rng.choice(SUBJECTS)), str(rng.choice(ACTIONS))]
    return ' '.join(parts) + '.'


def speak_utterance(text: str, voice: str, rate_wpm: int, pitch: int) -> np.ndarray:
    """espeak-ng speech at 16 kHz, leading and trailing silence trimmed."""
    import soundfile as sf
    import soxr

    result = subprocess.run(['espeak-ng', '-v', voice, '-s', str(rate_wpm), '-p', str(pitch),
                             '--stdout', text], check=True, capture_output=True)
    samples, rate = sf.read(io.BytesIO(result.stdout), dtype='float32')
    samples = soxr.resample(samples, rate, SAMPLE_RATE)
    loud = np.flatnonzero(np.abs(samples) > 0.02)
    return samples[loud[0]:loud[-1] + 1] if len(loud) else samples


def _pause(rng) -> float:
    """A gap between utterances: hesitation, phrase boundary, long pause, a silence, or now
    and then a long quiet stretch where nobody talks for tens of seconds (a listener runs
    through those too: it has to learn that long silence means no nods)."""
    kind = rng.random()
    if kind < 0.25:
        return float(rng.uniform(0.1, 0.3))
    if kind < 0.77:
        return float(rng.uniform(0.4, 1.3))
    if kind < 0.90:
        return float(rng.uniform(1.4, 3.0))
    if kind < 0.965:
        return float(rng.uniform(4.0, 9.0))
    return float(rng.uniform(12.0, 30.0))


def speaker_audio(duration_s: float, rng) -> tuple[np.ndarray, SpeakerTimeline]:
    """A speaker's track of about ``duration_s``: utterances and pauses over room noise."""
    voice = str(rng.choice(VOICES)) + str(rng.choice(VARIANTS))
    rate_wpm, pitch = int(rng.integers(130, 190)), int(rng.integers(25, 75))
    level = float(rng.uniform(0.5, 1.0))
    pieces, utterances, stresses = [], [], []
    t = float(rng.uniform(0.5, 2.5))
    while t < duration_s - 1.0:
        samples = level * speak_utterance(_sentence(rng), voice, rate_wpm, pitch)
        pieces.append((t, samples))
        utterances.append((t, t + len(samples) / SAMPLE_RATE))
        stresses += [t + peak for peak in stressed_syllables(samples)]
        t = utterances[-1][1] + _pause(rng)
    duration = max(t, utterances[-1][1] + 0.5) if utterances else duration_s
    track = room_noise(duration, rng)
    for start, samples in pieces:
        begin = int(start * SAMPLE_RATE)
        track[begin:begin + len(samples)] += samples[:len(track) - begin]
    return np.clip(track, -1, 1), SpeakerTimeline(utterances, duration,
                                                  (voice, rate_wpm, pitch), tuple(stresses))


def stressed_syllables(samples: np.ndarray, rate: int = SAMPLE_RATE) -> list[float]:
    """Seconds (from the utterance's start) of its stressed syllables: the peaks of the
    energy envelope (10 ms frames, smoothed over 50 ms) at least 0.18 s apart whose level is
    in the loudest 40% of the utterance's syllable peaks."""
    from scipy.signal import find_peaks

    hop = rate // 100
    frames = len(samples) // hop
    if frames < 5:
        return []
    energy = (samples[:frames * hop].reshape(frames, hop) ** 2).mean(axis=1)
    envelope = np.convolve(10 * np.log10(energy + 1e-10), np.ones(5) / 5, mode='same')
    peaks, _ = find_peaks(envelope, distance=18, prominence=3.0)
    if not len(peaks):
        return []
    loud = peaks[envelope[peaks] >= np.percentile(envelope[peaks], 60)]
    return list(loud / 100.0)


def room_noise(duration_s: float, rng) -> np.ndarray:
    """White plus low-frequency (brown) noise at a drawn level, about 20-45 dB below speech."""
    n = int(duration_s * SAMPLE_RATE)
    white = rng.normal(0, 1, n)
    brown = np.cumsum(rng.normal(0, 1, n))
    brown -= np.convolve(brown, np.ones(801) / 801, mode='same')  # no slow drift
    noise = white / white.std() + 0.7 * brown / (brown.std() or 1.0)
    return (10 ** (-rng.uniform(1.2, 2.4)) * noise).astype(np.float32)


def _smooth_noise(frames: int, rng, seconds: float) -> np.ndarray:
    """Gaussian noise low-passed to ``seconds`` (a first-order filter run both ways), unit
    standard deviation."""
    alpha = 1.0 - math.exp(-1.0 / (seconds * MOTION_RATE))
    x = rng.normal(0, 1, frames + 200)
    for _ in range(2):
        y = np.empty_like(x)
        acc = 0.0
        for i, v in enumerate(x):
            acc += alpha * (v - acc)
            y[i] = acc
        x = y[::-1]
    x = x[100:100 + frames]
    return x / (x.std() or 1.0)


def _speech_mask(timeline: SpeakerTimeline, times: np.ndarray) -> np.ndarray:
    mask = np.zeros(len(times), dtype=bool)
    for start, end in timeline.utterances:
        mask |= (times >= start) & (times < end)
    return mask


def speaker_motion(timeline: SpeakerTimeline, rng, absent_share: float = 0.0) -> np.ndarray:
    """The speaker's 6-DoF head poses at 25 Hz: sway that grows while talking, beats at
    stressed moments and phrase ends, glances away, and (``absent_share`` of the time) the
    face out of view, held at the neutral pose."""
    frames = int(timeline.duration * MOTION_RATE)
    t = np.arange(frames) / MOTION_RATE
    talking = _speech_mask(timeline, t).astype(float)
    activity = np.convolve(talking, np.ones(13) / 13, mode='same')  # eases in and out
    deg = np.radians
    poses = np.tile(SPEAKER_NEUTRAL, (frames, 1))
    posture = rng.normal(0, [3.0, 5.0, 2.0])
    for i, (slow, busy) in enumerate(((1.5, 3.0), (2.5, 4.0), (1.0, 2.0))):
        sway = _smooth_noise(frames, rng, 1.2)
        poses[:, i] = deg(posture[i] + (slow + busy * activity) * sway)
    beats = [s + rng.uniform(0.3, max(0.4, e - s)) for s, e in timeline.utterances
             for _ in range(rng.poisson(max(e - s, 0.1) / 2.0))]
    beats += [e - 0.1 for s, e in timeline.utterances if rng.random() < 0.5]
    for beat in beats:
        poses[:, 0] += deg(rng.uniform(2, 6)) * _bump(t, beat, rng.uniform(0.25, 0.4))
    for _ in range(rng.poisson(timeline.duration / 25.0)):  # glances away
        start, hold = rng.uniform(0, timeline.duration), rng.uniform(0.8, 2.5)
        poses[:, 1] += deg(rng.choice([-1, 1]) * rng.uniform(10, 25)) * _plateau(
            t, start, hold, 0.3)
    poses[:, 3] += 0.1 * rng.normal() + 0.02 * _smooth_noise(frames, rng, 3.0)
    poses[:, 4] += 0.05 * rng.normal() + 0.015 * _smooth_noise(frames, rng, 2.0)
    poses[:, 5] += 0.03 * rng.normal() + 0.01 * _smooth_noise(frames, rng, 2.0)
    if absent_share > 0:
        length = absent_share * timeline.duration
        start = rng.uniform(0, max(timeline.duration - length, 0.0))
        poses[(t >= start) & (t < start + length)] = SPEAKER_NEUTRAL
    return poses


def _bump(t: np.ndarray, start: float, duration: float) -> np.ndarray:
    inside = (t >= start) & (t < start + duration)
    out = np.zeros_like(t)
    out[inside] = np.sin(np.pi * (t[inside] - start) / duration) ** 2
    return out


def _plateau(t: np.ndarray, start: float, hold: float, ramp: float) -> np.ndarray:
    rise = np.clip((t - start) / ramp, 0, 1)
    fall = np.clip((start + ramp + hold + ramp - t) / ramp, 0, 1)
    return np.minimum(rise, fall) ** 2 * (3 - 2 * np.minimum(rise, fall))


def nod_cues(timeline: SpeakerTimeline, min_pause_s: float = 0.35,
             min_speech_s: float = 1.0) -> list[tuple[float, float]]:
    """(pause start, seconds of speech before it) for every pause of at least
    ``min_pause_s`` after at least ``min_speech_s`` of speech (shorter gaps join)."""
    cues, run_start = [], None
    utterances = timeline.utterances
    for i, (start, end) in enumerate(utterances):
        if run_start is None:
            run_start = start
        gap = (utterances[i + 1][0] if i + 1 < len(utterances) else timeline.duration) - end
        if gap >= min_pause_s:
            if end - run_start >= min_speech_s:
                cues.append((end, end - run_start))
            run_start = None
    return cues


@dataclass(frozen=True)
class ListenerStyle:
    """How one kind of listener moves (see the module docstring for the sources)."""
    name: str
    stress_nods_per_min: float  # small nods on stressed syllables, per minute of speech
    pause_nod_p: float  # chance of a nod at a pause cue (after a second of speech)
    nod_deg: float  # median first-cycle size of a pause nod
    cycles_p: tuple[float, float, float]  # chance of 1, 2, 3 cycles at a pause
    latency_s: tuple[float, float]  # a pause nod starts this long after the speech stops
    sway_deg: float  # fast yaw and roll sway while the speaker talks (standard deviation)
    tilts_per_min: float = 0.0  # head tilts (roll held for a few seconds)
    fast_bursts_per_min: float = 0.0  # bursts of fast nodding at 3-5 Hz
    shifts_per_min: float = 1.0  # posture shifts that settle


STYLES = {s.name: s for s in (
    ListenerStyle('calm', 8.0, 0.6, 4.5, (0.7, 0.25, 0.05), (0.35, 0.7), 0.6, 0.5, 0.0, 0.5),
    ListenerStyle('attentive', 14.0, 0.8, 6.0, (0.5, 0.35, 0.15), (0.25, 0.5), 1.1, 1.0, 0.5),
    ListenerStyle('animated', 24.0, 0.9, 7.5, (0.35, 0.4, 0.25), (0.2, 0.4), 2.0, 1.5, 2.0,
                  1.5),
    ListenerStyle('reserved', 10.0, 0.5, 5.0, (0.8, 0.2, 0.0), (0.4, 0.8), 0.7, 0.0, 0.0, 0.5),
    ListenerStyle('thoughtful', 10.0, 0.7, 5.5, (0.6, 0.3, 0.1), (0.5, 0.9), 1.2, 3.0, 0.0,
                  1.0),
    ListenerStyle('eager', 20.0, 0.95, 6.5, (0.3, 0.4, 0.3), (0.15, 0.3), 1.3, 0.5, 1.0,
                  1.0),
)}


def draw_listener(rng, style: str | None = None) -> ListenerStyle:
    """A listener: a named style (drawn when not given) with its rates and sizes varied by
    about 15% for this person."""
    base = STYLES[style] if style else STYLES[str(rng.choice(sorted(STYLES)))]

    def vary(value: float) -> float:
        return float(value * rng.lognormal(0.0, 0.15))

    return ListenerStyle(base.name, vary(base.stress_nods_per_min),
                         min(0.98, vary(base.pause_nod_p)), vary(base.nod_deg), base.cycles_p,
                         base.latency_s, vary(base.sway_deg), vary(base.tilts_per_min),
                         vary(base.fast_bursts_per_min), vary(base.shifts_per_min))


def _nod(t: np.ndarray, start: float, size_rad: float, cycle_s: float, cycles: int,
         shrink: float) -> np.ndarray:
    """A nod of ``cycles`` down-and-up cycles, each ``shrink`` times the one before."""
    out = np.zeros_like(t)
    for k in range(cycles):
        out += size_rad * shrink ** k * _bump(t, start + k * cycle_s, cycle_s)
    return out


def listener_motion(timeline: SpeakerTimeline, rng, listener: ListenerStyle | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The listener's 6-DoF poses at 25 Hz and the start times of its nods (every nod, small
    and large); ``listener`` is drawn when not given."""
    style = listener or draw_listener(rng)
    frames = int(timeline.duration * MOTION_RATE)
    t = np.arange(frames) / MOTION_RATE
    deg = np.radians
    talking = _speech_mask(timeline, t).astype(float)
    activity = 0.5 + 0.5 * np.convolve(talking, np.ones(25) / 25, mode='same')
    poses = np.zeros((frames, POSE_DIM))
    posture = rng.normal(0, [1.5, 2.0, 1.0])
    for i, (slow, fast) in enumerate(((0.4, 0.5), (0.8, 2.4), (0.5, 2.0))):
        poses[:, i] = deg(posture[i] + slow * _smooth_noise(frames, rng, 2.0)
                          + fast * style.sway_deg * activity * _smooth_noise(frames, rng, 0.35))
    for _ in range(rng.poisson(style.shifts_per_min * timeline.duration / 60.0)):
        start, settle = rng.uniform(0, timeline.duration), rng.uniform(5.0, 15.0)
        shift = deg(rng.choice([-1, 1], 3) * rng.uniform(1.0, 2.5, 3))
        after = np.clip(t - start, 0, None)
        profile = np.clip(after / 1.0, 0, 1) * np.exp(-np.clip(after - 1.0, 0, None) / settle)
        poses[:, :3] += shift * profile[:, None]
    speech_s = sum(e - s for s, e in timeline.utterances)
    for _ in range(rng.poisson(style.tilts_per_min * speech_s / 60.0)):
        s, e = timeline.utterances[rng.integers(len(timeline.utterances))]
        poses[:, 2] += deg(rng.choice([-1, 1]) * rng.uniform(2.5, 5.0)) * _plateau(
            t, rng.uniform(s, e), rng.uniform(1.0, 4.0), 0.4)

    # Nods: (start, first-cycle size deg, cycle s, cycles, shrink); pauses first, so a
    # syllable nod never takes a pause's place.
    planned = []
    for pause, speech in nod_cues(timeline):
        if rng.random() < min(0.98, style.pause_nod_p * (0.8 + 0.1 * min(speech, 4.0))):
            cycles = int(rng.choice([1, 2, 3], p=style.cycles_p))
            planned.append((pause + rng.uniform(*style.latency_s),
                            np.clip(style.nod_deg * rng.lognormal(0, 0.3), 3.0, 16.0),
                            rng.uniform(0.3, 0.55), cycles, rng.uniform(0.55, 0.8)))
    stresses = np.asarray(timeline.stresses, dtype=float)
    if len(stresses) and speech_s > 0:
        chance = min(1.0, style.stress_nods_per_min * speech_s / 60.0 / len(stresses))
        for stress in stresses[rng.random(len(stresses)) < chance]:
            planned.append((stress + rng.uniform(-0.05, 0.1),
                            np.clip(4.0 * rng.lognormal(0, 0.2), 2.5, 6.0),
                            rng.uniform(0.25, 0.4), 1, 1.0))
        burst_chance = min(1.0, style.fast_bursts_per_min * speech_s / 60.0 / len(stresses))
        for stress in stresses[rng.random(len(stresses)) < burst_chance]:
            planned.append((stress, rng.uniform(1.5, 2.5), 1.0 / rng.uniform(3.0, 5.0),
                            int(rng.integers(3, 5)), 0.85))
    busy_until, starts = -np.inf, []
    for start, size, cycle, cycles, shrink in sorted(planned):
        if start < busy_until + 0.15:
            continue  # still nodding
        busy_until = start + cycles * cycle
        starts.append(start)
        poses[:, 0] += _nod(t, start, deg(size), cycle, cycles, shrink)
        poses[:, 1] += deg(rng.normal(0, 0.3 * size / 5.0)) * _bump(t, start, cycles * cycle)
    poses[:, 3:] = [0.9, 0.0, 0.0]
    return poses, np.array(starts)


def make_session(folder: Path, session_id: str, duration_s: float, seed: int,
                 listener: ListenerStyle | None = None, person: str = '') -> dict:
    """Write one session (A.wav, A_poses.npz, B.wav, B_poses.npz, truth.npz); returns its
    manifest entry. ``listener`` (drawn when not given) is called ``person``."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    samples, timeline = speaker_audio(duration_s, rng)
    absent = float(rng.uniform(0.2, 0.6)) if rng.random() < 0.2 else 0.0
    a_poses = speaker_motion(timeline, rng, absent_share=absent)
    listener = listener or draw_listener(rng)
    b_poses, nods = listener_motion(timeline, rng, listener)
    sf.write(str(folder / 'A.wav'), samples, SAMPLE_RATE, subtype='PCM_16')
    sf.write(str(folder / 'B.wav'), room_noise(timeline.duration, rng), SAMPLE_RATE,
             subtype='PCM_16')
    np.savez_compressed(folder / 'A_poses.npz', poses=a_poses, rate=MOTION_RATE)
    np.savez_compressed(folder / 'B_poses.npz', poses=b_poses, rate=MOTION_RATE)
    np.savez_compressed(folder / 'truth.npz', utterances=np.array(timeline.utterances),
                        nod_starts=nods, pause_cues=np.array(nod_cues(timeline)),
                        voice=np.array(timeline.voice[0]),
                        rate_pitch=np.array(timeline.voice[1:]),
                        stresses=np.array(timeline.stresses), style=np.array(listener.name),
                        duration=np.array(timeline.duration))
    rel = folder.name
    return {'id': session_id,
            'participants': {'A': {'person': f'speaker_{session_id}', 'audio': f'{rel}/A.wav',
                                   'poses': f'{rel}/A_poses.npz'},
                             'B': {'person': person or f'listener_{session_id}',
                                   'audio': f'{rel}/B.wav', 'poses': f'{rel}/B_poses.npz',
                                   'style': listener.name}},
            'floor': [['A', 0.0, round(timeline.duration, 3)]]}


def listener_roster(sessions: int, held_out: int, per_listener: int, rng
                    ) -> list[tuple[str, ListenerStyle]]:
    """Who listens in each session: training listeners in turn through the styles, each in
    ``per_listener`` sessions in a row; the last ``held_out`` sessions have listeners of their
    own (two sessions each: one to adapt from, one to judge by), never in training."""
    names = sorted(STYLES)
    count = 0

    def people(n_sessions, each, tag):
        nonlocal count
        out = []
        while len(out) < n_sessions:
            style = names[count % len(names)]
            person = (f'{style}_{count // len(names) + 1:02d}{tag}', draw_listener(rng, style))
            count += 1
            out += [person] * each
        return out[:n_sessions]

    roster = people(sessions - held_out, max(1, per_listener), '')
    return roster + people(held_out, 2, 'h')


def make_corpus(root: str | Path, sessions: int = 48, held_out: int = 4,
                minutes: tuple[float, float] = (1.0, 2.0), seed: int = 0,
                per_listener: int = 5, progress=None) -> Path:
    """``sessions`` generated sessions of ``minutes`` (drawn) each under ``root``, with a
    manifest. The last ``held_out`` have listeners of their own (:func:`listener_roster`),
    listed under ``held_out_listeners`` (no general model trains on them), two sessions each:
    the first to fine-tune or adapt to that listener, the second held out for evaluation (a
    listener with one session: held out)."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    roster = listener_roster(sessions, held_out, per_listener,
                             np.random.default_rng([seed, 7]))
    entries = []
    for i, (person, listener) in enumerate(roster):
        session_id = f'c{i + 1:03d}'
        duration = 60.0 * float(rng.uniform(*minutes))
        entries.append(make_session(root / session_id, session_id, duration,
                                    seed * 1000 + i, listener, person))
        if progress is not None:
            progress(i + 1)
    tail = entries[len(entries) - held_out:] if held_out else []
    people = [e['participants']['B']['person'] for e in tail]
    held = [e['id'] for i, e in enumerate(tail)
            if people[:i].count(people[i]) or people.count(people[i]) == 1]
    return write_manifest(entries, root / 'manifest.yaml', held, sorted(set(people)))
