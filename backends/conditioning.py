"""Conditioning images: loading them at the size a request asks for, and colour matching.

A shot that starts from a frame (its `keyframe first:`, or for a `continuous`
shot the previous shot's last frame) is given that frame, unchanged, as its
first-frame condition, so the cut shows no jump.  A model then tends to drift
a little in colour and exposure away from the frame it started from, and in a
chain of `continuous` shots (or the windows of a long shot) the drift adds up.
So the generated frames are colour-matched back to the condition: one
transform per window, computed from the generated first frame to the
condition in CIE Lab (Reinhard's per-channel mean and standard deviation
transfer), and applied to every frame of the window, which keeps the light
changes within the shot and removes the offset the model introduced.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

# sRGB (D65) to CIE XYZ, and the D65 white point.
_RGB_TO_XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375],
     [0.2126729, 0.7151522, 0.0721750],
     [0.0193339, 0.1191920, 0.9503041]],
    dtype=np.float32,
)  # fmt: skip
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ).astype(np.float32)
_WHITE = np.array([0.95047, 1.0, 1.08883], dtype=np.float32)
_EPSILON, _KAPPA = 216 / 24389, 24389 / 27
# Bounds on the standard-deviation ratio, so a nearly flat frame is not
# stretched into noise (nor a busy one crushed flat).
MIN_GAIN, MAX_GAIN = 0.25, 4.0


# ------------------------------------------------------------------- images


def cover(image: Image.Image, width: int, height: int) -> Image.Image:
    """Scale to cover `width` x `height` and crop the centre: no bars, no distortion."""
    if image.size == (width, height):
        return image
    scale = max(width / image.width, height / image.height)
    size = (max(width, round(image.width * scale)), max(height, round(image.height * scale)))
    resized = image.resize(size, Image.Resampling.LANCZOS)
    left, top = (resized.width - width) // 2, (resized.height - height) // 2
    return resized.crop((left, top, left + width, top + height))


def contain(image: Image.Image, width: int, height: int) -> Image.Image:
    """Scale down (never up) to fit inside `width` x `height`, keeping the aspect ratio."""
    scale = min(width / image.width, height / image.height, 1.0)
    if scale == 1.0:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def load_image(path: Path) -> Image.Image:
    """An image file as RGB; transparency is composited over black."""
    with Image.open(path) as opened:
        opened.load()
        if opened.mode in ("RGBA", "LA", "P"):
            rgba = opened.convert("RGBA")
            flat = Image.new("RGB", rgba.size)
            flat.paste(rgba, mask=rgba.getchannel("A"))
            return flat
        return opened.convert("RGB")


def keyframe(source: Path | np.ndarray, width: int, height: int) -> Image.Image:
    """A keyframe (a file, or a frame as HxWx3 uint8) at exactly the request's size."""
    image = load_image(source) if isinstance(source, Path) else Image.fromarray(source)
    return cover(image.convert("RGB"), width, height)


def reference(path: Path, width: int, height: int) -> Image.Image:
    """A reference image, no larger than the request's frame; the pipeline places it."""
    return contain(load_image(path), width, height)


# -------------------------------------------------------------- colour match


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 (or floats in [0, 1]) sRGB to float32 CIE Lab (D65)."""
    values = rgb.astype(np.float32)
    if rgb.dtype == np.uint8:
        values /= 255.0
    linear = np.where(values <= 0.04045, values / 12.92, ((values + 0.055) / 1.055) ** 2.4)
    xyz = linear @ _RGB_TO_XYZ.T / _WHITE
    f = np.where(xyz > _EPSILON, np.cbrt(xyz), (_KAPPA * xyz + 16) / 116)
    lab = np.empty_like(f)
    lab[..., 0] = 116 * f[..., 1] - 16
    lab[..., 1] = 500 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200 * (f[..., 1] - f[..., 2])
    return lab


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """CIE Lab (D65) back to HxWx3 uint8 sRGB, clipped to the gamut."""
    fy = (lab[..., 0] + 16) / 116
    f = np.stack([fy + lab[..., 1] / 500, fy, fy - lab[..., 2] / 200], axis=-1)
    cube = f**3
    xyz = np.where(cube > _EPSILON, cube, (116 * f - 16) / _KAPPA)
    xyz[..., 1] = np.where(lab[..., 0] > _KAPPA * _EPSILON, cube[..., 1], lab[..., 0] / _KAPPA)
    linear = np.clip((xyz * _WHITE) @ _XYZ_TO_RGB.T, 0.0, 1.0)
    srgb = np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)
    return np.clip(np.round(srgb * 255), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class ColourTransfer:
    """A per-channel affine map in Lab: `(x - source_mean) * gain + target_mean`."""

    source_mean: np.ndarray
    target_mean: np.ndarray
    gain: np.ndarray

    @classmethod
    def between(cls, source: np.ndarray, target: np.ndarray) -> ColourTransfer:
        """The transfer that gives `source`'s Lab statistics those of `target` (Reinhard 2001)."""
        src = rgb_to_lab(source).reshape(-1, 3)
        dst = rgb_to_lab(target).reshape(-1, 3)
        # One Lab unit added to both spreads: flat against flat is a gain of 1.
        gain = (dst.std(axis=0) + 1.0) / (src.std(axis=0) + 1.0)
        return cls(src.mean(axis=0), dst.mean(axis=0), np.clip(gain, MIN_GAIN, MAX_GAIN))

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        lab = rgb_to_lab(frame)
        return lab_to_rgb((lab - self.source_mean) * self.gain + self.target_mean)


def match_colour(frame: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """`frame` (HxWx3 uint8) with the Lab mean and spread of `reference`."""
    return ColourTransfer.between(frame, reference)(frame)


def match_frames(frames: Iterable[np.ndarray], reference: np.ndarray) -> Iterator[np.ndarray]:
    """Every frame through the transfer that matches the first frame to `reference`.

    One transform for the whole window, so light changes within it survive."""
    transfer: ColourTransfer | None = None
    for frame in frames:
        if transfer is None:
            transfer = ColourTransfer.between(frame, reference)
        yield transfer(frame)
