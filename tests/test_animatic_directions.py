"""The animatic follows the directions a viewer checks: a `continuous` shot opens on the
previous shot's last frame, and an over-the-shoulder pair keeps screen direction.
Compiled end to end with the preview backend, decoded, and read on pixels."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
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
