"""Voice activity on real speech: the robot must know when the user talks."""

import numpy as np

from lhg_ros.features.audio_frontend import extract_audio_file
from lhg_ros.features.vad import SpeechGate, VoiceActivityDetector


def test_vad_marks_the_speech_and_not_the_silence_around_it(speech):
    path, start_s, end_s = speech
    track = extract_audio_file(path)
    truth = (track.times >= start_s) & (track.times < end_s)
    accuracy = (track.speaking == truth).mean()
    assert accuracy >= 0.9, f'frame accuracy {accuracy:.2%}'
    assert not track.speaking[track.times < start_s - 0.1].any(), 'speech flagged in silence'
    # The turn is one turn: pauses between words do not end it.
    inside = track.speaking[(track.times > start_s + 0.5) & (track.times < end_s - 0.1)]
    assert inside.mean() > 0.9


def test_vad_reports_no_speech_in_noise_free_silence():
    detector = VoiceActivityDetector()
    assert not detector.accept(np.zeros(16000 * 3, np.float32)).any()


def test_speech_ends_only_after_the_hangover():
    gate = SpeechGate(threshold=0.5, min_speech_s=0.064, hangover_s=0.32, window_s=0.032)
    states = [gate.update(p) for p in [0.9] * 5 + [0.0] * 9 + [0.0] * 3]
    assert states[1] is True, 'two windows above threshold start speech'
    first_off = states.index(False, 2)
    assert first_off == 5 + 10 - 1, 'ten quiet windows (0.32 s) end it'


def test_a_single_loud_window_does_not_start_speech():
    gate = SpeechGate(threshold=0.5, min_speech_s=0.064)
    assert not any(gate.update(p) for p in [0.0, 0.95, 0.1, 0.0, 0.97, 0.2])
