"""Latent spaces of tinyfm: fixed transforms, no learned autoencoders.

Video: frames are area-averaged to a 16x16 grid (from the 64x64 training
clips, or from any size), kept at the full frame rate, and decoded by
bicubic upsampling to whatever size is asked.  Audio: a log-mel spectrogram
(32 bands, 25 ms hop), decoded by the pseudo-inverse of the mel filterbank
and Griffin-Lim phase recovery (`torch.stft`/`torch.istft`).

Why fixed transforms: a learned autoencoder would have to be trained before
the diffusion model, and on this machine that time is better spent on the
model itself.  The procedural clips are flat shapes over smooth backgrounds,
whose colours, positions and motion survive a 16x16 grid; clicks and tones
survive a mel spectrogram with invented phase (onsets are where the energy
rises, which Griffin-Lim keeps).  What is lost is fine texture and exact
timbre, which nothing here measures.

Both encoders return tensors normalised by fixed statistics that `train.py`
measures on the training data and stores with the weights (`Stats`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch
import torch.nn.functional as F

LATENT_SIDE = 16  # video latent grid
SAMPLE_RATE = 16000
N_FFT = 512
HOP = 400  # 25 ms: 40 mel frames a second
MEL_BANDS = 32
GRIFFIN_LIM_ITERS = 32
_FLOOR = 1e-5


@dataclass(frozen=True)
class Stats:
    """Mean and standard deviation of each latent, to bring both near unit scale."""

    video_mean: float = 0.0
    video_std: float = 0.5
    audio_mean: float = -8.0
    audio_std: float = 3.0


# ------------------------------------------------------------------- video


def encode_video(frames: np.ndarray | torch.Tensor, stats: Stats) -> torch.Tensor:
    """(T, H, W, 3) uint8 frames to a normalised (3, T, 16, 16) latent."""
    x = torch.as_tensor(np.asarray(frames)).float().div(127.5).sub(1.0)
    x = x.permute(3, 0, 1, 2)  # (3, T, H, W)
    x = F.adaptive_avg_pool2d(x, LATENT_SIDE)
    return (x - stats.video_mean) / stats.video_std


def decode_video(latent: torch.Tensor, stats: Stats, size: tuple[int, int]) -> np.ndarray:
    """A (3, T, 16, 16) latent to (T, height, width, 3) uint8 frames; `size` is
    (width, height).  A non-square size covers the square and is centre-cropped."""
    width, height = size
    side = max(width, height)
    x = latent * stats.video_std + stats.video_mean
    x = x.permute(1, 0, 2, 3)  # (T, 3, 16, 16)
    x = F.interpolate(x, size=(side, side), mode="bicubic", align_corners=False)
    top, left = (side - height) // 2, (side - width) // 2
    x = x[:, :, top : top + height, left : left + width]
    x = x.add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8)
    return x.permute(0, 2, 3, 1).contiguous().numpy()


# ------------------------------------------------------------------- audio


def mel_frames(samples: int) -> int:
    """Mel frames for a sound of `samples` samples: one a hop, an even count."""
    frames = math.ceil(samples / HOP)
    return frames + frames % 2


def encode_audio(audio: np.ndarray | torch.Tensor, stats: Stats) -> torch.Tensor:
    """(samples,) float audio at 16 kHz to a normalised (32, frames) log-mel latent."""
    wave = torch.as_tensor(np.asarray(audio, dtype=np.float32))
    frames = mel_frames(wave.shape[-1])
    wave = F.pad(wave, (0, frames * HOP - wave.shape[-1]))
    spec = torch.stft(wave, N_FFT, HOP, window=_window(), center=True, return_complex=True)
    power = spec.abs().square()[:, :frames]  # (bins, frames)
    mel = _filterbank() @ power
    return (torch.log(mel + _FLOOR) - stats.audio_mean) / stats.audio_std


def decode_audio(latent: torch.Tensor, stats: Stats, samples: int, seed: int = 0) -> np.ndarray:
    """A (32, frames) latent to (samples,) float32 audio by Griffin-Lim."""
    mel = torch.exp(latent.float() * stats.audio_std + stats.audio_mean) - _FLOOR
    power = (_inverse_filterbank() @ mel.clamp_min(0.0)).clamp_min(0.0)
    magnitude = torch.cat([power, power[:, -1:]], dim=1).sqrt()  # the frame past the end
    wave = griffin_lim(magnitude, samples=mel.shape[1] * HOP, seed=seed)
    wave = wave[:samples]
    wave = F.pad(wave, (0, samples - wave.shape[0]))
    return wave.clamp(-1.0, 1.0).numpy().astype(np.float32)


def griffin_lim(magnitude: torch.Tensor, samples: int, seed: int = 0) -> torch.Tensor:
    """A waveform whose STFT magnitude approaches `magnitude` (Griffin and Lim 1984),
    with the momentum of Perraudin et al. (2013), from a seeded random phase."""
    generator = torch.Generator().manual_seed(seed)
    phase = torch.rand(magnitude.shape, generator=generator) * 2 * math.pi
    angles = torch.polar(torch.ones_like(magnitude), phase)
    previous = torch.zeros_like(angles)
    window = _window()
    for _ in range(GRIFFIN_LIM_ITERS):
        wave = torch.istft(magnitude * angles, N_FFT, HOP, window=window, length=samples)
        rebuilt = torch.stft(wave, N_FFT, HOP, window=window, return_complex=True)
        accelerated = rebuilt - 0.99 * previous
        previous = rebuilt
        angles = accelerated / accelerated.abs().clamp_min(1e-8)
    return torch.istft(magnitude * angles, N_FFT, HOP, window=window, length=samples)


@cache
def _window() -> torch.Tensor:
    return torch.hann_window(N_FFT)


@cache
def _filterbank() -> torch.Tensor:
    """(32, 257) triangular mel filters (HTK scale) from 40 Hz to 8 kHz."""
    bins = N_FFT // 2 + 1
    freqs = np.linspace(0, SAMPLE_RATE / 2, bins)

    def mel(f):
        return 2595 * np.log10(1 + np.asarray(f) / 700)

    def hz(m):
        return 700 * (10 ** (np.asarray(m) / 2595) - 1)

    edges = hz(np.linspace(mel(40.0), mel(SAMPLE_RATE / 2), MEL_BANDS + 2))
    bank = np.zeros((MEL_BANDS, bins))
    for band in range(MEL_BANDS):
        low, centre, high = edges[band : band + 3]
        rising = (freqs - low) / (centre - low)
        falling = (high - freqs) / (high - centre)
        bank[band] = np.clip(np.minimum(rising, falling), 0, None)
    return torch.tensor(bank, dtype=torch.float32)


@cache
def _inverse_filterbank() -> torch.Tensor:
    return torch.linalg.pinv(_filterbank())
