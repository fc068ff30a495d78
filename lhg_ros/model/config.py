"""Model configuration: data (dataclass <-> JSON), not code, with named presets."""

import dataclasses
from dataclasses import dataclass

from lhg_ros.features.audio import FEATURE_DIM as AUDIO_DIM
from lhg_ros.features.audio import FRAME_RATE as AUDIO_RATE
from lhg_ros.features.motion import MOTION_DIM, MOTION_RATE, POSE_DIM


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
    frames_per_step: int = 3  # listener frames predicted per step
    audio_rate: float = AUDIO_RATE
    motion_rate: float = MOTION_RATE
    audio_window_s: float = 2.0  # how far back cross-attention sees the speech
    motion_window_s: float = 2.0  # how far back R sees the fused speaker stream

    def __post_init__(self):
        ratio = self.audio_rate / self.motion_rate
        problems = []
        if abs(ratio - round(ratio)) > 1e-9 or ratio < 1:
            problems.append(f'audio_rate / motion_rate must be a whole number, got {ratio}')
        if self.d_model % self.heads:
            problems.append(f'd_model {self.d_model} is not divisible by heads {self.heads}')
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

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> 'ModelConfig':
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f'unknown model config keys: {", ".join(unknown)}')
        return cls(**data)


PRESETS = {
    # The paper: J = Q = R = 12 blocks, 1,024 units, 256-unit feed-forward bottleneck; ~0.5 B.
    'paper': ModelConfig(d_model=1024, j_layers=12, q_layers=12, r_layers=12,
                         ffn_bottleneck=256, heads=16),
    # Jetson Orin class, real time on GPU, ~40 M.
    'base': ModelConfig(d_model=512, j_layers=4, q_layers=4, r_layers=4, ffn_bottleneck=128,
                        heads=8),
    # CPU and small Jetsons, ~10 M.
    'small': ModelConfig(d_model=256, j_layers=4, q_layers=4, r_layers=4, ffn_bottleneck=64,
                         heads=4),
    # Tests and smoke runs.
    'tiny': ModelConfig(d_model=64, j_layers=2, q_layers=2, r_layers=2, ffn_bottleneck=32,
                        heads=4),
}


def preset(name: str) -> ModelConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset '{name}'; presets: {', '.join(PRESETS)}") from None
