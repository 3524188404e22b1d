"""Measurements on any clip (generated or procedural): colour, camera motion, events, sync.

These are what `bench/tinyfm_eval.py` reports and what the tests hold the
procedural data (`data.py`) to.  They take plain arrays — frames (T, H, W, 3)
uint8 and mono audio float32 — so they judge a model's output and the
training data alike.  Frames are first box-reduced to about 64 pixels on the
short side (`WORK_SIDE`): motion and colour read as well there, and a 256x256
clip costs no more than a 64x64 one.

The character is **segmented** as what differs from the frame's border: every
colour seen in the outer ring of pixels of a frame, or of any frame not lifted
by a flash (the background, wherever the camera looks), is background, and so
is any colour within `BACKGROUND_RADIUS` of one (per RGB channel); what is
left, cleaned by a 3x3 opening, is the character.  Frames lifted by a flash
are left out of what needs the mask.

**Global motion** is phase correlation (numpy FFT, Hann window, parabolic
sub-pixel peak) between frames a quarter of the clip apart, in a 3x3 grid of
half-frame blocks; each hop's block shifts are fitted by least squares to a
translation plus a scaling about the frame centre, and the hops are chained.

**Camera direction** combines that with the character's own track:

- a scale change (of the background, or of the character) beyond
  `SCALE_THRESHOLD`, with the background's at least `BACKGROUND_SCALE`
  (so a mask that grows as it crosses the wall does not count), is a zoom or
  a dolly, in if things grow; a **dolly**
  when the character grows (or shrinks) at least `DOLLY_RATIO` times as much
  as the background in log scale (the data's dolly: 3x), else a **zoom**;
- else a translation beyond `SHIFT_THRESHOLD` of the frame is a pan
  (horizontal) or a tilt (vertical), named by the camera's turn: content
  moving right is ``pan left``, content moving down is ``tilt up``; a
  horizontal slide with the character moving the other way (by more than
  `ORBIT_THRESHOLD` of the width) is an **orbit**, named by the background's
  slide (sliding left: ``orbit left``);
- else frame-to-frame shake (the RMS distance of the consecutive-frame path
  from a straight line) above `SHAKE_THRESHOLD` is ``handheld``, and
  anything quieter is ``static``.

So all twelve of `data.CAMERA_MOVES` are told apart on the procedural data.
What this cannot see: an orbit without a segmentable character reads as a
pan the other way; a zoom or dolly about a point far from the centre partly
as a pan; a camera shake slower than a clip reads as a slow pan or nothing.

**Visual events** are flashes (the frame's mean brightness jumping by more
than `FLASH_JUMP` levels over the frame before) and bounces (the lowest row
of the character, with the camera's vertical path taken out, reaching a
local low point between a fall and a rise each at least `BOUNCE_DEPTH` of
the frame height within three frames).  **Audio onsets** are peaks of
log-spectral flux (256-sample window, 2 ms hop), refined to the first sample
where a 1 ms envelope of the differenced signal climbs 30 % of the way from
the level before to the peak.  **Sync** matches visual events to onsets one
to one, nearest first, within `SYNC_WINDOW_MS`, and averages the absolute
offsets with every unmatched event or onset counted as a full window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

WORK_SIDE = 64  # frames are box-reduced to about this many pixels on the short side
BACKGROUND_RADIUS = 24  # RGB levels per channel: within this of a border colour is background
SCALE_THRESHOLD = 0.08  # |log scale| over the clip that makes a zoom or a dolly
BACKGROUND_SCALE = 0.04  # ... of which the background must show at least this much
DOLLY_RATIO = 1.8  # the character's log scale over the background's, for a dolly
SHIFT_THRESHOLD = 0.08  # translation over the clip, in frame widths (heights), for a pan (tilt)
ORBIT_THRESHOLD = 0.025  # the character's opposite slide, in frame widths, for an orbit
SHAKE_THRESHOLD = 0.006  # RMS wobble about a straight path, in frame heights, for handheld
FLASH_JUMP = 12.0  # mean brightness rise (0-255) that is a flash
BOUNCE_DEPTH = 0.025  # fall and rise around a contact, in frame heights
ONSET_FLUX = 0.06  # spectral flux (mean log-magnitude rise) above the median that is an onset
SYNC_WINDOW_MS = 250.0  # an audio onset further than this from a visual event is not its sound
NO_CHARACTER_PIXELS = 20  # fewer character pixels than this: the mask is not trusted


# -- preparing frames ---------------------------------------------------------------------------


def reduce(frames: np.ndarray, side: int = WORK_SIDE) -> np.ndarray:
    """Box-reduce (T, H, W, 3) frames by an integer factor to about `side` on the short side."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (T, H, W, 3), not {frames.shape}")
    k = max(1, min(frames.shape[1], frames.shape[2]) // side)
    t, h, w, _ = frames.shape
    h, w = h // k * k, w // k * k
    out = frames[:, :h, :w].astype(np.float64)
    if k > 1:
        out = out.reshape(t, h // k, k, w // k, k, 3).mean(axis=(2, 4))
    return out


def _luma(frames: np.ndarray) -> np.ndarray:
    return frames @ np.array([0.299, 0.587, 0.114])


def flash_frames(frames: np.ndarray) -> np.ndarray:
    """Which frames are lifted by a flash: brighter by FLASH_JUMP / 2 than the darkest of the
    three frames before them (a slow change of light, as a tilt up a gradient, is no flash)."""
    level = _luma(frames).mean(axis=(1, 2))
    before = np.array([level[max(0, f - 3) : f + 1].min() for f in range(len(level))])
    return level - before > FLASH_JUMP / 2


# -- colour -------------------------------------------------------------------------------------


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB 0-255 (..., 3) to CIE Lab (D65)."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    c = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = c @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])],
        axis=-1,
    )


def delta_e2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference between Lab colours (broadcasting over leading axes)."""
    L1, a1, b1 = np.moveaxis(np.asarray(lab1, dtype=np.float64), -1, 0)
    L2, a2, b2 = np.moveaxis(np.asarray(lab2, dtype=np.float64), -1, 0)
    c_bar = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_bar**7 / (c_bar**7 + 25.0**7)))
    a1p, a2p = a1 * (1 + g), a2 * (1 + g)
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    dl = L2 - L1
    dc = c2p - c1p
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(c1p * c2p == 0, 0.0, dh)
    dH = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh) / 2)
    l_bar = (L1 + L2) / 2
    c_bar_p = (c1p + c2p) / 2
    h_sum = h1p + h2p
    h_bar = np.where(
        c1p * c2p == 0,
        h_sum,
        np.where(
            np.abs(h1p - h2p) <= 180,
            h_sum / 2,
            np.where(h_sum < 360, (h_sum + 360) / 2, (h_sum - 360) / 2),
        ),
    )
    t = (
        1
        - 0.17 * np.cos(np.radians(h_bar - 30))
        + 0.24 * np.cos(np.radians(2 * h_bar))
        + 0.32 * np.cos(np.radians(3 * h_bar + 6))
        - 0.20 * np.cos(np.radians(4 * h_bar - 63))
    )
    sl = 1 + 0.015 * (l_bar - 50) ** 2 / np.sqrt(20 + (l_bar - 50) ** 2)
    sc = 1 + 0.045 * c_bar_p
    sh = 1 + 0.015 * c_bar_p * t
    d_theta = 30 * np.exp(-(((h_bar - 275) / 25) ** 2))
    rc = 2 * np.sqrt(c_bar_p**7 / (c_bar_p**7 + 25.0**7))
    rt = -np.sin(np.radians(2 * d_theta)) * rc
    return np.sqrt((dl / sl) ** 2 + (dc / sc) ** 2 + (dH / sh) ** 2 + rt * (dc / sc) * (dH / sh))


def _dilate(mask: np.ndarray, axes: tuple[int, ...], radius: int) -> np.ndarray:
    out = mask.copy()
    for axis in axes:
        grown = out.copy()
        n = out.shape[axis]
        for r in range(1, radius + 1):
            lo = [slice(None)] * out.ndim
            hi = [slice(None)] * out.ndim
            lo[axis], hi[axis] = slice(0, n - r), slice(r, n)
            grown[tuple(lo)] |= out[tuple(hi)]
            grown[tuple(hi)] |= out[tuple(lo)]
        out = grown
    return out


def _erode(mask: np.ndarray, axes: tuple[int, ...], radius: int) -> np.ndarray:
    return ~_dilate(~mask, axes, radius)


def segment(frames: np.ndarray, ring: int = 3) -> np.ndarray:
    """The character's pixels in reduced frames (T, h, w, 3) float: (T, h, w) bool.

    Background is every colour within BACKGROUND_RADIUS (per channel) of a
    colour in the outer `ring` of pixels of the frame itself or of any steady
    frame (one not lifted by a flash: the camera shows more of the background
    over a clip than in one frame); of the rest, what a 3x3 opening keeps, and
    what lies within two pixels of that, is the character.
    """
    t, h, w, _ = frames.shape
    cell = 8  # colour cube cells, 32 a side
    side = 256 // cell
    q = np.clip(frames // cell, 0, side - 1).astype(np.int64)  # (T, h, w, 3)
    border = np.zeros((h, w), dtype=bool)
    border[:ring], border[-ring:], border[:, :ring], border[:, -ring:] = True, True, True, True
    idx = q[:, border]  # (T, ring pixels, 3)
    own = np.zeros((t, side, side, side), dtype=bool)
    own[np.arange(t)[:, None], idx[..., 0], idx[..., 1], idx[..., 2]] = True
    steady = ~flash_frames(frames)
    pooled = own[steady].any(axis=0) if steady.any() else np.zeros(own.shape[1:], dtype=bool)
    seen = own | (pooled[None] & steady[:, None, None, None])
    seen = _dilate(seen, (1, 2, 3), math.ceil(BACKGROUND_RADIUS / cell))
    background = seen[np.arange(t)[:, None, None], q[..., 0], q[..., 1], q[..., 2]]
    raw = ~background & ~border
    core = _dilate(_erode(raw, (1, 2), 1), (1, 2), 1)  # an opening: specks go
    return raw & _dilate(core, (1, 2), 2)  # thin parts next to what is left stay


def _palette(pixels: np.ndarray, iterations: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """2-means of Lab pixels (N, 3), deterministic: (centres (k, 3), shares (k,)), k <= 2;
    a cluster with under a tenth of the pixels is dropped."""
    if len(pixels) > 20000:
        pixels = pixels[:: len(pixels) // 20000 + 1]
    # start from the two sides of the mean along the main axis of the colours (robust
    # to the few outliers, such as edge pixels blended with the background, that
    # farthest-point starts latch on to; and to a colour that fills over half of them)
    mean = pixels.mean(axis=0)
    _, _, vt = np.linalg.svd(pixels - mean, full_matrices=False)
    part = ((pixels - mean) @ vt[0] > 0).astype(int)
    c = np.array([pixels[part == j].mean(0) if (part == j).any() else mean for j in range(2)])
    for _ in range(iterations):
        label = np.argmin(((pixels[:, None] - c[None]) ** 2).sum(-1), axis=1)
        c = np.array(
            [pixels[label == j].mean(0) if (label == j).any() else c[j] for j in range(len(c))]
        )
    label = np.argmin(((pixels[:, None] - c[None]) ** 2).sum(-1), axis=1)
    weights = np.bincount(label, minlength=len(c)) / len(pixels)
    keep = weights >= 0.1
    return c[keep], weights[keep] / weights[keep].sum()


def _height(mask: np.ndarray) -> float:
    """Median height (rows) of the mask over the frames where it has pixels; 0 when none."""
    rows = np.asarray(mask.any(axis=2))  # (T, h)
    heights = [np.ptp(np.flatnonzero(r)) + 1 for r in rows if r.any()]
    return float(np.median(heights)) if heights else 0.0


def _clip_character(frames: np.ndarray) -> tuple[np.ndarray, float]:
    """Lab pixels of the clip's segmented character, and its height in reduced pixels.

    When no character is found, the centre third of the frames stands in for
    it (height 0).
    """
    small = reduce(frames)
    steady = ~flash_frames(small)
    small = small[steady] if steady.any() else small
    mask = segment(small)
    if mask.sum() < NO_CHARACTER_PIXELS:
        t, h, w, _ = small.shape
        mask = np.zeros(mask.shape, dtype=bool)
        mask[:, h // 3 : h - h // 3, w // 3 : w - w // 3] = True
        return rgb_to_lab(small[mask]), 0.0
    return rgb_to_lab(small[mask]), _height(mask)


def _reference_character(reference: np.ndarray, height: float = 0.0) -> np.ndarray:
    """Lab pixels of the character in a reference image, shown `height` reduced pixels tall
    (as the clip shows it, so fine patterns blend alike in both); 0: as it is."""
    image = np.asarray(reference)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"a reference must be (R, R, 3), not {image.shape}")
    small = reduce(image[None])[0]
    mask = segment(small[None])[0]
    own = _height(mask[None])
    if height > 0 and own > 1.25 * height:
        pad = small.shape[0] // 4  # room round the character, so the ring stays background
        padded = np.pad(small, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
        k = height / own
        size = (max(8, round(padded.shape[1] * k)), max(8, round(padded.shape[0] * k)))
        picture = Image.fromarray(np.clip(padded + 0.5, 0, 255).astype(np.uint8))
        scaled = np.asarray(picture.resize(size, Image.Resampling.BOX), dtype=np.float64)
        scaled_mask = segment(scaled[None])[0]
        # A clip whose character is a few pixels tall would shrink the reference's
        # to nothing: then its colours are read at the reference's own size.
        if scaled_mask.sum() >= 4:
            small, mask = scaled, scaled_mask
    if mask.sum() < 4:
        raise ValueError(
            "no character found in the reference image (it must differ from its border)"
        )
    return rgb_to_lab(small[mask])


def dominant_colours(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Up to two dominant colours of Lab pixels (N, 3) by k-means, and their shares."""
    return _palette(pixels)


def reference_delta_e(frames: np.ndarray, reference: np.ndarray) -> float:
    """CIEDE2000 between a reference image's character colours and the clip's character's.

    The clip's character is segmented frame by frame (flash frames left out),
    the reference's against its own border, scaled first to the height the
    character has in the clip (so that a pattern too fine for the clip's
    pixels blends the same way in both).  Each is reduced to up to two
    dominant colours by k-means in Lab; the result is the mean of (each
    reference colour's distance to the nearest clip colour, weighted by its
    share) and the same the other way round, so a missing colour and an extra
    one both count.  When no character is found in the clip, the centre third
    of its frames stands in for it.
    """
    clip_pixels, height = _clip_character(frames)
    ref_c, ref_w = dominant_colours(_reference_character(reference, height))
    gen_c, gen_w = dominant_colours(clip_pixels)
    d = delta_e2000(ref_c[:, None, :], gen_c[None, :, :])
    there = float((d.min(axis=1) * ref_w).sum())
    back = float((d.min(axis=0) * gen_w).sum())
    return (there + back) / 2


# -- motion -------------------------------------------------------------------------------------


def _window(h: int, w: int) -> np.ndarray:
    return np.outer(np.hanning(h + 2)[1:-1], np.hanning(w + 2)[1:-1])


def phase_shift(
    a: np.ndarray, b: np.ndarray, wa: np.ndarray | None = None, wb: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Phase correlation of grey images a and b (..., h, w): (dx, dy, peak).

    (dx, dy) is how far the content moved from a to b, in pixels (x right, y
    down), to sub-pixel precision; `peak` (0..1) is how sure the match is.
    `wa` and `wb` (0..1, like a and b) weight the pixels: 0 leaves one out.
    """
    h, w = a.shape[-2:]
    win = _window(h, w)

    def prepared(x, weight):
        weight = np.ones_like(x) if weight is None else weight
        total = weight.sum(axis=(-2, -1), keepdims=True) + 1e-9
        mean = (x * weight).sum(axis=(-2, -1), keepdims=True) / total
        return np.fft.fft2((x - mean) * weight * win)

    fa, fb = prepared(a, wa), prepared(b, wb)
    cross = fb * np.conj(fa)
    cross /= np.abs(cross) + 1e-9
    r = np.fft.ifft2(cross).real
    flat = r.reshape(r.shape[:-2] + (-1,))
    at = flat.argmax(axis=-1)
    py, px = np.divmod(at, w)
    peak = np.take_along_axis(flat, at[..., None], axis=-1)[..., 0]

    def parabola(minus, centre, plus):
        denom = minus - 2 * centre + plus
        return np.where(
            np.abs(denom) > 1e-12, 0.5 * (minus - plus) / np.where(denom == 0, 1, denom), 0.0
        )

    lead = np.indices(r.shape[:-2]).reshape(len(r.shape[:-2]), -1) if r.ndim > 2 else ()

    def at_(yy, xx):
        return (
            r[(*lead, (yy % h).ravel(), (xx % w).ravel())].reshape(py.shape)
            if r.ndim > 2
            else r[yy % h, xx % w]
        )

    sub_x = parabola(at_(py, px - 1), peak, at_(py, px + 1))
    sub_y = parabola(at_(py - 1, px), peak, at_(py + 1, px))
    dx = np.where(px > w // 2, px - w, px) + np.clip(sub_x, -0.5, 0.5)
    dy = np.where(py > h // 2, py - h, py) + np.clip(sub_y, -0.5, 0.5)
    return dx, dy, peak


def _similarity(
    a: np.ndarray,
    b: np.ndarray,
    wa: np.ndarray,
    wb: np.ndarray,
    grid: int = 5,
    part: int = 3,
    centre: tuple[float, float] | None = None,
) -> tuple[float, float, float]:
    """Translation (tx, ty) px of the centre and scale s from grey image a to b.

    Phase correlation in a `grid` x `grid` grid of overlapping blocks 1/`part`
    of the image a side (pixels weighted by `wa`, `wb`), fitted to
    ``shift = t + (s - 1) * (block centre - centre)`` by least squares
    reweighted with Tukey's biweight, so blocks that follow something else, or
    a repeating texture's alias, drop out.  `centre` (x, y) defaults to the
    image's middle.
    """
    h, w = a.shape
    ox, oy = (w / 2, h / 2) if centre is None else centre
    bh, bw = h // part, w // part
    ys = np.linspace(0, h - bh, grid).round().astype(int)
    xs = np.linspace(0, w - bw, grid).round().astype(int)

    def blocks(x):
        return np.stack([x[y : y + bh, x0 : x0 + bw] for y in ys for x0 in xs])

    dx, dy, peak = phase_shift(blocks(a), blocks(b), blocks(wa), blocks(wb))
    cx = np.array([x + bw / 2 - ox for _y in ys for x in xs], dtype=np.float64)
    cy = np.array([y + bh / 2 - oy for y in ys for _x in xs], dtype=np.float64)
    n = len(cx)
    rows = np.concatenate(
        [
            np.column_stack([np.ones(n), np.zeros(n), cx]),
            np.column_stack([np.zeros(n), np.ones(n), cy]),
        ]
    )
    target = np.concatenate([dx, dy])
    seen = np.minimum(blocks(wa).mean(axis=(1, 2)), blocks(wb).mean(axis=(1, 2)))
    prior = np.tile(np.sqrt(np.clip(peak, 1e-3, None)) * seen, 2) + 1e-6
    weights = prior
    for _ in range(6):
        solution, *_ = np.linalg.lstsq(rows * weights[:, None], target * weights, rcond=None)
        residual = target - rows @ solution
        sigma = max(0.25, 1.4826 * float(np.median(np.abs(residual))))
        u = np.clip(residual / (4.685 * sigma), -1, 1)
        weights = prior * (1 - u * u) ** 2 + 1e-6
    tx, ty, a_ = solution
    return float(tx), float(ty), float(1 + a_)


def _hops(t: int, count: int = 4) -> list[int]:
    return sorted({int(round(x)) for x in np.linspace(0, t - 1, min(count, t - 1) + 1)})


@dataclass
class _Analysis:
    """What the measures share about one clip, worked out once."""

    small: np.ndarray  # (T, h, w, 3) reduced frames, float
    grey: np.ndarray  # (T, h, w)
    mask: np.ndarray  # (T, h, w) the character
    steady: np.ndarray  # (T,) not lifted by a flash
    weight: np.ndarray  # (T, h, w) background weight: 0 on (and near) the character
    path: np.ndarray  # (T, 2) the background's cumulative (x, y) shift, px
    log_scale: np.ndarray  # (T,) the background's cumulative log scale


def _analyse(frames: np.ndarray) -> _Analysis:
    small = reduce(frames)
    grey = _luma(small)
    mask = segment(small)
    steady = ~flash_frames(small)
    near = _dilate(mask, (1, 2), 2)
    h = mask.shape[1]
    for r in range(1, max(2, h // 16) + 1):  # and the shadow it casts below itself
        near[:, r:] |= mask[:, :-r]
    near = near.astype(np.float64)
    soft = near.copy()  # a 3x3 box blur, so the hole's edge is soft
    for axis in (1, 2):
        soft = (np.roll(soft, 1, axis) + soft + np.roll(soft, -1, axis)) / 3
    weight = np.clip(1 - np.maximum(near, soft), 0.0, 1.0)
    steps = np.array(
        [_similarity(grey[f], grey[f + 1], weight[f], weight[f + 1]) for f in range(len(grey) - 1)]
    ).reshape(-1, 3)
    path = np.concatenate([[[0.0, 0.0]], np.cumsum(steps[:, :2], axis=0)])
    log_scale = np.concatenate([[0.0], np.cumsum(np.log(np.clip(steps[:, 2], 1e-3, None)))])
    return _Analysis(small, grey, mask, steady, weight, path, log_scale)


def _motion(clip: _Analysis) -> tuple[float, float, float]:
    """(dx, dy) from the consecutive-frame path, scale from hops a quarter clip long."""
    grey, weight, path = clip.grey, clip.weight, clip.path
    t, h, w = grey.shape
    if t < 2:
        return 0.0, 0.0, 1.0
    log_s = 0.0
    stops = _hops(t)
    for i, j in zip(stops[:-1], stops[1:], strict=True):
        # coarse to fine: compare only where the two frames overlap once the path's
        # shift is undone, so the blocks see the scaling (and repeats cannot alias)
        rx, ry = (int(round(v)) for v in path[j] - path[i])
        xa, ya = slice(max(0, -rx), w - max(0, rx)), slice(max(0, -ry), h - max(0, ry))
        xb, yb = slice(xa.start + rx, xa.stop + rx), slice(ya.start + ry, ya.stop + ry)
        if xa.stop - xa.start < w // 2 or ya.stop - ya.start < h // 2:
            continue  # too far apart to compare: the path says nothing about scale here
        _, _, s = _similarity(
            grey[i][ya, xa],
            grey[j][yb, xb],
            weight[i][ya, xa],
            weight[j][yb, xb],
            centre=(w / 2 - xa.start, h / 2 - ya.start),
        )
        log_s += math.log(max(s, 1e-3))
    return float(path[-1, 0]) / w, float(path[-1, 1]) / h, math.exp(log_s)


def global_motion(frames: np.ndarray) -> tuple[float, float, float]:
    """How the picture moved from the first frame to the last: (dx, dy, scale).

    dx and dy are the content's travel in frame widths and heights (x right,
    y down: a ``pan left`` gives dx > 0); scale is the content's growth factor
    (> 1 zooming in).  Phase correlation in 3x3 blocks, hops a quarter clip long.
    """
    return _motion(_analyse(frames))


def _shake(clip: _Analysis) -> float:
    """RMS distance of the consecutive-frame camera path from its straight line, frame heights."""
    t, h, _ = clip.grey.shape
    if t < 4:
        return 0.0
    path = clip.path / h
    f = np.arange(t, dtype=np.float64)
    design = np.column_stack([np.ones_like(f), f])
    fit, *_ = np.linalg.lstsq(design, path, rcond=None)
    return float(np.sqrt(((path - design @ fit) ** 2).sum(axis=1).mean()))


@dataclass
class _Track:
    """The character per frame, in reduced-frame pixels."""

    x: np.ndarray  # centre
    bottom: np.ndarray  # lowest row
    size: np.ndarray  # square root of the area
    found: np.ndarray  # enough pixels, and not a flash frame


def _track(clip: _Analysis) -> _Track:
    mask = clip.mask
    t, h, w = mask.shape
    count = mask.sum(axis=(1, 2)).astype(np.float64)
    found = (count >= NO_CHARACTER_PIXELS) & clip.steady
    x = (mask.sum(axis=1) * np.arange(w)).sum(axis=1) / np.maximum(count, 1)
    rows = np.where(mask.any(axis=2), np.arange(h)[None, :], -1)
    return _Track(x, rows.max(axis=1).astype(np.float64), np.sqrt(count), found)


def camera_direction(frames: np.ndarray) -> str:
    """The camera move that best explains the clip's motion: one of `data.CAMERA_MOVES`."""
    clip = _analyse(frames)
    dx, dy, scale = _motion(clip)
    track = _track(clip)
    found = np.flatnonzero(track.found)
    log_bg = math.log(scale)
    log_char = 0.0
    char_dx = 0.0
    if len(found) >= 2:
        k = max(1, len(found) // 6)
        first, last = found[:k], found[-k:]
        size0, size1 = np.median(track.size[first]), np.median(track.size[last])
        log_char = math.log(max(size1, 1e-6) / max(size0, 1e-6))
        char_dx = float(np.median(track.x[last]) - np.median(track.x[first]))
        char_dx /= clip.grey.shape[2]
    if abs(log_bg) > BACKGROUND_SCALE and max(abs(log_bg), abs(log_char)) > SCALE_THRESHOLD:
        main = log_char if abs(log_char) > abs(log_bg) else log_bg
        direction = "in" if main > 0 else "out"
        dolly = abs(log_char) >= DOLLY_RATIO * abs(log_bg) and log_char * log_bg >= 0
        return f"{'dolly' if dolly else 'zoom'} {direction}"
    if max(abs(dx), abs(dy)) > SHIFT_THRESHOLD:
        if abs(dx) >= abs(dy):
            if char_dx * dx < 0 and abs(char_dx) > ORBIT_THRESHOLD:
                return "orbit left" if dx < 0 else "orbit right"
            return "pan left" if dx > 0 else "pan right"
        return "tilt up" if dy > 0 else "tilt down"
    if _shake(clip) > SHAKE_THRESHOLD:
        return "handheld"
    return "static"


# -- events -------------------------------------------------------------------------------------


def visual_events(frames: np.ndarray, fps: float) -> list[float]:
    """Times (s) of visible events, sorted: flashes (brightness jumps) and bounces (the
    character's lowest point reversing from a fall to a rise, camera path taken out)."""
    clip = _analyse(frames)
    t, h, _ = clip.grey.shape
    level = clip.grey.mean(axis=(1, 2))
    jump = np.diff(level, prepend=level[0])
    times = [f / fps for f in range(1, t) if jump[f] > FLASH_JUMP]
    track = _track(clip)
    found = track.found
    if found.sum() >= 4:
        index = np.arange(t, dtype=np.float64)
        bottom = np.interp(index, index[found], track.bottom[found]) - clip.path[:, 1]
        depth = BOUNCE_DEPTH * h
        for f in range(1, t - 1):
            if not found[f] or bottom[f] < bottom[f - 1] or bottom[f] <= bottom[f + 1]:
                continue
            before = bottom[f] - bottom[max(0, f - 3) : f].min()
            after = bottom[f] - bottom[f + 1 : f + 4].min()
            if before >= depth and after >= depth:
                times.append(f / fps)
    return sorted(times)


def audio_onsets(audio: np.ndarray, sample_rate: int) -> list[float]:
    """Times (s) where sounds start: spectral-flux peaks, refined on a 1 ms envelope."""
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)
    n, hop = 256, max(1, sample_rate // 500)
    if len(x) < 2 * n:
        return []
    count = (len(x) - n) // hop + 1
    idx = np.arange(n)[None, :] + hop * np.arange(count)[:, None]
    spectrum = np.abs(np.fft.rfft(x[idx] * np.hanning(n), axis=1))
    level = np.log1p(spectrum)
    lag = 4
    flux = np.zeros(count)
    flux[lag:] = np.maximum(level[lag:] - level[:-lag], 0).mean(axis=1)
    median = np.median(flux)
    spread = np.median(np.abs(flux - median)) + 1e-9
    threshold = median + max(ONSET_FLUX, 8 * spread)
    gap = max(1, round(0.06 * sample_rate / hop))
    peaks: list[int] = []
    for k in np.argsort(-flux):
        if flux[k] < threshold:
            break
        if all(abs(k - p) > gap for p in peaks):
            peaks.append(int(k))
    # refine: the first sample where the envelope climbs 30% from the level before to the peak
    d = np.abs(np.diff(x, prepend=x[0]))
    box = max(1, sample_rate // 1000)
    c = np.cumsum(np.concatenate([[0.0], d]))
    env = (c[box:] - c[:-box]) / box  # env[i]: mean over [i, i + box)
    times = []
    for k in sorted(peaks):
        centre = k * hop + n // 2
        lo = max(0, centre - n - lag * hop)
        hi = min(len(env), centre + n // 2)
        if hi - lo < 4:
            continue
        pre = env[max(0, lo - sample_rate // 50) : lo + 1]
        base = float(np.median(pre)) if len(pre) else 0.0
        top = float(env[lo:hi].max())
        above = np.flatnonzero(env[lo:hi] > base + 0.3 * (top - base))
        start = lo + int(above[0]) if len(above) else centre
        if start / sample_rate < 0.02:  # nothing before it to rise from
            continue
        times.append(start / sample_rate)
    return times


def match_events(
    visual: list[float], audio: list[float], window_ms: float = SYNC_WINDOW_MS
) -> tuple[list[tuple[float, float]], list[float], list[float]]:
    """Pair visual events with audio onsets one to one, nearest first, within `window_ms`.

    Returns (pairs (visual, audio), unmatched visual, unmatched audio).
    """
    window = window_ms / 1000
    candidates = sorted(
        (abs(a - v), i, j)
        for i, v in enumerate(visual)
        for j, a in enumerate(audio)
        if abs(a - v) <= window
    )
    used_v: set[int] = set()
    used_a: set[int] = set()
    pairs = []
    for _, i, j in candidates:
        if i in used_v or j in used_a:
            continue
        used_v.add(i)
        used_a.add(j)
        pairs.append((visual[i], audio[j]))
    pairs.sort()
    lone_v = [v for i, v in enumerate(visual) if i not in used_v]
    lone_a = [a for j, a in enumerate(audio) if j not in used_a]
    return pairs, lone_v, lone_a


def sync_offset_ms(
    visual_times: list[float], audio_times: list[float], window_ms: float = SYNC_WINDOW_MS
) -> float:
    """Mean absolute offset (ms) between visual events and the audio onsets matched to them.

    Matching is one to one, nearest first, within `window_ms`; each event or
    onset left unmatched counts as a full `window_ms`, so missing sounds and
    stray ones both raise the figure.  0.0 when there is nothing on either side.
    """
    pairs, lone_v, lone_a = match_events(list(visual_times), list(audio_times), window_ms)
    offsets = [abs(a - v) * 1000 for v, a in pairs] + [window_ms] * (len(lone_v) + len(lone_a))
    return float(np.mean(offsets)) if offsets else 0.0
