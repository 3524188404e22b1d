"""Procedural training data for tinyfm: short clips with sound, and their captions.

A clip is a small stage seen through a camera: a **character** (a ball, an
egg, a block or a two-disc figure, filled with a primary colour and a pattern
of a second colour: stripes, checks or dots) standing on a **floor** (with
board seams) in front of a **wall** (plain and mottled, a gradient, bricks or
tiles).  The character may **bounce** (every floor contact makes a click on
the sound track, starting at the contact frame), **rest** while a light
**flashes** (every flash makes a tone starting at the flash frame), or just
rest; a steady ambience (a low hum or soft wind) may play under it all.  The
camera makes one of the language's moves over the whole clip (`CAMERA_MOVES`).
The caption says all of it in the language's words::

    WIDE. camera pans left. a red ball with white stripes at left bounces twice
    on a blue floor against a grey brick wall. a click on each bounce.

Geometry.  World units are frame heights, x right and y down from the frame
centre when the camera is at rest.  A layer point ``w`` appears on screen at
``s * (w + t) + shake`` (as in the animatic, `backends/animatic.py`): the
background and the character are two layers with their own ``s`` and ``t``,
so a dolly or an orbit shows parallax.  Camera convention (the viewer's
directions, "content" is what is in the picture):

===============  ==========================================================
move             what the picture does over the clip
===============  ==========================================================
static           nothing
pan left/right   content slides right/left, 25-40 % of the frame width
tilt up/down     content slides down/up, 20-30 % of the frame height
zoom in/out      everything scales about the frame centre by 1.3-1.5x (or
                 its inverse)
dolly in/out     the character scales by 1.35-1.5x, the background by the
                 fourth root of that (parallax)
orbit left/right the background slides left/right by 30-40 % of the width,
                 the character the other way by a third of that, and its
                 pattern turns with it
handheld         a sway of a few sines, 1.2-2.4 Hz, about 3 % of the frame
===============  ==========================================================

Every clip is framed so that the character stays inside the middle 90 % of a
square (or wider) frame in every frame, and its colours stay at least ΔE 25
(CIE76), and 48 levels in some channel, from every background colour (and so
do the blends of its two colours that a small picture shows), so the
measurements (`measure.py`) can find it.

Timing.  Events lie on a 1/12 s grid (`BASE_FPS`), at least two grid steps
from either end of the clip.  At any frame rate an event is shown at frame
``round(t * fps)`` and its sound starts at sample ``round(frame * rate / fps)``
- the frame the viewer sees it on.

Determinism.  A spec is drawn from a `numpy.random.Generator` and a clip is a
pure function of its spec and size: per-pixel work is only IEEE arithmetic
(+ - * / sqrt floor), and the few transcendental values (camera curves, sway,
tones) come from `math` one scalar at a time, so the bytes repeat on every
machine and run (numpy's SIMD sin/exp can differ in the last bit with memory
alignment).

Split.  ``split="eval"`` holds out whole combinations: a clip belongs to eval
when ``(5 * primary + 3 * pattern + move + 2 * secondary) % 7 == 0`` over the
indices of its primary colour, pattern, camera move and secondary colour.  So
every colour, pattern and move (and almost every pair of them) is seen in
training, but about one combination in seven of primary x secondary x pattern
x move never is.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

CAMERA_MOVES: tuple[str, ...] = (
    "static",
    "pan left",
    "pan right",
    "tilt up",
    "tilt down",
    "zoom in",
    "zoom out",
    "dolly in",
    "dolly out",
    "orbit left",
    "orbit right",
    "handheld",
)
MOVE_PHRASES = {  # the verbs of director/prompts.py's MOVE_VERBS
    "static": "holds still",
    "pan": "pans",
    "tilt": "tilts",
    "zoom": "zooms",
    "dolly": "dollies",
    "orbit": "orbits",
    "handheld": "moves handheld",
}
SIZES: dict[str, float] = {  # shot size -> character height, in frame heights
    "WIDE": 0.24,
    "FULL": 0.32,
    "MEDIUM": 0.40,
    "CLOSE-UP": 0.50,
}
SHAPES: dict[str, float] = {  # shape -> half width, in character heights
    "ball": 0.5,
    "egg": 0.36,
    "block": 0.42,
    "figure": 0.32,
}
PATTERNS: tuple[str, ...] = ("plain", "stripes", "checks", "dots")
BACKGROUNDS: dict[str, str] = {  # kind -> the wall, as the caption says it
    "plain": "a plain {} wall",
    "gradient": "a {} gradient wall",
    "bricks": "a {} brick wall",
    "tiles": "a {} tiled wall",
}
ACTIONS: tuple[str, ...] = ("bounce", "flash", "rest")
AMBIENCES: tuple[str, ...] = ("none", "hum", "wind")
BASE_FPS = 12  # event times lie on this grid

# Named colours (sRGB 0-255).  Characters use them as they are; walls and floors
# use the muted versions (BACKGROUND_COLOURS), named by the same words.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (205, 35, 40),
    "orange": (240, 135, 25),
    "yellow": (240, 215, 45),
    "green": (45, 165, 60),
    "cyan": (40, 190, 210),
    "blue": (35, 75, 205),
    "purple": (135, 55, 185),
    "pink": (245, 135, 190),
    "white": (245, 245, 240),
    "black": (25, 25, 30),
    "brown": (125, 75, 35),
}
CHARACTER_COLOURS: tuple[str, ...] = tuple(COLOURS)
BACKGROUND_COLOURS: dict[str, tuple[int, int, int]] = {
    "grey": (128, 128, 128),
    "blue": (70, 90, 140),
    "green": (80, 120, 80),
    "brown": (120, 95, 70),
    "teal": (60, 120, 120),
    "beige": (190, 175, 145),
    "purple": (100, 80, 125),
    "dark": (45, 45, 52),
}
NEUTRALS = ((205, 205, 205), (70, 70, 70))  # reference-image backgrounds: light, else dark
COUNT_WORDS = {1: "once", 2: "twice", 3: "three times", 4: "four times"}
MIN_CONTRAST = 25.0  # ΔE76 between every character colour and every background colour
MIN_RGB = 48  # ... and this many levels in at least one channel (what segmentation needs)
SAFE = 0.05  # the character keeps this far (frame heights) from every edge
FLASH_DECAY = (1.0, 0.5, 0.25)  # a flash's strength on its frame and the next two


@dataclass(frozen=True)
class Event:
    """A visible event with a sound: a floor contact ("bounce") or a light ("flash").

    `frame` is in the clip's frames; `x`, `y` (0..1, y down) is where on the
    screen it happens on that frame.
    """

    frame: int
    kind: str
    x: float
    y: float


@dataclass(frozen=True)
class ClipSpec:
    """Every choice that makes a clip; `render` turns it into frames and sound."""

    seed: int  # textures, noise and sway
    seconds: float
    size: str  # shot size: a key of SIZES
    shape: str
    primary: str  # a character colour
    secondary: str | None  # the pattern's colour; None when the pattern is "plain"
    pattern: str
    background: str  # a key of BACKGROUNDS
    wall: str  # background colour names
    wall2: str  # the gradient's top colour, the bricks' and tiles' grout
    floor: str
    camera: str  # one of CAMERA_MOVES
    amount: float  # the move's size: frame widths/heights of travel, or a scale factor
    position: float  # the character's resting x, world units
    action: str  # one of ACTIONS
    event_ticks: tuple[int, ...]  # event times in 1/BASE_FPS s
    period_ticks: int  # bounce period (0 unless bouncing)
    bounce_height: float  # apex height, in character heights
    flash_points: tuple[tuple[float, float], ...]  # screen (x, y) 0..1 of each flash
    ambience: str
    pitch: float  # the flash tone, Hz

    @property
    def event_times(self) -> tuple[float, ...]:
        return tuple(t / BASE_FPS for t in self.event_ticks)


@dataclass
class Clip:
    frames: np.ndarray  # (T, H, W, 3) uint8
    audio: np.ndarray  # (samples,) float32 in [-1, 1]
    fps: int
    sample_rate: int
    caption: str
    reference: np.ndarray  # (R, R, 3) uint8: the character alone on a neutral background
    camera: str
    events: tuple[Event, ...]
    spec: ClipSpec


# -- colours ------------------------------------------------------------------------------------


def _lab(rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    """sRGB (0-255) to CIE Lab (D65), with `math` only: used for sampling decisions."""

    def linear(c: float) -> float:
        c /= 255.0
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb)
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116

    fx, fy, fz = f(x), f(y), f(z)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def _delta_e76(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    return math.dist(_lab(a), _lab(b))


def _shade(rgb: tuple[int, int, int], k: float) -> tuple[int, int, int]:
    return tuple(int(min(255, max(0, round(c * k)))) for c in rgb)  # type: ignore[return-value]


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], k: float) -> tuple[int, int, int]:
    return tuple(round(x * (1 - k) + y * k) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


def background_palette(spec: ClipSpec) -> list[tuple[int, int, int]]:
    """Every colour the background may show (before a flash), for the contrast rule."""
    wall, wall2, floor = (BACKGROUND_COLOURS[n] for n in (spec.wall, spec.wall2, spec.floor))
    out = [wall, floor, _shade(wall, 1.12), _shade(wall, 0.88), _shade(floor, 0.7)]
    out += [_shade(floor, 1.1), _shade(floor, 0.9), _shade(floor, 0.75 * 0.9)]
    if spec.background != "plain":
        out += [wall2]
    if spec.background == "gradient":
        out += [_mix(wall, wall2, k) for k in (0.2, 0.4, 0.6, 0.8)]
    return out


def character_colours(spec: ClipSpec) -> list[tuple[int, int, int]]:
    """The character's colours: primary first, then the pattern's colour if any."""
    out = [COLOURS[spec.primary]]
    if spec.secondary is not None:
        out.append(COLOURS[spec.secondary])
    return out


# -- sampling -----------------------------------------------------------------------------------


def split_of(primary: str, secondary: str | None, pattern: str, camera: str) -> str:
    """ "eval" for the held-out combinations, else "train" (see the module docstring)."""
    ci = CHARACTER_COLOURS.index(primary)
    si = 0 if secondary is None else CHARACTER_COLOURS.index(secondary) + 1
    pi = PATTERNS.index(pattern)
    mi = CAMERA_MOVES.index(camera)
    return "eval" if (5 * ci + 3 * pi + mi + 2 * si) % 7 == 0 else "train"


Option = TypeVar("Option")


def _choice(rng: np.random.Generator, options: Iterable[Option]) -> Option:
    options = list(options)
    return options[int(rng.integers(len(options)))]


def sample_spec(
    rng: np.random.Generator,
    split: str = "train",
    seconds: float = 2.0,
    *,
    camera: str | None = None,
) -> ClipSpec:
    """Draw one clip's choices, in `split` ("train" or "eval"), `seconds` long.

    `camera` fixes the move (one of CAMERA_MOVES) instead of drawing it.
    """
    if split not in ("train", "eval"):
        raise ValueError(f"split must be 'train' or 'eval', not {split!r}")
    if camera is not None and camera not in CAMERA_MOVES:
        raise ValueError(f"unknown camera move {camera!r}; one of {', '.join(CAMERA_MOVES)}")
    ticks = int(math.floor(seconds * BASE_FPS + 1e-9))
    if ticks < 8:
        raise ValueError(f"a clip must last at least {8 / BASE_FPS:.3f}s, not {seconds}s")
    # The move first and kept, so that framing (which some moves make harder) does
    # not skew the moves' shares; then the character, then everything else (a few
    # hundred tries, else another character: some blends clash with every wall).
    if camera is None:
        camera = str(_choice(rng, CAMERA_MOVES))
    while True:
        primary = str(_choice(rng, CHARACTER_COLOURS))
        pattern = str(_choice(rng, PATTERNS))
        secondary = None
        if pattern != "plain":
            secondary = str(_choice(rng, CHARACTER_COLOURS))
            if _delta_e76(COLOURS[primary], COLOURS[secondary]) < 40:
                continue
        if split_of(primary, secondary, pattern, camera) != split:
            continue
        for _ in range(300):
            spec = _draw(rng, seconds, ticks, camera, primary, secondary, pattern)
            if spec is not None and _contrasted(spec) and _framed(spec):
                return spec


def _draw(
    rng: np.random.Generator,
    seconds: float,
    ticks: int,
    camera: str,
    primary: str,
    secondary: str | None,
    pattern: str,
) -> ClipSpec | None:
    background = str(_choice(rng, BACKGROUNDS))
    wall, wall2, floor = (str(_choice(rng, BACKGROUND_COLOURS)) for _ in range(3))
    if wall == floor or (background != "plain" and wall2 == wall):
        return None
    kind = camera.split()[0]
    amount = {
        "static": 0.0,
        "pan": float(rng.uniform(0.25, 0.40)),
        "tilt": float(rng.uniform(0.20, 0.30)),
        "zoom": float(rng.uniform(1.3, 1.5)),
        "dolly": float(rng.uniform(1.35, 1.5)),
        "orbit": float(rng.uniform(0.30, 0.40)),
        "handheld": 0.035,
    }[kind]
    action = str(_choice(rng, ACTIONS))
    event_ticks: tuple[int, ...] = ()
    period = 0
    flash_points: tuple[tuple[float, float], ...] = ()
    if action == "bounce":
        period = int(rng.integers(6, 12))
        first = int(rng.integers(2, period))
        event_ticks = tuple(range(first, ticks - 1, period))
        # every contact inside the clip is an event, and none is closer than 2 ticks to its end
        if not event_ticks or event_ticks[-1] > ticks - 2 or event_ticks[-1] + period < ticks:
            return None
        if len(event_ticks) > 4:
            return None
    elif action == "flash":
        count = int(rng.integers(1, 3))
        event_ticks = tuple(sorted(int(t) for t in rng.choice(range(2, ticks - 3), count, False)))
        if count == 2 and event_ticks[1] - event_ticks[0] < 6:
            return None
        flash_points = tuple(
            (float(rng.uniform(0.25, 0.75)), float(rng.uniform(0.12, 0.3))) for _ in range(count)
        )
    return ClipSpec(
        seed=int(rng.integers(2**31)),
        seconds=float(seconds),
        size=str(_choice(rng, SIZES)),
        shape=str(_choice(rng, SHAPES)),
        primary=primary,
        secondary=secondary,
        pattern=pattern,
        background=background,
        wall=wall,
        wall2=wall2,
        floor=floor,
        camera=camera,
        amount=amount,
        position=float(rng.uniform(-0.3, 0.3)),
        action=action,
        event_ticks=event_ticks,
        period_ticks=period,
        bounce_height=float(rng.uniform(0.5, 0.9)) if action == "bounce" else 0.0,
        flash_points=flash_points,
        ambience=str(_choice(rng, AMBIENCES)),
        pitch=float(_choice(rng, (523.25, 659.25, 783.99, 880.0))),
    )


def _contrasted(spec: ClipSpec) -> bool:
    """Every character colour, and the blends of the two that a small picture shows, against
    every background colour."""
    colours = character_colours(spec)
    if len(colours) == 2:
        colours += [_mix(colours[0], colours[1], k) for k in (0.3, 0.5)]
    return all(
        _delta_e76(c, b) >= MIN_CONTRAST
        and max(abs(x - y) for x, y in zip(c, b, strict=True)) >= MIN_RGB
        for c in colours
        for b in background_palette(spec)
    )


def _framed(spec: ClipSpec) -> bool:
    """Whether the character stays SAFE inside a square frame in every frame (at 24 fps)."""
    fps = 24
    n = max(2, round(spec.seconds * fps))
    poses = camera_poses(spec, n, fps)
    h = SIZES[spec.size]
    half_w = SHAPES[spec.shape] * h * 1.25  # squashed at a contact
    lift = _lift(spec, n, fps) * h
    s, tx, ty = poses.char[:, 0], poses.char[:, 1], poses.char[:, 2]
    left = s * (spec.position - half_w + tx) + poses.shake[:, 0]
    right = s * (spec.position + half_w + tx) + poses.shake[:, 0]
    top = s * (FLOOR - h - lift + ty) + poses.shake[:, 1]
    bottom = s * (FLOOR + ty) + poses.shake[:, 1]
    limit = 0.5 - SAFE
    return bool(
        (left >= -limit).all()
        and (right <= limit).all()
        and (top >= -limit).all()
        and (bottom <= limit).all()
    )


def caption_for(spec: ClipSpec) -> str:
    """The clip's caption, in the language's words (shot size, camera move, who, what, sound)."""
    kind, _, direction = spec.camera.partition(" ")
    move = MOVE_PHRASES[kind] + (f" {direction}" if direction else "")
    article = "an" if spec.primary[0] in "aeiou" else "a"
    who = f"{article} {spec.primary} {spec.shape}"
    if spec.pattern != "plain":
        who += f" with {spec.secondary} {spec.pattern}"
    where = "at left" if spec.position < -0.08 else "at right" if spec.position > 0.08 else ""
    if where:
        who += f" {where}"
    n = len(spec.event_ticks)
    verb = f"bounces {COUNT_WORDS[n]}" if spec.action == "bounce" else "rests"
    wall = BACKGROUNDS[spec.background].format(
        spec.wall if spec.background != "gradient" else f"{spec.wall2} and {spec.wall}"
    )
    parts = [f"{spec.size}.", f"camera {move}.", f"{who} {verb} on a {spec.floor} floor"]
    parts[-1] += f" against {wall}."
    if spec.action == "flash":
        parts.append(f"a light flashes {COUNT_WORDS[n]}.")
    if spec.action == "bounce":
        parts.append("a click on each bounce.")
    elif spec.action == "flash":
        parts.append("a tone with each flash.")
    if spec.ambience == "hum":
        parts.append("a low hum.")
    elif spec.ambience == "wind":
        parts.append("soft wind.")
    if spec.action == "rest" and spec.ambience == "none":
        parts.append("silence.")
    return " ".join(parts)


# -- the camera ---------------------------------------------------------------------------------

FLOOR = 0.22  # the floor line, world y
DOLLY_PLATE_SHARE = 1 / 4  # the background's share of a dolly's (log) scale change
ORBIT_CHARACTER_SHARE = 1 / 3  # the character's travel against the background's, in an orbit


@dataclass(frozen=True)
class Poses:
    """Per frame: background and character (s, tx, ty), screen shake (x, y), pattern turn."""

    back: np.ndarray  # (T, 3)
    char: np.ndarray  # (T, 3)
    shake: np.ndarray  # (T, 2)
    turn: np.ndarray  # (T,) the pattern's sideways slide, character heights


def camera_poses(spec: ClipSpec, frames: int, fps: float) -> Poses:
    """Every layer's pose in every frame: the camera move, linear over the clip."""
    n = frames
    p = [f / (n - 1) if n > 1 else 0.0 for f in range(n)]
    back = [[1.0, 0.0, 0.0] for _ in range(n)]
    char = [[1.0, 0.0, 0.0] for _ in range(n)]
    shake = [[0.0, 0.0] for _ in range(n)]
    turn = [0.0] * n
    kind, _, direction = spec.camera.partition(" ")
    for f, e in enumerate(p):
        if kind == "pan":  # pan left: content moves right
            d = (1 if direction == "left" else -1) * spec.amount * e
            back[f][1] = char[f][1] = d
        elif kind == "tilt":  # tilt up: content moves down
            d = (1 if direction == "up" else -1) * spec.amount * e
            back[f][2] = char[f][2] = d
        elif kind == "zoom":
            s = math.exp((1 if direction == "in" else -1) * math.log(spec.amount) * e)
            back[f][0] = char[f][0] = s
        elif kind == "dolly":
            g = (1 if direction == "in" else -1) * math.log(spec.amount) * e
            char[f][0] = math.exp(g)
            back[f][0] = math.exp(g * DOLLY_PLATE_SHARE)
        elif kind == "orbit":  # orbit left: the background slides left, the character right
            d = (1 if direction == "left" else -1) * spec.amount * e
            back[f][1] = -d
            char[f][1] = d * ORBIT_CHARACTER_SHARE
            turn[f] = -d * 1.5
    if kind == "handheld":
        rng = np.random.default_rng([spec.seed, 0x5A11])
        waves = [
            [(float(rng.uniform(1.2, 2.4)), float(rng.uniform(0, 2 * math.pi))) for _ in range(2)]
            for _axis in range(2)
        ]
        for f in range(n):
            t = f / fps
            for axis in range(2):
                shake[f][axis] = (
                    spec.amount
                    * 0.5
                    * sum(math.sin(2 * math.pi * fr * t + ph) for fr, ph in waves[axis])
                )
    return Poses(np.array(back), np.array(char), np.array(shake), np.array(turn))


def camera_path(spec: ClipSpec, frames: int, fps: float) -> np.ndarray:
    """(T, 3) per frame: the background's log scale and its shift (x right, y down, in
    frame heights, the shake included): what `latent.encode_video_path` keeps."""
    poses = camera_poses(spec, frames, fps)
    return np.stack(
        [np.log(poses.back[:, 0]), poses.back[:, 1] + poses.shake[:, 0],
         poses.back[:, 2] + poses.shake[:, 1]],
        axis=1,
    ).astype(np.float32)  # fmt: skip


def _lift(spec: ClipSpec, frames: int, fps: float) -> np.ndarray:
    """The character's height above the floor per frame, in character heights."""
    if spec.action != "bounce":
        return np.zeros(frames)
    period = spec.period_ticks / BASE_FPS
    first = spec.event_ticks[0] / BASE_FPS
    out = np.empty(frames)
    for f in range(frames):
        q = ((f / fps - first) / period) % 1.0
        out[f] = spec.bounce_height * 4 * q * (1 - q)
    return out


def _squash(spec: ClipSpec, frames: int, fps: float) -> np.ndarray:
    """How squashed the character is per frame (0.2 on a contact frame, fading over 1.5 ticks)."""
    out = np.zeros(frames)
    if spec.action != "bounce":
        return out
    for f in range(frames):
        t = f / fps
        near = min(abs(t - c) for c in _contact_times(spec))
        out[f] = 0.2 * max(0.0, 1.0 - near * BASE_FPS / 1.5)
    return out


def _contact_times(spec: ClipSpec) -> list[float]:
    period = spec.period_ticks
    first = spec.event_ticks[0] - period  # one before and one after, for the squash's fade
    return [t / BASE_FPS for t in range(first, spec.event_ticks[-1] + 2 * period, period)]


# -- textures -----------------------------------------------------------------------------------


def _grid(n: int, side: float = 1.0) -> np.ndarray:
    """Pixel centres along one axis, in frame heights from the centre (`side` = extent/height)."""
    return ((np.arange(n, dtype=np.float64) + 0.5) / n - 0.5) * side


def _edge(d: np.ndarray, width: np.ndarray | float) -> np.ndarray:
    """Coverage of the inside (d < 0) of an edge, anti-aliased over `width`."""
    return np.clip(0.5 - d / width, 0.0, 1.0)


def _tri(x: np.ndarray) -> np.ndarray:
    """Distance from x to the nearest integer (a triangle wave, 0..0.5)."""
    return np.abs(x - np.floor(x + 0.5))


def _noise1(rng: np.random.Generator, x: np.ndarray, cell: float) -> np.ndarray:
    """Smooth 1-D value noise in [-1, 1] on a lattice `cell` apart (arithmetic only)."""
    lattice = rng.uniform(-1.0, 1.0, 256)
    g = x / cell
    i = np.floor(g)
    f = g - i
    f = f * f * (3 - 2 * f)
    i = i.astype(np.int64) % 256
    return lattice[i] * (1 - f) + lattice[(i + 1) % 256] * f


def _mottle(rng: np.random.Generator, u: np.ndarray, v: np.ndarray, cell: float) -> np.ndarray:
    """Smooth 2-D noise, about -1..1, as a sum of products of 1-D noises (cheap: separable)."""
    out = np.zeros(np.broadcast_shapes(u.shape, v.shape))
    for _ in range(2):
        out = out + _noise1(rng, u, cell) * _noise1(rng, v, cell)
    return out


def _rgb(name_or_rgb, table=None) -> np.ndarray:
    rgb = (table or {}).get(name_or_rgb, name_or_rgb)
    return np.asarray(rgb, dtype=np.float64) / 255.0


def _background(spec: ClipSpec, u: np.ndarray, v: np.ndarray, px: np.ndarray) -> np.ndarray:
    """The background's colour at world points (u, v), anti-aliased over pixel size `px`.

    `u`, `v` and `px` broadcast to (T, H, W); the result is (T, H, W, 3) in 0..1.
    """
    rng = np.random.default_rng([spec.seed, 0xBAC])
    wall = _rgb(spec.wall, BACKGROUND_COLOURS)
    wall2 = _rgb(spec.wall2, BACKGROUND_COLOURS)
    floor = _rgb(spec.floor, BACKGROUND_COLOURS)
    # two octaves of mottle, so every wall has texture a camera move can be seen by
    mottle = np.clip(_mottle(rng, u, v, 0.12) + 0.7 * _mottle(rng, u, v, 0.05), -1.0, 1.0)
    if spec.background == "gradient":
        k = np.clip((v + 0.8) / (FLOOR + 0.8), 0.0, 1.0)[..., None]
        paint = wall2 * (1 - k) + wall * k
    else:
        paint = np.broadcast_to(wall, np.broadcast_shapes(u.shape, v.shape) + (3,))
    shade = 1.0 + 0.12 * mottle
    if spec.background in ("bricks", "tiles"):
        bw, bh = (0.2, 0.09) if spec.background == "bricks" else (0.14, 0.14)
        row = np.floor(v / bh)
        offset = (row % 2) * 0.5 if spec.background == "bricks" else 0.0
        col = np.floor(u / bw + offset)
        tone = rng.uniform(0.9, 1.1, 97)[((row * 31 + col * 7) % 97).astype(np.int64)]
        shade = shade * 0.5 + 0.5 * tone
        seam = np.minimum(_tri(u / bw + offset) * bw, _tri(v / bh) * bh)
        grout = _edge(seam - 0.008, px)[..., None]
        paint = paint * (1 - grout) + wall2 * grout
    colour = paint * shade[..., None]
    # the floor: boards with dark seams, a darker line where it meets the wall
    # boards of uneven widths (a repeating floor would let a pan alias)
    seams = np.cumsum(rng.uniform(0.1, 0.3, 80)) - 12.0
    board = np.clip(np.searchsorted(seams, u), 1, len(seams) - 1)
    seam = np.minimum(u - seams[board - 1], seams[board] - u)
    boards = 1.0 + 0.1 * rng.uniform(-1, 1, len(seams))[board]
    fcol = floor * (boards + 0.04 * _noise1(rng, v, 0.05))[..., None]
    fcol = fcol * (1 - 0.3 * _edge(seam - 0.006, px))[..., None]
    on_floor = _edge(FLOOR - v, px)[..., None]
    line = _edge(np.abs(v - FLOOR) - 0.006, px)[..., None]
    colour = colour * (1 - on_floor) + fcol * on_floor
    return colour * (1 - 0.3 * line)


def _body(shape: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Signed distance to the character's outline, in character heights (bottom at y=0, y down)."""
    if shape == "ball":
        return np.sqrt(x * x + (y + 0.5) ** 2) - 0.5
    if shape == "egg":
        rx, ry = SHAPES["egg"], 0.5
        k = np.sqrt((x / rx) ** 2 + ((y + 0.5) / ry) ** 2)
        return (k - 1.0) * rx
    if shape == "block":
        hx, hy, r = SHAPES["block"], 0.5, 0.14
        qx = np.abs(x) - hx + r
        qy = np.abs(y + 0.5) - hy + r
        outside = np.sqrt(np.maximum(qx, 0) ** 2 + np.maximum(qy, 0) ** 2)
        return outside + np.minimum(np.maximum(qx, qy), 0.0) - r
    if shape == "figure":
        body = np.sqrt(x * x + (y + 0.32) ** 2) - 0.32
        head = np.sqrt(x * x + (y + 0.82) ** 2) - 0.18
        return np.minimum(body, head)
    raise ValueError(f"unknown shape {shape!r}")


def _pattern(pattern: str, x: np.ndarray, y: np.ndarray, px: np.ndarray) -> np.ndarray:
    """The share of the pattern's (secondary) colour at local points, anti-aliased."""
    if pattern == "plain":
        return np.zeros(np.broadcast_shapes(x.shape, y.shape))
    if pattern == "stripes":  # horizontal bands, a third of each 0.24 period
        return _edge(_tri(y / 0.24) * 0.24 - 0.04, px)
    if pattern == "checks":
        p = 0.2
        a = np.clip((_tri(x / (2 * p)) * 2 * p - p / 2) / px, -0.5, 0.5)
        b = np.clip((_tri(y / (2 * p)) * 2 * p - p / 2) / px, -0.5, 0.5)
        return 0.5 + 2 * a * b
    if pattern == "dots":
        p = 0.22
        row = np.floor(y / p + 0.5)
        dx = _tri(x / p + 0.5 * (row % 2)) * p
        dy = _tri(y / p) * p
        return _edge(np.sqrt(dx * dx + dy * dy) - 0.065, px)
    raise ValueError(f"unknown pattern {pattern!r}")


def _character(spec: ClipSpec, x: np.ndarray, y: np.ndarray, px: np.ndarray, turn):
    """(coverage, colour) of the character at local points (character heights, bottom centre)."""
    alpha = _edge(_body(spec.shape, x, y), px)
    primary = _rgb(COLOURS[spec.primary])
    if spec.secondary is None:
        return alpha, np.broadcast_to(primary, alpha.shape + (3,))
    share = _pattern(spec.pattern, x + turn, y, px)[..., None]
    secondary = _rgb(COLOURS[spec.secondary])
    return alpha, primary * (1 - share) + secondary * share


# -- sound --------------------------------------------------------------------------------------


def _sines(freq: float, n: int, rate: int, phase: float = 0.0) -> np.ndarray:
    step = 2 * math.pi * freq / rate
    return np.array([math.sin(phase + step * k) for k in range(n)])


def _audio(spec: ClipSpec, frames: int, fps: int, rate: int) -> np.ndarray:
    n = round(frames * rate / fps)
    out = np.zeros(n)
    rng = np.random.default_rng([spec.seed, 0xA0D])
    fade = np.minimum(1.0, np.arange(n) / (0.3 * rate))
    if spec.ambience == "hum":
        base = _sines(110.0, min(n, rate), rate)  # one second, repeated (110 Hz fits exactly)
        hum = np.resize(base, n) + 0.5 * np.resize(_sines(220.0, min(n, rate), rate), n)
        out += 0.04 * hum * fade
    elif spec.ambience == "wind":
        noise = rng.standard_normal(n + 24)
        smooth = np.cumsum(noise)
        low = (smooth[24:] - smooth[:-24]) / 24
        swell = 0.7 + 0.3 * _sines(0.4, n, rate, float(rng.uniform(0, 6.28)))
        out += 0.12 * low * swell * fade
    for event in _events(spec, frames, fps):
        start = round(event.frame * rate / fps)
        if event.kind == "bounce":
            length = round(0.012 * rate)
            env = (1 - np.arange(length) / length) ** 3
            burst = rng.uniform(-1, 1, length) * 0.6 + 0.4 * _sines(2200.0, length, rate)
            sound = 0.7 * env * burst
        else:
            length = round(0.25 * rate)
            k = np.arange(length)
            env = np.minimum(1.0, k / (0.003 * rate)) * (1 - k / length) ** 2
            sound = (
                0.45
                * env
                * (_sines(spec.pitch, length, rate) + 0.3 * _sines(2 * spec.pitch, length, rate))
            )
        end = min(n, start + len(sound))
        out[start:end] += sound[: end - start]
    return np.clip(out, -1.0, 1.0).astype(np.float32)


# -- rendering ----------------------------------------------------------------------------------


def _events(spec: ClipSpec, frames: int, fps: float, aspect: float = 1.0) -> tuple[Event, ...]:
    """The spec's events at `fps`; x, y are fractions of a frame `aspect` times as wide as high."""
    poses = camera_poses(spec, frames, fps)
    out = []
    for i, tick in enumerate(spec.event_ticks):
        frame = round(tick * fps / BASE_FPS)
        if frame >= frames:
            continue
        if spec.action == "bounce":  # the contact point, on the screen (square frame units)
            s, tx, ty = poses.char[frame]
            x = s * (spec.position + tx) + poses.shake[frame, 0]
            y = s * (FLOOR + ty) + poses.shake[frame, 1]
            out.append(Event(frame, "bounce", float(x / aspect + 0.5), float(y + 0.5)))
        else:
            fx, fy = spec.flash_points[i]
            out.append(Event(frame, "flash", fx, fy))
    return tuple(out)


def _flash_strength(spec: ClipSpec, frames: int, fps: float) -> list[list[tuple]]:
    per_frame: list[list[tuple]] = [[] for _ in range(frames)]
    for event in _events(spec, frames, fps):
        if event.kind != "flash":
            continue
        for k, strength in enumerate(FLASH_DECAY):
            if event.frame + k < frames:
                per_frame[event.frame + k].append((strength, event.x, event.y))
    return per_frame


def render_frames(spec: ClipSpec, size: tuple[int, int], fps: float) -> np.ndarray:
    """The clip's pictures, (T, H, W, 3) uint8, `size` = (height, width)."""
    picture, _ = _layers(spec, size, fps)
    return np.floor(np.clip(picture, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def character_coverage(spec: ClipSpec, size: tuple[int, int], fps: float) -> np.ndarray:
    """How much of each pixel the character covers, (T, H, W) in 0..1: ground truth for tests."""
    return _layers(spec, size, fps)[1]


@dataclass(frozen=True)
class Layers:
    """What a clip's pictures are made of, per frame: the background alone, the
    shadow's darkening, the character's coverage and colour, and the flashes' glow
    (strength and tint per pixel)."""

    background: np.ndarray  # (T, H, W, 3) floats, about 0..1
    shadow: np.ndarray  # (T, H, W) the share of light the shadow takes
    alpha: np.ndarray  # (T, H, W) the character's coverage
    colour: np.ndarray  # (T, H, W, 3) the character's colour where it covers

    def composed(self, spec: ClipSpec, fps: float) -> np.ndarray:
        picture = self.background * (1 - self.shadow)[..., None]
        a = self.alpha[..., None]
        picture = picture * (1 - a) + self.colour * a
        _, height, width, _ = picture.shape
        xs, ys = _grid(width, width / height)[None, :], _grid(height)[:, None]
        for f, glows in enumerate(_flash_strength(spec, len(picture), fps)):
            for strength, fx, fy in glows:
                glow = flash_glow(strength, xs - (fx - 0.5) * width / height, ys - (fy - 0.5))
                picture[f] = picture[f] + (1 - picture[f]) * glow[..., None] * FLASH_TINT
        return picture


FLASH_TINT = np.array([1, 0.97, 0.85])  # a flash's light, per channel


def flash_glow(strength, dx, dy):
    """A flash's light at (dx, dy) frame heights from its point: a glow round the
    point and a lift of the whole frame.  Plain arithmetic, for numpy arrays and
    torch tensors alike (the sprite latent draws flashes with it); a picture p in
    0..1 becomes p + (1 - p) * glow * FLASH_TINT."""
    return strength * (0.25 + 0.75 / (1 + (dx * dx + dy * dy) / 0.02))


def flash_track(spec: ClipSpec, frames: int, fps: float, aspect: float = 1.0) -> np.ndarray:
    """(T, 3) per frame: the flashes' strength (summed over the flashes lighting the
    frame) and their point, x and y in frame heights from the centre (weighted by
    strength; 0, 0 in a frame with no flash)."""
    out = np.zeros((frames, 3), dtype=np.float32)
    for f, glows in enumerate(_flash_strength(spec, frames, fps)):
        if glows:
            weights = np.array([g[0] for g in glows])
            points = np.array([((g[1] - 0.5) * aspect, g[2] - 0.5) for g in glows])
            out[f] = (weights.sum(), *(weights @ points / weights.sum()))
    return out


def _layers(spec: ClipSpec, size: tuple[int, int], fps: float) -> tuple[np.ndarray, np.ndarray]:
    """The pictures as floats (T, H, W, 3) in about 0..1, and the character's coverage."""
    layers = clip_layers(spec, size, fps)
    return layers.composed(spec, fps), layers.alpha


def clip_layers(spec: ClipSpec, size: tuple[int, int], fps: float, frames: int | None = None):
    """The clip's `Layers` at `size` (height, width), for its first `frames` frames."""
    height, width = size
    count = max(1, round(spec.seconds * fps))
    poses = camera_poses(spec, count, fps)
    keep = slice(0, count if frames is None else frames)
    aspect = width / height
    xs = _grid(width, aspect)[None, None, :]  # (1, 1, W)
    ys = _grid(height)[None, :, None]  # (1, H, 1)
    col = lambda a: a[keep][:, None, None]  # noqa: E731  per-frame values over (T, 1, 1)
    sx, sy = col(poses.shake[:, 0]), col(poses.shake[:, 1])
    bs, btx, bty = (col(poses.back[:, i]) for i in range(3))
    u = (xs - sx) / bs - btx
    v = (ys - sy) / bs - bty
    background = _background(spec, u, v, 1.0 / (height * bs))
    # the character layer: its shadow on the floor, then the body
    h = SIZES[spec.size]
    cs, ctx, cty = (col(poses.char[:, i]) for i in range(3))
    lift = col(_lift(spec, count, fps))
    squash = col(_squash(spec, count, fps))
    px = 1.0 / (height * cs * h)
    lx = ((xs - sx) / cs - ctx - spec.position) / h
    ly = ((ys - sy) / cs - cty - FLOOR) / h
    shadow_r = SHAPES[spec.shape] * 1.1 * (1 - 0.3 * lift)
    shadow = _edge(np.sqrt((lx / shadow_r) ** 2 + (ly / 0.08) ** 2) - 1.0, px / 0.08)
    bx = lx / (1 + squash)
    by = (ly + lift) * (1 + squash)
    alpha, colour = _character(spec, bx, by, px, col(poses.turn))
    return Layers(background, (0.35 * (1 - 0.5 * lift)) * shadow, alpha, colour)


def character_track(spec: ClipSpec, frames: int, fps: float, lifted: bool = True) -> np.ndarray:
    """(T, 3) per frame: the log of the character's height on the screen, and where
    its foot (the middle of its lowest point, lifted with it in a bounce unless not
    `lifted`) is on the screen, x and y in frame heights from the centre (x right,
    y down)."""
    poses = camera_poses(spec, frames, fps)
    scale = poses.char[:, 0]
    height = SIZES[spec.size] * scale
    lift = _lift(spec, frames, fps) * SIZES[spec.size] * lifted
    x = poses.shake[:, 0] + scale * (poses.char[:, 1] + spec.position)
    y = poses.shake[:, 1] + scale * (poses.char[:, 2] + FLOOR - lift)
    return np.stack([np.log(height), x, y], axis=1).astype(np.float32)


def sound_onsets(clip: Clip) -> list[float]:
    """When (s) the clip's clicks and tones start: the first sample of each."""
    return [round(e.frame * clip.sample_rate / clip.fps) / clip.sample_rate for e in clip.events]


def contact_frames(spec: ClipSpec, frames: int, fps: float) -> list[int]:
    """The frames on which a bouncing character touches the floor."""
    return [e.frame for e in _events(spec, frames, fps) if e.kind == "bounce"]


def reference_image(spec: ClipSpec, side: int = 64) -> np.ndarray:
    """The character alone, 80 % of the picture's height, on a neutral background: (R, R, 3)."""
    neutral = max(NEUTRALS, key=lambda n: min(_delta_e76(n, c) for c in character_colours(spec)))
    xs = _grid(side)[None, :]
    ys = _grid(side)[:, None]
    h = 0.8
    px = np.full((1, 1), 1.0 / (side * h))
    lx = xs / h
    ly = (ys - 0.4) / h
    alpha, colour = _character(spec, lx, ly, px, 0.0)
    a = alpha[..., None]
    picture = _rgb(neutral) * (1 - a) + colour * a
    return np.floor(np.clip(picture, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def render(
    spec: ClipSpec, size: tuple[int, int] = (64, 64), fps: int = 12, sample_rate: int = 16000
) -> Clip:
    """Render a spec: frames at `size` (height, width) and `fps`, sound at `sample_rate`."""
    frames = render_frames(spec, size, fps)
    return Clip(
        frames=frames,
        audio=_audio(spec, len(frames), fps, sample_rate),
        fps=fps,
        sample_rate=sample_rate,
        caption=caption_for(spec),
        reference=reference_image(spec, min(size)),
        camera=spec.camera,
        events=_events(spec, len(frames), fps, size[1] / size[0]),
        spec=spec,
    )


def clips(
    n: int,
    seed: int,
    split: str = "train",
    size: tuple[int, int] = (64, 64),
    seconds: float = 2.0,
    fps: int = 12,
    sample_rate: int = 16000,
) -> Iterator[Clip]:
    """`n` clips of `split`, the same for the same arguments (train and eval streams differ)."""
    rng = np.random.default_rng([seed, 0 if split == "train" else 1])
    for _ in range(n):
        yield render(sample_spec(rng, split, seconds), size, fps, sample_rate)
