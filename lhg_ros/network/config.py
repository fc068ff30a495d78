"""Model configuration: data (dataclass <-> JSON), not code, with named presets."""

import dataclasses
from dataclasses import dataclass

from lhg_ros.features.audio import FEATURE_DIM as AUDIO_DIM
from lhg_ros.features.audio import FRAME_RATE as AUDIO_RATE
from lhg_ros.features.motion_features import MOTION_DIM, MOTION_RATE, POSE_DIM

LISTENER_INPUTS = ('motion', 'pose', 'none')
# The step graph's inputs besides the state, in order (then STYLE for a model with a style).
MOTION_INPUTS = ('audio', 'speaker', 'listener')
STYLE = 'style'
# The step graph's first output: the next frames' poses, or the mixture they are sampled from.
PREDICTION = 'prediction'


def output_name(state_name: str) -> str:
    """The step graph's output for a state input: ``<state>_out``."""
    return f'{state_name}_out'


@dataclass(frozen=True)
class ModelConfig:
    d_model: int = 256
    j_layers: int = 4  # J: speaker speech encoder (100 Hz)
    q_layers: int = 4  # Q: speaker motion, fused with speech (25 Hz)
    r_layers: int = 4  # R: listener motion decoder (25 Hz)
    ffn_bottleneck: int = 64
    heads: int = 4
    dropout: float = 0.1
    audio_dim: int = AUDIO_DIM
    motion_dim: int = MOTION_DIM
    pose_dim: int = POSE_DIM
    frames_per_step: int = 3  # motion frames a step consumes and commands
    audio_rate: float = AUDIO_RATE
    motion_rate: float = MOTION_RATE
    audio_window_s: float = 2.0  # how far back cross-attention sees the speech
    motion_window_s: float = 2.0  # how far back R sees the fused speaker stream
    # One more audio input column: the voice activity decision (1 speaking, 0 not) that the
    # node gets on is_speaking, so the model need not learn a VAD from the FBank.
    voice_activity: bool = False
    # Listener poses relative to the listener's own resting pose (the mean of the first
    # warm-up second in training; neutral on a robot) instead of absolute: the model then
    # learns that a listener returns to rest, rather than to copy whatever posture it fed
    # itself, which in closed loop walks away.
    relative_to_rest: bool = False
    # What the R stack gets of the listener's own past motion: 'motion' (pose and its causal
    # differences, the paper), 'pose' (the pose, differences zeroed) or 'none' (nothing: the
    # head's course lives in R's LSTM state, and closed loop equals teacher forcing).
    listener_input: str = 'motion'
    # R's input also carries the speech at each token (Q's output plus J's at the token's last
    # audio frame, as with listener_input 'none'), not only by cross-attention: R's LSTM then
    # follows how long the speaker has talked or been quiet as directly as it follows its own
    # past, and a model fed its own motion cannot learn to ignore the speech as easily.
    listener_hears: bool = False
    # Above 0: the speaker's poses minus their running mean over about this many seconds
    # (lhg_ros.features.motion_features.SlowMeanRemover), so that where the camera sits relative to
    # the speaker does not change what the model does.
    speaker_highpass_s: float = 0.0
    # Above 0: the output is a mixture of this many Gaussians over the next frames (a
    # weight, a mean and a spread per frame and degree of freedom each), sampled at run time
    # (lhg_ros.network.mixture); 0: one pose per frame, the mean of what may happen, which a
    # loss on the average pulls toward a still head.
    mixtures: int = 0
    # A mixture's means start from the listener's own pose leaking toward rest with this time
    # constant (lhg_ros.network.mixture.mixture_parts; 0: no leak).
    rest_return_s: float = 2.0
    # A mixture predicts this far ahead (at least a step; 0: a step), of which a step uses
    # its first frames_per_step. Why: over one step (120 ms) the next frames are the
    # pose so far plus a little, whatever was said, so a likelihood over one step cannot tell
    # a model that listens from one that does not; over half a second it can (a nod coming or
    # not), and that is what the mixture's components then stand for.
    horizon_s: float = 0.0
    # Above 0: the listener's style, a vector of this many numbers, conditions R (added to its
    # input and to the head's), and a style encoder makes it from a clip of a listener's own
    # motion (lhg_ros.network.style): the style of a person, from seconds of them listening.
    style_dim: int = 0

    def __post_init__(self):
        ratio = self.audio_rate / self.motion_rate
        problems = []
        if self.motion_rate <= 0 or abs(MOTION_RATE / self.motion_rate
                                        - round(MOTION_RATE / self.motion_rate)) > 1e-9:
            problems.append(f'motion_rate must divide the {MOTION_RATE:g} Hz of extracted motion '
                            f'features, got {self.motion_rate}')
        if abs(ratio - round(ratio)) > 1e-9 or ratio < 1:
            problems.append(f'audio_rate / motion_rate must be a whole number, got {ratio}')
        if self.listener_input not in LISTENER_INPUTS:
            problems.append(f"listener_input must be one of {', '.join(LISTENER_INPUTS)}, got "
                            f'{self.listener_input!r}')
        if self.d_model % self.heads:
            problems.append(f'd_model {self.d_model} is not divisible by heads {self.heads}')
        if self.rest_return_s < 0:
            problems.append(f'rest_return_s must be >= 0, got {self.rest_return_s}')
        if self.style_dim < 0:
            problems.append(f'style_dim must be 0 (no style) or more, got {self.style_dim}')
        if self.mixtures < 0:
            problems.append(f'mixtures must be 0 (one pose) or more, got {self.mixtures}')
        if not 0 <= self.horizon_s <= 2.0 or (self.horizon_s > 0 and not self.mixtures):
            problems.append(f'horizon_s must be 0, or up to 2 s for a mixture model, got '
                            f'{self.horizon_s}')
        for name in ('d_model', 'j_layers', 'q_layers', 'r_layers', 'ffn_bottleneck', 'heads',
                     'frames_per_step'):
            if getattr(self, name) < 1:
                problems.append(f'{name} must be at least 1')
        if min(self.audio_window_s * self.audio_rate,
               self.motion_window_s * self.motion_rate) < 1:
            problems.append('attention windows must hold at least one frame')
        if problems:
            raise ValueError('invalid model config: ' + '; '.join(problems))

    @property
    def audio_input_dim(self) -> int:
        """Columns of the model's audio input: the features, then voice activity if used."""
        return self.audio_dim + int(self.voice_activity)

    @property
    def predicted_frames(self) -> int:
        """Frames ahead a token predicts: ``horizon_s``'s, at least a step's."""
        return max(round(self.horizon_s * self.motion_rate), self.frames_per_step)

    @property
    def prediction_shape(self) -> tuple[int, ...]:
        """Shape of one step's prediction (batch 1): poses (F, 6), or per mixture component
        a weight logit, H x 6 means and H x 6 spreads (H: ``predicted_frames``;
        lhg_ros.network.mixture)."""
        if self.mixtures:
            return (1, self.mixtures, 1 + 2 * self.predicted_frames * self.pose_dim)
        return (1, self.frames_per_step, self.pose_dim)

    @property
    def audio_per_motion(self) -> int:
        """Audio frames per motion frame (4 at 100 Hz / 25 Hz)."""
        return round(self.audio_rate / self.motion_rate)

    @property
    def audio_per_step(self) -> int:
        return self.audio_per_motion * self.frames_per_step

    @property
    def audio_window(self) -> int:
        return round(self.audio_window_s * self.audio_rate)

    @property
    def motion_window(self) -> int:
        return round(self.motion_window_s * self.motion_rate)

    @property
    def step_seconds(self) -> float:
        return self.frames_per_step / self.motion_rate

    @property
    def audio_cache(self) -> int:
        """Audio frames a streaming step keeps: the window plus what a step adds before its
        last query."""
        return self.audio_window + (self.frames_per_step - 1) * self.audio_per_motion

    @property
    def speaker_cache(self) -> int:
        return self.motion_window + self.frames_per_step - 1

    def state_shapes(self, batch: int = 1) -> dict[str, tuple[int, ...]]:
        """Name and shape of every state tensor of a streaming step, in the order export and
        backends use (torch-free, so that runtimes without torch can check an engine or graph).

        Per layer, so that a step reads and writes each cache whole: ``{j,q,r}_h<l>`` and
        ``_c<l>`` (LSTM), ``q_audio_{k,v}<l>``, ``r_audio_{k,v}<l>``, ``r_speaker_{k,v}<l>``
        (cross-attention keys/values of the window, heads split), and which cache entries are
        filled (``audio_filled``, ``speaker_filled``).
        """
        d, h = self.d_model, self.heads
        shapes = {}
        for stack, layers in (('j', self.j_layers), ('q', self.q_layers), ('r', self.r_layers)):
            for layer in range(layers):
                shapes[f'{stack}_h{layer}'] = (1, batch, d)
                shapes[f'{stack}_c{layer}'] = (1, batch, d)
        for name, layers, length in (('q_audio', self.q_layers, self.audio_cache),
                                     ('r_audio', self.r_layers, self.audio_cache),
                                     ('r_speaker', self.r_layers, self.speaker_cache)):
            for layer in range(layers):
                for part in ('k', 'v'):
                    shapes[f'{name}_{part}{layer}'] = (batch, h, length, d // h)
        shapes['audio_filled'] = (batch, self.audio_cache)
        shapes['speaker_filled'] = (batch, self.speaker_cache)
        return shapes

    @property
    def step_inputs(self) -> tuple[str, ...]:
        """The step graph's inputs besides the state, in order."""
        return MOTION_INPUTS + ((STYLE,) if self.style_dim else ())

    def step_io(self) -> tuple[dict[str, tuple[int, ...]], dict[str, tuple[int, ...]]]:
        """(inputs, outputs) of the exported step graph, name -> shape, batch 1."""
        state = self.state_shapes(1)
        inputs = {'audio': (1, self.audio_per_step, self.audio_input_dim),
                  'speaker': (1, self.frames_per_step, self.motion_dim),
                  'listener': (1, self.frames_per_step, self.motion_dim),
                  **({STYLE: (1, self.style_dim)} if self.style_dim else {}), **state}
        outputs = {PREDICTION: self.prediction_shape,
                   **{output_name(name): shape for name, shape in state.items()}}
        return inputs, outputs

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> 'ModelConfig':
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f'unknown model config keys: {", ".join(unknown)}')
        return cls(**data)


# What every preset shares (see lhg_ros.training.trainer): the voice activity decision as an
# input, poses relative to the listener's rest, the listener's own motion fed back (the paper's
# autoregression) and a mixture of 8 (16 for the shipped compact) over the next frames, sampled
# at run time, conditioned on a listener style.
STYLE_DIM = 8  # a listener's style: 8 numbers (lhg_ros.network.style)
LISTENER = {'voice_activity': True, 'relative_to_rest': True, 'listener_input': 'motion',
            'listener_hears': True, 'mixtures': 8, 'horizon_s': 0.48, 'style_dim': STYLE_DIM}

PRESETS = {
    # The paper: J = Q = R = 12 blocks, 1,024 units, 256-unit feed-forward bottleneck; ~0.5 B.
    # Its timing too: motion at 12.5 Hz, three 80 ms frames (0.24 s) per step.
    'paper': ModelConfig(d_model=1024, j_layers=12, q_layers=12, r_layers=12,
                         ffn_bottleneck=256, heads=16, motion_rate=12.5, **LISTENER),
    # Jetson Orin class, real time on GPU, ~40 M.
    'base': ModelConfig(d_model=512, j_layers=4, q_layers=4, r_layers=4, ffn_bottleneck=128,
                        heads=8, **LISTENER),
    # CPU and small Jetsons, ~10 M.
    'small': ModelConfig(d_model=256, j_layers=4, q_layers=4, r_layers=4, ffn_bottleneck=64,
                         heads=4, **LISTENER),
    # The shipped starter model, ~1.6 M: real time on one CPU core.
    # A mixture of 16, not 8: with 8 its nods were 0.77x the listeners' size (each component
    # the average of several courses of the head), with 16 0.84-0.89x (model card).
    'compact': ModelConfig(d_model=128, j_layers=2, q_layers=2, r_layers=2, ffn_bottleneck=64,
                           heads=4, **{**LISTENER, 'mixtures': 16}),
    # Tests and smoke runs.
    'tiny': ModelConfig(d_model=64, j_layers=2, q_layers=2, r_layers=2, ffn_bottleneck=32,
                        heads=4, **LISTENER),
}


# Parameters of each preset, for --help without building a model (test/test_model.py counts).
PRESET_PARAMETERS = {'paper': 473e6, 'base': 40.1e6, 'small': 10.2e6, 'compact': 1.63e6,
                     'tiny': 0.43e6}


def preset_sizes() -> str:
    """'paper (473 M), base (40.1 M), ...': the presets and their parameter counts."""
    def size(count: float) -> str:
        return f'{count / 1e6:.3g} M'

    return ', '.join(f'{name} ({size(PRESET_PARAMETERS[name])})' for name in PRESETS)


def preset(name: str) -> ModelConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset '{name}'; presets: {', '.join(PRESETS)}") from None
