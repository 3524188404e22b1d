"""The animatic renderer behind the `preview` backend: layers, a camera, burn-in.

A shot is drawn as a small stack of flat layers, like a rostrum camera over
cut-outs:

- the **plate**: the pinned first frame, or the previous shot's last frame for
  a `continuous` shot (the shot opens on exactly that picture), or else the
  location's reference image, the shot's own image reference, the first
  frame of its reference video, scaled to cover the frame; with no image at
  all, a dark backdrop with a faint grid and, fixed to the screen, a card with
  the shot id, size and action text;
- the **characters**: each character's first reference image as a cut-out
  (its own transparency, a keyed plain background, or else the picture on a
  rounded card), with a soft shadow, spread across the frame and sized by the
  shot size; a character with no reference image is a labelled silhouette.
  A CLOSE-UP or EXTREME CLOSE-UP on one character fills the frame with it;
- screen-fixed on top: subtitles (when the request carries dialogue) and
  the burn-in (shot id top left, shot-relative timecode bottom right).

The camera moves the layers with real image transforms, so pans, zooms and
parallax read as they will in the film.  A layer that never changes size is
drawn pixel for pixel (a move is a crop).  A plate that changes size is
prepared at twice the density it is shown at, sampled (nearest neighbour) at
twice the output size and box-reduced: anti-aliased, placed to half a pixel,
and cheap.  A cut-out that changes size is drawn from the nearest of a few
copies MIP_STEP apart.  docs/preview.md has the details and the speed.

Camera convention (screen directions are the viewer's; "content" is what is
in the picture):

=====================  ====================================================
move                   what the picture does
=====================  ====================================================
``static``             nothing
``pan left``           the camera turns left: content moves RIGHT (all
                       layers alike, no parallax); ``pan right``: moves left
``tilt up``            content moves DOWN; ``tilt down``: moves up
``zoom in``            everything scales up about the frame centre;
                       ``zoom out`` scales down
``dolly in``           everything grows, the characters faster than the
                       plate (parallax); ``dolly out`` shrinks
``truck left``         content moves RIGHT, the characters more than the
                       plate (parallax); ``truck right``: moves left
``pedestal up``        content moves DOWN, characters more than the plate;
                       ``crane`` is the same, half as large again
``orbit left``         the camera circles left round the subject: the plate
                       slides left, the characters slightly right;
                       ``orbit right`` the reverse
``track NAME``         NAME glides to, then stays at, the frame centre while
                       the plate drifts left (the subject travels right;
                       ``track NAME left`` travels left) and the other
                       characters drift faster
``handheld``           smooth, deterministic sway from the shot's seed
=====================  ====================================================

Amounts: 60° of pan or tilt moves the picture one frame width.  Defaults
when a move gives none: pan 30°, tilt 20°, orbit 45°, zoom and dolly 1.3×.
A truck moves the characters a quarter of the frame width (the plate 8 %),
a pedestal a fifth of the frame height (the plate 7 %); a factor (``2x``)
scales either.  ``slow`` halves the amount, ``fast`` doubles it (for zoom
and dolly, the factor is square-rooted or squared).  Each move runs during
its frames ``[start, start + frames)``, eased ``in``, ``out`` or ``in-out``
by sine curves (linear without), and holds its end state afterwards; moves
add up, so ``then``-chained moves play one after another.

Everything is a pure function of the request: the same request gives the
same frames, byte for byte.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from director.clips import frame_to_rgb
from director.spec import CameraMove

from .base import CharacterRefs, Placement, ShotRequest
from .typeface import Typeface

log = logging.getLogger(__name__)

SUPERSAMPLE = 2  # a layer that changes scale is sampled at this multiple, then reduced
MAX_LAYER_PIXELS = 24_000_000  # a prepared layer never holds more than this
MAX_OVERSCAN = 2.0  # past this, a plate is extended by mirroring rather than enlarged
DEGREES_PER_WIDTH = 60.0
DEFAULT_DEGREES = {"pan": 30.0, "tilt": 20.0, "orbit": 45.0}
DEFAULT_FACTOR = {"zoom": 1.3, "dolly": 1.3}
SPEED = {None: 1.0, "slow": 0.5, "fast": 2.0}
DOLLY_PLATE_SHARE = 0.35  # the plate's share of a dolly's (log) scale change
TRUCK = (0.25, 0.08)  # (characters, plate) travel, in frame widths
PEDESTAL = (0.20, 0.07)  # (characters, plate) travel, in frame heights
CRANE = 1.5  # a crane is a larger pedestal
ORBIT = (0.12, 0.5)  # (characters, plate) travel per 90°, in frame widths (opposite ways)
TRACK = (0.6, 0.3)  # (other characters, plate) drift, in frame widths
HANDHELD = (0.012, 0.009)  # sway amplitude (x, y) in frame widths
KEYFRAME_FADE_SECONDS = 0.5
FIGURE_SIDE = 2048  # character pictures are cut out at most this large
MIP_STEP = 2 ** (1 / 6)  # a scaling cut-out is drawn from the copy nearest its size

# A character's height as a fraction of the frame's, by shot size.
SIZE_HEIGHT = {
    "EXTREME WIDE": 0.18,
    "WIDE": 0.36,
    "FULL": 0.64,
    "MEDIUM WIDE": 0.76,
    "MEDIUM": 0.9,
    "TWO-SHOT": 0.86,
    "OVER-THE-SHOULDER": 0.9,
    "POV": 0.5,
    "INSERT": 0.5,
    "MEDIUM CLOSE-UP": 1.05,
    "CLOSE-UP": 1.3,
    "EXTREME CLOSE-UP": 1.8,
}
FILLS_FRAME = ("CLOSE-UP", "EXTREME CLOSE-UP")  # on one character, it fills the frame
# Over the shoulder: the last character named is the near shoulder, this far from the
# centre (in frame widths) and this tall (in frame heights), its head's top this far
# above the centre (in frame heights); the others are seen beyond it.
OTS_SHOULDER = (0.42, 1.8, 0.38)
# Close-ups frame the face: its share of the frame's height, and where the chin sits
# (a share of the frame's height from the top): the mouth stays above the subtitles.
CLOSE_UP = (0.5, 0.66)
EXTREME_CLOSE_UP = (0.8, 0.76)
PORTRAIT_FACE = (0.12, 0.62)  # an opaque picture's face: top and chin, shares of its height
SUBTITLE_MARGIN = (0.1, 0.025)  # below the subtitles, shares of the height: wider, close
SHOULDER = (24, 26, 31)  # the near shoulder: a dark shape

# `lens:` magnifies the location by focal length / PICTURE_LENS_MM (a location's picture
# is taken as shot wide), within LENS_MAGNIFY: the subject keeps the size its shot size
# gives it, so a longer lens frames the place behind it tighter (compression).  A lens
# this wide or wider shows the whole picture: there is no more of it to show.
PICTURE_LENS_MM = 24.0
LENS_MAGNIFY = (1.0, 4.0)
DUTCH_DEGREES = 15.0  # a `dutch` angle with no degrees


@dataclass(frozen=True)
class Angle:
    """What an `angle:` does to the layout: the location moves `shift` frame heights
    down (the horizon with it); each character is `scale`d (`squash` again in height
    only) and drawn as a keystone, its top `keystone` times as wide as its foot."""

    shift: float = 0.0
    scale: float = 1.0
    squash: float = 1.0
    keystone: float = 1.0


# Looking up, the horizon drops and the figure looms, narrowing to its head; looking
# down, the horizon rises and the figure shrinks, narrowing to its feet; overhead, it
# is also foreshortened.
ANGLES = {
    "low": Angle(shift=0.3, scale=1.15, keystone=0.78),
    "high": Angle(shift=-0.3, scale=0.88, keystone=1.22),
    "overhead": Angle(shift=-0.65, scale=0.8, squash=0.6, keystone=1.35),
}


@dataclass(frozen=True)
class Framing:
    """A shot's `angle:` and `lens:` as the animatic draws them."""

    magnify: float = 1.0  # the location's scale (lens)
    angle: Angle = Angle()
    dutch: float = 0.0  # the whole picture's tilt, degrees counter-clockwise


def framing_of(request: ShotRequest) -> Framing:
    """What the request's angle and lens do to the layout (none: nothing)."""
    magnify = 1.0
    if request.lens_mm:
        low, high = LENS_MAGNIFY
        magnify = min(max(request.lens_mm / PICTURE_LENS_MM, low), high)
    dutch = 0.0
    if request.angle == "dutch":
        dutch = DUTCH_DEGREES if request.angle_degrees is None else request.angle_degrees
    return Framing(magnify, ANGLES.get(request.angle or "", Angle()), dutch)


BACKDROP = (20, 22, 27)
GRID = (38, 42, 51)
HORIZON = (58, 63, 75)
CARD_ID = (242, 242, 240)
CARD_SIZE = (232, 176, 75)
CARD_TEXT = (212, 216, 224)
NOTE = (160, 168, 184)  # a line's parenthetical in its subtitle
WORDS = (255, 255, 255)
SILHOUETTE = ((52, 57, 68), (92, 100, 116))


# -- the camera ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Poses:
    """Where every layer is, frame by frame.

    A layer point at world position ``w`` (pixels from the frame centre when
    the camera is at rest) appears on screen at ``s * (w + t) + shake``, also
    from the frame centre, y down.
    """

    plate: np.ndarray  # (frames, 3): s, tx, ty
    characters: np.ndarray  # (frames, characters, 3)
    shake: np.ndarray  # (frames, 2)


# numpy's SIMD sin, cos and exp can differ in the last bit with an array's memory
# alignment; camera curves go through the C library's functions instead, so the
# same shot draws the same pixels in every run (the cache and resumed compiles
# promise identical bytes).  The arrays are a shot's frames long: cheap.
_cos = np.vectorize(math.cos, otypes=[np.float64])
_sin = np.vectorize(math.sin, otypes=[np.float64])
_exp = np.vectorize(math.exp, otypes=[np.float64])


def ease(p: np.ndarray, kind: str | None) -> np.ndarray:
    """Map linear progress 0..1 through an easing curve."""
    if kind == "in":
        return 1.0 - _cos(p * (math.pi / 2))
    if kind == "out":
        return _sin(p * (math.pi / 2))
    if kind == "in-out":
        return (1.0 - _cos(p * math.pi)) / 2
    return p


def progress(move: CameraMove, frames: int) -> np.ndarray:
    """Linear progress per frame: 0 before the move, 1 from its last frame on."""
    f = np.arange(frames, dtype=np.float64)
    if move.frames <= 1:
        return (f >= move.start).astype(np.float64)
    return np.clip((f - move.start) / (move.frames - 1), 0.0, 1.0)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _sway(seed: int, frames: int, fps: float) -> np.ndarray:
    """Smooth deterministic noise in [-1, 1], shape (frames, 2): a few slow sines per axis."""
    rng = np.random.default_rng([seed & 0xFFFFFFFF, 0x4A4E44])
    t = np.arange(frames, dtype=np.float64) / max(fps, 1e-6)
    out = np.zeros((frames, 2))
    weights = np.array([1.0, 0.55, 0.3])
    for axis in range(2):
        freqs = np.array([0.23, 0.61, 1.37]) * rng.uniform(0.8, 1.25, 3)
        phases = rng.uniform(0, 2 * math.pi, 3)
        for w, fr, ph in zip(weights, freqs, phases, strict=True):
            out[:, axis] += w * _sin(2 * math.pi * fr * t + ph)
    return out / weights.sum()


def _sign(direction: str | None, positive: str, negative: str, default: int = 1) -> int:
    if direction == positive:
        return 1
    if direction == negative:
        return -1
    return default


def camera_poses(
    moves: Sequence[CameraMove],
    frames: int,
    width: int,
    height: int,
    fps: float,
    seed: int,
    homes: Sequence[tuple[float, float]] = (),
    names: Sequence[str] = (),
) -> Poses:
    """Every layer's pose for every frame of a shot, from its camera moves.

    `homes` are the characters' resting centres (world pixels from the frame
    centre) and `names` their names, for `track`.
    """
    n, k = frames, len(homes)
    log_far, log_near = np.zeros(n), np.zeros(n)
    t_far, t_near = np.zeros((n, 2)), np.zeros((n, 2))
    extra = np.zeros((n, k, 2))  # per character, on top of t_near
    shake = np.zeros((n, 2))
    tracks: list[tuple[CameraMove, np.ndarray, float]] = []
    px_per_degree = width / DEGREES_PER_WIDTH
    for move in moves:
        if move.frames <= 0:
            continue
        amount = SPEED.get(move.speed, 1.0)
        e = ease(progress(move, n), move.ease)
        kind = move.move
        if kind in ("pan", "tilt"):
            shift = (move.degrees or DEFAULT_DEGREES[kind]) * amount * px_per_degree * e
            if kind == "pan":  # pan right: content moves left
                dx = -_sign(move.direction, "right", "left") * shift
                t_far[:, 0] += dx
                t_near[:, 0] += dx
            else:  # tilt up: content moves down
                dy = _sign(move.direction, "up", "down") * shift
                t_far[:, 1] += dy
                t_near[:, 1] += dy
        elif kind in ("zoom", "dolly"):
            factor = move.factor or DEFAULT_FACTOR[kind]
            factor = max(factor, 1 / factor) if factor > 0 else DEFAULT_FACTOR[kind]
            change = _sign(move.direction, "in", "out") * math.log(factor) * amount * e
            log_near += change
            log_far += change * (1.0 if kind == "zoom" else DOLLY_PLATE_SHARE)
        elif kind == "truck":  # truck right: content moves left
            scale = (move.factor or 1.0) * amount * width * e
            sign = -_sign(move.direction, "right", "left")
            t_near[:, 0] += sign * TRUCK[0] * scale
            t_far[:, 0] += sign * TRUCK[1] * scale
        elif kind in ("pedestal", "crane"):  # up: content moves down
            scale = (move.factor or 1.0) * amount * height * e * (CRANE if kind == "crane" else 1)
            sign = _sign(move.direction, "up", "down")
            t_near[:, 1] += sign * PEDESTAL[0] * scale
            t_far[:, 1] += sign * PEDESTAL[1] * scale
        elif kind == "orbit":  # orbit left: plate slides left, characters right
            turns = (move.degrees or DEFAULT_DEGREES["orbit"]) / 90.0 * amount * width * e
            sign = _sign(move.direction, "left", "right")
            t_near[:, 0] += sign * ORBIT[0] * turns
            t_far[:, 0] -= sign * ORBIT[1] * turns
        elif kind == "track":
            drift = (move.factor or 1.0) * amount * width * e
            sign = -_sign(move.direction, "right", "left")  # subject goes right: world drifts left
            t_far[:, 0] += sign * TRACK[1] * drift
            target = _find(names, move.target)
            for i in range(k):
                if i != target:
                    extra[:, i, 0] += sign * TRACK[0] * drift
            if target is not None:
                tracks.append((move, progress(move, n), float(homes[target][0])))
        elif kind == "handheld":
            shake += _handheld(move, n, width, fps, seed) * amount
        elif kind != "static":
            log.warning("the preview backend does not know the camera move %r; ignored", kind)
    # Tracks last: the tracked character is pulled to the centre against every other move.
    for move, p, home_x in tracks:
        target = _find(names, move.target)
        assert target is not None
        want = -(home_x + t_near[:, 0] + extra[:, target, 0])
        pull = want * _smoothstep(p / 0.2)
        inside = (np.arange(n) >= move.start) & (p < 1.0)
        end = min(n - 1, move.start + move.frames - 1)
        held = pull[end] if end >= move.start else 0.0
        extra[:, target, 0] += np.where(inside, pull, np.where(p >= 1.0, held, 0.0))
    plate = np.column_stack([_exp(log_far), t_far])
    s_near = _exp(log_near)
    characters = np.zeros((n, k, 3))
    characters[:, :, 0] = s_near[:, None]
    characters[:, :, 1:] = t_near[:, None, :] + extra
    return Poses(plate=plate, characters=characters, shake=shake)


def _find(names: Sequence[str], target: str | None) -> int | None:
    if target is None:
        return None
    for i, name in enumerate(names):
        if name.casefold() == target.casefold():
            return i
    return None


def _handheld(move: CameraMove, n: int, width: int, fps: float, seed: int) -> np.ndarray:
    f = np.arange(n, dtype=np.float64)
    ramp = max(1, min(8, move.frames // 4))
    env = np.where((f >= move.start) & (f < move.start + move.frames), 1.0, 0.0)
    if move.start > 0:  # ease into the sway unless the shot opens on it
        env *= _smoothstep((f - move.start + 1) / ramp)
    if move.start + move.frames < n:  # and settle out of it unless the shot ends on it
        env *= _smoothstep((move.start + move.frames - f) / ramp)
    amplitude = np.array(HANDHELD) * width
    return _sway(seed, n, fps) * amplitude * env[:, None]


# -- layers -------------------------------------------------------------------------------------


@dataclass
class Layer:
    """A prepared picture: `image` holds `density` pixels per world pixel, centred at `centre`."""

    image: Image.Image  # RGB (a plate) or RGBA (a cut-out)
    density: float
    supersample: int = 1  # sampled at this multiple of the output size, then reduced
    centre: tuple[float, float] = (0.0, 0.0)
    mips: list[Image.Image] = field(default_factory=list)  # smaller copies, MIP_STEP apart
    # The rectangle of `image` (x0, y0, x1, y1) that a character's reference picture
    # covers, when the layer shows one: where the backend says it drew the character.
    picture: tuple[float, float, float, float] | None = None

    def at(self, scale: float) -> Layer:
        """The copy of this layer best drawn at `scale`: nearest to pixel for pixel."""
        if not self.mips:
            return self
        best, error = self, abs(math.log(self.density / scale))
        for image in self.mips:
            density = self.density * image.height / self.image.height
            e = abs(math.log(density / scale))
            if e < error:
                picture = _scaled(self.picture, image.size, self.image.size)
                best, error = Layer(image, density, 1, self.centre, picture=picture), e
        return best

    def mapping(
        self, pose: Sequence[float], shake: Sequence[float], width: int, height: int
    ) -> tuple[float, float, float]:
        """(a, c, f): supersampled screen (X, Y) samples the image at (a X + c, a Y + f)."""
        s, tx, ty = pose
        a = self.density / (self.supersample * s)
        iw, ih = self.image.size
        c = self.density * ((-width / 2 - shake[0]) / s - tx - self.centre[0]) + iw / 2
        f = self.density * ((-height / 2 - shake[1]) / s - ty - self.centre[1]) + ih / 2
        return a, c, f

    def on_screen(
        self, pose: Sequence[float], shake: Sequence[float], width: int, height: int
    ) -> tuple[float, float, float, float] | None:
        """Where `picture` lands in the frame (frame pixels), drawn at `pose`."""
        if self.picture is None:
            return None
        a, c, f = self.mapping(pose, shake, width, height)
        x0, y0, x1, y1 = self.picture
        ss = self.supersample
        return ((x0 - c) / a / ss, (y0 - f) / a / ss, (x1 - c) / a / ss, (y1 - f) / a / ss)


def _scaled(box, size: tuple[int, int], original: tuple[int, int]):
    """`box` in an image of `original` size, carried into a copy resized to `size`."""
    if box is None:
        return None
    kx, ky = size[0] / original[0], size[1] / original[1]
    return (box[0] * kx, box[1] * ky, box[2] * kx, box[3] * ky)


def _sample(image: Image.Image, size: tuple[int, int], a: float, c: float, f: float, ss: int):
    """`size` supersampled pixels of `image` under (a, c, f), reduced `ss` times."""
    if abs(a - 1.0) < 1e-9:  # a pure shift: a crop is exact and far cheaper
        x, y = math.floor(c + 0.5), math.floor(f + 0.5)
        big = image.crop((x, y, x + size[0], y + size[1]))
    else:
        big = image.transform(size, Image.AFFINE, (a, 0, c, 0, a, f), resample=Image.NEAREST)
    return big.reduce(ss) if ss > 1 else big


def _font(size: float) -> Typeface:
    return Typeface(max(6, int(size)))


def load_image(path: Path | None) -> Image.Image | None:
    """An image file as RGB or RGBA (RGBA only when it has real transparency), or None."""
    if path is None:
        return None
    try:
        with Image.open(path) as opened:
            image = ImageOps.exif_transpose(opened)
            image.load()
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        log.warning("the preview backend cannot read %s (%s); left out", path, error)
        return None
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        image = image.convert("RGBA")
        if image.getextrema()[3][0] < 250:
            return image
    return image.convert("RGB")


def first_video_frame(path: Path) -> Image.Image | None:
    import av

    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                return Image.fromarray(frame_to_rgb(frame))
    except (OSError, ValueError, av.FFmpegError, IndexError) as error:
        log.warning("the preview backend cannot read %s (%s); left out", path, error)
    return None


def _array_image(array: np.ndarray | None) -> Image.Image | None:
    if array is None:
        return None
    a = np.asarray(array)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] < 3 or a.shape[0] < 1 or a.shape[1] < 1:
        log.warning("the previous frame has shape %s, not HxWx3; left out", a.shape)
        return None
    return Image.fromarray(np.ascontiguousarray(a[:, :, :3]).astype(np.uint8), "RGB")


def _needed_half_extent(poses: np.ndarray, shake: np.ndarray, width: int, height: int):
    """Half the world width and height a full-frame layer must cover over the whole shot."""
    s = poses[:, 0]
    rx = (width / 2 + np.abs(shake[:, 0])) / s + np.abs(poses[:, 1])
    ry = (height / 2 + np.abs(shake[:, 1])) / s + np.abs(poses[:, 2])
    return float(rx.max()) + 1.0, float(ry.max()) + 1.0


def _density(scales: np.ndarray, world_w: float, world_h: float) -> tuple[float, int]:
    """Pixels per world pixel for a layer shown at `scales`, and its supersampling.

    A layer whose scale never changes is shown pixel for pixel (a shift is a
    crop); one that changes is prepared and sampled at SUPERSAMPLE times.
    """
    steady = len(scales) == 0 or float(np.ptp(scales)) < 1e-9
    ss = 1 if steady else SUPERSAMPLE
    density = ss * (float(scales.max()) if len(scales) else 1.0)
    cap = math.sqrt(MAX_LAYER_PIXELS / max(1.0, world_w * world_h))
    return min(density, cap), ss


def plate_layer(
    image: Image.Image,
    poses: np.ndarray,
    shake: np.ndarray,
    width: int,
    height: int,
    *,
    pinned: bool = False,
    picture: tuple[float, float, float, float] | None = None,
    magnify: float = 1.0,
    shift: float = 0.0,
) -> Layer:
    """An image as a plate covering every frame of the shot.

    The image is scaled to cover the frame, then enlarged as far as the moves
    need (at most MAX_OVERSCAN) so they never reveal an edge; anything more
    is mirrored.  A `pinned` plate (a first keyframe, the previous shot's last
    frame) is never enlarged, so the shot opens on exactly that picture.
    `picture`, the rectangle of `image` a character's picture covers (a
    close-up), is carried into the layer.  A lens `magnify`s the picture about the
    frame's centre, and an angle `shift`s it down (world pixels; up if negative).
    """
    image = image.convert("RGB")
    rx, ry = _needed_half_extent(poses, shake, width, height)
    ry += abs(shift)
    iw, ih = image.size
    cover = max(width / iw, height / ih) * magnify
    world_w, world_h = iw * cover, ih * cover
    needed = max(1.0, 2 * rx / world_w, 2 * ry / world_h)
    overscan = 1.0 if pinned else min(MAX_OVERSCAN, needed)
    world_w, world_h = world_w * overscan, world_h * overscan
    pad_x, pad_y = max(0.0, rx - world_w / 2), max(0.0, ry - world_h / 2)
    density, ss = _density(poses[:, 0], world_w + 2 * pad_x, world_h + 2 * pad_y)
    size = (max(1, round(world_w * density)), max(1, round(world_h * density)))
    # Enlarging, bilinear is as good here (the layer is sampled at twice the output) and faster.
    enlarge = size[0] > image.width
    pixels = image.resize(size, Image.BILINEAR if enlarge else Image.BICUBIC, reducing_gap=2.0)
    picture = _scaled(picture, size, image.size)
    if pad_x or pad_y:
        px, py = math.ceil(pad_x * density) + 2, math.ceil(pad_y * density) + 2
        array = _mirror_pad(np.asarray(pixels), px, py)
        pixels = Image.fromarray(array, "RGB")
        if picture is not None:
            picture = (picture[0] + px, picture[1] + py, picture[2] + px, picture[3] + py)
    return Layer(pixels, density, ss, centre=(0.0, shift), picture=picture)


def _mirror_pad(array: np.ndarray, px: int, py: int) -> np.ndarray:
    while px > 0 or py > 0:  # np.pad mirrors at most once per call
        sx, sy = min(px, array.shape[1]), min(py, array.shape[0])
        array = np.pad(array, ((sy, sy), (sx, sx), (0, 0)), mode="symmetric")
        px, py = px - sx, py - sy
    return array


def backdrop_layer(
    poses: np.ndarray,
    shake: np.ndarray,
    width: int,
    height: int,
    magnify: float = 1.0,
    shift: float = 0.0,
) -> Layer:
    """A dark stage with a faint grid and horizon, so moves show even with no picture;
    `magnify` and `shift` as for `plate_layer`."""
    rx, ry = _needed_half_extent(poses, shake, width, height)
    ry += abs(shift)
    density, ss = _density(poses[:, 0], 2 * rx, 2 * ry)
    w, h = max(1, math.ceil(2 * rx * density)), max(1, math.ceil(2 * ry * density))
    image = Image.new("RGB", (w, h), BACKDROP)
    draw = ImageDraw.Draw(image)
    step = width / 8 * density * magnify
    line = max(1, round(density * max(1.0, height / 360)))
    cx, cy = w / 2, h / 2
    for i in range(-int(cx // step) - 1, int(cx // step) + 2):
        x = cx + i * step
        draw.line([(x, 0), (x, h)], fill=GRID, width=line)
    for j in range(-int(cy // step) - 1, int(cy // step) + 2):
        y = cy + j * step
        draw.line([(0, y), (w, y)], fill=GRID, width=line)
    horizon = cy + height * 0.1 * density * magnify
    draw.line([(0, horizon), (w, horizon)], fill=HORIZON, width=line * 2)
    return Layer(image, density, ss, centre=(0.0, shift))


@dataclass(frozen=True)
class Figure:
    """A character's reference picture, loaded and cut out once per process."""

    picture: Image.Image  # as loaded: RGB, or RGBA with real transparency
    cut: Image.Image  # RGBA: the figure alone, or the picture on a card
    keyed: bool  # `cut` is the figure alone


def load_figure(path: Path) -> Figure | None:
    """A character picture and its cut-out; cached, since one picture serves many shots."""
    try:
        stat = path.stat()
    except OSError as error:
        log.warning("the preview backend cannot read %s (%s); left out", path, error)
        return None
    return _figure(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=32)
def _figure(path: str, mtime_ns: int, size: int) -> Figure | None:
    picture = load_image(Path(path))
    if picture is None:
        return None
    if max(picture.size) > FIGURE_SIDE:
        picture = _fit_within(picture, FIGURE_SIDE)
    cut, keyed = _cut(picture)
    return Figure(picture, cut, keyed)


def cutout(image: Image.Image) -> Image.Image:
    """A character picture as RGBA: its own alpha, a keyed plain background, or a card."""
    return _cut(image)[0]


def _cut(image: Image.Image) -> tuple[Image.Image, bool]:
    if image.mode == "RGBA":
        return image, True
    image = image.convert("RGB")
    keyed = background_matte(image)
    if keyed is None:
        return _card(image), False
    matte, _ = keyed
    # The soft edge takes the colour of the figure just inside it: no fringe of background.
    alpha = np.asarray(matte)
    solid = Image.fromarray(np.where(alpha >= 250, 255, 0).astype(np.uint8), "L")
    inside = Image.new("RGB", image.size, (0, 0, 0))
    inside.paste(image, (0, 0), solid)
    radius = max(2.0, min(image.size) / 150)
    spread = np.asarray(inside.filter(ImageFilter.GaussianBlur(radius)), dtype=np.float32)
    weight = np.asarray(solid.filter(ImageFilter.GaussianBlur(radius)), dtype=np.float32)
    rgb = np.asarray(image, dtype=np.float32)
    edge = (alpha < 250) & (weight > 2)
    near = spread * (255 / np.maximum(weight, 1))[:, :, None]
    rgb = np.where(edge[:, :, None], np.clip(near, 0, 255), rgb)
    out = Image.fromarray((rgb + 0.5).astype(np.uint8), "RGB").convert("RGBA")
    out.putalpha(matte)
    return out, True


def background_matte(image: Image.Image) -> tuple[Image.Image, np.ndarray] | None:
    """A matte keying out a plain background (flat, or graded top to bottom), or None.

    Returns the matte and the background's colour, row by row.

    The background's colour, row by row, is read from the picture's left and
    right edges, from the top down; rows where the edges disagree, or jump
    (the figure touching the sides), take the colour of the row above.
    """
    a = np.asarray(image, dtype=np.int16)
    h, w = a.shape[:2]
    if h < 8 or w < 8:
        return None
    k = max(2, w // 40)
    left = np.median(a[:, :k], axis=1)
    right = np.median(a[:, -k:], axis=1)
    top = a[: max(2, h // 40)].reshape(-1, 3)
    if np.mean(np.abs(top - np.median(top, axis=0)).max(axis=1) <= 16) < 0.75:
        return None
    background = np.empty((h, 3))
    last = None
    good = 0
    for y in range(h):
        here = (left[y] + right[y]) / 2
        agree = np.abs(left[y] - right[y]).max() <= 16
        steady = last is None or np.abs(here - last).max() <= 12
        if agree and steady:
            last, good = here, good + 1
        if last is None:
            return None
        background[y] = last
    if good < 0.5 * h:
        return None
    distance = np.abs(a - background[:, None, :]).max(axis=2)
    alpha = np.clip((distance - 22) * (255 / 36), 0, 255).astype(np.uint8)
    # Only background that reaches the edge is keyed: a grey coat on a grey wall stays.
    outside = _reaches_edge(distance < 40)
    alpha = (255 - outside * (255 - alpha.astype(np.float32)) + 0.5).astype(np.uint8)
    coverage = alpha.mean() / 255
    if not 0.04 < coverage < 0.96:
        return None
    matte = Image.fromarray(alpha, "L")
    return matte.filter(ImageFilter.GaussianBlur(max(0.6, min(w, h) / 600))), background


def _reaches_edge(background: np.ndarray, side: int = 320) -> np.ndarray:
    """How much each pixel of a background mask joins the picture's edge through background.

    Worked out on a copy at most `side` pixels across, then widened a little
    and softened, so the matte's edge is left to the colour distance and the
    coarse grid does not show: a float array in [0, 1].
    """
    h, w = background.shape
    scale = min(1.0, side / max(h, w))
    small_size = (max(1, round(w * scale)), max(1, round(h * scale)))
    mask = Image.fromarray(background.astype(np.uint8) * 255, "L")
    small = np.asarray(mask.resize(small_size, Image.BOX)) > 127
    edge = np.zeros_like(small)
    edge[0] = edge[-1] = True
    edge[:, 0] = edge[:, -1] = True
    reached = small & edge
    for _ in range(small.size):
        grown = reached.copy()
        grown[1:] |= reached[:-1]
        grown[:-1] |= reached[1:]
        grown[:, 1:] |= reached[:, :-1]
        grown[:, :-1] |= reached[:, 1:]
        grown &= small
        if np.array_equal(grown, reached):
            break
        reached = grown
    small_image = Image.fromarray(reached.astype(np.uint8) * 255, "L").filter(
        ImageFilter.MaxFilter(3)
    )
    big = small_image.resize((w, h), Image.BILINEAR)
    big = big.filter(ImageFilter.GaussianBlur(0.6 / scale))
    return np.asarray(big, dtype=np.float32) / 255


def close_up(
    figure: Figure,
    behind: Image.Image | None,
    width: int,
    height: int,
    window: tuple[float, float, float, float],
) -> Image.Image:
    """A close-up frame of one character, RGB at twice the frame's size: the
    `window` of its picture (see `close_up_window`) over the location, softened
    as if out of focus."""
    size = (2 * width, 2 * height)
    cut = figure.cut if figure.keyed else figure.picture.convert("RGBA")
    x, y = math.floor(window[0]), math.floor(window[1])
    figure = cut.crop((x, y, math.ceil(window[2]) + 1, math.ceil(window[3]) + 1))
    box = (window[0] - x, window[1] - y, window[2] - x, window[3] - y)
    figure = figure.resize(size, Image.BICUBIC, box=box)
    if behind is None:
        back = Image.new("RGB", size, BACKDROP)
    else:
        back = ImageOps.fit(behind.convert("RGB"), size, Image.BICUBIC)
        back = back.filter(ImageFilter.GaussianBlur(size[1] / 60))
    back = back.convert("RGBA")
    return Image.alpha_composite(back, figure).convert("RGB")


def close_up_window(
    figure: Figure, width: int, height: int, extreme: bool
) -> tuple[float, float, float, float]:
    """The part of a figure's picture a close-up shows, in the picture's pixels.

    Framed on the face (`face_box`): in a CLOSE-UP the face fills CLOSE_UP[0] of
    the frame's height with the chin at CLOSE_UP[1] of it; an EXTREME CLOSE-UP
    is tighter (EXTREME_CLOSE_UP), the forehead cut, the chin still in.  The mouth
    stays above the lower band where subtitles go.  The window may reach past the
    picture; the location shows there.
    """
    top, chin, cx = face_box(figure)
    share, chin_at = EXTREME_CLOSE_UP if extreme else CLOSE_UP
    win_h = max(8.0, (chin - top) / share)
    win_w = win_h * width / height
    y0 = chin - chin_at * win_h
    return (cx - win_w / 2, y0, cx + win_w / 2, y0 + win_h)


def face_box(figure: Figure) -> tuple[float, float, float]:
    """Where a figure's face is, in its picture's pixels: (top, chin, centre x).

    A cut-out's head is read from its shape: from the top of the figure down to
    where the outline, having narrowed at the neck, widens into the shoulders
    (or, with no such place, a usual share of the figure).  An opaque picture
    is taken as a portrait: the face in its upper middle.
    """
    iw, ih = figure.picture.size
    box = None
    if figure.keyed:
        solid = np.asarray(figure.cut.getchannel("A")) > 128
        rows = np.nonzero(solid.any(axis=1))[0]
        box = (rows[0], rows[-1]) if rows.size else None
    if box is None:
        return ih * PORTRAIT_FACE[0], ih * PORTRAIT_FACE[1], iw / 2
    y0, y1 = int(box[0]), int(box[1])
    tall = y1 - y0 + 1
    widths = solid[y0 : y1 + 1].sum(axis=1).astype(np.float64)
    chin = _neck(widths)
    if chin is None:  # no neck: a usual head, for a whole figure or a bust
        whole = y1 < ih - 2
        chin = round(tall * (0.12 if whole else 0.45))
    head = solid[y0 : y0 + max(1, chin)]
    cols = head.sum(axis=0).astype(np.float64)
    cx = float((cols * np.arange(cols.size)).sum() / cols.sum()) if cols.sum() else iw / 2
    return float(y0), float(y0 + chin), cx


def _neck(widths: np.ndarray) -> int | None:
    """The row (from the figure's top) where the head ends: after the outline has been
    at least a quarter as wide as its widest head row and narrowed, the first row at
    which it widens past the head's width (the shoulders)."""
    widest = 0.0
    narrowed = False
    for y, w in enumerate(widths[: max(1, int(len(widths) * 0.7))]):
        if not narrowed:
            widest = max(widest, w)
            narrowed = widest > 0 and w < 0.9 * widest and y > 2
        elif w > 1.15 * widest:
            return y
    return None


def magnified(image: Image.Image | None, magnify: float) -> Image.Image | None:
    """The middle 1/`magnify` of `image` (a lens longer than its picture's)."""
    if image is None or magnify <= 1.0:
        return image
    w, h = image.size
    cw, ch = w / magnify, h / magnify
    return image.resize(
        (w, h), Image.BICUBIC, box=((w - cw) / 2, (h - ch) / 2, (w + cw) / 2, (h + ch) / 2)
    )


def keystone(cut: Image.Image, ratio: float) -> Image.Image:
    """A cut-out seen from below (`ratio` < 1: its top that share of its foot's width)
    or from above (`ratio` > 1: its foot narrower); the wider edge keeps its width."""
    if abs(ratio - 1.0) < 1e-9:
        return cut
    w, h = cut.size
    top, foot = (ratio, 1.0) if ratio < 1 else (1.0, 1 / ratio)
    # QUAD fills the output from a source quadrilateral (upper left, lower left, lower
    # right, upper right): an edge drawn narrower samples a span wider than the picture.
    top_extra, foot_extra = w * (1 / top - 1) / 2, w * (1 / foot - 1) / 2
    quad = (-top_extra, 0, -foot_extra, h, w + foot_extra, h, w + top_extra, 0)
    return cut.transform(cut.size, Image.QUAD, quad, Image.BICUBIC)


def _tilt(degrees: float, size: tuple[int, int]) -> tuple[float, float, float]:
    """cos, sin and the enlargement that keeps a picture tilted by `degrees` covering
    its frame (no corner shows)."""
    t = math.radians(degrees)
    c, s = math.cos(t), math.sin(t)
    w, h = size
    return c, s, abs(c) + max(w, h) / min(w, h) * abs(s)


def tilted(image: Image.Image, degrees: float) -> Image.Image:
    """`image` turned `degrees` counter-clockwise about its centre and enlarged to
    cover its frame: a dutch angle."""
    c, s, k = _tilt(degrees, image.size)
    cx, cy = image.width / 2, image.height / 2
    # Each output pixel samples the input turned back (clockwise, y down) and reduced.
    a, b, d, e = c / k, -s / k, s / k, c / k
    coeffs = (a, b, cx - a * cx - b * cy, d, e, cy - d * cx - e * cy)
    return image.transform(image.size, Image.AFFINE, coeffs, Image.BICUBIC)


def tilted_box(box, degrees: float, size: tuple[int, int]) -> tuple[float, float, float, float]:
    """The frame rectangle that `box` covers once the picture is `tilted`."""
    c, s, k = _tilt(degrees, size)
    cx, cy = size[0] / 2, size[1] / 2
    xs, ys = [], []
    for x, y in ((box[0], box[1]), (box[2], box[1]), (box[0], box[3]), (box[2], box[3])):
        dx, dy = x - cx, y - cy
        xs.append(cx + k * (c * dx + s * dy))
        ys.append(cy + k * (-s * dx + c * dy))
    return (min(xs), min(ys), max(xs), max(ys))


def _fit_within(image: Image.Image, side: int) -> Image.Image:
    scale = side / max(image.size)
    return image.resize((round(image.width * scale), round(image.height * scale)), Image.BICUBIC)


def _card(image: Image.Image) -> Image.Image:
    """The picture on a rounded card with a light rim."""
    w, h = image.size
    rim = max(2, round(min(w, h) * 0.018))
    radius = max(3, round(min(w, h) * 0.06))
    card = Image.new("RGBA", (w + 2 * rim, h + 2 * rim), (0, 0, 0, 0))
    mask = Image.new("L", card.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, card.width - 1, card.height - 1), radius, 255)
    card.paste((236, 234, 228, 255), (0, 0), mask)
    inner = Image.new("L", image.size, 0)
    ImageDraw.Draw(inner).rounded_rectangle((0, 0, w - 1, h - 1), max(2, radius - rim), 255)
    card.paste(image, (rim, rim), inner)
    return card


def silhouette(name: str, width: int, height: int) -> Image.Image:
    """A labelled stand-in for a character with no reference image."""
    card = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(card)
    r = max(3, width // 8)
    draw.rounded_rectangle((0, 0, width - 1, height - 1), r, fill=(*SILHOUETTE[0], 235))
    head = width * 0.2
    cx, cy = width / 2, height * 0.3
    draw.ellipse((cx - head, cy - head, cx + head, cy + head), fill=SILHOUETTE[1])
    draw.rounded_rectangle(
        (width * 0.16, cy + head * 1.25, width * 0.84, height * 1.05), r * 2, fill=SILHOUETTE[1]
    )
    font = _font(max(6, width // 7))
    label = name[:14]
    tw = font.getlength(label)
    font.draw(draw, ((width - tw) / 2, height * 0.06), label, fill=(235, 235, 235))
    return card


def with_shadow(cut: Image.Image, reach: float) -> Image.Image:
    """`cut` padded on every side, over a soft shadow cast below and right of it.

    The padding keeps the picture's centre where it was.
    """
    pad = _shadow_pad(reach)
    w, h = cut.size
    size = (w + 2 * pad, h + 2 * pad)
    shade = Image.new("L", size, 0)
    shade.paste(cut.getchannel("A"), (pad + round(reach * 0.6), pad + round(reach * 0.9)))
    shade = shade.filter(ImageFilter.GaussianBlur(max(1.0, reach))).point(lambda v: v // 2)
    out = Image.new("RGBA", size, (0, 0, 0, 0))
    out.putalpha(shade)
    front = Image.new("RGBA", size, (0, 0, 0, 0))
    front.paste(cut, (pad, pad))
    return Image.alpha_composite(out, front)


def _shadow_pad(reach: float) -> int:
    return max(2, math.ceil(reach * 2.5))


def character_layout(count: int, size: str, width: int, height: int) -> list[tuple[float, float]]:
    """Per character, its resting x (world pixels from the centre) and its height.

    The characters are spread evenly across the frame; their y comes from
    their cut-outs' heights (see `_rest_y`).
    """
    tall = SIZE_HEIGHT.get(size, 0.8) * height
    return [(width * ((i + 1) / (count + 1) - 0.5), tall) for i in range(count)]


def screen_order(names: Sequence[str]) -> list[int]:
    """The order, left to right, in which characters stand: the same for any two of them
    in every shot of the film (by name), so they never swap sides between shots (the
    180° rule), whatever order a shot names them in."""
    return sorted(range(len(names)), key=lambda i: (names[i].casefold(), i))


def shoulder_side(subject: str, shoulder: str) -> int:
    """Where an over-the-shoulder shot puts the shoulder: -1 left, 1 right.  It stands on
    its own side of the pair (`screen_order`), so the reverse shot mirrors the framing."""
    return -1 if screen_order([shoulder, subject])[0] == 0 else 1


def over_the_shoulder_layout(count: int, side: int, width: int, height: int):
    """Per subject (the characters seen), its resting x and height, spread over the half
    of the frame away from the shoulder; and the shoulder's x and height."""
    tall = SIZE_HEIGHT["OVER-THE-SHOULDER"] * height
    spots = [(-side * width * (0.12 + 0.26 * (i + 1) / (count + 1)), tall) for i in range(count)]
    return spots, (side * width * OTS_SHOULDER[0], OTS_SHOULDER[1] * height)


def shoulder(layer: Layer, height: int) -> Layer:
    """A character's cut-out as the near shoulder of an over-the-shoulder shot: its
    shape only, dark and out of focus (the back of a head and a shoulder, close)."""
    alpha = layer.image.getchannel("A").filter(
        ImageFilter.GaussianBlur(max(1.0, height * 0.012 * layer.density))
    )
    dark = Image.new("RGBA", layer.image.size, (*SHOULDER, 255))
    dark.putalpha(alpha)
    mips = [dark.resize(m.size, Image.BILINEAR) for m in layer.mips]
    return Layer(dark, layer.density, layer.supersample, layer.centre, mips)


def _rest_y(card_height: float, height: int) -> float:
    if card_height <= 0.87 * height:
        return 0.42 * height - card_height / 2  # feet on a floor line near the bottom
    return -0.45 * height + card_height / 2  # top near the top of the frame, the rest below


# -- text: the card and the burn-in -------------------------------------------------------------


def wrap(text: str, font: Typeface, width: float) -> list[str]:
    """`text` in lines no wider than `width`, broken at spaces, and inside a word
    too wide for a line (Chinese and Japanese are written without spaces)."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        for k, piece in enumerate(_pieces(word, font, width)):
            trial = f"{current} {piece}".strip()
            if k == 0 and (not current or font.getlength(trial) <= width):
                current = trial
            else:
                if current:
                    lines.append(current)
                current = piece
    if current:
        lines.append(current)
    return lines


def _pieces(word: str, font: Typeface, width: float) -> list[str]:
    """`word` cut between characters into pieces no wider than `width` (one if it fits)."""
    if font.getlength(word) <= width:
        return [word]
    pieces = [""]
    for character in word:
        if pieces[-1] and font.getlength(pieces[-1] + character) > width:
            pieces.append("")
        pieces[-1] += character
    return pieces


def card_text(request: ShotRequest) -> tuple[Image.Image, tuple[int, int]]:
    """The slate drawn over a shot with no pictures: id, size line and action, screen-fixed."""
    width, height = request.width, request.height
    lines = [line.strip() for line in request.prompt.splitlines() if line.strip()]
    header = lines[0] if lines else request.size
    if " · " in header:
        header = header.split(" · ", 1)[1]
    action = " ".join(lines[1:])
    big = _font(max(10, height / 5.5))
    mid = _font(max(7, height / 15))
    small = _font(max(6, height / 22))
    margin = width * 0.08
    text_w = width - 2 * margin
    rows: list[tuple[str, object, tuple[int, int, int], float]] = [
        (request.shot_id, big, CARD_ID, 0.25),
        (header, mid, CARD_SIZE, 0.6),
    ]
    room = height * 0.9
    used = sum(_line_height(f) * (1 + gap) for _, f, _, gap in rows)
    action_lines = wrap(action, small, text_w)
    step = _line_height(small) * 1.3
    fit = max(0, int((room - used) // step))
    if len(action_lines) > fit:
        action_lines = action_lines[:fit]
        if action_lines:
            action_lines[-1] = action_lines[-1].rstrip(".,;") + " …"
    rows += [(line, small, CARD_TEXT, 0.3) for line in action_lines]
    total = sum(_line_height(f) * (1 + gap) for _, f, _, gap in rows)
    layer = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    y = max(0.0, (height - total) / 2)
    for text, font, colour, gap in rows:
        font.draw(draw, (margin, y), text, fill=(*colour, 255))
        y += _line_height(font) * (1 + gap)
    box = layer.getbbox() or (0, 0, 1, 1)
    return layer.crop(box), (box[0], box[1])


def _line_height(font) -> float:
    top, bottom = font.getbbox("Hgjy")[1::2]
    return float(bottom - top + 1)


class Subtitles:
    """Dialogue in the lower third while it is spoken: the speaker's name, the line's
    parenthetical (a performance direction, dimmer), then the words.

    `lines` are dicts or objects with `speaker`, `text`, `start`, `frames`
    (shot frames) and optionally `direction`, like the voice node's lines.  Over a close-up they
    sit lower, at the frame's foot, clear of the mouth (see `close_up_window`).
    """

    def __init__(self, lines: Sequence, width: int, height: int, close: bool = False):
        self.cues: list[tuple[int, int, Image.Image, tuple[int, int]]] = []
        self.font_size = max(8, round(height / 24))
        font = _font(self.font_size)
        pad = max(2, round(height / 90))
        line_h = round(_line_height(font) * 1.2)
        top = font.getbbox("Hg")[1]
        for line in lines:
            text = " ".join(str(_get(line, "text", "")).split())
            if not text:
                continue
            speaker = str(_get(line, "speaker", "")).strip()
            start = int(_get(line, "start", 0))
            end = start + int(_get(line, "frames", 0))
            label = f"{speaker}: " if speaker else ""
            direction = " ".join(str(_get(line, "direction", None) or "").split())
            note = f"({direction}) " if direction else ""
            said = label + note + text
            rows = wrap(said, font, width * 0.8)
            if len(rows) > 3:
                rows = rows[:3]
                rows[-1] = rows[-1].rstrip(".,;") + " …"
            row_w = max(math.ceil(font.getlength(row)) for row in rows)
            patch = Image.new("RGBA", (row_w + 2 * pad, line_h * len(rows) + 2 * pad))
            draw = ImageDraw.Draw(patch)
            draw.rectangle((0, 0, patch.width, patch.height), fill=(0, 0, 0, 170))
            # Where the name, the direction and the words end in `said`, and their colours.
            runs = ((len(label), CARD_SIZE), (len(label) + len(note), NOTE), (len(said), WORDS))
            at = 0
            for k, row in enumerate(rows):
                x = pad + (row_w - font.getlength(row)) / 2
                y = pad + k * line_h - top
                found = said.find(row.removesuffix(" …"), at)
                at = found if found >= 0 else at
                _draw_runs(draw, font, (x, y), row, at, runs)
                at += len(row)
            margin = round(height * SUBTITLE_MARGIN[1 if close else 0])
            at = ((width - patch.width) // 2, height - patch.height - margin)
            self.cues.append((start, end, patch, at))

    def __bool__(self) -> bool:
        return bool(self.cues)

    def draw(self, image: Image.Image, frame: int) -> None:
        for start, end, patch, at in self.cues:
            if start <= frame < end:
                image.paste(patch, at, patch)


def _draw_runs(draw, font: Typeface, xy: tuple[float, float], row: str, at: int, runs) -> None:
    """`row`, which starts at `at` in its line, drawn in the colours of `runs`: (end,
    colour) pairs in order over the whole line."""
    x, y = xy
    begin = at
    for end, colour in runs:
        if end <= begin:
            continue
        piece = row[begin - at : end - at]
        if piece:
            font.draw(draw, (x, y), piece, fill=(*colour, 255))
            x += font.getlength(piece)
        begin = end
        if begin >= at + len(row):
            break
    if begin < at + len(row):  # past the line's end: the ellipsis of a cut line
        font.draw(draw, (x, y), row[begin - at :], fill=(*WORDS, 255))


def _get(item, name: str, default=None):
    if isinstance(item, dict):
        return item.get(name, default)
    return getattr(item, name, default)


class BurnIn:
    """Shot id top left, shot-relative timecode HH:MM:SS:FF bottom right; glyphs drawn once."""

    GLYPHS = "0123456789:"

    def __init__(self, shot_id: str, width: int, height: int, fps: float):
        self.width, self.height = width, height
        self.base = max(1, round(fps))  # nominal frames per second (non-drop)
        size = max(8, round(height / 34))
        font = _font(size)
        self.pad = max(2, round(size * 0.35))
        self.margin = max(2, round(height / 48))
        top, bottom = font.getbbox("0123456789:Hgy")[1::2]
        line = bottom - top
        self.advance = max(math.ceil(font.getlength(g)) for g in self.GLYPHS)
        self.glyphs = {}
        for g in self.GLYPHS:
            mask = Image.new("L", (self.advance, line), 0)
            w = font.getlength(g)
            font.draw(ImageDraw.Draw(mask), ((self.advance - w) / 2, -top), g, fill=255)
            self.glyphs[g] = mask
        label = shot_id[:40]
        lw = math.ceil(font.getlength(label))
        self.id_patch = self._box(lw, line)
        font.draw(ImageDraw.Draw(self.id_patch), (self.pad, self.pad - top), label, fill="white")
        self.tc_box = self._box(self.advance * 11, line)
        self.tc_at = (
            width - self.margin - self.tc_box.width,
            height - self.margin - self.tc_box.height,
        )

    def _box(self, w: int, h: int) -> Image.Image:
        return Image.new("RGBA", (w + 2 * self.pad, h + 2 * self.pad), (0, 0, 0, 165))

    def timecode(self, frame: int) -> str:
        ff = frame % self.base
        seconds = frame // self.base
        return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}:{ff:02d}"

    def draw(self, image: Image.Image, frame: int) -> None:
        image.paste(self.id_patch, (self.margin, self.margin), self.id_patch)
        image.paste(self.tc_box, self.tc_at, self.tc_box)
        x, y = self.tc_at[0] + self.pad, self.tc_at[1] + self.pad
        for g in self.timecode(frame):
            image.paste((255, 255, 255), (x, y), self.glyphs[g])
            x += self.advance


# -- the shot ----------------------------------------------------------------------------------


@dataclass
class Cast:
    name: str
    layer: Layer
    ref: Path | None  # the reference picture it shows; None for a silhouette


class Animatic:
    """One shot's prepared layers and camera; `frames()` draws them one at a time."""

    def __init__(self, request: ShotRequest, burn_in: bool = True, subtitles: bool = True):
        self.request = request
        w, h, n = request.width, request.height, request.frames
        self.width, self.height = w, h
        size = request.size.upper()

        plate_image, pinned, source = self._plate_source(request)
        # A shot that opens on a given picture opens on exactly it: no angle or lens.
        self.framing = framing = Framing() if pinned else framing_of(request)
        pictures = [(c, load_figure(c.refs[0]) if c.refs else None) for c in request.characters]
        any_picture = plate_image is not None or any(p is not None for _, p in pictures)
        composite = source in ("plate", "reference image", "reference video", None)
        cast: list[tuple[CharacterRefs, Figure | None]] = pictures if composite else []
        if not any_picture:
            cast = []

        # A close-up on one character: the character is the plate.
        self.plate_is_character = False
        self.star: tuple[str, Path] | None = None  # the character the plate shows, its picture
        star: list[str] = []
        close: tuple[float, float, float, float] | None = None  # the picture in the plate
        if size in FILLS_FRAME and len(cast) == 1 and cast[0][1] is not None:
            character, figure = cast[0]
            window = close_up_window(figure, w, h, size == "EXTREME CLOSE-UP")
            behind = magnified(plate_image, framing.magnify)
            plate_image = close_up(figure, behind, w, h, window)
            pinned = False
            self.plate_is_character = True
            star = [character.name]
            self.star = (character.name, character.refs[0])
            # The whole picture, in the close-up's pixels (it shows `window` at 2w x 2h).
            kx, ky = 2 * w / (window[2] - window[0]), 2 * h / (window[3] - window[1])
            pw, ph = figure.picture.size
            close = (-window[0] * kx, -window[1] * ky, (pw - window[0]) * kx, (ph - window[1]) * ky)
            cast = []

        # Left to right by name, so two characters keep their sides across shots.
        cast = [cast[i] for i in screen_order([c.name for c, _ in cast])]
        near_shoulder: str | None = None
        if size == "OVER-THE-SHOULDER" and len(cast) >= 2:
            # The last named turns their back to us; the camera looks past them.
            named = [c.name for c in request.characters]
            back = max(cast, key=lambda c: named.index(c[0].name))
            cast = [c for c in cast if c is not back] + [back]
            near_shoulder = back[0].name
            side = shoulder_side(named[0], near_shoulder)
            seen, spot = over_the_shoulder_layout(len(cast) - 1, side, w, h)
            layout = [*seen, spot]
        else:
            layout = character_layout(len(cast), size, w, h)
        homes = [(x, 0.0) for x, _ in layout]
        names = [c.name for c, _ in cast]
        camera = tuple(request.camera)
        if self.plate_is_character:  # the plate is near: it moves as a character would
            near = camera_poses(camera, n, w, h, request.fps, request.seed, [(0.0, 0.0)], star)
            poses = Poses(near.characters[:, 0, :].copy(), np.zeros((n, 0, 3)), near.shake)
        else:
            poses = camera_poses(camera, n, w, h, request.fps, request.seed, homes, names)
        self.poses = poses

        # The close-up's plate has the lens in it already; the angle tilts only a location.
        place = Framing() if self.plate_is_character else framing
        lens, shift = place.magnify, place.angle.shift * h
        if plate_image is not None:
            self.plate = plate_layer(
                plate_image, poses.plate, poses.shake, w, h, pinned=pinned, picture=close,
                magnify=lens, shift=shift,
            )  # fmt: skip
        else:
            self.plate = backdrop_layer(poses.plate, poses.shake, w, h, lens, shift)
        self.slate = card_text(request) if not any_picture else None

        self.cast: list[Cast] = []
        scales = poses.characters[:, 0, 0] if len(cast) else np.ones(1)
        for (character, figure), (x, tall) in zip(cast, layout, strict=True):
            if character.name == near_shoulder:
                layer = self._character_layer(character, figure, tall, scales, 1, Angle())
                card_h = layer.image.height / layer.density
                layer.centre = (x, -OTS_SHOULDER[2] * h + card_h / 2)
                self.cast.append(Cast(character.name, shoulder(layer, h), None))
                continue
            count = len(cast) - (near_shoulder is not None)
            layer = self._character_layer(character, figure, tall, scales, count, framing.angle)
            layer.centre = (x, _rest_y(layer.image.height / layer.density, h))
            ref = character.refs[0] if figure is not None else None
            self.cast.append(Cast(character.name, layer, ref))
        # Draw the tracked character last, so it stays in front.
        order = list(range(len(self.cast)))
        for move in camera:
            i = _find([c.name for c in self.cast], move.target) if move.move == "track" else None
            if i is not None and i in order:
                order.remove(i)
                order.append(i)
        if near_shoulder is not None:  # the near shoulder is in front of everything
            order.remove(len(self.cast) - 1)
            order.append(len(self.cast) - 1)
        self.order = order

        self.fade_to: Image.Image | None = None
        self.fade_frames = 0
        last = load_image(request.keyframe_last)
        if last is not None and n > 0:
            self.fade_to = ImageOps.fit(last.convert("RGB"), (w, h), Image.BICUBIC)
            self.fade_frames = max(1, min(n, round(KEYFRAME_FADE_SECONDS * request.fps)))
        self.burn = BurnIn(request.shot_id, w, h, request.fps) if burn_in else None
        # Requests carry no dialogue yet; one with a `dialogue` field gets subtitles.
        spoken = (getattr(request, "dialogue", None) or ()) if subtitles else ()
        self.subtitles = Subtitles(spoken, w, h, close=self.plate_is_character)

    @staticmethod
    def _plate_source(request: ShotRequest) -> tuple[Image.Image | None, bool, str | None]:
        """The plate's picture, whether it is pinned (shown exactly at rest), and its kind."""
        # A pinned first frame, then the frame a `continuous` shot continues from: the
        # shot opens on exactly that picture, whatever the location shows.
        image = load_image(request.keyframe_first)
        if image is not None:
            return image, True, "keyframe"
        image = _array_image(request.previous_frame)
        if image is not None:
            return image, True, "previous frame"
        image = load_image(request.plate)
        if image is not None:
            return image, False, "plate"
        for path in request.reference_images[:1]:
            image = load_image(path)
            if image is not None:
                return image, False, "reference image"
        for path in request.reference_video[:1]:
            image = first_video_frame(path)
            if image is not None:
                return image, False, "reference video"
        return None, False, None

    def _character_layer(
        self,
        character: CharacterRefs,
        figure: Figure | None,
        tall: float,
        scales: np.ndarray,
        count: int,
        angle: Angle,
    ) -> Layer:
        w = self.width
        aspect = 0.5 if figure is None else figure.cut.width / figure.cut.height
        world_h = tall * angle.scale * angle.squash
        world_w = tall * angle.scale * aspect
        limit = w * (1.1 if tall > self.height else 0.92) / max(1, count)
        if count > 1 and world_w > limit:
            world_w, world_h = limit, world_h * limit / world_w
        # Cut-outs are drawn pixel for pixel: while they change size, from the
        # nearest of a few copies MIP_STEP apart (cheaper than supersampling).
        cap = math.sqrt(MAX_LAYER_PIXELS / 4 / max(1.0, world_w * world_h * 1.7))
        density = min(float(scales.max()), cap)
        px_w, px_h = max(2, round(world_w * density)), max(2, round(world_h * density))
        reach = max(1.0, px_h * 0.02)
        if figure is None:
            cut = keystone(silhouette(character.name, px_w, px_h), angle.keystone)
            return self._mips(Layer(with_shadow(cut, reach=reach), density), scales)
        cut = figure.cut.resize((px_w, px_h), Image.BICUBIC, reducing_gap=2.0)
        cut = keystone(cut, angle.keystone)
        layer = Layer(with_shadow(cut, reach=reach), density)
        # Where the picture lies in the layer: inside the card's rim (if on a card),
        # scaled with the cut-out, inside the shadow's padding.
        rim, pad = (figure.cut.width - figure.picture.width) / 2, _shadow_pad(reach)
        kx, ky = px_w / figure.cut.width, px_h / figure.cut.height
        x0, y0 = pad + rim * kx, pad + rim * ky
        layer.picture = (x0, y0, x0 + figure.picture.width * kx, y0 + figure.picture.height * ky)
        return self._mips(layer, scales)

    @staticmethod
    def _mips(layer: Layer, scales: np.ndarray) -> Layer:
        """`layer` with the smaller copies it is drawn from while it shrinks."""
        density = layer.density
        smallest = float(scales.min()) / math.sqrt(MIP_STEP)
        ratio = 1 / MIP_STEP
        while density * ratio > smallest and len(layer.mips) < 24:
            size = (round(layer.image.width * ratio), round(layer.image.height * ratio))
            if min(size) < 2:
                break
            layer.mips.append(layer.image.resize(size, Image.BILINEAR, reducing_gap=2.0))
            ratio /= MIP_STEP
        return layer

    def frames(self) -> Iterator[np.ndarray]:
        n = self.request.frames
        previous_key, previous = None, None
        for i in range(n):
            plate_pose = self.poses.plate[i]
            shake = self.poses.shake[i]
            fade = self._fade(i)
            key = (
                tuple(np.round(plate_pose, 9)),
                tuple(np.round(self.poses.characters[i].ravel(), 9)),
                tuple(np.round(shake, 9)),
                fade,
            )
            if key == previous_key and previous is not None:
                image = previous
            else:
                image = self._compose(i, fade)
                previous_key, previous = key, image
            if self.burn is not None or self.subtitles:
                image = image.copy()
                self.subtitles.draw(image, i)
                if self.burn is not None:
                    self.burn.draw(image, i)
            yield np.asarray(image).copy()

    def placements(self, frames: Collection[int]) -> list[Placement]:
        """Where each character's reference picture is drawn in each of `frames`:
        the frame-pixel rectangle the whole picture covers (see `base.Placement`)."""
        placed = []
        for i in sorted(f for f in set(frames) if 0 <= f < self.request.frames):
            shake = self.poses.shake[i]
            if self.star is not None:
                box = self.plate.on_screen(self.poses.plate[i], shake, self.width, self.height)
                if box is not None:
                    placed.append(Placement(i, self.star[0], self.star[1], box))
            for index, cast in enumerate(self.cast):
                pose = self.poses.characters[i, index]
                box = cast.layer.at(pose[0]).on_screen(pose, shake, self.width, self.height)
                if cast.ref is not None and box is not None:
                    placed.append(Placement(i, cast.name, cast.ref, box))
        if self.framing.dutch:
            size = (self.width, self.height)
            placed = [replace(p, box=tilted_box(p.box, self.framing.dutch, size)) for p in placed]
        return placed

    def _fade(self, i: int) -> float:
        if self.fade_to is None:
            return 0.0
        into = i - (self.request.frames - self.fade_frames)
        return 0.0 if into < 0 else (into + 1) / self.fade_frames

    def _compose(self, i: int, fade: float) -> Image.Image:
        w, h, ss = self.width, self.height, self.plate.supersample
        shake = self.poses.shake[i]
        a, c, f = self.plate.mapping(self.poses.plate[i], shake, w, h)
        image = _sample(self.plate.image, (w * ss, h * ss), a, c, f, ss)
        for index in self.order:
            self._paste(image, self.cast[index].layer, self.poses.characters[i, index], shake)
        if self.framing.dutch:
            image = tilted(image, self.framing.dutch)
        if self.slate is not None:
            patch, at = self.slate
            image.paste(patch, at, patch)
        if fade > 0 and self.fade_to is not None:
            image = Image.blend(image, self.fade_to, min(1.0, fade))
        return image

    def _paste(self, frame: Image.Image, layer: Layer, pose, shake) -> None:
        w, h = self.width, self.height
        layer = layer.at(pose[0])
        a, c, f = layer.mapping(pose, shake, w, h)
        iw, ih = layer.image.size
        step = layer.supersample
        big_w, big_h = w * step, h * step
        x0, x1 = (0 - c) / a, (iw - c) / a  # supersampled screen span of the image
        y0, y1 = (0 - f) / a, (ih - f) / a
        bx0 = max(0, math.floor(x0 / step) * step)
        by0 = max(0, math.floor(y0 / step) * step)
        bx1 = min(big_w, math.ceil(x1 / step) * step)
        by1 = min(big_h, math.ceil(y1 / step) * step)
        if bx1 <= bx0 or by1 <= by0:
            return
        box = (bx1 - bx0, by1 - by0)
        patch = _sample(layer.image, box, a, c + a * bx0, f + a * by0, step)
        frame.paste(patch, (bx0 // step, by0 // step), patch)


def render(
    request: ShotRequest, burn_in: bool = True, subtitles: bool = True
) -> Iterator[np.ndarray]:
    """The shot's frames, HxWx3 uint8 RGB, drawn lazily one at a time."""
    if request.frames <= 0:
        return
    yield from Animatic(request, burn_in, subtitles).frames()
