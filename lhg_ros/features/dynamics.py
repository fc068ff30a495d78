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
        # [f_{t-1}, d1_{t-1}] in one preallocated vector: this runs 100 times a second per
        # stream, mostly on one-frame chunks, where each numpy call and allocation shows.
        self._last = np.zeros(2 * self.dim, dtype=np.float32)
        self._last_frame, self._last_d1 = self._last[:self.dim], self._last[self.dim:]
        self._started = False

    def update(self, frames: np.ndarray) -> np.ndarray:
        """(n, dim) static frames -> (n, 3 * dim) [static, d1, d2] in float32."""
        frames = np.asarray(frames, dtype=np.float32)
        if frames.ndim != 2 or frames.shape[1] != self.dim:
            raise ValueError(f'expected frames of shape (n, {self.dim}), got {frames.shape}')
        n, dim = frames.shape
        if n == 1:
            return self.update_row(frames[0])[None]
        if n == 0:
            return np.empty((0, 3 * dim), dtype=np.float32)
        previous = self._last_frame if self._started else frames[0]
        out = np.empty((n, 3 * dim), dtype=np.float32)
        out[:, :dim] = frames
        d1, d2 = out[:, dim:2 * dim], out[:, 2 * dim:]
        np.subtract(frames[0], previous, out=d1[0])
        np.subtract(d1[0], self._last_d1, out=d2[0])
        np.subtract(frames[1:], frames[:-1], out=d1[1:])
        np.subtract(d1[1:], d1[:-1], out=d2[1:])
        self._last[:] = out[-1, :2 * dim]
        self._started = True
        return out

    def update_row(self, frame: np.ndarray) -> np.ndarray:
        """One static frame ``(dim,)`` -> its ``(3 * dim,)`` row: the one-frame fast path of
        :meth:`update`, the same arithmetic in four array operations and one allocation."""
        dim = self.dim
        if not self._started:  # at rest before the first frame: both differences are zero
            self._last_frame[:] = frame
            self._started = True
        out = np.empty(3 * dim, dtype=np.float32)
        out[:dim] = frame
        d1 = out[dim:2 * dim]
        np.subtract(frame, self._last_frame, d1)
        np.subtract(d1, self._last_d1, out[2 * dim:])
        self._last[:] = out[:2 * dim]
        return out


def with_causal_differences(frames: np.ndarray) -> np.ndarray:
    """Offline form of :class:`CausalDifferences` for a whole (n, dim) sequence."""
    frames = np.asarray(frames, dtype=np.float32)
    return CausalDifferences(frames.shape[1]).update(frames)


def with_causal_differences_batch(frames):
    """(..., T, dim) frames, a numpy array or a torch tensor (training's batches, gradients
    kept) -> (..., T, 3 * dim): :func:`with_causal_differences` of each sequence."""
    previous = [max(t - 1, 0) for t in range(frames.shape[-2])]  # (at rest before the first)
    d1 = frames - frames[..., previous, :]
    d2 = d1 - d1[..., previous, :]
    if isinstance(frames, np.ndarray):
        return np.concatenate([frames, d1, d2], axis=-1)
    import torch  # (a tensor came, so torch is there)

    return torch.cat([frames, d1, d2], dim=-1)

