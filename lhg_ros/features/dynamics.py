"""Causal first and second differences, the paper's "dynamic features".

Unlike the regression deltas of speech recognition, these use no future frame:
``d1_t = f_t - f_{t-1}`` and ``d2_t = d1_t - d1_{t-1}``. Before the first frame the stream is
taken to be at rest (``f_{-1} = f_0``), so both differences start at zero. Audio (27 -> 81 dims)
and head motion (6 -> 18 dims) share this code, online and in training.
"""

import numpy as np


class CausalDifferences:
    """Appends first and second causal differences to a stream of frames, chunk by chunk.

    ``update`` on any split of a sequence returns the same rows as one call on the whole of it.
    """

    def __init__(self, dim: int):
        self.dim = dim
        self.reset()

    def reset(self) -> None:
        self._last_frame: np.ndarray | None = None
        self._last_d1 = np.zeros(self.dim, dtype=np.float32)

    def update(self, frames: np.ndarray) -> np.ndarray:
        """(n, dim) static frames -> (n, 3 * dim) [static, d1, d2] in float32."""
        frames = np.asarray(frames, dtype=np.float32)
        if frames.ndim != 2 or frames.shape[1] != self.dim:
            raise ValueError(f'expected frames of shape (n, {self.dim}), got {frames.shape}')
        if len(frames) == 0:
            return np.empty((0, 3 * self.dim), dtype=np.float32)
        n, dim = frames.shape
        previous = frames[0] if self._last_frame is None else self._last_frame
        # In-place subtraction into one preallocated block: this runs 100 times a second per
        # stream, and np.diff / np.concatenate cost several times more on one-frame chunks.
        out = np.empty((n, 3 * dim), dtype=np.float32)
        out[:, :dim] = frames
        d1, d2 = out[:, dim:2 * dim], out[:, 2 * dim:]
        np.subtract(frames[0], previous, out=d1[0])
        np.subtract(d1[0], self._last_d1, out=d2[0])
        if n > 1:
            np.subtract(frames[1:], frames[:-1], out=d1[1:])
            np.subtract(d1[1:], d1[:-1], out=d2[1:])
        self._last_frame = frames[-1].copy()
        self._last_d1 = d1[-1].copy()
        return out


def with_causal_differences(frames: np.ndarray) -> np.ndarray:
    """Offline form of :class:`CausalDifferences` for a whole (n, dim) sequence."""
    frames = np.asarray(frames, dtype=np.float32)
    return CausalDifferences(frames.shape[1]).update(frames)
