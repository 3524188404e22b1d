"""Latent spaces of tinyfm: fixed transforms, no learned autoencoders.

Video: frames are area-averaged to a 16x16 grid (from the 64x64 training
clips, or from any size), kept at the full frame rate, and decoded by
bicubic upsampling to whatever size is asked.  Audio: a log-mel spectrogram
(32 bands, 32 ms window, 25 ms hop, `torch.stft`), decoded by a channel
vocoder with sine carriers: each band becomes one sinusoid at its centre
frequency, its amplitude following the band's.

Why fixed transforms: a learned autoencoder would have to be trained before
the diffusion model, and on this machine that time is better spent on the
model itself.  The procedural clips are flat shapes over smooth backgrounds,
whose colours, positions and motion survive a 16x16 grid; clicks and tones
survive a mel spectrogram, and the vocoder puts their onsets back where the
energy rises.  Griffin-Lim phase recovery was tried first and dropped: from
mel bands it smears a tone over neighbouring bins, whose beating the onset
detector (`measure.audio_onsets`) hears as extra onsets; through the
encoder and back, its onsets were 35-55 ms from the true events, against
13 ms for the vocoder (40 held-out clips).  What is lost is fine texture and
exact timbre (a click becomes a chord of 32 short sines), which nothing here
measures.

Both encoders return tensors normalised by fixed statistics that `train.py`
measures on the training data and stores with the weights (`Stats`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache, partial

import numpy as np
import torch
import torch.nn.functional as F

LATENT_SIDE = 16  # video latent grid
SAMPLE_RATE = 16000
N_FFT = 512
HOP = 400  # 25 ms: 40 mel frames a second
MEL_BANDS = 32
_FLOOR = 1e-5
_DECODE_FRAMES = 4
GATE = 1e-2  # band power under which a band is silent (amplitude about 1e-3)


@dataclass(frozen=True)
class Stats:
    """Mean and standard deviation of each latent, to bring both near unit scale."""

    video_mean: float = 0.0
    video_std: float = 0.5
    audio_mean: float = -8.0
    audio_std: float = 3.0
    # The path latent's first frame, apart from its residuals (which `video_*` then
    # describe): a whole picture spreads about four times as wide as a residual.
    first_mean: float = 0.0
    first_std: float = 0.5
    # The path latent's path channels are the path (frame heights, log scale) times
    # this.  Larger, the path stands further above the noise: the sampler settles it
    # earlier and a given error in the model's units moves the picture less.
    path_scale: float = 4.0


# ------------------------------------------------------------------- video


def encode_video(frames: np.ndarray | torch.Tensor, stats: Stats) -> torch.Tensor:
    """(T, H, W, 3) uint8 frames to a normalised (3, T, 16, 16) latent."""
    x = torch.as_tensor(np.asarray(frames)).float().div(127.5).sub(1.0)
    x = x.permute(3, 0, 1, 2)  # (3, T, H, W)
    x = F.adaptive_avg_pool2d(x, LATENT_SIDE)
    return (x - stats.video_mean) / stats.video_std


def decode_video(latent: torch.Tensor, stats: Stats, size: tuple[int, int]) -> np.ndarray:
    """A (3, T, 16, 16) latent to (T, height, width, 3) uint8 frames; `size` is
    (width, height).  A non-square size covers the square and is centre-cropped.
    Decoded a few frames at a time, so a long shot at a large size needs memory
    for its uint8 frames only."""
    width, height = size
    side = max(width, height)
    top, left = (side - height) // 2, (side - width) // 2
    x = (latent * stats.video_std + stats.video_mean).permute(1, 0, 2, 3)  # (T, 3, 16, 16)
    out = np.empty((x.shape[0], height, width, 3), dtype=np.uint8)
    for start in range(0, x.shape[0], _DECODE_FRAMES):
        chunk = F.interpolate(
            x[start : start + _DECODE_FRAMES],
            size=(side, side),
            mode="bicubic",
            align_corners=False,
        )
        chunk = chunk[:, :, top : top + height, left : left + width]
        chunk = chunk.add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8)
        out[start : start + len(chunk)] = chunk.permute(0, 2, 3, 1).numpy()
    return out


# ------------------------------------------------------- video, with a camera path
#
# A second video latent (`Config.latent == "path"`, not yet the shipped one): the
# first frame on the grid; for every later frame, its residual on the grid against
# the first frame moved along the camera path; and the path itself (log scale and
# shift of the background, once per pair of frames) as three more channels, the same
# value over the grid and the pair.  Decoded, a pan or a zoom stays a sharp
# whole-frame motion, which the plain grid washes out: round-tripped, 34 of 36
# held-out camera moves survive against 10 (bench/tinyfm_latent.py).

PATH_CHANNELS = 3  # log scale, shift x, shift y (frame heights; x right, y down)
PATH_RATE = 2  # the path is kept once per this many frames (a video token's frames)
_RESIDUAL_SIDE = 64  # the first frame is moved along the path at this size to take residuals


def encode_video_path(
    frames: np.ndarray | torch.Tensor, path: np.ndarray, stats: Stats
) -> torch.Tensor:
    """(T, H, W, 3) uint8 frames (T even) and their (T, 3) camera path to a
    (6, T, 16, 16) latent.  The path is kept at the token rate (`smooth_path`): both
    frames of a pair carry their mean, and the residuals are taken against the path
    as the decoder reads it back, so they correct what the coarser path misses."""
    x = torch.as_tensor(np.asarray(frames)).float().div(127.5).sub(1.0).permute(0, 3, 1, 2)
    grid = F.adaptive_avg_pool2d(x, LATENT_SIDE)  # (T, 3, 16, 16)
    pairs = _pair_means(torch.as_tensor(np.asarray(path), dtype=torch.float32))
    first = _upsampled(grid[:1], _RESIDUAL_SIDE)[0]
    moved = _along_path(first, smooth_path(pairs, len(grid)))
    residual = grid - F.adaptive_avg_pool2d(moved, LATENT_SIDE)
    first_frame = (grid[:1] - stats.first_mean) / stats.first_std
    picture = torch.cat([first_frame, (residual[1:] - stats.video_mean) / stats.video_std])
    steps = (pairs * stats.path_scale).repeat_interleave(PATH_RATE, 0)[: len(grid)]
    steps = steps[:, :, None, None].expand(-1, -1, LATENT_SIDE, LATENT_SIDE)
    return torch.cat([picture, steps], 1).permute(1, 0, 2, 3)


def decode_video_path(latent: torch.Tensor, stats: Stats, size: tuple[int, int]) -> np.ndarray:
    """A (6, T, 16, 16) latent to (T, height, width, 3) uint8 frames; `size` is (width,
    height), a non-square size centre-cropped from the square.  The path is read as
    the mean over the grid and over each pair of frames (a model's output varies a
    little across them), then `smooth_path`."""
    width, height = size
    side = max(width, height)
    top, left = (side - height) // 2, (side - width) // 2
    picture = (latent[:3] * stats.video_std + stats.video_mean).permute(1, 0, 2, 3)
    picture[0] = latent[:3, 0] * stats.first_std + stats.first_mean
    frames = picture.shape[0]
    path = smooth_path(_pair_means(latent[3:].mean(dim=(2, 3)).T / stats.path_scale), frames)
    residual = picture.clone()
    residual[0] = 0.0  # the first frame is itself, moved nowhere
    first = _upsampled(picture[:1], side)[0]
    out = np.empty((frames, height, width, 3), dtype=np.uint8)
    for start in range(0, frames, _DECODE_FRAMES):
        stop = start + _DECODE_FRAMES
        chunk = _along_path(first, path[start:stop]) + _upsampled(residual[start:stop], side)
        chunk = chunk[:, :, top : top + height, left : left + width]
        chunk = chunk.add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8)
        out[start : start + len(chunk)] = chunk.permute(0, 2, 3, 1).numpy()
    return out


def smooth_path(pairs: torch.Tensor, frames: int) -> torch.Tensor:
    """The (frames, 3) path through `pairs` (P, 3), each the path at the middle of
    its `PATH_RATE` frames: linear between the middles and beyond the ends, less its
    value at frame 0 (the first frame is itself).  Exact for the linear moves; a
    handheld sway (1.2-2.4 Hz, kept 6 times a second) comes back a little rounded."""
    if len(pairs) == 1:
        return torch.zeros(frames, pairs.shape[1])
    at = (torch.arange(frames, dtype=torch.float32) - (PATH_RATE - 1) / 2) / PATH_RATE
    low = at.floor().clamp(0, len(pairs) - 2).long()
    weight = (at - low)[:, None]
    path = pairs[low] * (1 - weight) + pairs[low + 1] * weight
    return path - path[:1]


def tie_path(video: torch.Tensor, noise: bool = False) -> torch.Tensor:
    """A batch of path latents (B, 6, T, 16, 16), T even, with each pair of frames'
    path channels replaced by their mean over the grid and the pair: one value per
    number of the path, as the encoder writes it.  With `noise`, the mean is scaled
    back to unit spread: noise for the path as a path, not repeated 512 times (whose
    mean would show the path through the noise almost at t = 1, where training never
    looks)."""
    b, c, t, s, _ = video.shape
    path = video[:, 3:].reshape(b, c - 3, t // PATH_RATE, PATH_RATE * s * s)
    mean = path.mean(-1, keepdim=True) * (math.sqrt(path.shape[-1]) if noise else 1.0)
    tied = mean.expand_as(path).reshape(b, c - 3, t, s, s)
    return torch.cat([video[:, :3], tied], 1)


def _pair_means(path: torch.Tensor) -> torch.Tensor:
    """(T, 3) per frame to (ceil(T / PATH_RATE), 3), the mean over each pair of frames."""
    pad = -len(path) % PATH_RATE
    path = torch.cat([path, path[-1:].expand(pad, -1)])
    return path.reshape(-1, PATH_RATE, path.shape[1]).mean(1)


def _upsampled(grid: torch.Tensor, side: int) -> torch.Tensor:
    return F.interpolate(grid, size=(side, side), mode="bicubic", align_corners=False)


def _along_path(picture: torch.Tensor, path: torch.Tensor) -> torch.Tensor:
    """(T, 3, S, S): frame t shows `picture` (3, S, S) scaled by exp(path[t, 0]) about
    the centre and shifted by path[t, 1:] frame heights; what the picture never
    showed is its border, smeared (the residuals correct it on the grid)."""
    scale = path[:, 0].exp()
    theta = torch.zeros(len(path), 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1 / scale
    theta[:, 0, 2], theta[:, 1, 2] = -2 * path[:, 1] / scale, -2 * path[:, 2] / scale
    where = F.affine_grid(theta, [len(path), *picture.shape], align_corners=False)
    frames = picture.expand(len(path), *picture.shape)
    return F.grid_sample(frames, where, padding_mode="border", align_corners=False)


# ------------------------------------------------- video, with the character apart
#
# A third video latent (`sprite`; the shipped model's): the character kept
# apart from the background, so that what tells a dolly from a zoom, an orbit from a
# pan, and shows a bounce - the character's own scale and place - is a few numbers
# a frame, as the camera path is, rather than a pattern of residuals.  Channels, each
# over the 16x16 grid:
#   0-2    the residual of every frame against the frame the rest decodes to;
#   3-5    the first frame's background alone (no character, shadow or glow);
#   6-8    the first frame's character colour, times its coverage, and
#   9      that coverage (2 * a - 1), both on a grid of their own: a square box
#          round the character (`SPRITE_BOX` of its height a side), so that it
#          keeps more of its shape than the frame's grid would;
#  10-12   the camera path (as the path latent's: once a pair of frames);
#  13-15   the character's track (`data.character_track`: the log of its height
#          on the screen, and its foot's place), once a frame;
#  16-18   the flashes (`data.flash_track`: strength and point), once a frame.
# Channels 3-9 are the same in every frame (a token anywhere sees the character's
# look) and read back as their mean over the frames.  Decoded: the background moved
# along the camera path, the character moved along its track and laid over it, the
# flashes' light, plus the residual.

SPRITE_CHANNELS = 19
SPRITE_BOX = 1.25  # the sprite's box, a side, in the character's heights
SPRITE_RESIDUAL = slice(0, 3)
SPRITE_BACKGROUND = slice(3, 6)
SPRITE_STILL = slice(3, 10)  # channels the same in every frame
SPRITE_NUMBERS = slice(10, 19)  # the camera path, the track and the flashes
_CAMERA = slice(10, 13)
_TRACK = slice(13, 16)
_FLASH = slice(16, 19)
# The track is kept about a typical character (a third of the frame high, its foot
# a fifth of a frame below the centre), so its numbers sit near 0 as the paths' do.
_TRACK_CENTRE = torch.tensor([math.log(0.35), 0.0, 0.2])

# A fourth video latent (`contacts`): the sprite latent with a bounce kept as its
# floor contacts rather than as the foot's height frame by frame.  Channel 15 holds
# the foot's place on the floor (no lift), and two more channels follow:
#  19      the contacts: 1 on a contact frame, 0.5 on the frames either side;
#  20      the bounce's apex, in the character's heights (0 for no bounce).
# Decoded, the foot rises between two contacts along the renderer's parabola, so a
# contact is a contact wherever the model puts it, and a generated bounce cannot
# wobble into extra ones: models of the `sprite` latent drew the foot's height as
# noise round its mean, which the measure reads as bounces at random frames.  A
# contact is then a one-frame pulse, as a flash is - the form in which those models
# did learn to put a tone where the picture flashes.
CONTACTS_CHANNELS = 21
_CONTACTS = slice(19, 21)
_DEFAULT_PERIOD = 8  # frames between contacts, where the latent shows only one
# A contact is a pulse over this: the data's are 1 on the contact frame and 0.5 on
# its neighbours, and a generated 0.5 alone is a neighbour, not a contact.
_CONTACT_PEAK = 0.75
NUMBERS = {"sprite": SPRITE_NUMBERS, "contacts": slice(SPRITE_NUMBERS.start, CONTACTS_CHANNELS)}


def contact_pulses(frames: int, contacts: list[int], apex: float) -> np.ndarray:
    """(T, 2) per frame: the contacts' pulse (1 on a contact frame, 0.5 either side)
    and the bounce's apex in character heights - what the `contacts` latent keeps."""
    out = np.zeros((frames, 2), dtype=np.float32)
    for f in contacts:
        for k, strength in ((-1, 0.5), (0, 1.0), (1, 0.5)):
            if 0 <= f + k < frames:
                out[f + k, 0] = max(out[f + k, 0], strength)
    out[:, 1] = apex if contacts else 0.0
    return out


def lifted_track(track: torch.Tensor, contacts: torch.Tensor) -> torch.Tensor:
    """(T, 3) track entries with the foot on the floor, lifted by the bounce that
    (T, 2) `contacts` describe: a parabola between each two contacts (the
    renderer's), the contacts' spacing carried on past the first and the last."""
    peaks = np.array(_peaks(contacts[:, 0].double().numpy(), _CONTACT_PEAK))
    if not len(peaks):
        return track
    period = float(np.median(np.diff(peaks))) if len(peaks) > 1 else float(_DEFAULT_PERIOD)
    frames = np.arange(len(track))
    passed = np.searchsorted(peaks, frames, side="right")  # contacts at or before each frame
    between = (passed > 0) & (passed < len(peaks))
    before = peaks[np.maximum(passed - 1, 0)]
    after = peaks[np.minimum(passed, len(peaks) - 1)]
    outside = ((frames - np.where(passed == 0, peaks[0], peaks[-1])) / period) % 1.0
    inside = (frames - before) / np.maximum(after - before, 1)
    phase = torch.as_tensor(np.where(between, inside, outside), dtype=torch.float32)
    apex = contacts[:, 1].mean().clamp(0.0, 1.5)
    lift = apex * 4 * phase * (1 - phase) * track[:, 0].exp()  # frame heights
    out = track.clone()
    out[:, 2] = out[:, 2] - lift
    return out


def encode_video_sprite(
    frames: np.ndarray | torch.Tensor,
    background: np.ndarray,
    colour: np.ndarray,
    coverage: np.ndarray,
    camera: np.ndarray,
    track: np.ndarray,
    flashes: np.ndarray,
    stats: Stats,
    contacts: np.ndarray | None = None,
) -> torch.Tensor:
    """(T, H, W, 3) uint8 frames (T even), the first frame's background (H, W, 3),
    character colour (H, W, 3) in 0..1 and coverage (H, W), and per frame (T, 3)
    the camera path, the character's track and the flashes, to a (19, T, 16, 16)
    latent; with (T, 2) `contacts` (`contact_pulses`) and the track's foot on the
    floor, to a (21, T, 16, 16) `contacts` latent."""
    x = torch.as_tensor(np.asarray(frames)).float().div(127.5).sub(1.0).permute(0, 3, 1, 2)
    grid = F.adaptive_avg_pool2d(x, LATENT_SIDE)  # (T, 3, 16, 16)
    count = len(grid)
    floor = torch.as_tensor(np.asarray(track), dtype=torch.float32)
    extra = []
    track = floor
    if contacts is not None:
        contacts = torch.as_tensor(np.asarray(contacts), dtype=torch.float32)
        track = lifted_track(floor, contacts)
        extra = [contacts * stats.path_scale]
    still = _still_grid(background, colour, coverage, track[0])  # (7, 16, 16)
    pairs = _pair_means(torch.as_tensor(np.asarray(camera), dtype=torch.float32))
    flashes = torch.as_tensor(np.asarray(flashes), dtype=torch.float32)
    drawn = _drawn(still, smooth_path(pairs, count), track, flashes, _RESIDUAL_SIDE)
    residual = (
        grid - F.adaptive_avg_pool2d(drawn, LATENT_SIDE) - stats.video_mean
    ) / stats.video_std
    still = torch.cat([(still[:3] - stats.first_mean) / stats.first_std, still[3:]])
    steps = (pairs * stats.path_scale).repeat_interleave(PATH_RATE, 0)[:count]
    every = lambda v: v[:, :, None, None].expand(-1, -1, LATENT_SIDE, LATENT_SIDE)  # noqa: E731
    out = torch.cat(
        [
            residual,
            still.expand(count, -1, -1, -1),
            every(steps),
            every((floor - _TRACK_CENTRE) * stats.path_scale),
            every(flashes * stats.path_scale),
            *map(every, extra),
        ],
        1,
    )
    return out.permute(1, 0, 2, 3)


def decode_video_sprite(
    latent: torch.Tensor, stats: Stats, size: tuple[int, int], residuals: bool = True
) -> np.ndarray:
    """A (19 or 21, T, 16, 16) latent to (T, height, width, 3) uint8 frames; `size` is (width,
    height), a non-square size centre-cropped from the square.  Without `residuals`
    the frames are the drawn layers alone, the character's coverage gated
    (`COVERAGE_GATE`; what generation uses: docs/tinyfm.md)."""
    width, height = size
    side = max(width, height)
    top, left = (side - height) // 2, (side - width) // 2
    frames = latent.shape[1]
    residual = latent[SPRITE_RESIDUAL] * stats.video_std + stats.video_mean
    residual = residual.permute(1, 0, 2, 3)
    still = latent[SPRITE_STILL].mean(1)
    still = torch.cat([still[:3] * stats.first_std + stats.first_mean, still[3:]])
    camera = latent[_CAMERA].mean(dim=(2, 3)).T / stats.path_scale
    camera = smooth_path(_pair_means(camera), frames)
    track = latent[_TRACK].mean(dim=(2, 3)).T / stats.path_scale + _TRACK_CENTRE
    flashes = latent[_FLASH].mean(dim=(2, 3)).T / stats.path_scale
    if len(latent) == CONTACTS_CHANNELS:
        track = lifted_track(track, latent[_CONTACTS].mean(dim=(2, 3)).T / stats.path_scale)
    out = np.empty((frames, height, width, 3), dtype=np.uint8)
    for start in range(0, frames, _DECODE_FRAMES):
        stop = start + _DECODE_FRAMES
        chunk = _drawn(
            still, camera[start:stop], track[start:stop], flashes[start:stop], side, not residuals
        )
        if residuals:
            chunk = chunk + _upsampled(residual[start:stop], side)
        chunk = chunk[:, :, top : top + height, left : left + width]
        chunk = chunk.add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8)
        out[start : start + len(chunk)] = chunk.permute(0, 2, 3, 1).numpy()
    return out


def tie_sprite(video: torch.Tensor, noise: bool = False) -> torch.Tensor:
    """A batch of sprite or contacts latents (B, 19 or 21, T, 16, 16), T even, with each value made
    one as the encoder writes it: the still channels their mean over the frames, the
    camera path its mean over the grid and each pair of frames, the track and the
    flashes their mean over the grid.  With `noise`, each mean is scaled back to
    unit spread (see `tie_path`)."""
    b, c, t, s, _ = video.shape
    still = _tied(video[:, SPRITE_STILL], (2,), noise)
    pairs = video[:, _CAMERA].reshape(b, 3, t // PATH_RATE, PATH_RATE, s, s)
    camera = _tied(pairs, (3, 4, 5), noise).reshape(b, 3, t, s, s)
    numbers = _tied(video[:, _TRACK.start :], (3, 4), noise)
    return torch.cat([video[:, SPRITE_RESIDUAL], still, camera, numbers], 1)


def _tied(x: torch.Tensor, dims: tuple[int, ...], noise: bool) -> torch.Tensor:
    count = math.prod(x.shape[d] for d in dims)
    return (x.mean(dims, keepdim=True) * (math.sqrt(count) if noise else 1.0)).expand_as(x)


def _still_grid(
    background: np.ndarray, colour: np.ndarray, coverage: np.ndarray, where: torch.Tensor
) -> torch.Tensor:
    """The first frame's background (on the frame's grid), and the premultiplied
    character colour and coverage (on the grid of the box round the character at
    `where`, its first track entry) as (7, 16, 16): the colours in -1..1, the
    coverage as 2 * a - 1."""
    back = torch.as_tensor(np.array(background), dtype=torch.float32).permute(2, 0, 1)
    a = torch.as_tensor(np.array(coverage), dtype=torch.float32)[None]
    paint = torch.as_tensor(np.array(colour), dtype=torch.float32).permute(2, 0, 1)
    sprite = torch.cat([(paint * 2 - 1) * a, a])
    side = sprite.shape[-1]
    box_side, centre = _box(where[None])
    theta = torch.zeros(1, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = box_side
    theta[:, :, 2] = 2 * centre
    at = F.affine_grid(theta, [1, 4, side, side], align_corners=False)
    sprite = F.grid_sample(sprite[None], at, align_corners=False)[0]
    sprite[3:] = sprite[3:] * 2 - 1
    pooled = F.adaptive_avg_pool2d(torch.cat([back * 2 - 1, sprite])[None], LATENT_SIDE)
    return pooled[0]


def _box(track: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The sprite's box for (T, 3) track entries: its side and centre (T, 2), in
    frame heights; the foot is at the middle of its bottom edge, less a margin."""
    height = track[:, 0].exp()
    centre = track[:, 1:].clone()
    centre[:, 1] -= 0.5 * height
    return SPRITE_BOX * height, centre


# Coverage under the gate's low end draws no character, over its high end all of it.
# A generated sprite's box holds a faint haze of colour round the character (its
# coverage there a little over none); drawn as it is, the haze is a square that
# slides with the character, which the camera measure cannot tell from the
# background and reads, in an orbit, as a zoom.  The procedural clips' coverage is
# 0 or 1 but for the box grid's soft edge, which the gate only sharpens.
COVERAGE_GATE = (0.3, 0.7)


def _drawn(
    still,
    camera: torch.Tensor,
    track: torch.Tensor,
    flashes: torch.Tensor,
    side: int,
    gated: bool = False,
):
    """(T, 3, side, side): the background moved along the camera path, the
    character (premultiplied colour and coverage) moved along its track over it,
    and the flashes' light over both; the coverage through `COVERAGE_GATE` if
    `gated` (the encoder's residuals are taken against the drawing without)."""
    from .data import FLASH_TINT, flash_glow

    up = _upsampled(still[None], side)[0]
    background = _along_path(up[:3], camera)
    sprite = _along_track(up[3:], track)  # (T, 4, side, side)
    cover = sprite[:, 3:].add(1.0).div(2.0).clamp(0.0, 1.0)
    if gated:
        low, high = COVERAGE_GATE
        colour = (sprite[:, :3] / cover.clamp_min(low)).clamp(-1.0, 1.0)  # premultiplied no more
        cover = cover.sub(low).div(high - low).clamp(0.0, 1.0)
        picture = background * (1 - cover) + colour * cover
    else:
        picture = background * (1 - cover) + sprite[:, :3]
    at = (torch.arange(side, dtype=torch.float32) + 0.5) / side - 0.5  # frame heights
    dx = at[None, None, :] - flashes[:, 1, None, None]
    dy = at[None, :, None] - flashes[:, 2, None, None]
    glow = flash_glow(flashes[:, 0, None, None], dx, dy)[:, None]  # (T, 1, side, side)
    tint = torch.as_tensor(FLASH_TINT, dtype=torch.float32)[None, :, None, None]
    return picture + (1 - picture) * glow * tint


def _along_track(sprite: torch.Tensor, track: torch.Tensor) -> torch.Tensor:
    """(T, C, S, S): `sprite` (C, s, s), the character on its box's grid, drawn in
    each frame in the box the track puts it (its side the character's height times
    `SPRITE_BOX`, its foot at the track's place).  Outside the box is no
    character: -1 coverage, 0 colour."""
    box_side, centre = _box(track)
    theta = torch.zeros(len(track), 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1 / box_side
    theta[:, :, 2] = -2 * centre / box_side[:, None]
    side = sprite.shape[-1]
    where = F.affine_grid(theta, [len(track), sprite.shape[0], side, side], align_corners=False)
    shifted = sprite.clone()
    shifted[3:] += 1.0  # sampled with zeros outside, then back: -1 coverage there
    out = F.grid_sample(shifted.expand(len(track), *sprite.shape), where, align_corners=False)
    out[:, 3:] -= 1.0
    return out


# ------------------------------------------------------------ the three latents

VIDEO_CHANNELS = {
    "frames": 3,
    "path": 3 + PATH_CHANNELS,
    "sprite": SPRITE_CHANNELS,
    "contacts": CONTACTS_CHANNELS,
}


def tie(video: torch.Tensor, kind: str, noise: bool = False) -> torch.Tensor:
    """A batch of `kind` latents with the values the encoder writes once made one
    (`tie_path`, `tie_sprite`); a frames latent as it is."""
    if kind == "path":
        return tie_path(video, noise)
    if kind in NUMBERS:
        return tie_sprite(video, noise)
    return video


def decoder(kind: str, residuals: bool = True):
    """The decoding function of a `kind` latent: (latent, stats, size) -> frames; a
    sprite latent's residuals are added only with `residuals`."""
    if kind in NUMBERS:
        return partial(decode_video_sprite, residuals=residuals)
    return {"path": decode_video_path}.get(kind, decode_video)


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


# An audio latent may carry one more row: the onsets of its sounds, as pulses (a
# triangle a frame wide each side of the onset, so its centroid is the onset's
# time), scaled by ONSET_SCALE.  Decoded, the bands' envelopes step up at each
# onset instead of ramping between frame centres: a generated click or tone comes
# out of the model as a rise over two or three frames (50-75 ms), which the
# sound's onset detector finds late or not at all, while the pulse says where it
# starts to within a frame - as the contacts and flashes do for the picture.
ONSET_SCALE = 4.0
ONSET_ROWS = MEL_BANDS + 1
_REACH = N_FFT / 2 / HOP  # how far (in frames) a frame's window reaches before its centre


def onset_pulses(frames: int, times: list[float]) -> np.ndarray:
    """(frames,) the onset row for sounds starting at `times` (seconds), unscaled."""
    at = np.arange(frames) * HOP / SAMPLE_RATE  # each frame's centre, in seconds
    out = np.zeros(frames, dtype=np.float32)
    for t in times:
        out = np.maximum(out, np.clip(1 - np.abs(at - t) * SAMPLE_RATE / HOP, 0, 1))
    return out


# Sounds start half a second apart or more in the training clips (bounces and
# flashes 6 ticks apart at least, data.py), yet a model unsure of an onset's frame
# makes two pulses 75-100 ms apart round it, heard as two clicks.  Peaks closer
# than this are one onset, at their mean weighed by height.  The gap, 150 ms, was
# chosen on the seed-0 evaluation prompts and checked on seed 1 (docs/tinyfm.md).
ONSET_MERGE_FRAMES = 6


def onset_frames(pulses: np.ndarray) -> list[float]:
    """Where (in frames, fractional) a decoded onset row's pulses put the onsets: the
    centroid of each peak over 0.5 and its neighbours, peaks closer than
    ONSET_MERGE_FRAMES taken as one."""
    padded = np.concatenate([[0.0], pulses, [0.0]])
    groups: list[list[tuple[float, float]]] = []  # (frame, height) of each peak
    for k in _peaks(pulses, 0.5):
        weights = np.clip(padded[k : k + 3], 0, None)  # the peak and its neighbours
        peak = (k + float(weights[2] - weights[0]) / float(weights.sum()), float(pulses[k]))
        if groups and peak[0] - groups[-1][-1][0] < ONSET_MERGE_FRAMES:
            groups[-1].append(peak)
        else:
            groups.append([peak])
    return [sum(f * h for f, h in group) / sum(h for _, h in group) for group in groups]


def _peaks(pulses: np.ndarray, floor: float) -> list[int]:
    """The frames of a row of pulses whose value is over `floor` (>= 0), at least its
    left neighbour's and more than its right one's (the first of a flat top)."""
    padded = np.concatenate([[0.0], pulses, [0.0]])
    return [
        k
        for k in range(len(pulses))
        if padded[k + 1] > floor and padded[k + 1] >= padded[k] and padded[k + 1] > padded[k + 2]
    ]


def _stepped(log_amplitude: np.ndarray, onsets: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Knots (positions in frames, (bands, knots) values) for the bands' envelopes
    with a step at each onset: the frame centres within two frames before it held
    at the level two frames before (the quiet it rises from), those within two
    after raised to the loudest frame that hears the sound (a frame's window
    reaches `_REACH` of a frame before its centre), and two knots a sample apart
    at the onset."""
    level = log_amplitude.copy()
    count = level.shape[1]
    positions = list(range(count))
    extra: dict[float, np.ndarray] = {}
    for onset in onsets:
        before = [k for k in range(count) if onset - 2 < k <= onset]
        after = [k for k in range(count) if onset < k < onset + 2]
        hearing = [k for k in range(count) if onset - _REACH < k < onset + 2]
        if not after:
            continue
        quiet = level[:, max(0, int(np.floor(onset)) - 2)].copy()
        loud = level[:, hearing].max(axis=1)
        for k in before:
            level[:, k] = np.minimum(level[:, k], quiet)
        level[:, after] = np.maximum(level[:, after], loud[:, None])
        extra[onset - 1 / HOP] = np.minimum(quiet, loud)
        extra[onset] = loud
    points = sorted([(float(p), level[:, p]) for p in positions] + list(extra.items()),
                    key=lambda item: item[0])  # fmt: skip
    return np.array([p for p, _ in points]), np.stack([v for _, v in points], axis=1)


def decode_audio(latent: torch.Tensor, stats: Stats, samples: int, seed: int = 0) -> np.ndarray:
    """A (32, frames) latent to (samples,) float32 audio by a sine-carrier channel
    vocoder: one sinusoid per mel band, at the band's centre frequency and a
    seeded phase, its amplitude the band's, interpolated between frame centres
    geometrically (linearly in log amplitude, so onsets stay steep).  A 33rd row
    of onset pulses makes each onset a step (`_stepped`)."""
    onsets = []
    if len(latent) == ONSET_ROWS:
        onsets = onset_frames((latent[MEL_BANDS] / ONSET_SCALE).double().numpy())
        latent = latent[:MEL_BANDS]
    power = torch.exp(latent.double() * stats.audio_std + stats.audio_mean) - _FLOOR
    # A soft gate: what is left of the silence floor after generation is faint
    # noise, inaudible but full of small onsets; the gate's level is taken off.
    power = (power - GATE).clamp_min(0.0)
    # A sinusoid of amplitude A puts about A^2 * N * sum(w^2) / 4 into its band's power.
    scale = N_FFT * float(_window().square().sum()) / 4
    log_amplitude = 0.5 * torch.log(power.clamp_min(1e-30) / scale).numpy()
    t = np.arange(samples, dtype=np.float64)
    knots, log_amplitude = _stepped(log_amplitude, onsets)
    centres = knots * HOP  # frame k is centred on sample k * HOP
    phases = np.random.default_rng(seed).uniform(0, 2 * np.pi, MEL_BANDS)
    out = np.zeros(samples)
    for band, frequency in enumerate(band_centres()):
        envelope = np.exp(np.interp(t, centres, log_amplitude[band]))
        out += envelope * np.sin(2 * np.pi * frequency * t / SAMPLE_RATE + phases[band])
    return np.clip(out, -1.0, 1.0).astype(np.float32)


@cache
def band_centres() -> tuple[float, ...]:
    """The frequency (Hz) at the peak of each mel band's filter."""
    freqs = np.linspace(0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    return tuple(float(freqs[i]) for i in _filterbank().argmax(dim=1).tolist())


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
