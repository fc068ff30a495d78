"""The ``lhg-ros`` command: one entry point for the tools that ship with the package."""

import argparse
import importlib
import sys

from lhg_ros import __version__
from lhg_ros.features.face_mesh import FACE_SELECTIONS
from lhg_ros.network.config import PRESETS, preset_sizes


def _command(module: str, function: str = 'main'):
    """A runner that imports ``lhg_ros.commands.<module>`` only when its command is used, so
    ``lhg-ros --help`` stays fast and a missing heavy library breaks only its own command."""

    def run(args) -> int:
        return getattr(importlib.import_module(f'lhg_ros.commands.{module}'), function)(args)

    return run


def _add_doctor(subparsers) -> None:
    parser = subparsers.add_parser(
        'doctor', help='check what works on this machine and what to install',
        description='Check rclpy, DDS, the ML stack, GPU, audio and camera devices, and print a '
                    'table of what works and what to install. Exits 1 when something lhg_ros '
                    'cannot run without is missing.')
    parser.add_argument('--json', action='store_true', help='print the checks as JSON')
    parser.add_argument('--skip-dds', action='store_true',
                        help='skip the two-process DDS round trip')
    parser.add_argument('--dds-timeout', type=float, default=15.0, metavar='SECONDS',
                        help='how long to wait for DDS discovery')
    parser.set_defaults(run=_command('doctor'))


def _add_audio_features(subparsers) -> None:
    parser = subparsers.add_parser(
        'audio-features', help="a recording's 81-d speaker features, summary and plot",
        description='Compute the 81-d speaker audio features of a WAV/FLAC/OGG file with the '
                    "same code as audio_features_node, print a summary, and optionally save "
                    'them (.npz: features, times, speaking) and a plot (.png).')
    parser.add_argument('audio', help='audio file (any rate, mono or multi-channel)')
    parser.add_argument('-o', '--output', metavar='NPZ', help='write the features here')
    parser.add_argument('--plot', metavar='PNG', help='write a picture of the features here')
    parser.add_argument('--no-vad', action='store_true', help='skip voice activity detection')
    parser.set_defaults(run=_command('audio_features'))


def _add_head_pose(subparsers) -> None:
    parser = subparsers.add_parser(
        'head-pose', help="a video's speaker head motion (6 DoF), summary and plot",
        description='Track the speaker\'s head in a video with the same code as head_pose_node '
                    '(MediaPipe Face Mesh, rigid fit, One-Euro smoothing), print a summary, and '
                    'optionally save the poses (.npz: poses [pitch, yaw, roll in rad, x, y, z '
                    'in m; NaN without a face], times) and a plot (.png).')
    parser.add_argument('video', help='video file (any format OpenCV reads)')
    parser.add_argument('-o', '--output', metavar='NPZ', help='write the poses here')
    parser.add_argument('--plot', metavar='PNG', help='write a plot of the motion here')
    parser.add_argument('--no-smoothing', action='store_true', help='raw, unfiltered poses')
    parser.set_defaults(run=_command('head_pose'))


def _add_model_tools(subparsers) -> None:
    parser = subparsers.add_parser(
        'export', help='export a checkpoint to ONNX or a TensorRT engine',
        description='Export the streaming step of a checkpoint to ONNX (<name>.step.onnx next '
                    'to it), or build and cache a TensorRT engine from that ONNX model.')
    parser.add_argument('--checkpoint', required=True, help='<name>.safetensors (+ .json)')
    parser.add_argument('--to', choices=['onnx', 'tensorrt'], default='onnx',
                        help='what to make')
    parser.add_argument('--fp32', action='store_true', help='TensorRT: no FP16')
    parser.add_argument('--force', action='store_true',
                        help='re-export / rebuild even when the cached file is current')
    parser.set_defaults(run=_command('model_tools', 'export_main'))

    parser = subparsers.add_parser(
        'bench-model', help='per-step latency of model presets on each backend',
        description='Time the streaming step (median and p99) of each preset, or of one '
                    'checkpoint, on each backend, beside the real-time budget.')
    parser.add_argument('--presets', default='tiny,small', help='comma-separated presets')
    parser.add_argument('--backends', default='torch,onnxruntime',
                        help='comma-separated: torch, onnxruntime, tensorrt')
    parser.add_argument('--checkpoint', help='time this checkpoint instead of presets')
    parser.add_argument('--steps', type=int, default=100, help='steps timed per row')
    parser.set_defaults(run=_command('model_tools', 'bench_main'))


def _add_data_tools(subparsers) -> None:
    data = subparsers.add_parser(
        'data', help='dyadic datasets: validate, extract features, make synthetic sessions',
        description='Datasets of dyadic conversations described by a manifest (docs/own-data.md).')
    commands = data.add_subparsers(title='data commands', metavar='COMMAND', required=True)
    parser = commands.add_parser('validate', help='name every problem of a manifest')
    parser.add_argument('manifest', help='the dataset\'s manifest.yaml')
    parser.set_defaults(run=_command('data_tools', 'validate_main'))
    parser = commands.add_parser(
        'extract', help='features of every session with the nodes\' own code, cached')
    parser.add_argument('manifest', help='the dataset\'s manifest.yaml')
    parser.add_argument('--workers', type=int, default=1, help='parallel processes')
    parser.add_argument('--force', action='store_true', help='ignore the cache')
    parser.set_defaults(run=_command('data_tools', 'extract_main'))
    parser = commands.add_parser(
        'synth', help='small synthetic sessions from real parts (espeak-ng, a photograph)')
    parser.add_argument('output', help='folder for the sessions and manifest.yaml')
    parser.add_argument('--sessions', type=int, default=3, help='sessions to make')
    parser.add_argument('--turns', type=int, default=4, help='turns per session')
    parser.add_argument('--held-out', type=int, default=1, help='sessions kept for eval')
    parser.add_argument('--seed', type=int, default=0, help='the same seed, the same sessions')
    parser.set_defaults(run=_command('data_tools', 'synth_main'))

    parser = commands.add_parser(
        'corpus', help='the starter corpus: generated speakers and a stochastic listener',
        description='Sessions of generated speech (several espeak-ng voices, rates, pitches, '
                    'pauses, room noise) with speaker head motion, and a listener whose nods, '
                    'sway and posture shifts follow published listening statistics (see '
                    'lhg_ros.synthetic.corpus). The shipped model is trained on it.')
    parser.add_argument('output', help='folder for the sessions and manifest.yaml')
    parser.add_argument('--sessions', type=int, default=60,
                        help='sessions to make (the shipped model: 180)')
    parser.add_argument('--held-out', type=int, default=4,
                        help='sessions of listeners that train no general model, two each: '
                             'the first to fine-tune or adapt to them, the second held out '
                             'for eval')
    parser.add_argument('--per-listener', type=int, default=5,
                        help='sessions each training listener is in (a person, drawn from a '
                             'named style with their own variation)')
    parser.add_argument('--min-minutes', type=float, default=1.0,
                        help='shortest session (drawn between the two)')
    parser.add_argument('--max-minutes', type=float, default=2.0, help='longest session')
    parser.add_argument('--seed', type=int, default=0, help='the same seed, the same corpus')
    parser.set_defaults(run=_command('data_tools', 'corpus_main'))

    from lhg_ros.training.config import FINETUNE_LEARNING_RATE, FINETUNE_MIN_STEPS, TrainConfig

    recipe = TrainConfig()
    for name, help_text in (('train', 'train the listener model (the shipped model\'s recipe)'),
                            ('finetune', 'fine-tune a pre-trained model to one listener')):
        parser = subparsers.add_parser(
            name, help=help_text,
            description=f'{help_text[0].upper()}{help_text[1:]}: preset compact (a mixture of '
                        '16 over the next 0.48 s, its own motion fed back), AdamW lr 1e-3, '
                        'weight decay 1e-2, cosine annealing, negative log-likelihood, batch '
                        '4, 12 epochs, 1 s warm-up without loss, scheduled sampling of its own '
                        'samples on up to half of the steps, a fifth of its own motion hidden '
                        'from it; every value can be overridden by '
                        '--config (YAML/JSON, lhg_ros/models/starter/train.yaml is the recipe '
                        'written out) and the options below.')
        parser.add_argument('--data', required=True, help='dataset manifest')
        parser.add_argument('--out', required=True, help='folder for checkpoints and logs')
        parser.add_argument('--config', help='training config file (YAML or JSON)')
        if name == 'train':  # (fine-tuning keeps the architecture of its checkpoint)
            parser.add_argument('--preset', choices=sorted(PRESETS), metavar='PRESET',
                                help=f'model preset, with its parameters: {preset_sizes()} '
                                     f'(default: {recipe.preset}, the shipped model)')
        parser.add_argument('--epochs', type=int, help=f'(default: {recipe.epochs})' if name
                            == 'train' else f'(default: {recipe.epochs}, or more: enough for '
                            f'{FINETUNE_MIN_STEPS} optimiser steps on a small dataset)')
        parser.add_argument('--batch-size', type=int, help=f'(default: {recipe.batch_size})')
        parser.add_argument('--lr', type=float,
                            help=f'learning rate (default: {recipe.learning_rate:g})' if name
                            == 'train' else f'learning rate (default: '
                            f'{FINETUNE_LEARNING_RATE:g}, a third of training\'s: a '
                            'listener\'s minutes adjust the model rather than overwrite it)')
        parser.add_argument('--device', help=f'cpu or cuda (default: {recipe.device})')
        parser.add_argument('--workers', type=int,
                            help=f'feature extraction processes (default: {recipe.workers})')
        parser.add_argument('--resume', action='store_true',
                            help='continue the run in --out where it stopped, with the recipe '
                                 'it was started with (no need to repeat its options)')
        if name == 'finetune':
            parser.add_argument('--checkpoint', required=True,
                                help="pre-trained checkpoint ('starter': the shipped model)")
            parser.add_argument('--listener', required=True,
                                help="the person (manifest 'person') to adapt to")
        parser.set_defaults(run=_command('data_tools', f'{name}_main'))


def _add_eval(subparsers) -> None:
    parser = subparsers.add_parser(
        'eval', help='score a model, the rules and baselines on held-out sessions, closed loop',
        description='Run the model and the rule policy in closed loop (feeding on their own '
                    'output, through the listener runtime the node uses) over the held-out '
                    'sessions, whole, after a 1 s warm-up with the real listener; score them '
                    'with a still head, the mean pose and a head that copies the speaker '
                    'against the real listener: how much each moves (RMS per axis about a 2 s '
                    'running median), nods per minute and their median size (one nod '
                    'detector), Fréchet distance of the motion features, nod F1 (pooled) '
                    'beside a random-timing baseline, pose L1, speed, diversity, rPCC, nods '
                    'after a pause, raw predictions within the joint limits, non-finite steps, '
                    'drift, and the speaker-listener cross-correlation (JSON, Markdown, PNG).')
    parser.add_argument('--data', required=True, help='dataset manifest (with held_out)')
    parser.add_argument('--checkpoint',
                        help="the model to score; 'starter' for the shipped model (omit: rules "
                             'and baselines only)')
    parser.add_argument('--backend', default='onnxruntime',
                        choices=['auto', 'onnxruntime', 'torch', 'tensorrt'])
    parser.add_argument('--tolerance', type=float, default=0.2,
                        help='nod timing tolerance in seconds')
    _add_sampling(parser)
    parser.add_argument('--teacher-forced', action='store_true',
                        help="also report the model's teacher-forced error (the real "
                             "listener's past as input), labelled as such")
    parser.add_argument('--out', default='out/eval', help='folder for the report')
    parser.set_defaults(run=_command('data_tools', 'eval_main'))


def _add_sampling(parser) -> None:
    """The model's sampling options, as listener_node's parameters of the same names."""
    parser.add_argument('--expressiveness', type=float, default=1.0, metavar='T',
                        help='how freely the model samples its motion, times the style\'s '
                             'temperature: 0 = the most likely motion, 1 = as learned '
                             '(default), up to 2 = livelier')
    parser.add_argument('--style', default='',
                        help="the model's listening style: a shipped style's name (the "
                             'starter model: calm, attentive, animated, reserved, thoughtful, '
                             'eager, average), or a style file from lhg-ros adapt (default: '
                             "the model's default, attentive)")
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the sampling: the same seed, input and model give the '
                             'same motion (default 0; -1 = a new one each run)')


def _add_generate(subparsers) -> None:
    parser = subparsers.add_parser(
        'generate', help='listener motion for a speaker recording: CSV, NPZ and an MP4',
        description='Compute the speaker features of an audio file and a video with the nodes\' '
                    'code, run the rule policy or a model through the listener runtime, and '
                    'write the listener poses and joint commands (CSV, NPZ) and a video of '
                    'the speaker beside the listener head with the waveform.')
    parser.add_argument('--audio', help="the speaker's audio")
    parser.add_argument('--video', help="the speaker's video (any frame rate; omit: no "
                                        "camera, the speaker's pose stays neutral)")
    parser.add_argument('--bag', help='instead of --audio/--video: a rosbag2 recording (a bag '
                                      'folder or a .mcap / .db3 file) with audio_common audio '
                                      'and a camera or speaker poses, placed by header stamps')
    parser.add_argument('--audio-topic', help='the bag\'s audio topic (default: found by type)')
    parser.add_argument('--image-topic', help='the bag\'s camera topic (Image or '
                                              'CompressedImage; default: found by type)')
    parser.add_argument('--pose-topic', help='the bag\'s speaker pose topic (PoseStamped, or '
                                             '/tf with REP-155 face frames; default: found by '
                                             'type, before a camera)')
    parser.add_argument('--policy', choices=['model', 'rules'], default='model',
                        help='the learned model (default) or the rule-based baseline')
    parser.add_argument('--checkpoint', help='a model checkpoint (default: the shipped model)')
    parser.add_argument('--backend', default='auto',
                        choices=['auto', 'onnxruntime', 'torch', 'tensorrt'])
    _add_sampling(parser)
    parser.add_argument('--face-selection', default='continuity', choices=FACE_SELECTIONS,
                        help='which face is the speaker (default: stay with the same person)')
    parser.add_argument('--rate', type=float, default=50.0,
                        help="joint command rate in Hz, as listener_node's control_rate")
    parser.add_argument('--fps', type=float, default=25.0, help='frame rate of the MP4')
    parser.add_argument('--out', default='out/generate', help='output folder')
    parser.add_argument('--no-compare', action='store_true',
                        help='run no rule policy beside the model (in the table, PNG and MP4)')
    parser.add_argument('--no-video', action='store_true', help='skip the MP4')
    parser.set_defaults(run=_command('generate'))


def _add_demo(subparsers) -> None:
    parser = subparsers.add_parser(
        'demo', help='the whole system end to end on generated speech and video',
        description='Run audio_features_node, head_pose_node and listener_node as processes '
                    'over real DDS, fed by real speech (espeak-ng) and a moving face '
                    'photograph; print a live summary, then write a plot and an MP4.')
    parser.add_argument('--output', default='out/demo', help='folder for inputs and results')
    parser.add_argument('--policy', choices=['model', 'rules'], default='model',
                        help='the policy of the main listener (the MP4 shows the rule policy '
                             'beside the model)')
    parser.add_argument('--checkpoint', help='checkpoint for --policy model (default: the '
                        'shipped model)')
    parser.add_argument('--backend', default='auto',
                        choices=['auto', 'onnxruntime', 'torch', 'tensorrt'])
    _add_sampling(parser)
    parser.add_argument('--audio', help='your speech recording (WAV, FLAC, OGG) instead of '
                                        'the generated speech')
    parser.add_argument('--video', help='your speaker video (any frame rate) instead of the '
                                        'generated one; with --audio only: no camera')
    parser.add_argument('--no-compare', action='store_true',
                        help='run no second listener with the rule policy')
    parser.add_argument('--no-video', action='store_true', help='skip the MP4')
    parser.set_defaults(run=_command('demo'))


def _add_latency_report(subparsers) -> None:
    parser = subparsers.add_parser(
        'latency-report', help="the latency budget of a run, from the nodes' latency logs",
        description='Read the CSV files that listener_node (and audio_features_node) write '
                    'with their latency_log parameter set, and print each stage of the '
                    "latency from the speaker's sound to the joint command: p50, p99, max.")
    parser.add_argument('--listener', required=True, metavar='CSV',
                        help="listener_node's latency_log")
    parser.add_argument('--features', metavar='CSV', help="audio_features_node's latency_log "
                        '(without it, capture -> received is one stage)')
    parser.add_argument('--skip', type=float, default=2.0, metavar='SECONDS',
                        help='leave out the first seconds of steps (start-up)')
    parser.add_argument('--plot', metavar='PNG', help='write the distributions here')
    parser.set_defaults(run=_command('latency_report'))


class _DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Help with each option's default, where it has one worth saying."""

    def _get_help_string(self, action):
        if action.default in (None, False) or '(default' in (action.help or ''):
            return action.help
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """Every command's parser: its help shows the defaults, and it knows itself, so that a
    mistake is reported with the usage of the command it was made in."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault('formatter_class', _DefaultsFormatter)
        super().__init__(*args, **kwargs)
        self.set_defaults(parser_of_command=self)


def _add_adapt(subparsers) -> None:
    parser = subparsers.add_parser(
        'adapt', help="a style file from a listener's recorded motion (the model frozen)",
        description="Give the robot the listening style of a person: the model's style "
                    "encoder reads at most --seconds of the person's head motion (a video of "
                    'them listening, a pose track, or a dataset and a person) and writes a '
                    'style file for listener_node\'s style parameter and --style, with a report '
                    'of what the style does beside the default on the same speech. Nothing '
                    'else of the model changes; no torch needed. For a new model trained on '
                    "someone's recordings, see lhg-ros finetune.")
    parser.add_argument('source', help='a video of the person listening (.mp4, .avi, .mov, '
                                       '.mkv, .webm), a pose track (.npz with poses (T, 6) and '
                                       'rate) or a dataset manifest (.yaml, with --person)')
    parser.add_argument('--person', default='',
                        help="with a dataset: the person (manifest 'person') whose listening "
                             'to use')
    parser.add_argument('--seconds', type=float, default=60.0,
                        help='motion to read, at most (at least 10 s is needed; 60 s gives '
                             'the closest style)')
    parser.add_argument('--name', default='',
                        help='the style\'s name (default: the person, or the file name)')
    parser.add_argument('--out', default='',
                        help='the style file to write (default: out/styles/NAME.json)')
    parser.add_argument('--checkpoint', default='',
                        help='the model the style is for (default: the shipped model)')
    parser.add_argument('--backend', default='auto',
                        choices=['auto', 'onnxruntime', 'torch', 'tensorrt'],
                        help="the backend of the report's runs")
    parser.set_defaults(run=_command('adapt', 'adapt_main'))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog='lhg-ros',
        description='Listening head motion for ROS 2 robots: tools to check, run and evaluate.')
    parser.add_argument('--version', action='version', version=f'lhg_ros {__version__}')
    subparsers = parser.add_subparsers(title='commands', metavar='COMMAND')
    _add_doctor(subparsers)
    _add_audio_features(subparsers)
    _add_head_pose(subparsers)
    _add_model_tools(subparsers)
    _add_data_tools(subparsers)
    _add_eval(subparsers)
    _add_generate(subparsers)
    _add_adapt(subparsers)
    _add_demo(subparsers)
    _add_latency_report(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        args.parser_of_command.error(f"unrecognized arguments: {' '.join(extra)}")
    if not hasattr(args, 'run'):
        parser.print_help()
        return 2
    return args.run(args)


if __name__ == '__main__':
    sys.exit(main())
