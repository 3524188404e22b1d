"""Shared test helpers: small real media files and one-call compile helpers."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PIL import Image

from director.check import check_file
from director.plan import plan_film


def write_refs(folder: Path) -> Path:
    """Real, small media files: two images, two sounds of known length."""
    refs = folder / "refs"
    refs.mkdir(parents=True, exist_ok=True)
    for name, colour in (("hero.png", (200, 60, 40)), ("room.png", (40, 60, 90))):
        Image.new("RGB", (640, 360), colour).save(refs / name)
    rate = 48000
    tone = 0.2 * np.sin(2 * np.pi * 440 * np.arange(rate * 20) / rate)
    soundfile.write(refs / "music.wav", tone.astype(np.float32), rate)
    soundfile.write(refs / "hit.wav", tone[: rate // 2].astype(np.float32), rate)
    return refs


class Project:
    """A throwaway project folder with refs; `compile` checks and plans a script."""

    def __init__(self, root: Path):
        self.root = root
        write_refs(root)

    def write(self, text: str, name: str = "film.shot") -> Path:
        path = self.root / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    def check(self, text: str, name: str = "film.shot"):
        return check_file(self.write(text, name))

    def plan(self, text: str, **options):
        checked = self.check(text)
        assert checked.film is not None, [d.message for d in checked.diagnostics]
        planned = plan_film(checked.film, **options)
        assert planned.plan is not None, [d.message for d in planned.diagnostics]
        return planned.plan


@pytest.fixture
def project(tmp_path) -> Project:
    return Project(tmp_path)
