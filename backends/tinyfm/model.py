"""TinyFM: a dual-branch diffusion transformer for picture and sound together.

Two token streams share every block:

- **video**: the (3, T, 16, 16) latent cut into 2x4x4 patches (two frames,
  a quarter of the grid each way): 16 tokens per pair of frames;
- **audio**: the (32, F) log-mel latent cut into two-frame patches: 20 tokens
  a second.

Each block, for each stream: self-attention whose keys also include the
context (the caption's words and the reference image's tokens), then
cross-attention to the other stream, then an MLP; each sub-layer modulated by
the timestep and the pooled context through adaptive layer norm with zero-
initialised gates (adaLN-Zero, DiT).  Every token carries its time in
seconds: self- and cross-attention add a bias of `-slope * |t_q - t_k|` per
head (ALiBi over seconds, slopes learned), so a video token attends most to
the sound around its own moment and the reverse.  `cross_attention=False`
removes the cross-branch attention (the ablation).

The reference image (a character's look) becomes 16 tokens of 4x4 patches
of its 16x16 thumbnail; the caption is a sequence of learned word
embeddings read by one transformer layer.  An empty caption and a missing
reference are what classifier-free guidance's unconditional branch sees.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .latent import LATENT_SIDE, MEL_BANDS, NUMBERS, Stats, tie
from .text import Vocabulary

REF_SIDE = 16
MIN_FLOW_TIME = 0.05  # a data-predicting head divides by the flow time, at least this


@dataclass(frozen=True)
class Config:
    vocab_size: int
    max_words: int = 32
    dim: int = 128
    depth: int = 4
    heads: int = 4
    mlp_ratio: float = 3.0
    patch_time: int = 2
    patch_side: int = 4
    audio_patch: int = 2
    fps: float = 12.0
    mel_rate: float = 40.0  # mel frames a second
    # The video latent (backends/tinyfm/latent.py): "frames", 3 channels; "path",
    # the first frame, residuals and the camera path, 6 channels; or "sprite", the
    # background and the character apart, with their paths and the flashes, 19; or
    # "contacts", the sprite with a bounce as its floor contacts, 21.
    latent: str = "frames"
    video_channels: int = 3
    # The audio latent's rows: the 32 mel bands, or 33 with the onsets' pulses
    # (latent.ONSET_ROWS: a sound's start as a pulse the decoder makes a step of).
    audio_channels: int = MEL_BANDS
    # What the video head predicts: "velocity" (noise - data), or "data", turned into
    # the velocity (x_t - data) / t.  A path latent's patch holds 192 numbers, more than
    # the token's width: a velocity, mostly noise, cannot pass through the tokens,
    # while the clean data (the noise is then taken from x_t itself) can.
    video_prediction: str = "velocity"
    # A sprite latent's numbers (camera path, track, flashes: the same over the grid)
    # also as tokens of their own, one per pair of frames, in the video stream: read
    # from and written to those channels.  In a picture token they are 18 of 608
    # inputs, most of the rest noise; alone, a bounce or a flash is a clear curve
    # over a dozen tokens, which the sound's cross-attention reads as well.
    number_tokens: bool = False
    # Initial time-distance slopes (per second) of the heads, self and cross.
    self_slopes: tuple[float, ...] = (0.05, 1.0, 4.0, 16.0)
    cross_slopes: tuple[float, ...] = (1.0, 8.0, 24.0, 48.0)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Config:
        fields = {**data}
        for key in ("self_slopes", "cross_slopes"):
            fields[key] = tuple(fields[key])
        return cls(**fields)

    @property
    def video_patch_dim(self) -> int:
        return self.video_channels * self.patch_time * self.patch_side**2

    @property
    def audio_patch_dim(self) -> int:
        return self.audio_channels * self.audio_patch


# ------------------------------------------------------------ small parts


def seconds_features(seconds: torch.Tensor, count: int = 16) -> torch.Tensor:
    """Sine and cosine of times in seconds, periods from 0.1 s to 20 s: (..., 2 * count)."""
    periods = torch.logspace(math.log10(0.1), math.log10(20.0), count, device=seconds.device)
    angles = 2 * math.pi * seconds[..., None] / periods
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


def timestep_features(t: torch.Tensor, count: int = 64) -> torch.Tensor:
    """DiT's sinusoidal embedding of flow times in [0, 1] (scaled to 0..1000)."""
    freqs = torch.exp(-math.log(10000.0) * torch.arange(count, device=t.device) / count)
    angles = 1000.0 * t[:, None].float() * freqs
    return torch.cat([angles.cos(), angles.sin()], dim=-1)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale[:, None]) + shift[:, None]


class Attention(nn.Module):
    """Multi-head attention with query/key RMS norm and a learned time-distance
    bias per head; context keys (no time) get no distance bias."""

    def __init__(self, dim: int, heads: int, slopes: tuple[float, ...]):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)
        self.q_norm = nn.RMSNorm(dim // heads)
        self.k_norm = nn.RMSNorm(dim // heads)
        # softplus(raw) = slope
        raw = [math.log(math.expm1(s)) for s in slopes]
        self.raw_slopes = nn.Parameter(torch.tensor(raw, dtype=torch.float32))

    def forward(
        self,
        x: torch.Tensor,
        x_times: torch.Tensor,
        keys: torch.Tensor,
        key_times: torch.Tensor,
        extra_bias: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """`x` (B, Lq, D) at `x_times` (Lq,) attends to `keys` (B, Lk, D) at
        `key_times` (Lk,), NaN for context keys; `extra_bias` (B, 1, 1, n) masks
        padding among the last n keys."""
        b, lq, d = x.shape
        h = self.heads
        q = self.q_norm(self.q(x).view(b, lq, h, d // h).transpose(1, 2))
        k, v = self.kv(keys).view(b, -1, 2, h, d // h).permute(2, 0, 3, 1, 4)
        k = self.k_norm(k)
        distance = (x_times[:, None] - key_times[None, :]).abs().nan_to_num(0.0)
        bias = -F.softplus(self.raw_slopes)[:, None, None] * distance  # (H, Lq, Lk)
        bias = bias[None]
        if extra_bias is not None:
            bias = bias + F.pad(extra_bias, (k.shape[2] - extra_bias.shape[-1], 0))
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        return self.out(y.transpose(1, 2).reshape(b, lq, d))


class Mlp(nn.Sequential):
    def __init__(self, dim: int, ratio: float):
        hidden = int(dim * ratio)
        super().__init__(
            nn.Linear(dim, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, dim)
        )


class BranchLayer(nn.Module):
    """One stream's half of a block: self-attention over itself and the context,
    cross-attention to the other stream, an MLP, each gated by adaLN-Zero."""

    def __init__(self, cfg: Config):
        super().__init__()
        d = cfg.dim
        self.norm = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.self_attn = Attention(d, cfg.heads, cfg.self_slopes)
        self.cross_attn = Attention(d, cfg.heads, cfg.cross_slopes)
        self.mlp = Mlp(d, cfg.mlp_ratio)
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(d, 9 * d))
        nn.init.zeros_(self.ada[1].weight)
        nn.init.zeros_(self.ada[1].bias)

    def modulation(self, cond: torch.Tensor) -> list[torch.Tensor]:
        return list(self.ada(cond).chunk(9, dim=-1))


class Block(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.video = BranchLayer(cfg)
        self.audio = BranchLayer(cfg)

    def forward(self, v, a, cond_v, cond_a, ctx, ctx_bias, tv, ta, cross_attention: bool):
        mv, ma = self.video.modulation(cond_v), self.audio.modulation(cond_a)
        nan = torch.full((ctx.shape[1],), float("nan"), device=ctx.device)
        # self-attention, with the context as extra keys
        hv = modulate(self.video.norm(v), mv[0], mv[1])
        ha = modulate(self.audio.norm(a), ma[0], ma[1])
        v = v + mv[2][:, None] * self.video.self_attn(
            hv, tv, torch.cat([hv, ctx], 1), torch.cat([tv, nan]), ctx_bias
        )
        a = a + ma[2][:, None] * self.audio.self_attn(
            ha, ta, torch.cat([ha, ctx], 1), torch.cat([ta, nan]), ctx_bias
        )
        # cross-attention between the streams, aligned in time
        if cross_attention:
            hv = modulate(self.video.norm(v), mv[3], mv[4])
            ha = modulate(self.audio.norm(a), ma[3], ma[4])
            v, a = (
                v + mv[5][:, None] * self.video.cross_attn(hv, tv, ha, ta),
                a + ma[5][:, None] * self.audio.cross_attn(ha, ta, hv, tv),
            )
        v = v + mv[8][:, None] * self.video.mlp(modulate(self.video.norm(v), mv[6], mv[7]))
        a = a + ma[8][:, None] * self.audio.mlp(modulate(self.audio.norm(a), ma[6], ma[7]))
        return v, a


class FinalLayer(nn.Module):
    def __init__(self, dim: int, out: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))
        self.linear = nn.Linear(dim, out)
        for layer in (self.ada[1], self.linear):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        shift, scale = self.ada(cond).chunk(2, dim=-1)
        return self.linear(modulate(self.norm(x), shift, scale))


# ------------------------------------------------------------------- model


@dataclass
class Conditioning:
    """What a batch is conditioned on: word ids (B, max_words), 0 for padding, and
    reference thumbnails (B, 3, 16, 16) in [-1, 1] with `has_ref` (B,) saying which
    are real.  A row with no words and no reference is unconditional."""

    words: torch.Tensor
    reference: torch.Tensor
    has_ref: torch.Tensor

    @classmethod
    def empty(cls, batch: int, max_words: int) -> Conditioning:
        return cls(
            torch.zeros(batch, max_words, dtype=torch.long),
            torch.zeros(batch, 3, REF_SIDE, REF_SIDE),
            torch.zeros(batch, dtype=torch.bool),
        )

    def cat(self, other: Conditioning) -> Conditioning:
        return Conditioning(
            torch.cat([self.words, other.words]),
            torch.cat([self.reference, other.reference]),
            torch.cat([self.has_ref, other.has_ref]),
        )


class TinyFM(nn.Module):
    """The dual-branch flow-matching transformer; `forward` predicts both velocities.
    It carries what its weights were trained with: the caption vocabulary and
    the latents' statistics."""

    def __init__(self, cfg: Config, vocabulary: Vocabulary, stats: Stats):
        super().__init__()
        if len(vocabulary) != cfg.vocab_size:
            raise ValueError(f"{len(vocabulary)} words for a model of {cfg.vocab_size}")
        self.cfg = cfg
        self.vocabulary = vocabulary
        self.stats = stats
        d = cfg.dim
        grid = LATENT_SIDE // cfg.patch_side
        # inputs
        self.video_in = nn.Linear(cfg.video_patch_dim, d)
        self.audio_in = nn.Linear(cfg.audio_patch_dim, d)
        self.video_space = nn.Parameter(torch.randn(grid * grid, d) * 0.02)
        self.video_time = nn.Linear(32, d)
        self.audio_time = nn.Linear(32, d)
        # conditioning
        self.t_embed = nn.Sequential(nn.Linear(128, d), nn.SiLU(), nn.Linear(d, d))
        self.word_embed = nn.Embedding(cfg.vocab_size, d, padding_idx=0)
        self.word_pos = nn.Parameter(torch.randn(cfg.max_words, d) * 0.02)
        self.text_layer = nn.TransformerEncoderLayer(
            d, cfg.heads, int(d * cfg.mlp_ratio), dropout=0.0, batch_first=True, norm_first=True
        )
        ref_patch = REF_SIDE // grid
        self.ref_in = nn.Linear(3 * ref_patch * ref_patch, d)
        self.ref_pos = nn.Parameter(torch.randn(grid * grid, d) * 0.02)
        self.ref_null = nn.Parameter(torch.zeros(grid * grid, d))
        self.ctx_norm = nn.LayerNorm(d)
        self.pool = nn.Linear(2 * d, d)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        self.video_out = FinalLayer(d, cfg.video_patch_dim)
        if cfg.number_tokens:
            numbers = self._numbers.stop - self._numbers.start
            numbers *= cfg.patch_time
            self.numbers_in = nn.Linear(numbers, d)
            self.numbers_kind = nn.Parameter(torch.randn(d) * 0.02)
            self.numbers_out = FinalLayer(d, numbers)
        self.audio_out = FinalLayer(d, cfg.audio_patch_dim)

    # -- patches
    def video_tokens(self, video: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, 16, 16) to (B, T/pt * g * g, patch) in time-major order."""
        b, c, t, s, _ = video.shape
        pt, p, g = self.cfg.patch_time, self.cfg.patch_side, s // self.cfg.patch_side
        x = video.reshape(b, c, t // pt, pt, g, p, g, p)
        x = x.permute(0, 2, 4, 6, 1, 3, 5, 7)  # b, tt, gy, gx, c, pt, p, p
        return x.reshape(b, (t // pt) * g * g, c * pt * p * p)

    def video_from_tokens(self, tokens: torch.Tensor, frames: int) -> torch.Tensor:
        b = tokens.shape[0]
        pt, p = self.cfg.patch_time, self.cfg.patch_side
        g = LATENT_SIDE // p
        c = self.cfg.video_channels
        x = tokens.reshape(b, frames // pt, g, g, c, pt, p, p)
        x = x.permute(0, 4, 1, 5, 2, 6, 3, 7)
        return x.reshape(b, c, frames, LATENT_SIDE, LATENT_SIDE)

    def number_tokens(self, video: torch.Tensor) -> torch.Tensor:
        """A sprite latent's numbers, one token's worth a pair of frames: (B, T/pt, N * pt)
        for its N numbers a frame (9; 11 in a contacts latent)."""
        b, _, t = video.shape[:3]
        x = video[:, self._numbers].mean(dim=(3, 4))  # (B, N, T): the same over the grid
        x = x.reshape(b, -1, t // self.cfg.patch_time, self.cfg.patch_time)
        return x.permute(0, 2, 1, 3).flatten(2)

    def with_numbers(self, video: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """`video` (B, C, T, 16, 16) with its number channels written from `tokens`."""
        b, c, t, s, _ = video.shape
        numbers = self._numbers
        count = numbers.stop - numbers.start
        x = tokens.reshape(b, t // self.cfg.patch_time, count, self.cfg.patch_time)
        x = x.permute(0, 2, 1, 3).reshape(b, count, t, 1, 1).expand(-1, -1, -1, s, s)
        return torch.cat([video[:, : numbers.start], x, video[:, numbers.stop :]], 1)

    @property
    def _numbers(self) -> slice:
        return NUMBERS[self.cfg.latent]

    def audio_tokens(self, audio: torch.Tensor) -> torch.Tensor:
        b, m, f = audio.shape
        pa = self.cfg.audio_patch
        return audio.reshape(b, m, f // pa, pa).permute(0, 2, 1, 3).reshape(b, f // pa, m * pa)

    def audio_from_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        b, n, _ = tokens.shape
        pa = self.cfg.audio_patch
        rows = self.cfg.audio_channels
        return tokens.reshape(b, n, rows, pa).permute(0, 2, 1, 3).reshape(b, rows, -1)

    def video_times(self, frames: int) -> torch.Tensor:
        """Seconds at the middle of each video token's frames, one per token."""
        pt, g = self.cfg.patch_time, LATENT_SIDE // self.cfg.patch_side
        centres = (torch.arange(frames // pt) * pt + (pt - 1) / 2) / self.cfg.fps
        return centres.repeat_interleave(g * g)

    def audio_times(self, mel_frames: int) -> torch.Tensor:
        pa = self.cfg.audio_patch
        return (torch.arange(mel_frames // pa) * pa + (pa - 1) / 2) / self.cfg.mel_rate

    # -- context
    def context(self, cond: Conditioning) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Context tokens (B, L, D), their padding bias (B, 1, 1, L) and the pooled
        context vector (B, D)."""
        mask = cond.words > 0
        words = self.word_embed(cond.words) + self.word_pos
        # The first position is never masked, so an empty caption attends somewhere.
        keep = mask.clone()
        keep[:, 0] = True
        words = self.text_layer(words, src_key_padding_mask=~keep)
        words = torch.where(mask[..., None], words, torch.zeros_like(words))
        g = LATENT_SIDE // self.cfg.patch_side
        p = REF_SIDE // g
        b = cond.reference.shape[0]
        ref = cond.reference.reshape(b, 3, g, p, g, p).permute(0, 2, 4, 1, 3, 5)
        ref = self.ref_in(ref.reshape(b, g * g, 3 * p * p)) + self.ref_pos
        ref = torch.where(cond.has_ref[:, None, None], ref, self.ref_null + self.ref_pos)
        ctx = self.ctx_norm(torch.cat([words, ref], 1))
        valid = torch.cat([mask, torch.ones(b, g * g, dtype=torch.bool)], 1)
        bias = torch.zeros(valid.shape).masked_fill(~valid, float("-inf"))[:, None, None]
        count = mask.sum(1, keepdim=True).clamp_min(1)
        pooled = self.pool(torch.cat([words.sum(1) / count, ref.mean(1)], -1))
        return ctx, bias, pooled

    def forward(
        self,
        video: torch.Tensor,
        audio: torch.Tensor,
        t_video: torch.Tensor,
        t_audio: torch.Tensor,
        cond: Conditioning,
        *,
        cross_attention: bool = True,
        time_offset: torch.Tensor | float = 0.0,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Velocities for a noisy (B, 3, T, 16, 16) video latent and (B, 32, F) audio
        latent at flow times `t_video`, `t_audio` (B,).  `time_offset` shifts the
        clock of the time embeddings (training draws it at random so that no
        absolute time is special); distances between times are unchanged."""
        frames, mel_frames = video.shape[2], audio.shape[2]
        tv, ta = self.video_times(frames), self.audio_times(mel_frames)
        offset = torch.as_tensor(time_offset, dtype=torch.float32).reshape(-1, 1)
        v = self.video_tokens(video)
        v = self.video_in(v) + self.video_space.repeat(frames // self.cfg.patch_time, 1)
        v = v + self.video_time(seconds_features(tv[None] + offset))
        pictures = v.shape[1]
        if self.cfg.number_tokens:
            tn = tv[:: (LATENT_SIDE // self.cfg.patch_side) ** 2]  # one time a pair of frames
            n = self.numbers_in(self.number_tokens(video)) + self.numbers_kind
            n = n + self.video_time(seconds_features(tn[None] + offset))
            v, tv = torch.cat([v, n], 1), torch.cat([tv, tn])
        a = self.audio_in(self.audio_tokens(audio))
        a = a + self.audio_time(seconds_features(ta[None] + offset))
        ctx, ctx_bias, pooled = self.context(cond)
        cond_v = self.t_embed(timestep_features(t_video)) + pooled
        cond_a = self.t_embed(timestep_features(t_audio)) + pooled
        for block in self.blocks:
            v, a = block(v, a, cond_v, cond_a, ctx, ctx_bias, tv, ta, cross_attention)
        out = self.video_from_tokens(self.video_out(v[:, :pictures], cond_v), frames)
        if self.cfg.number_tokens:
            out = self.with_numbers(out, self.numbers_out(v[:, pictures:], cond_v))
        if self.cfg.video_prediction == "data":
            out = tie(out, self.cfg.latent)  # e.g. the path as a path: one value a pair
            t = t_video.clamp_min(MIN_FLOW_TIME).view(-1, 1, 1, 1, 1)
            out = (video - out) / t
        v = out
        a = self.audio_from_tokens(self.audio_out(a, cond_a))
        return v, a
