"""Speaker feature extraction speed: lhg_ros streaming vs. offline reference implementations.

    .venv/bin/python bench/bench_audio_features.py [--seconds 60]

One core. The streaming rows feed 10 ms chunks, as a microphone does; the reference libraries
(python_speech_features, librosa) do the same 26-bin log-mel job offline on the whole signal,
which is their best case. Ratios compare against lhg_ros streaming in the same run.
Goals: streaming >= 500x real time, per-chunk latency p99 < 1 ms, and the whole 81-d
pipeline (deltas included, VAD excluded) at >= 0.8x the throughput of kaldi-native-fbank
alone fed the same chunks in the same run (its accept_waveform, the frames left unread).
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_of, percentiles_us, pin_to_one_core, speech_16k  # noqa: E402
from lhg_ros.console import format_table  # noqa: E402


def stream_chunks(samples, chunk, make_stream, accept):
    stream = make_stream()
    latencies = []
    for start in range(0, len(samples), chunk):
        t = time.perf_counter()
        accept(stream, samples[start:start + chunk])
        latencies.append(time.perf_counter() - t)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seconds', type=float, default=60.0, help='audio length (default 60)')
    parser.add_argument('--repeats', type=int, default=3)
    args = parser.parse_args()
    cpu = pin_to_one_core()
    samples = speech_16k(args.seconds)
    duration = len(samples) / 16000

    import kaldi_native_fbank as knf
    import librosa
    import numpy as np
    import python_speech_features as psf

    from lhg_ros.features.audio import AudioFeatureStream, compute_audio_features, fbank_options
    from lhg_ros.features.audio_frontend import SpeakerAudioFrontEnd
    from lhg_ros.features.vad import VoiceActivityDetector

    rows = []

    def streaming(name, make_stream, accept):
        latencies = []

        def run():
            latencies[:] = stream_chunks(samples, 160, make_stream, accept)

        wall = best_of(args.repeats, run)
        p50, p99 = percentiles_us(latencies)
        rows.append([name, 'stream, 10 ms chunks', duration / wall, p50, p99])

    def offline(name, run):
        rows.append([name, 'offline, whole signal', duration / best_of(args.repeats, run),
                     None, None])

    streaming('lhg_ros AudioFeatureStream (81-d)', AudioFeatureStream,
              lambda s, x: s.accept(x))
    streaming('lhg_ros front-end + Silero VAD (81-d)',
              lambda: SpeakerAudioFrontEnd(16000, vad=VoiceActivityDetector()),
              lambda s, x: s.accept(x, 0.0))
    streaming('kaldi-native-fbank alone (27-d)', lambda: knf.OnlineFbank(fbank_options()),
              lambda s, x: s.accept_waveform(16000, (x * 32768.0).tolist()))
    offline('lhg_ros compute_audio_features (81-d)',
            lambda: compute_audio_features(samples, 16000))
    offline('python_speech_features fbank + log (26-d)',
            lambda: np.log(psf.fbank(samples, 16000, winlen=0.025, winstep=0.01, nfilt=26,
                                     nfft=512, winfunc=np.hamming)[0]))
    offline('librosa melspectrogram + log (26-d)',
            lambda: np.log(librosa.feature.melspectrogram(
                y=samples, sr=16000, n_fft=512, win_length=400, hop_length=160, n_mels=26,
                window='hamming', center=False, power=2.0) + 1e-10))

    ours = rows[0][2]
    table = [[name, mode, f'{rtf:,.0f}x', f'{rtf / ours:.2f}',
              '' if p50 is None else f'{p50:.0f}', '' if p99 is None else f'{p99:.0f}']
             for name, mode, rtf, p50, p99 in rows]
    print(f'Speaker audio features: {duration:.0f} s of espeak-ng speech, CPU {cpu} only, '
          f'best of {args.repeats}\n')
    print(format_table(['implementation', 'mode', 'speed (x real time)', 'vs lhg_ros stream',
                        'p50 chunk (us)', 'p99 chunk (us)'], table))
    p99 = rows[0][4]
    bare = ours / rows[2][2]
    print(f'\nGoals: streaming >= 500x real time -> {ours:,.0f}x '
          f'({"met" if ours >= 500 else "NOT met"}); p99 chunk latency < 1000 us -> '
          f'{p99:.0f} us ({"met" if p99 < 1000 else "NOT met"}); 81-d pipeline >= 0.8x '
          f'kaldi-native-fbank alone -> {bare:.2f}x ({"met" if bare >= 0.8 else "NOT met"})')


if __name__ == '__main__':
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from publish import run_and_publish

    run_and_publish('bench_audio_features', main)
