"""The LSTM-Transformer (the paper's model), runnable over a whole sequence (training, teacher
forcing) or one step at a time with explicit state (real time, export).

How the three stacks divide the work (the paper names J, Q and R; this is our reading):

* **J** encodes the speaker's speech: 81-d FBank frames at 100 Hz through LSTM blocks. Speech
  carries the cues listeners respond to (pauses, pitch and energy contours) at a finer time
  scale than head motion, so it gets its own stack at its own rate.
* **Q** encodes the speaker's head motion at 25 Hz and fuses the speech into it with windowed
  cross-attention to J: this is where the two rates meet, as in the paper.
* **R** is the listener: it runs over the listener's own motion so far (an autoregressive
  decoder) and cross-attends both to Q (the fused speaker) and to J directly, so the timing of
  speech events reaches the nod decision without passing through the speaker's motion. That
  direct path is meant to counter the failure the paper reports: a listener that mirrors the
  speaker's head instead of responding to their speech.

Every block is pre-norm: ``x + LSTM(LN x)``, then ``x + CrossAttention(LN x, memory)`` (Q and R
only), then ``x + FFN(LN x)`` with a bottleneck FFN and ReLU. The LSTM replaces the masked
self-attention of a Transformer (uni-directional, hence causal). Cross-attention sees a bounded
window of the past (``audio_window_s``, ``motion_window_s``), with a learned bias per head for
how far back each key lies, so a step costs the same however long the conversation has run.

Each motion token t predicts the listener's poses at t+1, t+2, t+3 (``frames_per_step``) as
bounded poses around the training listeners' mean pose: ``center + bound * tanh(head)``,
with ``center`` and ``bound`` per degree of freedom fitted to the training data. Not as
offsets from the pose at t: offsets add up in closed loop, where the model feeds on its own
output, and a small bias per step became a drift of hundreds of degrees; a bounded pose
cannot drift, and is within the range the training listeners used whatever the input.

A mixture model (``mixtures`` > 0, lhg_ros.network.mixture) predicts instead a distribution over
the next ``horizon_s`` (0.48 s: 12 frames at 25 Hz) that the runtime samples, using the first
three. Its means continue from the listener's own pose at t with a leak toward rest
(``rest_return_s``), so a sampled step goes on where the head is and sampling cannot wander
off, and stay within the same bound; it is trained on its own samples fed back
(lhg_ros.training.trainer).

A model with a style (``style_dim`` > 0) is conditioned on a listener's style vector, added
to R's input and to the head's (lhg_ros.network.style); :class:`StyleEncoder` makes one from a
clip of that listener's own motion, and is trained with the rest (lhg_ros.training.trainer).

A streaming step consumes three motion frames (and the twelve audio frames that start within
them) and returns the prediction of its last token: the next three frames (a mixture's: the
next ``predicted_frames``, of which the runtime commands three). Motion token t
sees audio frames up to 4t+3, those that start within it.
"""

import math

import numpy as np
import torch
from torch import nn

from lhg_ros.network import mixture
from lhg_ros.network.config import ModelConfig

MASKED = -1e4  # additive attention mask; finite so fp16 engines do not produce NaN



class WindowedCrossAttention(nn.Module):
    def __init__(self, d: int, heads: int, window: int):
        super().__init__()
        self.heads, self.window = heads, window
        self.query = nn.Linear(d, d)
        self.key_value = nn.Linear(d, 2 * d)
        self.out = nn.Linear(d, d)
        self.recency_bias = nn.Parameter(torch.zeros(heads, window))
        self.scale = 1.0 / math.sqrt(d // heads)

    def project(self, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of memory frames (B, N, d), split into heads: (B, H, N, d / H)
        each. Streaming caches keep them in this layout, so a step never reshapes a cache."""
        b, n, d = memory.shape
        kv = self.key_value(memory).view(b, n, 2, self.heads, d // self.heads)
        kv = kv.permute(2, 0, 3, 1, 4)
        return kv[0], kv[1]

    def forward(self, x, k, v, recency, blocked):
        """x (B, T, d) attends to k, v (B, H, K, d / H). ``recency`` (T, K): how many frames
        before the query's newest visible frame each key lies; ``blocked`` (B or 1, 1, T, K):
        ``MASKED`` where a key is outside the window or not filled yet, else 0."""
        b, t, d = x.shape
        h = self.heads
        q = self.query(x).view(b, t, h, d // h).transpose(1, 2)
        scores = (q @ k.transpose(-1, -2)) * self.scale
        bias = self.recency_bias[:, recency.clamp(0, self.window - 1)]  # (H, T, K)
        attended = torch.softmax(scores + bias + blocked, dim=-1) @ v
        return self.out(attended.transpose(1, 2).reshape(b, t, d))


def blocked_keys(recency: torch.Tensor, window: int, filled: torch.Tensor | None = None
                 ) -> torch.Tensor:
    """Additive mask (B or 1, 1, T, K) from recency (T, K) and, when streaming, which cache
    entries are filled (B, K)."""
    visible = (recency >= 0) & (recency < window)
    visible = visible[None, None]
    if filled is not None:
        visible = visible & (filled > 0.5)[:, None, None, :]
    return (~visible).to(torch.float32) * MASKED


class Block(nn.Module):
    def __init__(self, config: ModelConfig, windows: tuple[int, ...]):
        super().__init__()
        d = config.d_model
        self.lstm_norm = nn.LayerNorm(d)
        self.lstm = nn.LSTM(d, d, batch_first=True)
        self.cross_norms = nn.ModuleList(nn.LayerNorm(d) for _ in windows)
        self.cross = nn.ModuleList(WindowedCrossAttention(d, config.heads, w) for w in windows)
        self.ffn_norm = nn.LayerNorm(d)
        self.ffn = nn.Sequential(nn.Linear(d, config.ffn_bottleneck), nn.ReLU(),
                                 nn.Dropout(config.dropout), nn.Linear(config.ffn_bottleneck, d))
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x, lstm_state, memories):
        """``memories``: one (k, v, recency, blocked) per cross-attention."""
        y, lstm_state = self.lstm(self.lstm_norm(x), lstm_state)
        x = x + self.dropout(y)
        for norm, attention, (k, v, recency, blocked) in zip(self.cross_norms, self.cross,
                                                             memories, strict=True):
            x = x + self.dropout(attention(norm(x), k, v, recency, blocked))
        return x + self.dropout(self.ffn(self.ffn_norm(x))), lstm_state


class StyleEncoder(nn.Module):
    """A listener's style from a clip of their own head motion: an embedding of every frame's
    pose and its changes over a third of a second (one nod's down and up), averaged over the
    clip, then projected to ``style_dim`` numbers. The average is a running mean, as frame-level
    speaker embeddings are (Shon, Tang and Glass 2018): usable after a few seconds and steadier
    with more, and any length of clip gives a vector of the same kind."""

    KERNEL = 9  # frames a frame embedding sees: 0.36 s at 25 Hz
    HIDDEN = 64

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.frames = nn.Sequential(
            nn.Conv1d(3 * config.pose_dim, self.HIDDEN, self.KERNEL), nn.GELU(),
            nn.Conv1d(self.HIDDEN, self.HIDDEN, 1), nn.GELU())
        self.project = nn.Linear(self.HIDDEN, config.style_dim)

    def forward(self, features: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """features (B, T, 18) normalised motion, valid (B, T) bool (a clip's frames, then
        padding) -> styles (B, style_dim)."""
        embedded = self.frames(features.transpose(1, 2))  # (B, H, T - KERNEL + 1)
        whole = valid[:, self.KERNEL - 1:].to(embedded.dtype)  # windows inside the clip
        mean = (embedded * whole[:, None]).sum(-1) / whole.sum(-1).clamp(min=1.0)[:, None]
        return self.project(mean)


def _shift_in(cache: torch.Tensor, new: torch.Tensor, dim: int) -> torch.Tensor:
    """Drop the oldest entries of a fixed-size cache and append ``new`` along ``dim``."""
    keep = cache.shape[dim] - new.shape[dim]
    return torch.cat([cache.narrow(dim, cache.shape[dim] - keep, keep), new], dim=dim)


class ListenerModel(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = c = config
        d = c.d_model
        self.embed_audio = nn.Linear(c.audio_input_dim, d)
        self.embed_speaker = nn.Linear(c.motion_dim, d)
        if c.listener_input != 'none':  # (no listener input: no weights for it)
            self.embed_listener = nn.Linear(c.motion_dim, d)
        self.j_blocks = nn.ModuleList(Block(c, ()) for _ in range(c.j_layers))
        self.q_blocks = nn.ModuleList(Block(c, (c.audio_window,)) for _ in range(c.q_layers))
        self.r_blocks = nn.ModuleList(Block(c, (c.audio_window, c.motion_window))
                                      for _ in range(c.r_layers))
        self.j_norm, self.q_norm, self.r_norm = (nn.LayerNorm(d) for _ in range(3))
        per_component = 1 + 2 * c.predicted_frames * c.pose_dim
        self.head = nn.Linear(d, c.mixtures * per_component if c.mixtures
                              else c.frames_per_step * c.pose_dim)
        if c.style_dim:
            self.style_encoder = StyleEncoder(c)
            self.style_in = nn.Linear(c.style_dim, d)  # added to R's input
            self.style_out = nn.Linear(c.style_dim, d)  # added to the head's
        with torch.no_grad():  # start at the mean pose, not at random poses across the bound
            self.head.weight.mul_(0.1)
            self.head.bias.zero_()
        # Feature normalisation, saved with the weights (set from training statistics).
        self.register_buffer('audio_mean', torch.zeros(c.audio_input_dim))
        self.register_buffer('audio_std', torch.ones(c.audio_input_dim))
        self.register_buffer('motion_mean', torch.zeros(c.motion_dim))
        self.register_buffer('motion_std', torch.ones(c.motion_dim))
        # Predicted poses lie within pose_bound of pose_center (the listeners' mean pose).
        self.register_buffer('pose_center', torch.zeros(c.pose_dim))
        self.register_buffer('pose_bound', torch.full((c.pose_dim,), 4.0))
        if c.mixtures and c.horizon_s:  # (models before it: the bound is the unit)
            # How far the training listeners moved k = 1 .. H frames ahead (RMS): the unit of
            # the mixture's changes and spreads (lhg_ros.network.mixture.mixture_parts).
            self.register_buffer('change_scale', torch.full((c.predicted_frames, c.pose_dim),
                                                            0.01))
            self.register_buffer('min_spread', torch.tensor(mixture.MIN_SPREAD[:c.pose_dim]),
                                 persistent=False)
        # A mixture's means leak from the listener's pose toward rest with this time constant.
        frames_ahead = torch.arange(1, c.predicted_frames + 1) / c.motion_rate
        self.register_buffer('rest_keep', torch.exp(-frames_ahead / c.rest_return_s)
                             if c.rest_return_s > 0 else torch.ones(c.predicted_frames),
                             persistent=False)
        # Streaming caches hold the window plus the frames a step adds before its last query.
        f, ratio = c.frames_per_step, c.audio_per_motion
        self.audio_cache, self.speaker_cache = c.audio_cache, c.speaker_cache
        newest_audio = self.audio_cache - c.audio_per_step + ratio * torch.arange(1, f + 1) - 1
        newest_speaker = self.speaker_cache - f + torch.arange(f)
        self.register_buffer('step_audio_recency',
                             newest_audio[:, None] - torch.arange(self.audio_cache)[None],
                             persistent=False)
        self.register_buffer('step_speaker_recency',
                             newest_speaker[:, None] - torch.arange(self.speaker_cache)[None],
                             persistent=False)

    # -- normalisation -------------------------------------------------------------------
    def set_normalization(self, audio_mean, audio_std, motion_mean, motion_std,
                          pose_center=None, pose_bound=None, change_scale=None) -> None:
        """Feature statistics of the training data; the listeners' mean pose ``pose_center``
        (6,) defaults to the motion mean, ``pose_bound`` (6,) to four standard deviations;
        ``change_scale`` (H, 6), for a model that has one: the listeners' RMS movement k
        frames ahead."""
        n = self.config.pose_dim
        if pose_center is None:
            pose_center = np.asarray(motion_mean, dtype=np.float64)[:n]
        if pose_bound is None:
            pose_bound = 4.0 * np.asarray(motion_std, dtype=np.float64)[:n]
        for name, value in (('audio_mean', audio_mean), ('audio_std', audio_std),
                            ('motion_mean', motion_mean), ('motion_std', motion_std),
                            ('pose_center', pose_center), ('pose_bound', pose_bound)):
            getattr(self, name).copy_(torch.as_tensor(np.asarray(value), dtype=torch.float32))
        if change_scale is not None and hasattr(self, 'change_scale'):
            self.change_scale.copy_(torch.as_tensor(np.asarray(change_scale)[
                :self.config.predicted_frames], dtype=torch.float32))

    # -- style ---------------------------------------------------------------------------
    def encode_style(self, features: torch.Tensor, lengths: torch.Tensor | None = None
                     ) -> torch.Tensor:
        """Styles (B, style_dim) of clips of listeners' motion: ``features`` (B, T, 18) as
        lhg_ros.network.style.style_features makes them (poses less their mean, and their
        differences), each clip ``lengths[b]`` frames long, then padding (all T when None)."""
        b, t, _ = features.shape
        lengths = (torch.full((b,), t, device=features.device) if lengths is None
                   else lengths.to(features.device))
        valid = torch.arange(t, device=features.device)[None] < lengths[:, None]
        normalised = features / self.motion_std * valid[..., None].to(features.dtype)
        return self.style_encoder(normalised, valid)

    def _style_terms(self, style, batch: int, like: torch.Tensor):
        """What a style adds to R's input and to the head's: (B, 1, d) each, or zeros for a
        model without one; no style given reads as the zero vector."""
        if not self.config.style_dim:
            return 0.0, 0.0
        if style is None:
            style = like.new_zeros(batch, self.config.style_dim)
        return self.style_in(style)[:, None], self.style_out(style)[:, None]

    def _r_input(self, listener, audio_memory, speaker_memory, hidden=None):
        """What R runs over, per motion token: the listener's own motion embedded, plus, with
        ``listener_hears`` (and always with ``listener_input`` 'none', which has nothing else),
        the speaker's state itself: Q's output plus J's output at the token's last audio
        frame, so R's LSTM follows the speech (how long since it stopped) without having to
        find it by attention first. ``hidden`` (B, T) bool, training only: tokens whose own
        motion R does not see (lhg_ros.training.trainer, listener dropout)."""
        per = self.config.audio_per_motion
        if self.config.listener_input == 'none':
            return speaker_memory + audio_memory[:, per - 1::per]
        own = self._listener_features(listener)
        if hidden is not None:
            own = own.masked_fill(hidden[..., None], 0.0)
        own = self.embed_listener(own)
        if self.config.listener_hears:
            return own + speaker_memory + audio_memory[:, per - 1::per]
        return own

    def _listener_features(self, listener):
        """The normalised listener input, as much of it as ``listener_input`` lets through
        ('motion' or 'pose'; a model with 'none' never reads it)."""
        if self.config.listener_input == 'pose':
            listener = torch.cat([listener[..., :self.config.pose_dim],
                                  torch.zeros_like(listener[..., self.config.pose_dim:])], -1)
        return (listener - self.motion_mean) / self.motion_std

    def _predict(self, hidden, listener, style_term=0.0):
        """Predicted poses (..., F, 6) in radians/metres, within ``pose_bound`` of
        ``pose_center``; for a mixture model (lhg_ros.network.mixture) its (logits, means,
        spreads), the means continuing from the listener's pose at the token (when the model
        takes it) with a leak toward rest, within the same bound."""
        c = self.config
        raw = self.head(self.r_norm(hidden) + style_term)
        if not c.mixtures:
            raw = raw.unflatten(-1, (c.frames_per_step, c.pose_dim))
            return self.pose_center + self.pose_bound * torch.tanh(raw)
        anchor = (listener[..., :c.pose_dim] if c.listener_input != 'none'
                  else self.pose_center.expand(*raw.shape[:-1], c.pose_dim))
        return mixture.mixture_parts(raw, anchor, self.rest_keep, self.pose_center,
                                     self.pose_bound, 0.25 * self.pose_bound,
                                     c.predicted_frames, c.pose_dim,
                                     getattr(self, 'change_scale', None),
                                     getattr(self, 'min_spread', None))

    # -- whole sequences -----------------------------------------------------------------
    def forward(self, audio, speaker, listener, hidden=None, style=None):
        """Teacher-forced pass over aligned sequences: audio (B, 4T, 81 or 82 with voice activity),
        speaker and listener motion (B, T, 18) -> predicted listener poses (B, T, 3, 6), or
        a mixture model's (logits, means, spreads) over (B, T, K, H, 6): token t predicts
        frames t+1 .. t+3 (t+H, H the mixture's ``predicted_frames``). ``hidden`` (B, T)
        bool: tokens whose own motion R's input leaves out (the means still continue from
        it), for training with listener dropout. ``style`` (B, style_dim): the listener's
        style, for a model with one."""
        c = self.config
        b, t, _ = speaker.shape
        if audio.shape[1] != t * c.audio_per_motion:
            raise ValueError(f'{t} motion frames need {t * c.audio_per_motion} audio frames, '
                             f'got {audio.shape[1]}')
        device = speaker.device
        audio_recency = ((torch.arange(1, t + 1, device=device) * c.audio_per_motion - 1)[:, None]
                         - torch.arange(audio.shape[1], device=device)[None])
        speaker_recency = (torch.arange(t, device=device)[:, None]
                           - torch.arange(t, device=device)[None])
        audio_blocked = blocked_keys(audio_recency, c.audio_window).to(speaker.dtype)
        speaker_blocked = blocked_keys(speaker_recency, c.motion_window).to(speaker.dtype)

        x = self.embed_audio((audio - self.audio_mean) / self.audio_std)
        for block in self.j_blocks:
            x, _ = block(x, None, [])
        audio_memory = self.j_norm(x)

        x = self.embed_speaker((speaker - self.motion_mean) / self.motion_std)
        for block in self.q_blocks:
            k, v = block.cross[0].project(audio_memory)
            x, _ = block(x, None, [(k, v, audio_recency, audio_blocked)])
        speaker_memory = self.q_norm(x)

        style_in, style_out = self._style_terms(style, b, speaker)
        x = self._r_input(listener, audio_memory, speaker_memory, hidden) + style_in
        for block in self.r_blocks:
            memories = [(*block.cross[0].project(audio_memory), audio_recency, audio_blocked),
                        (*block.cross[1].project(speaker_memory), speaker_recency,
                         speaker_blocked)]
            x, _ = block(x, None, memories)
        return self._predict(x, listener, style_out)

    # -- streaming -----------------------------------------------------------------------
    def state_shapes(self, batch: int = 1) -> dict[str, tuple[int, ...]]:
        """Name and shape of every state tensor: :meth:`ModelConfig.state_shapes`."""
        return self.config.state_shapes(batch)

    def initial_state(self, batch: int = 1) -> dict[str, torch.Tensor]:
        """The state before the first step: empty caches, zero LSTM states."""
        return {name: self.audio_mean.new_zeros(shape)
                for name, shape in self.state_shapes(batch).items()}

    def step(self, audio, speaker, listener, state, style=None):
        """One real-time step: audio (B, 12, audio_input_dim), speaker and listener motion
        (B, 3, 18) of the last three motion frames -> (poses of the next three frames
        (B, 3, 6), or a mixture model's prediction (B, K, 1 + 2 * H * 6) in the layout of
        lhg_ros.network.mixture, new state). ``style`` (B, style_dim): the listener's style, for
        a model with one. The output equals :meth:`forward` at the last token of the step."""
        c = self.config
        b = speaker.shape[0]
        new = {}
        new['audio_filled'] = _shift_in(state['audio_filled'],
                                        audio.new_ones(b, audio.shape[1]), 1)
        new['speaker_filled'] = _shift_in(state['speaker_filled'],
                                          speaker.new_ones(b, speaker.shape[1]), 1)
        audio_blocked = blocked_keys(self.step_audio_recency, c.audio_window,
                                     new['audio_filled']).to(audio.dtype)
        speaker_blocked = blocked_keys(self.step_speaker_recency, c.motion_window,
                                       new['speaker_filled']).to(audio.dtype)

        def cached(name, layer, attention, memory):
            """Keys/values of the window: the cache shifted, the new frames' appended."""
            k, v = attention.project(memory)
            for part, fresh in (('k', k), ('v', v)):
                key = f'{name}_{part}{layer}'
                new[key] = _shift_in(state[key], fresh, 2)
            return new[f'{name}_k{layer}'], new[f'{name}_v{layer}']

        def run(blocks, x, stack, memories_for):
            for layer, block in enumerate(blocks):
                x, (new[f'{stack}_h{layer}'], new[f'{stack}_c{layer}']) = block(
                    x, (state[f'{stack}_h{layer}'], state[f'{stack}_c{layer}']),
                    memories_for(layer, block))
            return x

        x = run(self.j_blocks, self.embed_audio((audio - self.audio_mean) / self.audio_std),
                'j', lambda layer, block: [])
        audio_memory = self.j_norm(x)

        x = run(self.q_blocks,
                self.embed_speaker((speaker - self.motion_mean) / self.motion_std), 'q',
                lambda layer, block: [(*cached('q_audio', layer, block.cross[0], audio_memory),
                                       self.step_audio_recency, audio_blocked)])
        speaker_memory = self.q_norm(x)

        style_in, style_out = self._style_terms(style, b, speaker)
        x = run(self.r_blocks, self._r_input(listener, audio_memory, speaker_memory) + style_in,
                'r',
                lambda layer, block: [
                    (*cached('r_audio', layer, block.cross[0], audio_memory),
                     self.step_audio_recency, audio_blocked),
                    (*cached('r_speaker', layer, block.cross[1], speaker_memory),
                     self.step_speaker_recency, speaker_blocked)])
        prediction = self._predict(x[:, -1], listener[:, -1],
                                   style_out if isinstance(style_out, float) else style_out[:, 0])
        if self.config.mixtures:
            prediction = mixture.flat(*prediction)
        return prediction, new


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
