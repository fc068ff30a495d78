"""Closed-loop evaluation: a policy run over whole recordings as listener_node runs it (the
same runtime, the policy feeding on its own output, minutes at a time), and the measures a
user would judge it by: does it stay within the joint limits, stay finite, stay put (no
drift), move closer to a real listener than a still head does, and nod at the right times.

Teacher-forced numbers (the model given the real listener's past) say little about this: a
model whose teacher-forced loss fell drifted by hundreds of degrees in closed loop.
"""

from dataclasses import dataclass

import numpy as np

from lhg_ros.evaluation import measures
from lhg_ros.evaluation.offline import run_policy
from lhg_ros.features.pose_features import MOTION_RATE

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


def dataset_recordings(dataset, session_ids) -> list[Recording]:
    """Each session's listening participant(s) as recordings: the one who does not hold the
    floor while the other does (sessions are used whole, for minutes of closed loop)."""
    from lhg_ros.data.extract import load_features

    out = []
    for session_id in session_ids:
        session = dataset.session(session_id)
        holders = {turn.participant for turn in session.floor}
        for listener in session.participants:
            speakers = [p for p in session.participants if p != listener and p in holders]
            if not speakers or listener in holders:
                continue
            speaker = load_features(dataset, session_id, speakers[0])
            heard = load_features(dataset, session_id, listener)
            out.append(Recording(f'{session_id}/{listener}', speaker['audio'],
                                 speaker.get('speaking'), speaker['poses'], heard['poses']))
    return out


def pauses_of(recording: Recording) -> np.ndarray:
    """The speaker's pause starts in a recording (see :func:`measures.pause_starts`)."""
    return measures.pause_starts(recording.speaking, log_power=recording.audio[:, 0])


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
    every = round(MOTION_RATE / rate)
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
    recording would give a perfect score to a recording where neither side nods)."""

    def __init__(self, tolerance_s: float = NOD_TOLERANCE_S):
        self.tolerance_s = tolerance_s
        self._predicted, self._reference, self._offset = [], [], 0.0

    def add(self, predicted_times, reference_times, seconds: float) -> None:
        self._predicted.append(np.asarray(predicted_times, float) + self._offset)
        self._reference.append(np.asarray(reference_times, float) + self._offset)
        self._offset += seconds + 10.0 * self.tolerance_s + 1.0

    def result(self) -> dict:
        if not self._predicted:
            return {'precision': float('nan'), 'recall': float('nan'), 'f1': float('nan')}
        return measures.event_f1(np.concatenate(self._predicted),
                                 np.concatenate(self._reference), self.tolerance_s)


def minute_means(poses, rate: float) -> np.ndarray:
    """(minutes, 2) mean pitch and yaw (deg) of each whole minute."""
    n = int(60 * rate)
    return np.array([np.degrees(poses[i:i + n, :2].mean(axis=0))
                     for i in range(0, len(poses) - n + 1, n)]).reshape(-1, 2)


def drift_deg(poses, rate: float) -> float:
    """Largest distance (deg) of a minute's mean pitch or yaw from the first minute's."""
    means = minute_means(poses, rate)
    return float(np.abs(means - means[0]).max()) if len(means) > 1 else 0.0


def mean_l1(poses, reference) -> float:
    """L1 (deg) averaged over pitch, yaw and roll."""
    errors = measures.pose_errors(poses, reference)
    return float(np.mean([errors[f'l1_{a}_deg'] for a in measures.ANGLES]))


def evaluate_policy(policy, recordings: list[Recording], joint_map=None, warmup_s: float = 1.0,
                    tolerance_s: float = NOD_TOLERANCE_S) -> dict:
    """Closed-loop measures of ``policy`` over ``recordings``. Against the real listener,
    where known: L1 beside two baselines, a still head at the listener's warm-up pose and the
    mean pose (the listeners' mean over all recordings), and nod F1 pooled over all
    recordings."""
    from lhg_ros.motion.joints import JointMap

    joint_map = joint_map or JointMap()
    steps = within = nonfinite = 0
    seconds, drift, nods, after = 0.0, 0.0, 0, []
    l1, still, compared = [], [], []
    score = NodScore(tolerance_s)
    for rec in recordings:
        poses, raw, rate, neutral = rollout(policy, rec, warmup_s)
        warm = int(round(warmup_s * rate))
        counts = limit_checks(raw, joint_map)
        steps, within, nonfinite = steps + counts[0], within + counts[1], nonfinite + counts[2]
        seconds += len(poses) / rate
        drift = max(drift, drift_deg(poses, rate))
        events = measures.nod_events(poses[warm:], rate) + warm / rate
        nods += len(events)
        if rec.speaking is not None:
            after += list(measures.after_pause(events[:, 0], pauses_of(rec)))
        if rec.listener_poses is not None:
            every = round(MOTION_RATE / rate)
            reference = rec.listener_poses[::every][:len(poses)]
            anchor = reference[:warm].mean(axis=0)
            l1.append(mean_l1(neutral + poses[warm:], reference[warm:]))
            still.append(mean_l1(np.tile(anchor, (len(poses) - warm, 1)), reference[warm:]))
            compared.append(reference[warm:])
            score.add(events[:, 1], measures.nod_events(reference[warm:] - neutral, rate)[:, 1]
                      + warm / rate, len(poses) / rate)
    minutes = seconds / 60.0
    result = {'recordings': len(recordings), 'minutes': minutes,
              'within_limits': within / max(steps, 1), 'nonfinite_steps': nonfinite,
              'drift_deg': drift, 'nods_per_min': nods / max(minutes, 1e-9),
              'nods_after_pause': float(np.mean(after)) if after else float('nan')}
    if l1:
        f1 = score.result()
        mean = np.concatenate(compared).mean(axis=0)
        mean_pose = [mean_l1(np.tile(mean, (len(r), 1)), r) for r in compared]
        result.update({'l1_deg': float(np.mean(l1)), 'still_l1_deg': float(np.mean(still)),
                       'mean_pose_l1_deg': float(np.mean(mean_pose)), 'nod_f1': f1['f1'],
                       'nod_precision': f1['precision'], 'nod_recall': f1['recall']})
    return result


def selection_score(metrics: dict) -> float:
    """Lower is better: closed-loop L1 relative to the still head, plus (1 - nod F1), plus a
    heavy penalty for any step outside the joint limits or non-finite. Training keeps the
    checkpoint with the lowest score."""
    return (metrics['l1_deg'] / max(metrics['still_l1_deg'], 1e-9) + (1.0 - metrics['nod_f1'])
            + 10.0 * (1.0 - metrics['within_limits']) + 10.0 * (metrics['nonfinite_steps'] > 0))


def generated_speech(seconds: float, folder, seed: int = 0, silent: bool = False
                     ) -> Recording:
    """A recording with no face in view (the speaker input held at neutral, as the runtime
    eases to it when the face is lost) and no known listener: ``seconds`` of generated speech
    with pauses (lhg_ros.data.corpus), or of room noise only when ``silent``. Its features are
    extracted with the nodes' code (FBank, VAD)."""
    from pathlib import Path

    import soundfile as sf

    from lhg_ros.data.corpus import SAMPLE_RATE, SPEAKER_NEUTRAL, room_noise, speaker_audio
    from lhg_ros.features.audio_frontend import extract_audio_file

    rng = np.random.default_rng(seed)
    samples = (room_noise(seconds, rng) if silent else speaker_audio(seconds, rng)[0])
    path = Path(folder) / f"{'silence' if silent else 'speech'}_{seed}.wav"
    sf.write(str(path), samples, SAMPLE_RATE, subtype='PCM_16')
    track = extract_audio_file(path)
    frames = int(track.duration_s * MOTION_RATE)
    return Recording(path.stem, track.frames, track.speaking,
                     np.tile(SPEAKER_NEUTRAL, (frames, 1)))
