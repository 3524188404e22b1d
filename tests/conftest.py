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
    """A throwaway project folder with refs: `check` and `plan` a script in process,
    `compile_film` one through the command line."""

    def __init__(self, root: Path):
        self.root = root
        write_refs(root)

    def write(self, text: str, name: str = "film.shot") -> Path:
        path = self.root / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    def check(self, text: str, name: str = "film.shot"):
        return check_file(self.write(text, name))

    def compile_film(
        self, text: str, *options: str, out: str = "film.mp4", name: str = "film.shot"
    ) -> Path:
        """`director compile` of `text` (written as `name`) into `out` in the project,
        quietly, with `options`; it must succeed.  The film's path."""
        from director.cli import main

        path = self.write(text, name)
        film = self.root / out
        assert main(["compile", str(path), "-o", str(film), "-q", *options]) == 0
        return film

    def plan(self, text: str, **options):
        checked = self.check(text)
        assert checked.film is not None, [d.message for d in checked.diagnostics]
        planned = plan_film(checked.film, **options)
        assert planned.plan is not None, [d.message for d in planned.diagnostics]
        return planned.plan


@pytest.fixture
def project(tmp_path) -> Project:
    return Project(tmp_path)
