"""A scrolling log-mel picture for people (rqt_image_view, RViz): newest frame on the right,
low frequencies at the bottom, grey levels scaled to a fixed dB-like range."""

import numpy as np


class SpectrogramImage:
    def __init__(self, bins: int, width: int = 300, floor: float = 0.0, ceiling: float = 25.0):
        """``floor``/``ceiling``: log values shown as black/white (log-mel of 16-bit-scaled
        speech spans about 0..25)."""
        if ceiling <= floor:
            raise ValueError('ceiling must be above floor')
        self._values = np.full((bins, width), floor, dtype=np.float32)
        self._floor, self._span = floor, ceiling - floor

    def push(self, frames: np.ndarray) -> None:
        """Scroll in (n, bins) frames."""
        frames = np.asarray(frames, dtype=np.float32)[-self._values.shape[1]:]
        n = len(frames)
        if n:
            self._values = np.concatenate((self._values[:, n:], frames.T[::-1]), axis=1)

    def image(self) -> np.ndarray:
        """(bins, width) uint8 grey levels."""
        scaled = (self._values - self._floor) * (255.0 / self._span)
        return np.clip(scaled, 0, 255).astype(np.uint8)
