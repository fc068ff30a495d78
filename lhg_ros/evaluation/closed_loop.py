"""Closed-loop evaluation: a policy run over whole recordings as listener_node runs it (the
same runtime, the policy feeding on its own output, minutes at a time), and the measures a
user would judge it by: does it stay within the joint limits, stay finite, stay put (no
drift), move as much as the real listener (RMS, nod rate and size), move like it (Fréchet
distance of the motion features, beside a still head's), nod at the right times (F1, beside
nods at random times), and not fall into a limit cycle (a peak in the pitch spectrum).
Each of these can fail for a head that barely moves; "within the limits" and "finite" alone
cannot, as the model's output is bounded by construction.

Teacher-forced numbers (the model given the real listener's past) say little about this: a
model whose teacher-forced loss fell drifted by hundreds of degrees in closed loop.
"""

import math
from dataclasses import dataclass

import numpy as np

from lhg_ros.evaluation import measures
from lhg_ros.evaluation.offline import run_policy
from lhg_ros.features.audio import FRAME_RATE
from lhg_ros.features.motion_features import MOTION_RATE, POSE_DIM
from lhg_ros.rates import motion_stride

NOD_TOLERANCE_S = 0.2


@dataclass
class Recording:
    """One listener's view of a conversation: the speaker's features (100 Hz), voice
    activity (100 Hz, or None), the speaker's poses (25 Hz, 6 DoF) and, when known, the real
    listener's poses (25 Hz)."""
    name: str
    audio: np.ndarray
    speaking: np.ndarray | None
    speaker_poses: np.ndarray
    listener_poses: np.ndarray | None = None

    @property
    def seconds(self) -> float:
        return len(self.audio) / 100.0


MIN_LISTENING_S = 6.0  # a shorter turn of listening is no closed-loop test (the paper's segments)


def dataset_recordings(dataset, session_ids) -> list[Recording]:
    """Each session's listening as recordings: a participant who never holds the floor while
    the other does listens for the whole session (used whole, for minutes of closed loop);
    where both take turns, each stretch of at least MIN_LISTENING_S in which one listens while
    the other holds the floor is a recording of its own (named ``session/participant@start``).
    """
    from lhg_ros.data.extract import load_features
    from lhg_ros.data.segments import listening_intervals

    out = []
    for session_id in session_ids:
        session = dataset.session(session_id)
        holders = {turn.participant for turn in session.floor}
        for listener in session.participants:
            speakers = [p for p in session.participants if p != listener and p in holders]
            if not speakers:
                continue
            speaker = load_features(dataset, session_id, speakers[0])
            heard = load_features(dataset, session_id, listener)
            name = f'{session_id}/{listener}'
            whole = Recording(name, speaker['audio'], speaker.get('speaking'), speaker['poses'],
                              heard['poses'])
            if listener not in holders:
                out.append(whole)
                continue
            frames = min(len(speaker['poses']), len(heard['poses']))
            every = round(FRAME_RATE / MOTION_RATE)  # audio rows per motion frame
            for start, end in listening_intervals(session, listener, frames):
                if end - start >= MIN_LISTENING_S * MOTION_RATE:
                    rows = slice(start * every, end * every)
                    out.append(Recording(
                        f'{name}@{start / MOTION_RATE:.1f}s', whole.audio[rows],
                        None if whole.speaking is None else whole.speaking[rows],
                        whole.speaker_poses[start:end], whole.listener_poses[start:end]))
    return out


def late_poses(recording: Recording, seconds: float) -> Recording:
    """The recording as a step sees it when the camera's poses arrive ``seconds`` late and
    the step takes the newest one in (listener_node's default): each motion frame gets the
    speaker pose of ``seconds`` before (the first pose until then)."""
    from dataclasses import replace

    lag = int(round(seconds * MOTION_RATE))
    poses = np.asarray(recording.speaker_poses)
    if lag <= 0 or not len(poses):
        return recording
    late = np.concatenate([np.repeat(poses[:1], min(lag, len(poses)), axis=0),
                           poses[:max(len(poses) - lag, 0)]])
    return replace(recording, speaker_poses=late)


def pauses_of(recording: Recording) -> np.ndarray:
    """The speaker's pause starts in a recording (see :func:`measures.pause_starts`)."""
    return measures.pause_starts(recording.speaking, log_power=recording.audio[:, 0])


class StillHead:
    """A policy that never moves: it holds the listener's rest pose. Every measure of motion
    must tell it from a listener (the shipped model of issue [1/6] came close to it)."""
    neutral_pose = np.zeros(POSE_DIM)
    frames_per_step = 3
    motion_rate = MOTION_RATE

    def reset(self) -> None:
        """Nothing to forget."""

    def step(self, audio, speaker=None, listener=None, speaking=None) -> np.ndarray:
        return np.zeros((self.frames_per_step, POSE_DIM))


class _RawRecorder:
    """Wraps a policy to keep each step's raw prediction (before any guard or limit)."""

    def __init__(self, policy):
        self.policy = policy
        self.raw: list[np.ndarray] = []

    def __getattr__(self, name):  # reset, neutral_pose, frames_per_step, ...
        return getattr(self.policy, name)

    def step(self, *args, **kwargs):
        out = self.policy.step(*args, **kwargs)
        self.raw.append(np.asarray(getattr(self.policy, 'last_raw', out), dtype=float))
        return out


def resting_pose(policy, listener_poses: np.ndarray, warm: int) -> np.ndarray:
    """The absolute listener pose that a policy's relative zero means for this listener:
    for policies relative to rest (the rules, ``relative_to_rest`` models) the listener's
    warm-up pose (plus the model's mean offset from rest), else the model's neutral pose."""
    if getattr(policy, 'relative_to_rest', True):
        return np.asarray(listener_poses[:warm], float).mean(axis=0) + policy.neutral_pose
    return np.asarray(policy.neutral_pose, dtype=float)


def rollout(policy, recording: Recording, warmup_s: float = 1.0
            ) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """(relative poses at the policy's rate, raw step predictions (steps, F, 6), rate, the
    absolute pose of relative zero). During the warm-up the listener input is the real
    listener's pose when the recording has one, as in the paper's evaluation; otherwise
    neutral, as on a robot."""
    rate = getattr(policy, 'motion_rate', MOTION_RATE)
    every = motion_stride(rate)
    warm = int(round(warmup_s * rate))
    neutral = np.asarray(policy.neutral_pose, dtype=float)
    warmup = None
    if recording.listener_poses is not None:
        reference = recording.listener_poses[::every]
        neutral = resting_pose(policy, reference, warm)
        warmup = (reference - neutral)[:warm + policy.frames_per_step]
    recorder = _RawRecorder(policy)
    poses = run_policy(recorder, recording.audio, recording.speaker_poses, recording.speaking,
                       warmup_s, warmup)
    raw = np.stack(recorder.raw) if recorder.raw else np.zeros((0, 1, 6))
    return poses, raw, rate, neutral


def limit_checks(raw: np.ndarray, joint_map) -> tuple[int, int, int]:
    """(steps, steps whose every raw frame maps within the joint limits, non-finite steps)."""
    flat = raw.reshape(-1, raw.shape[-1])
    finite = np.isfinite(flat).all(axis=1)
    targets = np.array([joint_map.targets(p) for p in np.where(finite[:, None], flat, 0)])
    inside = finite & np.all((targets >= joint_map.lower - 1e-9)
                             & (targets <= joint_map.upper + 1e-9), axis=1)
    steps = len(raw)
    return (steps, int(inside.reshape(steps, -1).all(axis=1).sum()),
            int((~finite.reshape(steps, -1).all(axis=1)).sum()))


class NodScore:
    """Nod timing F1 pooled over recordings (a still head scores 0, not 1: counting per
    recording would give a perfect score to a recording where neither side nods), and the F1
    of as many nods at random times over the same spans."""

    def __init__(self, tolerance_s: float = NOD_TOLERANCE_S):
        self.tolerance_s = tolerance_s
        self._predicted, self._reference, self._spans, self._offset = [], [], [], 0.0

    def add(self, predicted_times, reference_times, seconds: float, start: float = 0.0) -> None:
        """One recording's nod times, scored over ``start`` .. ``seconds`` (after a warm-up,
        where no nod is looked for)."""
        self._predicted.append(np.asarray(predicted_times, float) + self._offset)
        self._reference.append(np.asarray(reference_times, float) + self._offset)
        self._spans.append((self._offset + start, self._offset + seconds))
        self._offset += seconds + 10.0 * self.tolerance_s + 1.0

    def result(self) -> dict:
        if not self._predicted:
            return {'precision': float('nan'), 'recall': float('nan'), 'f1': float('nan'),
                    'random_f1': float('nan')}
        predicted, reference = np.concatenate(self._predicted), np.concatenate(self._reference)
        return {**measures.event_f1(predicted, reference, self.tolerance_s),
                'random_f1': measures.random_timing_f1(predicted, reference, self._spans,
                                                       self.tolerance_s)}


def minute_means(poses, rate: float) -> np.ndarray:
    """(minutes, 2) mean pitch and yaw (deg) of each whole minute."""
    n = int(60 * rate)
    return np.array([np.degrees(poses[i:i + n, :2].mean(axis=0))
                     for i in range(0, len(poses) - n + 1, n)]).reshape(-1, 2)


def drift_deg(poses, rate: float) -> float:
    """How far the posture wandered over a run (deg): the larger difference, of pitch or yaw,
    between the mean of its last sixth and its first sixth (whole minutes, at least one each;
    0 for a run under two minutes). A model that walks away shows it whatever the run's
    length; a person's posture shifts come and go and average out (a single minute does not:
    the corpus listener's minute means lie up to 2.5 deg from its first minute's, so that
    spread, :func:`minute_spread_deg`, is reported beside, not held to a bound)."""
    means = minute_means(poses, rate)
    if len(means) < 2:
        return 0.0
    n = max(1, len(means) // 6)
    return float(np.abs(means[-n:].mean(axis=0) - means[:n].mean(axis=0)).max())


def minute_spread_deg(poses, rate: float) -> float:
    """Largest distance (deg) of a minute's mean pitch or yaw from the first minute's."""
    means = minute_means(poses, rate)
    return float(np.abs(means - means[0]).max()) if len(means) > 1 else 0.0


def mean_l1(poses, reference) -> float:
    """L1 (deg) averaged over pitch, yaw and roll."""
    errors = measures.pose_errors(poses, reference)
    return float(np.mean([errors[f'l1_{a}_deg'] for a in measures.ANGLES]))


def _ratio(value: float, reference: float) -> float:
    """value / reference; nan where the reference is 0 (no scale to compare with)."""
    return value / reference if reference > 0 else float('nan')


def closed_loop_runs(policy, recordings: list[Recording], warmup_s: float = 1.0,
                     progress: str = '') -> list[tuple]:
    """:func:`rollout` of ``policy`` on each recording in turn; ``progress``: the label of a
    progress bar over the recordings (none when empty)."""
    from tqdm import tqdm

    return [rollout(policy, rec, warmup_s) for rec in tqdm(
        recordings, desc=progress, unit='recording', leave=False, disable=not progress)]


def evaluate_policy(policy, recordings: list[Recording], joint_map=None, warmup_s: float = 1.0,
                    tolerance_s: float = NOD_TOLERANCE_S, progress: str = '',
                    runs: list[tuple] | None = None) -> dict:
    """Closed-loop measures of ``policy`` over ``recordings``, after the warm-up. Always: the
    joint limits, finiteness, drift, nods per minute and after pauses, motion RMS and nod size.
    Against the real listener, where known, pooled over the recordings: the ratios of RMS,
    nod rate and nod size to the listener's, the Fréchet distance of the motion features
    beside a still head's, nod F1 beside random timing, the spectral peak check (the
    recording with the highest ratio) and L1 beside a still head at the listener's warm-up
    pose and the mean pose (the listeners' mean over all recordings). Poses are compared
    relative to the listener's warm-up pose, so no posture counts as motion. ``progress``:
    the label of a progress bar over the recordings (none when empty). ``runs``: the
    policy's :func:`closed_loop_runs` on ``recordings`` when they are made already."""
    from lhg_ros.motion.joints import JointMap

    joint_map = joint_map or JointMap()
    steps = within = nonfinite = 0
    seconds, drift, spread, after = 0.0, 0.0, 0.0, []
    reference_drift = reference_spread = 0.0
    moved, generated, heard, l1, still, compared, peaks = [], [], [], [], [], [], []
    score = NodScore(tolerance_s)
    runs = runs if runs is not None else closed_loop_runs(policy, recordings, warmup_s, progress)
    for rec, (poses, raw, rate, neutral) in zip(recordings, runs, strict=True):
        warm = int(round(warmup_s * rate))
        counts = limit_checks(raw, joint_map)
        steps, within, nonfinite = steps + counts[0], within + counts[1], nonfinite + counts[2]
        seconds += len(poses) / rate
        drift = max(drift, drift_deg(poses, rate))
        spread = max(spread, minute_spread_deg(poses, rate))
        moved.append(poses[warm:])
        events = measures.nod_events(poses[warm:], rate) + warm / rate
        if rec.speaking is not None:
            after += list(measures.after_pause(events[:, 0], pauses_of(rec)))
        if rec.listener_poses is not None:
            every = motion_stride(rate)
            reference = rec.listener_poses[::every][:len(poses)]
            frames = len(reference)
            anchor = reference[:warm].mean(axis=0)
            produced = (neutral + poses[:frames] - anchor)[warm:]
            listener = (reference - anchor)[warm:]
            generated.append(produced)
            heard.append(listener)
            l1.append(mean_l1(produced, listener))
            still.append(mean_l1(np.zeros_like(listener), listener))
            compared.append(reference[warm:])
            reference_drift = max(reference_drift, drift_deg(reference, rate))
            reference_spread = max(reference_spread, minute_spread_deg(reference, rate))
            score.add(events[events[:, 1] < frames / rate, 1],
                      measures.nod_times(listener, rate) + warm / rate, frames / rate,
                      warm / rate)
            peaks.append(measures.spectral_peak(produced, listener, rate))
    minutes = seconds / 60.0
    result = {'recordings': len(recordings), 'minutes': minutes,
              'within_limits': within / max(steps, 1), 'nonfinite_steps': nonfinite,
              'drift_deg': drift, 'minute_spread_deg': spread,
              'nods_after_pause': float(np.mean(after)) if after else float('nan'),
              **measures.nod_statistics(moved, rate), **measures.motion_rms(moved, rate)}
    if l1:
        f1 = score.result()
        mean = np.concatenate(compared).mean(axis=0)
        mean_pose = [mean_l1(np.tile(mean, (len(r), 1)), r) for r in compared]
        result.update({'l1_deg': float(np.mean(l1)), 'still_l1_deg': float(np.mean(still)),
                       'mean_pose_l1_deg': float(np.mean(mean_pose)), 'nod_f1': f1['f1'],
                       'nod_precision': f1['precision'], 'nod_recall': f1['recall'],
                       'random_nod_f1': f1['random_f1']})
        reference = {**measures.nod_statistics(heard, rate), **measures.motion_rms(heard, rate)}
        result.update({f'reference_{key}': value for key, value in reference.items()})
        result.update({'reference_drift_deg': reference_drift,
                       'reference_minute_spread_deg': reference_spread})
        for name in measures.ANGLES:
            key = f'rms_{name}_deg'
            result[f'rms_ratio_{name}'] = _ratio(result[key], reference[key])
        result['nod_rate_ratio'] = _ratio(result['nods_per_min'], reference['nods_per_min'])
        result['nod_size_ratio'] = _ratio(result['median_nod_deg'],
                                          reference['median_nod_deg'])
        fd = measures.frechet_motion(generated, heard)
        still_fd = measures.frechet_motion([np.zeros_like(h) for h in heard], heard)
        result.update({'fd': fd, 'still_fd': still_fd, 'fd_ratio': _ratio(fd, still_fd)})
        peak = max(peaks, key=lambda p: p['ratio'])
        result.update({'spectral_peak': any(p['peak'] for p in peaks),
                       'spectral_peak_ratio': peak['ratio'],
                       'spectral_peak_hz': peak['frequency_hz']})
    return result


def variety(policy_a, policy_b, recording: Recording, warmup_s: float = 1.0) -> dict:
    """:func:`measures.variety` of two policies run in closed loop on the same recording
    (after the warm-up): one model sampled with two seeds should differ, as two listeners
    hearing the same speaker would."""
    a, _, rate, _ = rollout(policy_a, recording, warmup_s)
    b, _, _, _ = rollout(policy_b, recording, warmup_s)
    warm = int(round(warmup_s * rate))
    return measures.variety(a[warm:], b[warm:], rate)


def selection_score(metrics: dict) -> float:
    """Lower is better: how far the motion's size (per-axis RMS), nod rate and nod size are
    from the reference listener's (|log ratio|, so half and double cost the same), the
    Fréchet distance relative to a still head's, (1 - nod F1), and a heavy penalty for any
    step outside the joint limits or non-finite. Not L1: a still head scores well on it.
    Training keeps the checkpoint with the lowest score."""
    def off(ratio):
        return abs(math.log(ratio)) if ratio == ratio and ratio > 0 else 3.0

    size = np.mean([off(metrics[f'rms_ratio_{a}']) for a in measures.ANGLES])
    return (size + off(metrics['nod_rate_ratio']) + off(metrics['nod_size_ratio'])
            + metrics['fd_ratio'] + (1.0 - metrics['nod_f1'])
            + 10.0 * (1.0 - metrics['within_limits']) + 10.0 * (metrics['nonfinite_steps'] > 0))


def generated_speech(seconds: float, folder, seed: int = 0, silent: bool = False,
                     listener: bool = False) -> Recording:
    """A recording with no face in view (the speaker input held at neutral, as the runtime
    eases to it when the face is lost): ``seconds`` of generated speech with pauses
    (lhg_ros.synthetic.corpus), or of room noise only when ``silent``. Its features are extracted
    with the nodes' code (FBank, VAD). With ``listener``, the starter corpus's listener on the
    same speech is its reference listener (what a policy's spectrum, RMS and nods are compared
    with, and its warm-up); else it has none."""
    from pathlib import Path

    import soundfile as sf

    from lhg_ros.features.audio_frontend import extract_audio_file
    from lhg_ros.synthetic.corpus import (
        SAMPLE_RATE,
        SPEAKER_NEUTRAL,
        listener_motion,
        room_noise,
        speaker_audio,
    )

    rng = np.random.default_rng(seed)
    reference = None
    if silent:
        samples = room_noise(seconds, rng)
    else:
        samples, timeline = speaker_audio(seconds, rng)
        if listener:
            reference = listener_motion(timeline, rng)[0]
    path = Path(folder) / f"{'silence' if silent else 'speech'}_{seed}.wav"
    sf.write(str(path), samples, SAMPLE_RATE, subtype='PCM_16')
    track = extract_audio_file(path)
    frames = int(track.duration_s * MOTION_RATE)
    return Recording(path.stem, track.frames, track.speaking,
                     np.tile(SPEAKER_NEUTRAL, (frames, 1)), reference)
