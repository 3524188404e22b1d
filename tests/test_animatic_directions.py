"""The animatic follows the directions a viewer checks: a `continuous` shot opens on the
previous shot's last frame, and an over-the-shoulder pair keeps screen direction.
Compiled end to end with the preview backend, decoded, and read on pixels."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image, ImageDraw

from director.cli import main

CONTINUOUS = """
title: Join
format: 320x180 @ 24fps
location DOCK
  description: a dock at dusk
  ref: refs/dock.png

EXT. DOCK - DUSK

SHOT 1 WIDE 1s
  camera: pan right 40deg
  The water is still.

SHOT 2 WIDE 1s continuous
  camera: static
  The water is still.
"""


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def compile_film(project, text: str) -> list[np.ndarray]:
    path = project.write(text)
    out = project.root / "film.mp4"
    assert main(["compile", str(path), "-o", str(out), "-q"]) == 0
    return decode(out)


def dock_plate(folder: Path) -> None:
    """A plate whose every part differs: a gradient with a bright square left of centre."""
    x, y = np.meshgrid(np.linspace(0, 1, 640), np.linspace(0, 1, 360))
    pixels = np.stack([40 + 180 * x, 50 + 120 * y, 90 + 0 * x], axis=2).astype(np.uint8)
    plate = Image.fromarray(pixels)
    ImageDraw.Draw(plate).rectangle((250, 140, 300, 190), fill=(255, 255, 0))
    plate.save(folder / "dock.png")


def picture_only(frame: np.ndarray) -> np.ndarray:
    """The frame without the burn-in's corners (shot id, timecode)."""
    return frame[30:150, 20:300].astype(int)


def test_a_continuous_shot_opens_on_the_previous_shots_last_frame(project):
    dock_plate(project.root / "refs")
    frames = compile_film(project, CONTINUOUS)
    assert len(frames) == 48
    last, first = picture_only(frames[23]), picture_only(frames[24])
    assert np.abs(last - first).mean() < 3  # the same picture, through the codec twice
    # The location's own picture at rest (a hard cut) is far from it: the pan moved it.
    rest = frames[0]
    assert np.abs(picture_only(rest) - first).mean() > 15


# -- over the shoulder, and the 180° rule ------------------------------------------------------

W, H = 320, 180


def figure(folder: Path, name: str, colour: tuple[int, int, int]) -> Path:
    """A figure in `colour` on flat green (keyed out): a head and a body."""
    picture = Image.new("RGB", (200, 400), (0, 200, 0))
    draw = ImageDraw.Draw(picture)
    draw.ellipse((60, 30, 140, 110), fill=colour)
    draw.rectangle((50, 120, 150, 400), fill=colour)
    path = folder / f"{name}.png"
    picture.save(path)
    return path


def shot(tmp_path: Path, size: str, names: list[str]) -> np.ndarray:
    from backends.base import CharacterRefs, ShotRequest
    from backends.preview import PreviewBackend

    pictures = {"MARA": (220, 30, 30), "ELI": (30, 60, 220)}
    x, y = np.meshgrid(np.linspace(0, 1, 640), np.linspace(0, 1, 360))
    plate = np.stack([120 + 60 * x, 130 + 40 * y, 140 + 0 * x], axis=2).astype(np.uint8)
    Image.fromarray(plate).save(tmp_path / "room.png")
    characters = tuple(CharacterRefs(n, (figure(tmp_path, n.lower(), pictures[n]),)) for n in names)
    request = ShotRequest(
        shot_id="1", size=size, prompt="1", negative="", seed=1, width=W, height=H,
        fps=24.0, frames=1, plate=tmp_path / "room.png", characters=characters,
    )  # fmt: skip
    return next(iter(PreviewBackend(burn_in=False).generate(request).frames))


def where(frame: np.ndarray, colour: str) -> tuple[float, float]:
    """(share of the frame, mean x as a share of the width) of a colour's pixels."""
    r, g, b = (frame[:, :, i].astype(int) for i in range(3))
    mask = {
        "red": (r > 150) & (g < 90) & (b < 90),
        "blue": (b > 150) & (r < 90) & (g < 120),
        "dark": (r < 45) & (g < 45) & (b < 50),
    }[colour]
    ys, xs = np.nonzero(mask)
    return mask.mean(), (xs.mean() / W if xs.size else float("nan"))


def test_over_the_shoulder_frames_past_a_dark_near_shoulder(tmp_path):
    frame = shot(tmp_path, "OVER-THE-SHOULDER", ["MARA", "ELI"])
    red, red_x = where(frame, "red")
    dark, dark_x = where(frame, "dark")
    assert where(frame, "blue")[0] == 0  # ELI has their back to us: a shape, no face
    assert dark > 0.05 and red > 0.03  # a large near shoulder, MARA seen beyond it
    assert dark_x < 0.3 and red_x > 0.55  # on opposite sides
    # The shoulder is cut by the frame's edge and the bottom: it is close to the camera.
    ys, xs = np.nonzero((frame.astype(int) < 45).all(axis=2))
    assert xs.min() == 0 and ys.max() == H - 1


def test_an_over_the_shoulder_pair_keeps_screen_direction(tmp_path):
    """Shot and reverse shot: MARA stays right and ELI left, whoever faces the camera."""
    on_mara = shot(tmp_path, "OVER-THE-SHOULDER", ["MARA", "ELI"])
    on_eli = shot(tmp_path, "OVER-THE-SHOULDER", ["ELI", "MARA"])
    assert where(on_mara, "red")[1] > 0.55 and where(on_mara, "dark")[1] < 0.45
    assert where(on_eli, "blue")[1] < 0.45 and where(on_eli, "dark")[1] > 0.55
    assert where(on_eli, "red")[0] == 0
    # A two-shot naming them in either order keeps the same sides.
    for names in (["MARA", "ELI"], ["ELI", "MARA"]):
        frame = shot(tmp_path, "TWO-SHOT", names)
        assert where(frame, "blue")[1] < 0.5 < where(frame, "red")[1]


# -- close-ups: the chin in frame, the mouth clear of the subtitles ----------------------------

MOUTH, CHIN = (250, 0, 250), (0, 250, 250)
LONG_LINE = "Another night, old friend, and the sea is loud again tonight, the whole long night."


def faces(folder: Path) -> dict[str, Path]:
    """Three kinds of character picture, each with a magenta mouth and a cyan chin:
    a whole figure and a head-and-shoulders bust on flat green (keyed), and an opaque
    portrait photograph on a busy background."""
    whole = Image.new("RGB", (200, 600), (0, 200, 0))
    draw = ImageDraw.Draw(whole)
    draw.ellipse((60, 20, 140, 120), fill=(230, 180, 150))
    draw.rectangle((85, 95, 115, 102), fill=MOUTH)
    draw.rectangle((80, 112, 120, 119), fill=CHIN)
    draw.rectangle((40, 125, 160, 600), fill=(60, 60, 160))
    bust = Image.new("RGB", (400, 500), (0, 200, 0))
    draw = ImageDraw.Draw(bust)
    draw.ellipse((120, 40, 280, 250), fill=(230, 180, 150))
    draw.rectangle((170, 195, 230, 210), fill=MOUTH)
    draw.rectangle((160, 235, 240, 248), fill=CHIN)
    draw.rectangle((60, 260, 340, 500), fill=(60, 60, 160))
    noise = np.random.default_rng(0).integers(0, 80, (800, 600, 3), dtype=np.uint8)
    photo = Image.fromarray(noise)
    draw = ImageDraw.Draw(photo)
    draw.ellipse((180, 130, 420, 480), fill=(230, 180, 150))
    draw.rectangle((250, 400, 350, 420), fill=MOUTH)
    draw.rectangle((240, 460, 360, 478), fill=CHIN)
    draw.rectangle((100, 480, 500, 800), fill=(60, 60, 160))
    paths = {}
    for name, picture in (("whole", whole), ("bust", bust), ("photo", photo)):
        paths[name] = folder / f"{name}.png"
        picture.save(paths[name])
    return paths


def rows_of(frame: np.ndarray, colour: tuple[int, int, int]) -> tuple[int, int] | None:
    near = np.abs(frame.astype(int) - np.array(colour)).max(axis=2) < 40
    ys = np.nonzero(near.any(axis=1))[0]
    return (int(ys.min()), int(ys.max())) if ys.size else None


@pytest.mark.parametrize("size", ["CLOSE-UP", "EXTREME CLOSE-UP"])
@pytest.mark.parametrize("kind", ["whole", "bust", "photo"])
def test_a_close_up_keeps_the_chin_and_the_subtitles_clear_of_the_mouth(tmp_path, kind, size):
    from backends.base import CharacterRefs, ShotRequest
    from backends.preview import PreviewBackend

    picture = faces(tmp_path)[kind]
    said = {"speaker": "MARA", "text": LONG_LINE, "start": 0, "frames": 1}
    request = ShotRequest(
        shot_id="1", size=size, prompt="1", negative="", seed=1, width=W, height=H,
        fps=24.0, frames=1, characters=(CharacterRefs("MARA", (picture,)),),
    )  # fmt: skip
    quiet = next(iter(PreviewBackend(burn_in=False).generate(request).frames))
    spoken = replace(request, dialogue=(said,))
    frame = next(iter(PreviewBackend(burn_in=False).generate(spoken).frames))
    chin, mouth = rows_of(quiet, CHIN), rows_of(frame, MOUTH)
    assert chin is not None and chin[1] < H - 1  # the whole chin, above the frame's foot
    assert mouth is not None and rows_of(quiet, MOUTH) == mouth  # not covered
    subtitles = np.nonzero((frame != quiet).any(axis=2).any(axis=1))[0]
    assert subtitles.min() > mouth[1]  # the subtitles start below the mouth
    # A close-up is on the face: it is a large part of the frame.
    assert chin[0] > H * 0.5
