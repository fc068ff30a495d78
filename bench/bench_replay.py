"""What ``lhg-ros generate`` costs now that it replays the live pipeline: 60 s of real speech
through the audio node's source, FBank and VAD, then listener_node's controller at 50 Hz (the
shipped model on ONNX Runtime, and the rule policy), against the bare listener runtime (policy
steps only, at the model's rate) on the same features, in the same run.

    .venv/bin/python bench/bench_replay.py [--seconds 60]

One core. Goal: the replay at least 10x faster than real time, the controller's own share
(replay minus bare runtime) small beside the policy.
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
    from lhg_ros.evaluation.replay import audio_blocks, replay
    from lhg_ros.motion.joints import JointMap

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


if __name__ == '__main__':
    main()
