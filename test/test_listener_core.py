"""The listener without ROS: rule-based nods on real speech, stream alignment, warm-up."""

import numpy as np
import transforms3d

from lhg_ros.features.audio import SILENCE_LOG, silence_features
from lhg_ros.features.audio_frontend import extract_audio_file
from lhg_ros.features.landmark_pose import (
    NEUTRAL_IN_OPTICAL,
    OPTICAL_IN_BODY,
    dof_from_camera_pose,
)
from lhg_ros.motion.alignment import StreamAligner
from lhg_ros.motion.nods import NodDetector
from lhg_ros.motion.rules import RuleListener
from lhg_ros.motion.runtime import ListenerRuntime
from lhg_ros.synthetic.speaker_scene import speak


def rule_poses(features):
    rules = RuleListener()
    steps = len(features) // 12
    return rules, np.concatenate([rules.step(features[12 * k:12 * k + 12])
                                  for k in range(steps)])


def test_rules_nod_in_the_pauses_after_speech(tmp_path):
    sentences = ['I went to the market this morning to buy some bread.',
                 'The baker told me a long story about his summer holidays.',
                 'Then it started to rain, so I took the bus home.']
    path = speak(sentences, tmp_path / 'talk.wav', pause_s=0.8)
    features = extract_audio_file(path, vad=False).frames
    rules, poses = rule_poses(features)
    power = features[:, 0]
    quiet = power < np.median(power) - 8
    pauses = [t / 100 for t in np.flatnonzero(np.diff(quiet.astype(int)) == 1)
              if quiet[t + 1:t + 60].all()]  # silences of 0.6 s or more
    assert len(pauses) >= 2
    assert len(rules.nods) == len(pauses), f'nods {rules.nods}, pauses {pauses}'
    for pause, nod in zip(pauses, rules.nods, strict=True):
        assert 0.2 <= nod - pause <= 0.6, 'the nod comes just after the pause begins'
    assert np.degrees(poses[:, 0].max()) > 5, 'nods are visible'
    assert np.degrees(np.abs(poses[:, 1:3]).max()) < 2, 'yaw/roll only sway a little'


def test_rules_do_not_nod_without_speech():
    rules, poses = rule_poses(silence_features(100 * 10))
    assert rules.nods == []
    assert np.degrees(np.abs(poses[:, :3]).max()) < 1.0, 'idle motion is small'
    assert np.ptp(poses[:, 1]) > 0, 'but the head is not frozen'


def test_the_aligner_fills_missing_audio_with_silence_and_counts_it():
    aligner = StreamAligner()
    rows = np.ones((4, 81), np.float32)
    aligner.add_audio(rows, 10.0)
    audio, _ = aligner.frame(10.0)
    np.testing.assert_array_equal(audio, rows)
    audio, _ = aligner.frame(10.04)  # nothing arrived for this frame
    assert aligner.audio_gaps == 1 and (audio[:, 0] == SILENCE_LOG).all()


def test_a_lost_face_is_held_then_eases_to_neutral():
    aligner = StreamAligner(hold_s=0.5)
    aligner.add_speaker_pose(np.full(6, 0.4), 10.0)
    _, held = aligner.frame(10.2)
    np.testing.assert_allclose(held, 0.4)
    for k in range(100):  # 4 s without a face: the angles are back
        _, pose = aligner.frame(10.6 + k * 0.04)
    assert np.abs(pose[:3]).max() < 0.01
    # never faster than the slowest speaker moves (this one was still): 0.4 m takes 8 s
    assert np.abs(pose[3:]).min() > 0.1
    for k in range(100, 250):
        _, pose = aligner.frame(10.6 + k * 0.04)
    assert np.abs(pose).max() < 0.01


def test_warm_up_keeps_the_listener_at_neutral_for_one_second():
    class Loud:  # a policy that always wants to move
        frames_per_step, neutral_pose = 3, np.zeros(6)

        def reset(self):
            pass

        def step(self, audio, speaker, listener, speaking=None):
            return np.full((3, 6), 0.2)

    runtime = ListenerRuntime(Loud(), warmup_s=1.0)
    outputs = [runtime.push(np.zeros((4, 81)), np.zeros(6)) for _ in range(60)]
    steps = [(i + 1, o) for i, o in enumerate(outputs) if o is not None]
    assert all(not o.any() for frame, o in steps if frame < 25)
    assert all(o.any() for frame, o in steps if frame >= 25)


def test_nod_detector_finds_nods_and_ignores_sway():
    detector = NodDetector(rate=50)
    t = np.arange(0, 4, 0.02)
    nod = np.where((t > 1) & (t < 1.5), 0.12 * np.sin(np.pi * (t - 1) / 0.5) ** 2, 0.0)
    assert sum(detector.update(p) for p in nod) == 1
    sway = 0.01 * np.sin(2 * np.pi * 0.3 * t)
    assert sum(NodDetector(rate=50).update(p) for p in sway) == 0


def test_published_speaker_orientation_converts_back_to_the_same_angles():
    rotation = transforms3d.euler.euler2mat(0.1, -0.2, 0.3, 'sxyz')  # roll, pitch, yaw
    in_camera = OPTICAL_IN_BODY @ NEUTRAL_IN_OPTICAL @ rotation
    dof = dof_from_camera_pose(transforms3d.quaternions.mat2quat(in_camera), [0.8, 0.1, 0.2])
    np.testing.assert_allclose(dof, [-0.2, 0.3, 0.1, 0.8, 0.1, 0.2], atol=1e-9)


def test_an_outside_voice_activity_decision_overrides_the_energy_detector():
    loud = np.zeros((12, 81), np.float32)
    loud[:, 0] = 20.0  # energetic frames throughout
    rules = RuleListener()
    for _ in range(40):  # 4.8 s of energy, but the VAD says: speech, then a pause
        rules.step(loud, speaking=True)
    for _ in range(10):
        rules.step(loud, speaking=False)
    assert len(rules.nods) == 1


def test_the_speakers_slow_mean_is_removed_alike_online_and_offline():
    """Where the camera sits must not matter to a model with speaker_highpass_s: a constant
    offset of the speaker's pose vanishes, and chunking does not change the result."""
    from lhg_ros.features.motion_features import SlowMeanRemover

    rng = np.random.default_rng(0)
    poses = np.cumsum(rng.normal(0, 0.01, (300, 6)), axis=0)
    whole = SlowMeanRemover(5.0).update(poses)
    online = SlowMeanRemover(5.0)
    chunks = np.concatenate([online.update(poses[i:i + 3]) for i in range(0, 300, 3)])
    np.testing.assert_allclose(chunks, whole)
    shifted = SlowMeanRemover(5.0).update(poses + [0.2, -0.1, 0.05, 0.3, 0.1, 0.2])
    np.testing.assert_allclose(shifted, whole, atol=1e-12)
