"""The project's rates, in one place: audio samples, audio feature rows and motion frames per
second, and the ratios between them that every stream placed on another's grid needs."""

SAMPLE_RATE = 16000  # Hz, the audio the features are computed from
FRAME_SHIFT = 160  # samples between audio feature rows (10 ms)
FRAME_RATE = SAMPLE_RATE / FRAME_SHIFT  # audio feature rows per second: 100
MOTION_RATE = 25.0  # Hz, motion frames per second (the paper's video frame rate)


def motion_stride(rate: float) -> int:
    """Frames at MOTION_RATE per frame at ``rate`` (a model's motion rate divides it)."""
    return round(MOTION_RATE / rate)
