"""What ``lhg-ros generate`` costs now that it replays the live pipeline: 60 s of real speech
through the audio node's source, FBank and VAD, then listener_node's controller at 50 Hz (the
shipped model on ONNX Runtime, and the rule policy), against the bare listener runtime (policy
steps only, at the model's rate) on the same features, in the same run.

    .venv/bin/python bench/bench_replay.py [--seconds 60]

Then ``lhg-ros generate --bag`` on a robot-like bag of the same length (48 kHz int16
AudioStamped in 1024-sample chunks, a 30 fps 640x480 JPEG CompressedImage camera), beside the
same material from files (WAV + MP4, every frame through the head-pose tracker).

One core. Goals: the replay at least 10x faster than real time, the controller's own share
(replay minus bare runtime) small beside the policy; the bag replay with its camera within
0.5x its duration and near the files' cost.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import pin_to_one_core, speech_16k  # noqa: E402
from lhg_ros.console import format_table  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seconds', type=float, default=60.0)
    args = parser.parse_args()
    cpu = pin_to_one_core()

    import soundfile as sf

    from lhg_ros.evaluation.offline import make_policy, run_policy
    from lhg_ros.motion.joints import JointMap
    from lhg_ros.motion.replay import audio_blocks, replay

    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / 'speech.wav'
        sf.write(str(wav), speech_16k(args.seconds), 16000)
        start = time.perf_counter()
        blocks = audio_blocks(wav)
        features_s = time.perf_counter() - start
    import numpy as np

    frames = np.concatenate([b.rows for b in blocks])
    rows = [('audio: source + FBank + VAD, 20 ms blocks', features_s)]
    for name in ('model', 'rules'):
        policy = make_policy(name, backend='onnxruntime')
        start = time.perf_counter()
        replay(policy, JointMap(), blocks)
        replayed = time.perf_counter() - start
        start = time.perf_counter()
        run_policy(policy, frames, np.zeros((int(args.seconds * 25), 6)))
        bare = time.perf_counter() - start
        label = 'shipped model (ORT)' if name == 'model' else 'rule policy'
        rows += [(f'replay, {label}: controller at 50 Hz', replayed),
                 (f'reference: bare runtime, {label}', bare)]
    table = [(name, f'{seconds:.2f}', f'{args.seconds / seconds:.0f}x') for name, seconds in rows]
    print(f'{args.seconds:.0f} s of real speech on CPU {cpu}\n')
    print(format_table(['stage', 'seconds', 'x real time'], table))
    controller = [rows[1][1] - rows[2][1], rows[3][1] - rows[4][1]]
    print(f'\ncontroller overhead beside the bare runtime: {controller[0]:.2f} s (model), '
          f'{controller[1]:.2f} s (rules)')
    bag_rows(args.seconds)


def write_bag(path: Path, speech16k, video: Path, rate: int = 48000) -> None:
    """A robot-like bag: the speech as 48 kHz int16 AudioStamped in 1024-sample chunks and
    the video's frames as a JPEG CompressedImage camera, wall-clock stamps."""
    import numpy as np
    import soxr

    from lhg_ros.data.bag import BagWriter, compressed_camera_messages

    start = 1_733_400_000.0
    pcm = (np.clip(soxr.resample(speech16k, 16000, rate), -1, 1) * 32767).astype(np.int16)
    with BagWriter(path) as writer:
        writer.write_audio('/audio', pcm, rate, start, chunk=1024)
        for log_time, msg in compressed_camera_messages(writer.store, video, start):
            writer.write_message('/camera/image_raw/compressed',
                                 'sensor_msgs/msg/CompressedImage', log_time, msg)


def bag_rows(seconds: float) -> None:
    """generate --bag against generate --audio/--video on the same material (rules policy:
    the inputs are what is measured)."""
    import soundfile as sf

    from lhg_ros.console import quiet_stderr
    from lhg_ros.data.bag import read_bag
    from lhg_ros.evaluation.offline import make_policy
    from lhg_ros.features.head_tracking import extract_video_file
    from lhg_ros.filters import OneEuroFilter
    from lhg_ros.motion.joints import JointMap
    from lhg_ros.motion.replay import audio_blocks, replay
    from lhg_ros.synthetic.speaker_scene import speaker_motion, write_face_video

    with tempfile.TemporaryDirectory() as tmp:
        wav, video, bag = Path(tmp) / 'speech.wav', Path(tmp) / 'speaker.mp4', Path(tmp) / 'bag'
        speech = speech_16k(seconds)
        sf.write(str(wav), speech, 16000)
        _, rolls, shifts = speaker_motion(seconds, fps=30.0)
        write_face_video(video, rolls, shifts, fps=30.0)
        write_bag(bag, speech, video)
        with quiet_stderr():
            start = time.perf_counter()
            blocks = audio_blocks(wav)
            track = extract_video_file(video, smoothing=OneEuroFilter(1.5, 0.3))
            replay(make_policy('rules'), JointMap(), blocks, track.times, track.poses)
            files_s = time.perf_counter() - start
            start = time.perf_counter()
            recording = read_bag(bag)
            replay(make_policy('rules'), JointMap(), recording.blocks, recording.pose_times,
                   recording.poses)
            bag_s = time.perf_counter() - start
    table = [('reference: generate --audio --video (WAV + MP4)', f'{files_s:.2f}',
              f'{files_s / seconds:.2f}', '1.00'),
             ('generate --bag (AudioStamped 48 kHz + JPEG camera)', f'{bag_s:.2f}',
              f'{bag_s / seconds:.2f}', f'{bag_s / files_s:.2f}')]
    print(f'\n{seconds:.0f} s of speech with {len(recording.pose_times)} camera frames at 30 fps '
          f'(face in {100 * recording.face_share:.0f}%)\n')
    print(format_table(['replay, rule policy', 'seconds', 'x duration (goal <= 0.5)',
                        'x files'], table))


if __name__ == '__main__':
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from publish import run_and_publish

    run_and_publish('bench_replay', main)
