"""The consistency report: built from a real compile, self-contained, and rendered
in headless Chromium (a screenshot is kept in build/test-artifacts/)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from photos import open_photos
from PIL import Image

from director import consistency as C
from director.cli import main

ARTIFACTS = Path(__file__).resolve().parents[1] / "build" / "test-artifacts"

FILM = """
title: The Report
format: 320x180 @ 12fps

character EILEEN
  description: an astronaut
  ref: refs/eileen.png

INT. CAPSULE - DAY

SHOT 1 CLOSE-UP on EILEEN 1s
  takes: 2
  consistency: 0.55
  EILEEN checks the dials.

SHOT 2 WIDE 1s
  Stars drift past the window.

SHOT 3 CLOSE-UP on EILEEN 1s
  EILEEN smiles <at> the "camera" & waves.
"""


@pytest.fixture(scope="module")
def compiled(tmp_path_factory, request):
    """A three-shot film compiled once: two shots of a character, one without."""
    root = tmp_path_factory.mktemp("report")
    photos = open_photos(request)
    photos.save("astronaut", root / "refs" / "eileen.png")
    script = root / "film.shot"
    script.write_text(FILM.lstrip(), encoding="utf-8")
    out = root / "out" / "film.mp4"
    assert main(["compile", str(script), "-o", str(out), "-q"]) == 0
    return out.with_name("film.report.html"), json.loads(out.with_name("film.run.json").read_text())


def test_the_run_record_has_every_shot_take_seed_and_decision(compiled):
    _, record = compiled
    assert [s["shot"] for s in record["shots"]] == ["1", "2", "3"]
    first, second, third = (s["select"] for s in record["shots"])
    assert len(first["candidates"]) >= 2 and first["minimum"] == 0.55
    assert all(isinstance(c["seed"], int) for c in first["candidates"])
    assert first["decision"] and first["candidates"][first["take"]]["score"] == first["score"]
    assert second["score"] is None and "no character" in second["decision"]
    expected = "face" if C.face_available() else "appearance"
    assert record["consistency"]["embedder"] == expected
    assert third["candidates"][0]["characters"]["EILEEN"]["drift"] is not None


def test_the_report_is_one_self_contained_page(compiled):
    page, record = compiled
    html = page.read_text(encoding="utf-8")
    for shot in record["shots"]:
        assert f"id='shot-{shot['shot']}'" in html
    assert html.count("class='take chosen'") == 3
    sources = re.findall(r"src='([^']*)'", html)
    assert sources and all(s.startswith("data:image/jpeg;base64,") for s in sources)
    assert not re.search(r"(href|src)=['\"]?(https?:|//|file:)", html)  # nothing fetched
    assert "&lt;at&gt; the &quot;camera&quot; &amp; waves" in html  # the prompt, escaped
    assert "EILEEN" in html and "refs" in html


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        reason = "Debian's chromium is not installed (.ci/run installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return found


def test_the_report_renders_in_headless_chromium(compiled, tmp_path):
    page, record = compiled
    browser = chromium()
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}",
    ]  # fmt: skip
    screenshot = tmp_path / "report.png"
    subprocess.run(
        [browser, *flags, f"--screenshot={screenshot}", "--window-size=1400,1100", page.as_uri()],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    rows = re.findall(r'<tr id="shot-([^"]+)" class="shot-row">', dom)
    assert rows == [s["shot"] for s in record["shots"]]  # every shot, parsed and laid out
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(screenshot, ARTIFACTS / "report.png")
    image = np.asarray(Image.open(screenshot).convert("RGB"), np.float64)
    assert image.shape[:2] == (1100, 1400)
    assert image.std() > 20  # not blank
    # The pictures are drawn: the astronaut's orange suit is on the page.
    orange = (image[..., 0] > 180) & (image[..., 1] < 140) & (image[..., 2] < 90)
    assert orange.sum() > 500
    # And the three rows are visible: each row starts with a bold shot number in the
    # first column, whose light pixels make a band per row.
    column = image[:, 8:60].mean(-1).max(1) > 200
    bands = np.flatnonzero(np.diff(column.astype(int)) == 1)
    assert len(bands) >= 4  # the header's title, then the shot numbers
