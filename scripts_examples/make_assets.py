"""Draw, synthesise and encode every reference asset the example scripts name.

The examples (and the LANGUAGE.md test fixture) need pictures, sounds and a
video plate that the compiler can open and a filmmaker can read as an
animatic: characters as model-sheet figures, locations as painted backdrops,
a storyboard panel, a packshot, music with a real beat, a storm, a few sound
effects.  Drawing them from code keeps the repository free of binaries of
unknown origin, and the same seed gives the same bytes (for the H.264 plate,
with the same PyAV and libx264 build).

    .venv/bin/python scripts_examples/make_assets.py              # every set, to its home
    .venv/bin/python scripts_examples/make_assets.py --set heist  # one set
    .venv/bin/python scripts_examples/make_assets.py --set language --out /tmp/refs

Every file must stay under MAX_BYTES to keep the repository small; the
script fails when one does not.
"""

from __future__ import annotations

import argparse
import math
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import soundfile as sf
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MAX_BYTES = 300_000
SR = 48_000  # the sample rate of every sound except the 44.1 kHz WAV of the fixture
SS = 2  # supersampling: pictures are drawn at twice their size, then filtered down
INK = (28, 28, 34)

RGB = tuple[int, int, int]
Stops = list[tuple[float, RGB]]
Point = tuple[float, float]


# ================================================================== canvas


def gradient(w: int, h: int, stops: Stops) -> np.ndarray:
    """A vertical gradient through colour stops placed at fractions of the height."""
    ys = np.linspace(0.0, 1.0, h)
    pos = [p for p, _ in stops]
    cols = np.array([c for _, c in stops], dtype=np.float64)
    rows = np.stack([np.interp(ys, pos, cols[:, k]) for k in range(3)], axis=1)
    return np.repeat(rows[:, None, :], w, axis=1)


class Canvas:
    """ImageDraw in fractions of the picture, so a painter reads as a layout.

    (0, 0) is the top left and (1, 1) the bottom right.  Radii of circles and
    glows are fractions of the height, so circles stay round on any canvas;
    line widths are pixels of the finished picture.
    """

    def __init__(self, img: Image.Image):
        self._set(img)

    def _set(self, img: Image.Image) -> None:
        self.img, self.d = img, ImageDraw.Draw(img)
        self.w, self.h = img.size
        self.aspect = self.w / self.h

    def xy(self, points) -> list[Point]:
        return [(x * self.w, y * self.h) for x, y in points]

    def gradient(self, stops: Stops, box=(0, 0, 1, 1)) -> None:
        x0, y0, x1, y1 = (round(v) for v in self.box(*box))
        self.img.paste(
            Image.fromarray(gradient(x1 - x0, y1 - y0, stops).round().astype(np.uint8)), (x0, y0)
        )

    def box(self, x0, y0, x1, y1) -> tuple[float, float, float, float]:
        return (x0 * self.w, y0 * self.h, x1 * self.w, y1 * self.h)

    def rect(self, x0, y0, x1, y1, fill=None, outline=None, width=1, radius=0.0) -> None:
        self.d.rounded_rectangle(self.box(x0, y0, x1, y1), radius=radius * self.w, fill=fill,
                                 outline=outline, width=width * SS)  # fmt: skip

    def oval(self, x0, y0, x1, y1, fill=None, outline=None, width=1) -> None:
        self.d.ellipse(self.box(x0, y0, x1, y1), fill=fill, outline=outline, width=width * SS)

    def circle(self, cx, cy, r, fill=None, outline=None, width=1) -> None:
        self.oval(cx - r / self.aspect, cy - r, cx + r / self.aspect, cy + r, fill, outline, width)

    def polar(self, cx, cy, r, degrees) -> Point:
        """The point `r` from a centre, clockwise from twelve o'clock (clock hands, bolts)."""
        a = math.radians(degrees)
        return (cx + r * math.sin(a) / self.aspect, cy - r * math.cos(a))

    def poly(self, points, fill=None, outline=None, width=1) -> None:
        self.d.polygon(self.xy(points), fill=fill, outline=outline, width=width * SS)

    def line(self, points, fill, width=1) -> None:
        self.d.line(self.xy(points), fill=fill, width=width * SS)

    def text(self, x, y, text: str, fill, size: float) -> None:
        font = ImageFont.load_default(size=int(size * self.h))
        self.d.text((x * self.w, y * self.h), text, fill=fill, font=font, anchor="mm")

    def mask(self, points) -> Image.Image:
        mask = Image.new("L", self.img.size, 0)
        ImageDraw.Draw(mask).polygon(self.xy(points), fill=255)
        return mask

    def fill_within(self, colour: RGB, *shapes, opacity: float = 1.0) -> None:
        """Paint where all the polygons overlap (a band clipped to a tower, a beam)."""
        masks = [self.mask(points) for points in shapes]
        mask = masks[0]
        for other in masks[1:]:
            mask = ImageChops.multiply(mask, other)
        self.img.paste(colour, (0, 0), mask.point(lambda v: int(v * opacity)))

    def glow(self, x, y, r, colour: RGB, strength: float = 1.0) -> None:
        """Add light round a point (a lamp, the sun) with a Gaussian falloff."""
        arr = np.asarray(self.img, dtype=np.float64)
        yy, xx = np.mgrid[0 : self.h, 0 : self.w]
        d2 = ((xx - x * self.w) ** 2 + (yy - y * self.h) ** 2) / (r * self.h) ** 2
        arr = arr + np.exp(-d2)[..., None] * np.array(colour, dtype=np.float64) * strength
        self._set(Image.fromarray(np.clip(arr, 0, 255).round().astype(np.uint8)))

    def bloom(self, paint: Callable[[Canvas], None], radius: float) -> None:
        """Paint bright things on black, blur them and add both: neon bleeding into haze."""
        layer = Canvas(Image.new("RGB", self.img.size))
        paint(layer)
        sharp = np.asarray(layer.img, dtype=np.float64)
        soft = np.asarray(
            layer.img.filter(ImageFilter.GaussianBlur(radius * self.h)), dtype=np.float64
        )
        arr = np.asarray(self.img, dtype=np.float64) + sharp + 1.6 * soft
        self._set(Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)))

    def shadow(self, x0, y0, x1, y1, colour: RGB, blur: float) -> None:
        mask = Image.new("L", self.img.size, 0)
        ImageDraw.Draw(mask).ellipse(self.box(x0, y0, x1, y1), fill=120)
        mask = mask.filter(ImageFilter.GaussianBlur(blur * self.h))
        self._set(Image.composite(Image.new("RGB", self.img.size, colour), self.img, mask))


def render(paint: Callable[[Canvas, np.random.Generator], None], size, rng) -> Image.Image:
    """Paint at SS times the size and filter down, which antialiases every edge."""
    canvas = Canvas(Image.new("RGB", (size[0] * SS, size[1] * SS)))
    paint(canvas, rng)
    return canvas.img.resize(size, Image.Resampling.LANCZOS)


# ================================================================= figures


@dataclass(frozen=True)
class Figure:
    """A character as a model-sheet figure: a silhouette and colours a video model can hold."""

    skin: RGB
    hair: RGB
    hair_style: str  # braid, short, bob, long, bald, cap, bun
    top: RGB
    pattern: str  # solid, bands, stripes, checks, knit, dots, sash
    accent: RGB  # the pattern's colour
    legs: RGB
    shoes: RGB
    height: float = 1.0  # 1.0 is an adult; a boy of ten is about 0.74
    build: float = 1.0
    long_coat: bool = False
    beard: bool = False
    prop: str = ""  # bag, watch, mic, thermos, glasses


CAST = {
    "mara": Figure((222, 180, 150), (176, 176, 172), "braid", (236, 190, 40), "solid",
                   (200, 150, 20), (50, 56, 64), (40, 40, 44), long_coat=True),
    "tom": Figure((238, 196, 168), (120, 72, 40), "short", (196, 40, 44), "knit",
                  (240, 220, 200), (60, 70, 96), (40, 70, 50), height=0.74, build=0.9),
    "juno": Figure((160, 112, 84), (30, 24, 24), "bun", (20, 150, 150), "bands",
                   (235, 240, 240), (40, 40, 52), (230, 90, 40), prop="bag"),
    "hale": Figure((214, 172, 146), (60, 50, 44), "cap", (58, 60, 66), "checks",
                   (82, 86, 94), (40, 40, 44), (24, 20, 20), height=1.08, long_coat=True),
    "lux": Figure((246, 210, 190), (220, 220, 235), "long", (210, 40, 150), "dots",
                  (255, 210, 250), (30, 30, 40), (200, 200, 210), prop="mic"),
    "nia": Figure((176, 124, 92), (24, 20, 22), "short", (26, 28, 32), "sash",
                  (250, 120, 30), (26, 28, 32), (26, 28, 32), prop="watch"),
    "viv": Figure((232, 200, 176), (40, 30, 28), "bob", (40, 110, 70), "solid",
                  (30, 80, 50), (34, 34, 40), (20, 20, 24), long_coat=True),
    "otto": Figure((226, 184, 160), (150, 150, 150), "bald", (140, 96, 60), "checks",
                   (90, 60, 36), (70, 64, 60), (50, 36, 30), build=1.15, beard=True,
                   prop="glasses"),
    "guard": Figure((200, 150, 120), (40, 36, 34), "cap", (30, 40, 80), "stripes",
                    (200, 170, 60), (30, 36, 66), (16, 16, 20), prop="thermos"),
}  # fmt: skip


class Rig:
    """Draws a figure in head-units: x from the centre line, y up from the floor.

    Every shape gets the same ink outline, like a model sheet.
    """

    def __init__(self, canvas: Canvas, fig: Figure):
        self.img, self.d = canvas.img, canvas.d
        self.cx, self.floor = canvas.w / 2, canvas.h * 0.93
        self.u = canvas.h * 0.1 * fig.height

    def p(self, x: float, y: float) -> Point:
        return (self.cx + x * self.u, self.floor - y * self.u)

    def ps(self, points) -> list[Point]:
        return [self.p(x, y) for x, y in points]

    def box(self, x0, y0, x1, y1):
        (ax, ay), (bx, by) = self.p(x0, y0), self.p(x1, y1)
        return (min(ax, bx), min(ay, by), max(ax, bx), max(ay, by))

    def poly(self, points, fill, outline=INK) -> None:
        self.d.polygon(self.ps(points), fill=fill, outline=outline, width=3)

    def rect(self, x0, y0, x1, y1, fill, outline=INK) -> None:
        self.d.rounded_rectangle(
            self.box(x0, y0, x1, y1), radius=3, fill=fill, outline=outline, width=3
        )

    def oval(self, x0, y0, x1, y1, fill, outline=INK) -> None:
        self.d.ellipse(self.box(x0, y0, x1, y1), fill=fill, outline=outline, width=3)

    def line(self, points, fill=INK, width: float = 0.05) -> None:
        self.d.line(self.ps(points), fill=fill, width=max(3, int(width * self.u)))


def pattern_layer(size, fig: Figure, u: float) -> Image.Image:
    """The cloth of the top, drawn over the whole canvas and masked to the body later."""
    layer = Image.new("RGB", size, fig.top)
    d = ImageDraw.Draw(layer)
    w, h = size
    step = int(u * 0.5)
    if fig.pattern == "stripes":
        for x in range(0, w, step):
            d.line([(x, 0), (x, h)], fill=fig.accent, width=max(2, step // 6))
    elif fig.pattern == "checks":
        for k in range(0, max(w, h), step):
            d.line([(k, 0), (k, h)], fill=fig.accent, width=max(2, step // 4))
            d.line([(0, k), (w, k)], fill=fig.accent, width=max(2, step // 4))
    elif fig.pattern == "knit":
        half = step // 2
        for y in range(0, h, half):
            d.line([(x, y + (x // half) % 2 * half // 2) for x in range(0, w, half)],
                   fill=fig.accent, width=max(2, step // 8))  # fmt: skip
    elif fig.pattern == "dots":
        r = step / 5
        for y in range(0, h, step):
            for x in range((y // step) % 2 * step // 2, w, step):
                d.ellipse((x - r, y - r, x + r, y + r), fill=fig.accent)
    return layer


def top_shapes(fig: Figure, view: str) -> list[list[Point]]:
    """Torso and arm polygons, in head-units, of a front or a profile view."""
    b = fig.build
    hem = 1.5 if fig.long_coat else 3.5
    flare = (1.25 if fig.long_coat else 0.95) * b
    if view == "front":
        torso = [(-1.05 * b, 6.5), (1.05 * b, 6.5), (flare, hem), (-flare, hem)]
        left = [(-1.05 * b, 6.45), (-0.7 * b, 6.45), (-0.95 * b, 3.7), (-1.45 * b, 3.75)]
        right = [(-x, y) for x, y in left]
        return [torso, left, right]
    torso = [(-0.6 * b, 6.5), (0.55 * b, 6.5), (0.75 * b, hem), (-0.8 * b, hem)]
    arm = [(-0.25, 6.4), (0.25, 6.4), (0.75, 3.9), (0.3, 3.75)]
    return [torso, arm]


def draw_legs(rig: Rig, fig: Figure, view: str) -> None:
    if view == "front":
        for side in (-1, 1):
            x0, x1 = sorted((side * 0.1, side * 0.72))
            rig.rect(x0, 3.8, x1, 0.25, fig.legs)
            rig.oval(x0 - 0.1 * (side < 0), 0.4, x1 + 0.1 * (side > 0), 0, fig.shoes)
        return
    for foot in (-0.55, 0.6):  # mid-stride, one foot forward
        rig.poly([(-0.3, 3.8), (0.3, 3.8), (foot + 0.3, 0.25), (foot - 0.3, 0.25)], fig.legs)
        rig.oval(foot - 0.35, 0.4, foot + 0.6, 0, fig.shoes)


def draw_top(rig: Rig, fig: Figure, view: str) -> None:
    shapes = [rig.ps(shape) for shape in top_shapes(fig, view)]
    body = Image.new("L", rig.img.size, 0)
    for poly in shapes:
        ImageDraw.Draw(body).polygon(poly, fill=255)
    rig.img.paste(pattern_layer(rig.img.size, fig, rig.u), (0, 0), body)
    trims = {
        "bands": [
            [(-3, 5.2), (3, 5.2), (3, 4.95), (-3, 4.95)],
            [(-3, 4.6), (3, 4.6), (3, 4.35), (-3, 4.35)],
        ],
        "sash": [[(-1.1, 5.0), (-1.1, 4.4), (1.1, 6.6), (1.1, 7.2)]],
    }  # reflective bands across chest and sleeves; a wetsuit's diagonal stripe
    for trim in trims.get(fig.pattern, []):
        mask = Image.new("L", rig.img.size, 0)
        ImageDraw.Draw(mask).polygon(rig.ps(trim), fill=255)
        rig.img.paste(fig.accent, (0, 0), ImageChops.multiply(mask, body))
    for poly in shapes:
        rig.d.polygon(poly, outline=INK, width=3)
    hands = (
        [(-1.2 * fig.build, 3.75), (1.2 * fig.build, 3.75)] if view == "front" else [(0.55, 3.7)]
    )
    for x, y in hands:
        rig.oval(x - 0.28, y + 0.28, x + 0.28, y - 0.3, fig.skin)


def draw_head(rig: Rig, fig: Figure, view: str) -> None:
    front = view == "front"
    rig.rect(-0.2, 6.9, 0.2, 6.4, fig.skin)  # neck
    x = 0.0 if front else 0.05
    rig.oval(x - 0.62, 8.0, x + 0.62, 6.55, fig.skin)
    if front:
        for ex in (-0.24, 0.24):
            rig.oval(ex - 0.07, 7.35, ex + 0.07, 7.2, INK)
        rig.d.arc(rig.box(-0.2, 7.05, 0.2, 6.8), 20, 160, fill=INK, width=3)
    else:
        nose = [(0.6, 7.35), (0.82, 7.0), (0.6, 6.95)]
        rig.poly(nose, fig.skin, outline=None)
        rig.line(nose)
        rig.oval(0.32, 7.35, 0.44, 7.22, INK)
        rig.line([(0.35, 6.85), (0.55, 6.85)])
    if fig.beard:
        chin = [(-0.55, 7.0), (0.55, 7.0), (0.3, 6.45), (-0.3, 6.45)]
        if not front:
            chin = [(-0.1, 7.0), (0.62, 6.95), (0.45, 6.45), (0.0, 6.55)]
        rig.poly(chin, fig.hair)
    draw_hair(rig, fig, front)


def draw_hair(rig: Rig, fig: Figure, front: bool) -> None:
    style, hair = fig.hair_style, fig.hair
    if style in ("braid", "short", "bob", "long", "bun"):
        rig.d.chord(rig.box(-0.66, 8.08, 0.66, 7.0), 180, 360, fill=hair, outline=INK, width=3)
    if style in ("bob", "long"):
        bottom = 6.6 if style == "bob" else 5.6
        for x in (-0.7, 0.45) if front else (-0.7,):
            rig.rect(x, 7.6, x + 0.25, bottom, hair)
        if not front:  # seen from the side, the hair covers the back of the head
            rig.rect(-0.7, 7.7, -0.1, bottom, hair)
    if style == "braid":  # over the shoulder in front, down the back in profile
        x = 0.45 if front else -0.62
        for k in range(7):
            y = 6.9 - k * 0.32
            rig.oval(x - 0.16, y + 0.2, x + 0.16, y - 0.2, hair)
    if style == "bun":
        x = 0.0 if front else -0.45
        rig.oval(x - 0.3, 8.45, x + 0.3, 7.85, hair)
    if style == "cap":
        rig.d.chord(rig.box(-0.66, 8.15, 0.66, 7.45), 180, 360, fill=fig.top, outline=INK, width=3)
        rig.rect(*((-0.8, 7.7, 0.8, 7.5) if front else (0.2, 7.7, 1.05, 7.5)), INK)  # the peak


def draw_prop(rig: Rig, fig: Figure, view: str) -> None:
    x, y = (1.2 * fig.build, 3.75) if view == "front" else (0.55, 3.7)  # the right hand
    if fig.prop == "bag":
        rig.line([(-0.9, 6.4), (0.9, 4.0)], width=0.16)
        rig.rect(0.5, 4.4, 1.5, 3.3, (230, 90, 40))
    elif fig.prop == "watch":
        rig.rect(x - 0.3, y + 0.55, x + 0.3, y + 0.35, (190, 195, 200))
    elif fig.prop == "mic":
        rig.line([(x, y), (x + 0.15, y + 1.0)], fill=(60, 60, 66), width=0.14)
        rig.oval(x - 0.05, y + 1.25, x + 0.35, y + 0.9, (160, 160, 170))
    elif fig.prop == "thermos":
        rig.rect(x - 0.2, y + 0.5, x + 0.2, y - 0.8, (150, 40, 36))
    elif fig.prop == "glasses":
        for ex in (-0.24, 0.24) if view == "front" else (0.38,):
            rig.oval(ex - 0.17, 7.45, ex + 0.17, 7.12, None)


def paint_figure(fig: Figure, view: str) -> Callable[[Canvas, np.random.Generator], None]:
    def paint(c: Canvas, rng: np.random.Generator) -> None:
        # A studio cyclorama: the figure reads against a plain, evenly lit backdrop.
        c.gradient([(0, (226, 224, 218)), (0.93, (196, 192, 186)), (1, (180, 176, 170))])
        rig = Rig(c, fig)
        rig.oval(-1.9, 0.25, 1.9, -0.25, (160, 156, 150), outline=None)  # floor shadow
        draw_legs(rig, fig, view)
        draw_top(rig, fig, view)
        draw_head(rig, fig, view)
        draw_prop(rig, fig, view)

    return paint


# =============================================================== locations


def paint_lamp_room(c: Canvas, rng) -> None:
    c.gradient([(0, (40, 48, 60)), (0.75, (24, 28, 36)), (1, (16, 18, 22))])
    c.gradient([(0, (22, 32, 50)), (1, (52, 66, 84))], box=(0.06, 0.1, 0.94, 0.64))
    for _ in range(160):  # rain streaking the glass, blown a little sideways
        x, y, n = rng.uniform(0.06, 0.94), rng.uniform(0.1, 0.64), rng.uniform(0.02, 0.07)
        c.line([(x, y), (x - n * 0.14, min(y + n, 0.64))], (120, 140, 165))
    iron = (18, 20, 24)
    for k in range(5):  # mullions between the panes
        c.rect(0.052 + 0.22 * k, 0.1, 0.068 + 0.22 * k, 0.64, iron)
    c.rect(0.06, 0.09, 0.94, 0.11, iron)
    c.rect(0.06, 0.628, 0.94, 0.652, iron)
    c.gradient([(0, (70, 50, 34)), (1, (40, 28, 20))], box=(0, 0.8, 1, 1))
    for k in range(-8, 9):  # floorboards running to the vanishing point
        c.line([(0.5 + 0.02 * k, 0.8), (0.5 + 0.14 * k, 1)], (30, 22, 16))
    draw_lens(c)
    c.rect(0, 0.72, 1, 0.735, (150, 112, 50))  # the gallery's brass rail
    for k in range(9):
        c.rect(k / 8 - 0.003, 0.72, k / 8 + 0.003, 0.8, (120, 90, 40))
    c.glow(0.5, 0.45, 0.36, (255, 190, 110), 0.35)


def draw_lens(c: Canvas) -> None:
    """The Fresnel lens: a beehive of prism rings round a bright bullseye."""
    top, bottom, half, rings = 0.16, 0.74, 0.11, 11
    c.poly([(0.412, bottom), (0.588, bottom), (0.5 + half, 0.86), (0.5 - half, 0.86)], (90, 66, 30))
    for k in range(rings):
        y0, y1 = top + (bottom - top) * k / rings, top + (bottom - top) * (k + 1) / rings
        bulge = half * (0.7 + 0.3 * math.sin(math.pi * (k + 0.5) / rings))
        shade = (196, 206, 190) if k % 2 else (170, 132, 58)
        c.rect(0.5 - bulge, y0, 0.5 + bulge, y1, shade, outline=(110, 80, 30), radius=0.01)
    c.circle(0.5, 0.45, 0.07, (255, 236, 180), outline=(170, 132, 58), width=2)


def paint_lighthouse(c: Canvas, rng) -> None:
    c.gradient([(0, (10, 14, 28)), (0.6, (40, 50, 68)), (0.61, (24, 34, 46)), (1, (8, 12, 18))])
    for _ in range(14):  # storm clouds
        x, y, r = rng.uniform(0, 1), rng.uniform(0, 0.35), rng.uniform(0.08, 0.18)
        c.oval(x - r, y - 0.62 * r, x + r, y + 0.62 * r, (24, 30, 44))
    for k in range(16):  # swell, the lines crowding towards the horizon
        y = 0.6 + (k / 16) ** 1.7 * 0.4
        wave = [(x, y + math.sin(x * 18 + k) * 0.002 * (1 + k)) for x in np.linspace(0, 1, 121)]
        c.line(wave, (60, 82, 100), width=k // 4 + 1)
    c.poly([(0.55, 1), (0.6, 0.58), (0.7, 0.55), (0.86, 0.56), (1, 0.62), (1, 1)], (12, 14, 16))
    tower = [(0.7, 0.56), (0.78, 0.56), (0.765, 0.2), (0.715, 0.2)]
    c.poly(tower, (220, 220, 210))
    for y in (0.27, 0.38, 0.49):  # red bands, clipped to the tapering tower
        c.fill_within((170, 40, 40), tower, [(0, y), (1, y), (1, y + 0.05), (0, y + 0.05)])
    c.rect(0.705, 0.185, 0.775, 0.2, (30, 30, 30))  # gallery
    c.rect(0.72, 0.13, 0.76, 0.185, (255, 230, 150))  # lantern
    c.d.pieslice(c.box(0.715, 0.1, 0.765, 0.16), 180, 360, fill=(30, 30, 30))  # dome
    c.fill_within((255, 240, 190), [(0.74, 0.14), (0.74, 0.17), (0, 0.42), (0, 0.02)], opacity=0.22)
    c.glow(0.74, 0.155, 0.09, (255, 220, 140), 1.0)


def paint_market(c: Canvas, rng) -> None:
    c.gradient(
        [(0, (70, 40, 96)), (0.3, (236, 128, 76)), (0.42, (250, 170, 100)), (1, (40, 30, 36))]
    )
    c.rect(0.38, 0.4, 0.62, 0.6, (84, 52, 60))  # the far end of the street
    for side in (-1, 1):  # tenement walls in one-point perspective
        edge, far = 0.5 + side * 0.12, 0.5 + side * 0.5
        c.poly([(far, 0), (edge, 0.3), (edge, 0.6), (far, 1)], (56, 36, 48))
        for t in np.linspace(0.08, 0.8, 6):  # lit windows, between the wall's edges at each depth
            x, top, bottom = far + (edge - far) * t, 0.3 * t, 1 - 0.4 * t
            size = (1 - t) * 0.045 + 0.003
            for row in (0.12, 0.34):
                y = top + (bottom - top) * row
                c.rect(x - size / 2, y, x + size / 2, y + size * 1.4 * c.aspect, (250, 200, 110))
    c.poly([(0.38, 0.6), (0.62, 0.6), (1, 1), (0, 1)], (44, 38, 44))
    for k in range(-6, 7):  # wet cobbles catching the light
        c.line([(0.5 + 0.02 * k, 0.6), (0.5 + 0.16 * k, 1)], (80, 60, 60))
    draw_stalls(c)
    c.bloom(draw_lanterns, radius=0.011)


def draw_stalls(c: Canvas) -> None:
    for side, stripe in ((-1, (200, 40, 40)), (1, (40, 130, 80))):
        for k in range(3):
            x0 = 0.5 + side * (0.16 + 0.1 * k)
            x1, y0, y1 = x0 + side * 0.09, 0.62 + 0.06 * k, 0.7 + 0.08 * k
            c.rect(min(x0, x1), y1, max(x0, x1), y1 + 0.05, (70, 46, 34))  # the counter
            for s in range(4):  # a striped awning
                a, b = x0 + (x1 - x0) * s / 4, x0 + (x1 - x0) * (s + 1) / 4
                colour = stripe if s % 2 == 0 else (240, 230, 210)
                c.poly([(a, y0), (b, y0), (b + side * 0.01, y1), (a + side * 0.01, y1)], colour)


def draw_lanterns(c: Canvas) -> None:
    """Strings of paper lanterns across the street, smaller with distance."""
    for k, y in enumerate((0.1, 0.26, 0.36)):
        span, sag, r = 0.5 - 0.13 * k, 0.06 * (1 - k / 4), 0.014 - 0.003 * k
        string = [
            (0.5 - span + 2 * span * t, y + math.sin(math.pi * t) * sag)
            for t in np.linspace(0, 1, 9)
        ]
        c.line(string, (60, 50, 40))
        for i, (x, hang) in enumerate(string[1:-1]):
            colour = (240, 70, 40) if i % 2 else (250, 160, 50)
            c.oval(x - r, hang, x + r, hang + 2.6 * r * c.aspect, colour)


def paint_rooftops(c: Canvas, rng) -> None:
    c.gradient(
        [(0, (44, 32, 84)), (0.5, (200, 96, 90)), (0.72, (252, 150, 64)), (1, (255, 196, 120))]
    )
    c.glow(0.62, 0.64, 0.16, (255, 220, 150), 1.2)
    skyline(c, rng, base=0.62, spread=0.1, colour=(96, 60, 96), unit=0.03)
    skyline(c, rng, base=0.72, spread=0.12, colour=(52, 34, 58), unit=0.07)
    tank = (36, 24, 40)
    for k in range(3):  # water tanks on stilts, and aerials
        x, base = 0.15 + 0.33 * k, 0.66 - 0.02 * k
        c.rect(x - 0.03, base - 0.12, x + 0.03, base - 0.04, tank)
        c.poly([(x - 0.035, base - 0.12), (x + 0.035, base - 0.12), (x, base - 0.16)], tank)
        for leg in (-0.025, 0.025):
            c.line([(x + leg, base - 0.04), (x + leg, base + 0.06)], tank, width=2)
        c.line([(x + 0.08, base), (x + 0.08, base - 0.2)], tank)
    c.gradient([(0, (40, 32, 42)), (1, (22, 18, 24))], box=(0, 0.8, 1, 1))
    c.rect(0, 0.78, 1, 0.81, (60, 44, 52))  # parapet


def skyline(c: Canvas, rng, base: float, spread: float, colour: RGB, unit: float) -> None:
    x = 0.0
    while x < 1:
        width = rng.uniform(1, 3) * unit
        c.rect(x, base - rng.uniform(0.2, 1.0) * spread, x + width, base + spread, colour)
        x += width


def paint_garage(c: Canvas, rng) -> None:
    c.gradient([(0, (16, 16, 22)), (0.5, (30, 30, 36)), (1, (44, 44, 52))])
    for k in range(-5, 6):  # parking bay lines
        c.line([(0.5 + 0.03 * k, 0.52), (0.5 + 0.3 * k, 1)], (150, 150, 140))
    for i in range(6, -1, -1):  # pillars receding, the farthest drawn first
        s, grey = 1 / (1 + 0.55 * i), 86 - 6 * i
        for side in (-1, 1):
            x = 0.5 + side * 0.42 * s
            c.rect(x - 0.05 * s, 0.5 - 0.5 * s, x + 0.05 * s, 0.5 + 0.5 * s, (grey, grey, grey + 8))
    c.bloom(draw_neon, radius=0.021)


def draw_neon(c: Canvas) -> None:
    for side, colour in ((-1, (255, 50, 170)), (1, (40, 210, 255))):
        c.line([(0.5 + 0.02 * side, 0.47), (0.5 + 0.3 * side, 0)], colour, width=3)
        dim = (colour[0] // 4, colour[1] // 4, colour[2] // 4)
        c.line([(0.5 + 0.02 * side, 0.54), (0.5 + 0.4 * side, 1)], dim, width=6)  # its reflection


def paint_salt_flats(c: Canvas, rng) -> None:
    c.gradient([(0, (110, 140, 196)), (0.5, (236, 190, 196)), (0.56, (250, 214, 190)),
                (0.57, (236, 232, 228)), (1, (252, 250, 246))])  # fmt: skip
    c.glow(0.3, 0.56, 0.14, (255, 200, 140), 0.9)
    hills = [(x, 0.56 - rng.uniform(0.01, 0.06)) for x in np.linspace(0, 1, 14)]
    c.poly([(0, 0.56), *hills, (1, 0.56)], (170, 156, 186))
    crack = (214, 208, 206)  # the crust cracks into plates, larger as they come near
    for k in range(1, 14):
        y = 0.56 + (k / 14) ** 2 * 0.44
        c.line([(0, y), (1, y)], crack, width=max(1, k // 5))
    for k in range(-12, 13):
        c.line([(0.5 + 0.01 * k, 0.56), (0.5 + 0.2 * k, 1)], crack)


def paint_harbour(c: Canvas, rng) -> None:
    c.gradient(
        [(0, (70, 90, 140)), (0.5, (250, 184, 140)), (0.51, (214, 160, 140)), (1, (36, 56, 76))]
    )
    c.glow(0.7, 0.47, 0.12, (255, 220, 170), 1.2)
    for _ in range(90):  # glitter on the water under the sun
        x, y = 0.7 + rng.normal(0, 0.05), rng.uniform(0.505, 0.8)
        c.line([(x - 0.01, y), (x + 0.01, y)], (255, 226, 190))
    c.rect(0, 0.485, 0.45, 0.5, (60, 50, 62))  # the harbour wall
    for k in range(6):  # cottages along it
        x = 0.03 + 0.065 * k
        c.rect(x, 0.44, x + 0.05, 0.485, (74, 60, 72))
        c.poly([(x - 0.005, 0.44), (x + 0.055, 0.44), (x + 0.025, 0.41)], (60, 46, 58))
    hull = (40, 40, 52)
    for x, s in ((0.16, 1.0), (0.34, 0.7)):  # moored boats
        c.poly([(x - 0.07 * s, 0.62), (x + 0.07 * s, 0.62), (x + 0.05 * s, 0.62 + 0.04 * s),
                (x - 0.05 * s, 0.62 + 0.04 * s)], hull)  # fmt: skip
        c.line([(x, 0.62), (x, 0.62 - 0.2 * s)], hull, width=2)
    c.poly([(0.5, 0.52), (0.56, 0.52), (0.95, 1), (0.45, 1)], (96, 72, 56))  # the pier
    for k in range(1, 12):  # planks, spaced by perspective
        t = (k / 12) ** 2
        c.line(
            [(0.5 - 0.05 * t, 0.52 + 0.48 * t), (0.56 + 0.39 * t, 0.52 + 0.48 * t)], (64, 46, 36)
        )


def paint_lobby(c: Canvas, rng) -> None:
    c.gradient([(0, (200, 184, 156)), (0.55, (160, 140, 112)), (1, (60, 56, 52))])
    for row in range(12):  # a marble chequerboard in perspective
        for col in range(-10, 10):
            tile = [floor_point(col + a, row + b) for a, b in ((0, 0), (1, 0), (1, 1), (0, 1))]
            c.poly(tile, (232, 226, 214) if (row + col) % 2 else (44, 44, 50))
    c.rect(0.3, 0.38, 0.7, 0.55, (80, 50, 34))  # the tellers' counter
    for x in (0.36, 0.5, 0.64):  # green banker's lamps
        c.oval(x - 0.02, 0.34, x + 0.02, 0.38, (40, 110, 60))
    c.circle(0.5, 0.18, 0.09, (240, 236, 224), outline=(120, 90, 40), width=3)  # the clock
    for hand, degrees, width in ((0.055, 100, 2), (0.08, 120, 1)):  # twenty past three
        c.line([(0.5, 0.18), c.polar(0.5, 0.18, hand, degrees)], INK, width=width)
    for x in (0.1, 0.24, 0.76, 0.9):  # columns
        c.rect(x - 0.035, 0.06, x + 0.035, 0.7, (226, 214, 190))
        for y in (0.04, 0.68):
            c.rect(x - 0.05, y, x + 0.05, y + 0.04, (206, 194, 170))
    for x in (0.36, 0.64):
        c.glow(x, 0.36, 0.07, (255, 220, 150), 0.8)


def floor_point(col: float, row: float) -> Point:
    """A corner of a floor tile: columns spread, rows shrink towards the horizon."""
    depth = 1 + row * 0.45
    return (0.5 + col * 0.12 / depth, 0.55 + 0.45 / depth)


def paint_vault(c: Canvas, rng) -> None:
    c.gradient([(0, (76, 86, 94)), (0.78, (44, 50, 56)), (0.79, (30, 34, 38)), (1, (20, 22, 26))])
    for left in (0.02, 0.78):  # walls of safe-deposit boxes
        for i in range(8):
            for j in range(5):
                x, y = left + 0.04 * j, 0.08 + 0.08 * i
                c.rect(x, y, x + 0.036, y + 0.07, (150, 128, 80), outline=(90, 76, 44))
                c.oval(x + 0.015, y + 0.03, x + 0.021, y + 0.04, INK)
    r, steel = 0.3, (90, 96, 104)
    c.circle(0.5, 0.44, 1.1 * r, (60, 66, 72))
    c.circle(0.5, 0.44, r, (150, 158, 166), outline=steel, width=4)
    for k in range(16):  # locking bolts round the rim
        c.circle(*c.polar(0.5, 0.44, 0.9 * r, 22.5 * k), 0.03 * r, steel)
    for k in range(5):  # the spoked handle wheel
        c.line([(0.5, 0.44), c.polar(0.5, 0.44, 0.45 * r, 72 * k)], (200, 200, 196), width=4)
    c.circle(0.5, 0.44, 0.12 * r, (210, 210, 206))
    c.glow(0.5, 0.0, 0.7, (150, 190, 220), 0.35)


def paint_alley(c: Canvas, rng) -> None:
    c.gradient([(0, (14, 16, 30)), (0.5, (30, 30, 40)), (1, (22, 22, 26))])
    for x0, x1 in ((0, 0.3), (0.72, 1)):
        brick_wall(c, x0, 0, x1, 0.82)
    c.rect(0.36, 0.48, 0.68, 0.8, (36, 40, 46), outline=(12, 12, 14), width=2, radius=0.02)  # van
    c.rect(0.6, 0.52, 0.66, 0.62, (60, 70, 84))  # its cab window
    for x in (0.42, 0.62):
        c.oval(x - 0.035, 0.75, x + 0.035, 0.85, (10, 10, 12))
    c.rect(0, 0.82, 1, 1, (26, 24, 28))
    c.bloom(draw_street_lamp, radius=0.053)
    c.glow(0.82, 0.14, 0.44, (140, 90, 40), 0.5)


def draw_street_lamp(c: Canvas) -> None:
    c.oval(0.8, 0.12, 0.84, 0.16, (255, 180, 80))
    c.line([(0.8, 0.86), (0.84, 0.98)], (120, 80, 36), width=5)  # its reflection in a puddle


def brick_wall(c: Canvas, x0, y0, x1, y1) -> None:
    mortar = (34, 20, 18)
    c.rect(x0, y0, x1, y1, (60, 30, 26))
    brick, course = 0.05 * (x1 - x0) + 0.019, 0.017
    for row, y in enumerate(np.arange(y0, y1, course)):
        c.line([(x0, y), (x1, y)], mortar)
        for x in np.arange(x0 + row % 2 * brick / 2, x1, brick):  # joints staggered by half
            c.line([(x, y), (x, y + course)], mortar)


# ========================================================= boards and props


def paint_storyboard(c: Canvas, rng) -> None:
    """Panel 3 of the lighthouse board: pencil on paper, a red arrow for the move."""
    paper, pencil, soft, red = (246, 243, 236), (70, 70, 74), (150, 150, 154), (200, 40, 40)
    mx, my = 0.04, 0.04 * c.aspect  # the panel's margin
    c.rect(0, 0, 1, 1, paper)
    c.line([(mx, 0.58), (1 - mx, 0.58)], pencil, width=2)  # horizon
    for k in range(8):  # the sea, hatched
        y = 0.62 + 0.04 * k
        for x in np.arange(mx, 1 - mx, 0.05):
            c.line([(x, y), (x + 0.03, y + rng.uniform(-0.004, 0.004))], soft)
    c.poly([(0.6, 1 - my), (0.66, 0.56), (0.86, 0.54), (1 - mx, 0.6), (1 - mx, 1 - my)],
           (200, 200, 198), outline=pencil)  # fmt: skip
    c.poly([(0.71, 0.55), (0.77, 0.55), (0.755, 0.2), (0.725, 0.2)], outline=pencil, width=2)
    c.rect(0.727, 0.14, 0.753, 0.2, outline=pencil, width=2)
    for edge in (0.05, 0.4):  # the beam, two pencil lines
        c.line([(0.74, 0.17), (mx, edge)], pencil)
    c.poly([(0.22, 0.66), (0.28, 0.66), (0.27, 0.68), (0.23, 0.68)], pencil)  # a boat, far out
    c.line([(0.35, 0.3), (0.5, 0.22), (0.62, 0.24)], red, width=3)  # the camera orbits left
    c.poly([(0.62, 0.24), (0.59, 0.2), (0.6, 0.27)], red)
    c.rect(mx, my, 1 - mx, 1 - my, outline=INK, width=3)
    c.rect(mx, my, mx + 0.06, my + 0.09, INK)
    c.text(mx + 0.03, my + 0.045, "3", paper, size=0.06)


def paint_packshot(c: Canvas, rng) -> None:
    """The Tidemark dive watch on a seamless sweep, at ten past ten as packshots are."""
    lume, orange = (236, 240, 220), (250, 120, 30)
    c.gradient([(0, (238, 238, 240)), (0.7, (214, 218, 224)), (1, (196, 200, 208))])
    c.shadow(0.25, 0.82, 0.75, 0.9, (120, 124, 132), blur=0.03)
    x, y, r = 0.5, 0.48, 0.24
    for y0, y1 in ((0.04, 0.3), (0.66, 0.84)):  # the rubber strap
        c.rect(0.37, y0, 0.63, y1, (24, 36, 60), radius=0.03)
    c.rect(x + 0.95 * r, y - 0.04, x + 1.12 * r, y + 0.04, (170, 174, 180))  # crown
    c.circle(x, y, r, (186, 190, 196), outline=(110, 114, 120), width=2)  # case
    c.circle(x, y, 0.9 * r, (26, 46, 96))  # bezel
    for k in range(60):  # the bezel's minute track, long every five
        inner = 0.72 if k % 5 == 0 else 0.79
        c.line([c.polar(x, y, inner * r, 6 * k), c.polar(x, y, 0.855 * r, 6 * k)], (230, 232, 236),
               width=2 if k % 5 == 0 else 1)  # fmt: skip
    c.circle(x, y, 0.72 * r, (14, 18, 28))  # dial
    for k in range(12):
        c.circle(*c.polar(x, y, 0.59 * r, 30 * k), 0.036 * r, lume)
    for degrees, length, width, colour in (
        (300, 0.36, 5, lume),
        (60, 0.54, 3, lume),
        (180, 0.61, 1, orange),
    ):
        c.line([(x, y), c.polar(x, y, length * r, degrees)], colour, width=width)
    c.glow(x - 0.4 * r, y - 0.6 * r, 0.08, (255, 255, 255), 0.35)


def paint_blueprint(c: Canvas, rng) -> None:
    """The crew's plan: hall, corridor and vault, with the route marked in red."""
    white = (236, 242, 250)
    c.rect(0, 0, 1, 1, (20, 62, 140))
    for k, x in enumerate(np.arange(0, 1, 0.025)):
        c.line([(x, 0), (x, 1)], (90, 134, 200) if k % 5 == 0 else (60, 104, 180))
    for k, y in enumerate(np.arange(0, 1, 0.025 * c.aspect)):
        c.line([(0, y), (1, y)], (90, 134, 200) if k % 5 == 0 else (60, 104, 180))
    for label, (x0, y0, x1, y1) in (
        ("LOBBY", (0.08, 0.2, 0.45, 0.8)),
        ("VAULT", (0.62, 0.25, 0.92, 0.75)),
    ):
        c.rect(x0, y0, x1, y1, outline=white, width=3)
        c.text((x0 + x1) / 2, y1 - 0.06, label, white, size=0.045)
    c.rect(0.45, 0.44, 0.62, 0.56, outline=white, width=2)  # corridor
    c.oval(0.7, 0.35, 0.84, 0.6, outline=white, width=3)  # vault door
    for x in np.arange(0.12, 0.2, 0.015):  # stairs
        c.line([(x, 0.25), (x, 0.4)], white)
    route = [(0.27, 0.78), (0.27, 0.5), (0.66, 0.5), (0.72, 0.48)]
    for a, b in zip(route, route[1:], strict=False):
        dashes = max(1, int(math.dist(a, b) / 0.012))
        for k in range(0, dashes, 2):
            t0, t1 = k / dashes, min(1.0, (k + 1) / dashes)
            c.line([(a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t) for t in (t0, t1)],
                   (230, 60, 50), width=3)  # fmt: skip


# =================================================================== audio


def seconds(n: float, sr: int) -> np.ndarray:
    return np.arange(int(n * sr)) / sr


def band_noise(n: int, sr: int, lo: float, hi: float, rng) -> np.ndarray:
    """White noise limited to a band by masking its spectrum (no SciPy needed)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / sr)
    spectrum[(freqs < lo) | (freqs > hi)] = 0
    out = np.fft.irfft(spectrum, n)
    return out / (np.abs(out).max() + 1e-12)


def place(buf: np.ndarray, sound: np.ndarray, at: float, sr: int, gain: float = 1.0) -> None:
    start = int(round(at * sr))
    end = min(len(buf), start + len(sound))
    if start < end:
        buf[start:end] += gain * sound[: end - start]


def normalise(x: np.ndarray, peak: float = 0.89) -> np.ndarray:
    return x * (peak / (np.abs(x).max() + 1e-12))  # 0.89 is about -1 dBFS


def fade_tail(x: np.ndarray, sr: int, length: float) -> np.ndarray:
    """Fade the last seconds out, so a sound cut off at its length ends rather than stops."""
    n = int(length * sr)
    x = x.copy()
    x[-n:] *= np.linspace(1.0, 0.0, n) ** 2
    return x


def kick(sr: int) -> np.ndarray:
    t = seconds(0.4, sr)
    freq = 48 + 110 * np.exp(-t * 28)  # the falling pitch is what makes a kick thump
    return np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t * 8)


def snare(sr: int, rng) -> np.ndarray:
    t = seconds(0.25, sr)
    body = np.sin(2 * np.pi * 190 * t) * np.exp(-t * 30)
    return 0.6 * body + 0.7 * band_noise(len(t), sr, 1200, 7000, rng) * np.exp(-t * 18)


def hat(sr: int, rng) -> np.ndarray:
    t = seconds(0.06, sr)
    return band_noise(len(t), sr, 6000, 14000, rng) * np.exp(-t * 70)


def tone(freq: float, length: float, sr: int, harmonics=(1.0, 0.4, 0.2), attack=0.01, release=0.2):
    t = seconds(length, sr)
    wave = sum(a * np.sin(2 * np.pi * freq * (k + 1) * t) for k, a in enumerate(harmonics))
    envelope = np.minimum(1, t / attack) * np.minimum(1, np.maximum(0, length - t) / release)
    return wave * envelope


def hz(note: str) -> float:
    """Scientific pitch ('A3', 'F#2', 'Bb1') to hertz, so the music can be written as notes."""
    step = {"C": -9, "D": -7, "E": -5, "F": -4, "G": -2, "A": 0, "B": 2}[note[0]]
    step += {"#": 1, "b": -1}.get(note[1], 0)
    return 440.0 * 2 ** ((step + 12 * (int(note[-1]) - 4)) / 12)


@dataclass(frozen=True)
class Groove:
    """A loop in 4/4: drums on a grid of beats, an eighth-note bass and a pad, a chord a bar."""

    bpm: float
    bars: int
    chords: tuple[tuple[str, ...], ...]  # one a bar, repeated; the first note is the bass
    kicks: tuple[float, ...] = (0, 1, 2, 3)  # beats within the bar, from 0
    snares: tuple[float, ...] = (1, 3)
    hats: bool = True
    tail: float = 2.0  # seconds of ring-out after the last bar


def groove(g: Groove, sr: int, rng) -> np.ndarray:
    beat = 60.0 / g.bpm
    out = np.zeros(int((g.bars * 4 * beat + g.tail) * sr))
    drums = {"kick": kick(sr), "snare": snare(sr, rng), "hat": hat(sr, rng)}
    for bar in range(g.bars):
        start, chord = bar * 4 * beat, g.chords[bar % len(g.chords)]
        for b in g.kicks:
            place(out, drums["kick"], start + b * beat, sr, 0.9)
        for b in g.snares:
            place(out, drums["snare"], start + b * beat, sr, 0.5)
        for e in range(8 if g.hats else 0):  # off-beat hats a little louder, for swing
            place(out, drums["hat"], start + e * beat / 2, sr, 0.25 if e % 2 else 0.15)
        bass = tone(hz(chord[0]), beat / 2 * 0.9, sr, (1, 0.5, 0.3), release=0.05)
        for e in range(8):
            place(out, bass, start + e * beat / 2, sr, 0.35)
        for note in chord[1:]:
            place(
                out,
                tone(hz(note), 4 * beat, sr, (1, 0.2), attack=0.3, release=0.6),
                start,
                sr,
                0.08,
            )
    return normalise(out)


def reverb(x: np.ndarray, sr: int, rng, length: float = 1.6, wet: float = 0.3) -> np.ndarray:
    """A cheap hall: convolve with decaying noise, through FFTs."""
    t = seconds(length, sr)
    ir = rng.standard_normal(len(t)) * np.exp(-t * 4.0)
    n = len(x) + len(ir)
    tail = np.fft.irfft(np.fft.rfft(x, n) * np.fft.rfft(ir, n), n)[: len(x)]
    return x + wet * tail / (np.abs(tail).max() + 1e-12) * np.abs(x).max()


THEME_AIR = "D4:2 F4:1 A4:3 G4:1 F4:1 E4:2 D4:2 C4:2 D4:1 E4:1 F4:2 A4:2 D5:3 C5:1 A4:4"
THEME_PAD = ["D3 A3 F4", "Bb2 F3 D4", "C3 G3 E4", "D3 A3 F4"]  # i - VI - VII - i


def theme(sr: int, rng, length: float = 24.0) -> np.ndarray:
    """The lighthouse theme: a slow D-minor air over a pad, 72 BPM, in a hall."""
    beat = 60 / 72
    out = np.zeros(int(length * sr))
    at = 0.0
    for note, beats in (n.split(":") for n in THEME_AIR.split()):
        length_s = int(beats) * beat
        place(
            out, tone(hz(note), length_s, sr, (1, 0.3, 0.1), attack=0.05, release=0.4), at, sr, 0.4
        )
        at += length_s
    for bar, chord in enumerate(THEME_PAD * 2):
        for note in chord.split():
            pad = tone(hz(note), 4 * beat, sr, (1, 0.15), attack=0.8, release=1.0)
            place(out, pad, bar * 4 * beat, sr, 0.12)
    return normalise(fade_tail(reverb(out, sr, rng), sr, 2.0))


def storm(sr: int, rng, length: float) -> np.ndarray:
    """Wind, rain and two distant thunder rolls: filtered noise under slow gusts."""
    n = int(length * sr)
    knots = rng.uniform(0.35, 1.0, int(length / 1.5) + 2)  # a new gust strength every 1.5 s
    gusts = np.interp(np.arange(n) / sr, np.arange(len(knots)) * 1.5, knots)
    out = band_noise(n, sr, 40, 700, rng) * gusts + 0.25 * band_noise(n, sr, 2500, 9000, rng)
    for at in (0.3 * length, 0.75 * length):
        t = seconds(min(4.0, length - at), sr)
        roll = band_noise(len(t), sr, 25, 160, rng) * np.minimum(1, t / 0.4) * np.exp(-t * 1.2)
        place(out, roll, at, sr, 1.2)
    return normalise(out, 0.7)


def whoosh(sr: int, rng, length: float = 1.2) -> np.ndarray:
    """Noise through a low-pass whose cutoff sweeps up and back: air rushing past the lens."""
    n = int(length * sr)
    noise = rng.standard_normal(n)
    shape = np.sin(np.pi * np.arange(n) / n) ** 2
    alpha = 1 - np.exp(-2 * np.pi * (300 + 5000 * shape) / sr)
    out, y = np.empty(n), 0.0
    for i in range(n):  # a one-pole filter whose coefficient changes every sample
        y += alpha[i] * (noise[i] - y)
        out[i] = y
    return normalise(out * shape)


def click(sr: int, rng) -> np.ndarray:
    """A watch crown pushed home: two bright metallic ticks 60 ms apart."""
    t = seconds(0.05, sr)
    tick = np.sin(2 * np.pi * 4200 * t) * np.exp(-t * 180)
    tick += 0.3 * np.sin(2 * np.pi * 7300 * t) * np.exp(-t * 260)
    out = np.zeros(int(0.3 * sr))
    place(out, tick, 0.01, sr)
    place(out, tick, 0.07, sr, 0.6)
    return normalise(out)


def hit(sr: int, rng) -> np.ndarray:
    """A cinematic impact for the music video's downbeats: a falling boom and a crack."""
    t = seconds(1.5, sr)
    boom = np.sin(2 * np.pi * np.cumsum(40 + 60 * np.exp(-t * 10)) / sr) * np.exp(-t * 3)
    crack = band_noise(len(t), sr, 800, 9000, rng) * np.exp(-t * 25)
    return normalise(boom + 0.5 * crack)


def alarm(sr: int, rng, length: float = 5.0) -> np.ndarray:
    """An old bank's alarm bell: a hammer striking an inharmonic bell 16 times a second."""
    t = seconds(length, sr)
    bell = sum(a * np.sin(2 * np.pi * 880 * r * t) for r, a in ((1, 1), (2.76, 0.5), (5.4, 0.25)))
    strikes = np.exp(-((t * 16) % 1) * 4)
    return normalise(bell * strikes * np.minimum(1, t / 0.02))


# =================================================================== video


def write_waves_mp4(path: Path, rng, size=(320, 180), fps=24, length=5.0) -> None:
    """A grey-green swell rolling towards the camera: a motion plate for the sea shots."""
    w, h = size
    horizon = int(0.3 * h)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    depth = np.maximum(yy - horizon, 1) / (h - horizon)  # 0 at the horizon, 1 at the lens
    sky = gradient(w, h, [(0, (150, 160, 170)), (0.3, (196, 200, 204)), (1, (196, 200, 204))])
    phase = rng.uniform(0, 2 * np.pi, 3)
    with av.open(str(path), "w", format="mp4") as box:
        stream = box.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        # x264's threads and its macroblock-tree rate control each make the bytes
        # vary from run to run; without them the plate is reproducible.
        params = "threads=1:lookahead-threads=1:mbtree=0"
        stream.options = {"crf": "30", "preset": "medium", "x264-params": params}
        stream.codec_context.time_base = Fraction(1, fps)
        for i in range(int(length * fps)):
            frame = sea_frame(i / fps, xx, yy, depth, horizon, sky, phase)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                box.mux(packet)
        for packet in stream.encode():
            box.mux(packet)


def sea_frame(t, xx, yy, depth, horizon, sky, phase) -> np.ndarray:
    k = 1 / (depth + 0.05)  # waves crowd together towards the horizon
    swell = np.sin(yy * 0.04 * k - t * 2.2 + phase[0] + np.sin(xx * 0.03 + phase[1]) * 0.8)
    swell += 0.4 * np.sin(xx * 0.05 * k + yy * 0.08 - t * 1.3 + phase[2])
    sea = np.array([40, 70, 76]) + np.array([30, 40, 40]) * depth[..., None] ** 0.5
    sea = sea + 22 * swell[..., None] + np.clip((swell - 1.1) * 3, 0, 1)[..., None] * 120  # foam
    img = np.where((yy < horizon)[..., None], sky, sea)
    return np.clip(img, 0, 255).astype(np.uint8)


# ==================================================================== sets

Builder = Callable[[Path, np.random.Generator], None]


def write_png(path: Path, img: Image.Image) -> None:
    img.save(path, format="PNG", optimize=True)


def write_audio(path: Path, data: np.ndarray, sr: int, subtype: str | None = None) -> None:
    fmt = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG"}[path.suffix]
    level = (
        0.8 if fmt == "OGG" else None
    )  # low Vorbis quality keeps a 30 s loop well under the limit
    sf.write(
        path, data.astype(np.float32), sr, subtype=subtype, format=fmt, compression_level=level
    )
    if fmt == "OGG":
        steady_ogg(path, zlib.crc32(path.name.encode()))


def steady_ogg(path: Path, serial: int) -> None:
    """Give every Ogg page the same stream serial number and a fresh checksum.

    libsndfile picks a random serial for each file it writes, the only thing
    that would make two runs differ; a fixed one makes Ogg files reproducible too.
    """
    data = bytearray(path.read_bytes())
    pos = 0
    while pos < len(data):
        if data[pos : pos + 4] != b"OggS":
            raise ValueError(f"{path}: no Ogg page at byte {pos}")
        segments = data[pos + 26]
        end = pos + 27 + segments + sum(data[pos + 27 : pos + 27 + segments])
        data[pos + 14 : pos + 18] = serial.to_bytes(4, "little")
        data[pos + 22 : pos + 26] = bytes(4)  # the checksum is computed with itself zeroed
        data[pos + 22 : pos + 26] = ogg_crc(data[pos:end]).to_bytes(4, "little")
        pos = end
    path.write_bytes(data)


def _ogg_crc_table() -> list[int]:
    table = []
    for byte in range(256):
        r = byte << 24
        for _ in range(8):
            r = (r << 1) ^ 0x04C11DB7 if r & 0x80000000 else r << 1
        table.append(r & 0xFFFFFFFF)
    return table


OGG_CRC = _ogg_crc_table()


def ogg_crc(page: bytes) -> int:
    """Ogg's page checksum: CRC-32, polynomial 0x04C11DB7, no reflection, no final xor."""
    crc = 0
    for byte in page:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ OGG_CRC[(crc >> 24) ^ byte]
    return crc


def image(paint: Callable, size: tuple[int, int]) -> Builder:
    return lambda path, rng: write_png(path, render(paint, size, rng))


def figure(name: str, view: str = "front") -> Builder:
    return image(paint_figure(CAST[name], view), (480, 640))


def location(paint: Callable) -> Builder:
    return image(paint, (960, 540))


def sound(make: Callable[[int, np.random.Generator], np.ndarray], sr=SR, subtype=None) -> Builder:
    return lambda path, rng: write_audio(path, make(sr, rng), sr, subtype)


def loop(g: Groove) -> Builder:
    return sound(lambda sr, rng: groove(g, sr, rng))


# Each loop's file name states its tempo; chords are (bass, pad notes...), one a bar.
PULSE = Groove(
    120,
    16,
    (
        ("A1", "A3", "C4", "E4"),
        ("F1", "F3", "A3", "C4"),
        ("C2", "G3", "C4", "E4"),
        ("G1", "G3", "B3", "D4"),
    ),
)
CHASE = Groove(
    140,
    14,
    (
        ("E1", "E3", "G3", "B3"),
        ("E1", "E3", "G3", "B3"),
        ("C2", "C3", "E3", "G3"),
        ("D2", "D3", "F#3", "A3"),
    ),
    kicks=(0, 1.5, 2, 2.75),
)
BED = Groove(
    90,
    12,
    (
        ("D2", "F#3", "A3", "D4"),
        ("B1", "D3", "F#3", "B3"),
        ("G1", "B2", "D3", "G3"),
        ("A1", "C#3", "E3", "A3"),
    ),
    kicks=(0, 2.5),
    snares=(),
    tail=0.0,
)
TENSION = Groove(100, 10, (("C2", "Eb3", "G3"), ("C2", "Eb3", "Ab3"), ("C2", "D3", "G3"),
                           ("B1", "D3", "F3")), kicks=(0,), snares=(), hats=False)  # fmt: skip

# Shared by the lighthouse example and the LANGUAGE.md fixture.
STORY = {
    "mara_front.png": figure("mara"),
    "mara_profile.png": figure("mara", "profile"),
    "lamp_room.png": location(paint_lamp_room),
    "lighthouse.png": location(paint_lighthouse),
    "storyboard_03.png": image(paint_storyboard, (960, 540)),
    "waves.mp4": write_waves_mp4,
    "theme.ogg": sound(theme),
}

SETS: dict[str, tuple[Path, dict[str, Builder]]] = {
    "examples": (HERE / "refs", {
        **STORY,
        "tom_front.png": figure("tom"),
        "tom_profile.png": figure("tom", "profile"),
        "storm_loop.ogg": sound(lambda sr, rng: storm(sr, rng, 30.0)),
        "juno_front.png": figure("juno"),
        "juno_profile.png": figure("juno", "profile"),
        "hale.png": figure("hale"),
        "market.png": location(paint_market),
        "rooftops.png": location(paint_rooftops),
        "chase_140bpm.ogg": loop(CHASE),
        "whoosh.flac": sound(whoosh),
        "lux_front.png": figure("lux"),
        "lux_profile.png": figure("lux", "profile"),
        "garage.png": location(paint_garage),
        "salt_flats.png": location(paint_salt_flats),
        "pulse_120bpm.ogg": loop(PULSE),
        "hit.flac": sound(hit),
        "nia_front.png": figure("nia"),
        "nia_profile.png": figure("nia", "profile"),
        "harbour.png": location(paint_harbour),
        "packshot.png": image(paint_packshot, (720, 720)),
        "bed_90bpm.ogg": loop(BED),
        "crown_click.flac": sound(click),
    }),
    # The heist's refs live in its own folder: an imported file's paths may not
    # leave the project root, which is the folder of heist.shot.
    "heist": (HERE / "heist" / "refs", {
        "viv_front.png": figure("viv"),
        "viv_profile.png": figure("viv", "profile"),
        "otto.png": figure("otto"),
        "guard.png": figure("guard"),
        "lobby.png": location(paint_lobby),
        "vault.png": location(paint_vault),
        "alley.png": location(paint_alley),
        "blueprint.png": image(paint_blueprint, (960, 540)),
        "tension_100bpm.ogg": loop(TENSION),
        "alarm.ogg": sound(alarm),
    }),
    # The files LANGUAGE.md's examples name, and the shared cast's lighthouse.
    # The WAV is 8-bit at 44.1 kHz: six seconds of 16-bit would not fit the limit.
    "language": (REPO / "tests" / "fixtures" / "language" / "refs", {
        **STORY,
        "tom.png": figure("tom"),
        "storm_loop.wav": sound(lambda sr, rng: storm(sr, rng, 6.0), 44_100, "PCM_U8"),
    }),
}  # fmt: skip


def build(name: str, out: Path, seed: int) -> list[tuple[Path, int]]:
    out.mkdir(parents=True, exist_ok=True)
    made = []
    for filename, builder in sorted(SETS[name][1].items()):
        # Each file draws from its own stream, so adding an asset changes no other.
        rng = np.random.default_rng([seed, zlib.crc32(filename.encode())])
        path = out / filename
        builder(path, rng)
        made.append((path, path.stat().st_size))
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", choices=[*SETS, "all"], default="all", dest="which")
    parser.add_argument(
        "--out", type=Path, help="write here instead (with --set all: a folder per set)"
    )
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args(argv)
    names = list(SETS) if args.which == "all" else [args.which]
    too_big = []
    for name in names:
        out = SETS[name][0]
        if args.out is not None:
            out = args.out / name if args.which == "all" else args.out
        for path, size in build(name, out, args.seed):
            print(f"{size:>8,}  {path}")
            if size > MAX_BYTES:
                too_big.append(path)
    for path in too_big:
        print(f"error: {path} is over {MAX_BYTES:,} bytes", file=sys.stderr)
    return 1 if too_big else 0


if __name__ == "__main__":
    raise SystemExit(main())
