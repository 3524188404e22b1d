"""Keyframe first: `keyframe first: generate`, `keyframes: generate`, the keyframe node,
its scoring and retries, and what reaches the video backend (docs/keyframes.md)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from backends import image
from backends.preview import PreviewBackend
from director.cache import Cache
from director.check import check_file
from director.cli import main
from director.plan import Consistency, plan_film
from director.plan_nodes import Generate, Keyframe
from director.run import execute

HEADER = """title: Keyframes
format: 320x180 @ 12fps
{extra}
character MARA
  description: a keeper in a yellow coat
  ref: mara.png

location ROOM
  description: a lamp room
  ref: room.png

INT. ROOM - NIGHT

"""

SHOTS = """SHOT 1 MEDIUM on MARA 1s
  MARA looks up.

SHOT 2 WIDE on MARA 1s continuous
  MARA turns.

SHOT 3 CLOSE-UP on MARA 1s
  MARA smiles.
"""


def _project(folder: Path, extra: str = "", shots: str = SHOTS) -> Path:
    rng = np.random.default_rng(7)
    mara = np.zeros((240, 180, 3), np.uint8)
    mara[:, :, 0], mara[40:120, 40:120] = 220, (30, 90, 200)
    Image.fromarray(mara).save(folder / "mara.png")
    room = rng.integers(0, 255, (180, 320, 3), dtype=np.uint8)
    Image.fromarray(room).save(folder / "room.png")
    script = folder / "film.shot"
    script.write_text(HEADER.format(extra=extra) + shots)
    return script


def _plan(script: Path, keyframes: str | None = None, minimum: float | None = None, retries=2):
    checked = check_file(script)
    assert checked.film is not None, [str(d) for d in checked.diagnostics]
    scoring = Consistency(embedder="appearance", minimum=minimum, max_retries=retries)
    planned = plan_film(checked.film, backend="preview", scoring=scoring, keyframes=keyframes)
    assert planned.plan is not None
    return planned.plan


# ------------------------------------------------------------------ language


def test_keyframe_generate_is_a_request_and_a_quoted_generate_is_a_file(tmp_path):
    shots = 'SHOT 1 MEDIUM on MARA 1s\n  keyframe first: generate\n  keyframe last: "generate"\n'
    checked = check_file(_project(tmp_path, shots=shots))
    errors = [d for d in checked.diagnostics if d.severity == "error"]
    assert checked.film is None and len(errors) == 1  # the file called generate is missing
    assert "generate" in errors[0].message
    shots = "SHOT 1 MEDIUM on MARA 1s\n  keyframe first: generate\n  keyframe last: generate\n"
    film = check_file(_project(tmp_path, shots=shots)).film
    assert film is not None
    assert (film.shots[0].generate_first, film.shots[0].generate_last) == (True, True)
    assert film.shots[0].keyframe_first is None


def test_the_header_default_takes_generate_or_an_image_backend(tmp_path):
    checked = check_file(_project(tmp_path, "keyframes: flux2-klien"))
    assert checked.film is None
    found = checked.diagnostics[0]
    assert found.code == "E018" and "no image backend called 'flux2-klien'" in found.message
    assert (found.span.line, found.span.column) == (3, 12)
    assert found.help == 'did you mean "flux2-klein"?'
    assert check_file(_project(tmp_path, "keyframes: generate")).film.keyframes == "generate"
    named = check_file(_project(tmp_path, "keyframes: qwen-image-edit-plus")).film
    assert named.keyframes == "qwen-image-edit-plus"


def test_fmt_keeps_the_keyframes_default_in_the_header_block():
    from director.fmt import format_text

    text = "title: KF\nkeyframes: generate\nseed: 3\n"
    assert format_text(text) == text


# ----------------------------------------------------------------------- plan


def test_a_script_without_generate_plans_no_keyframe_node(tmp_path):
    plan = _plan(_project(tmp_path))
    assert plan.of_class(Keyframe) == []


def test_header_default_makes_one_keyframe_per_shot_but_not_for_a_continuous_one(tmp_path):
    plan = _plan(_project(tmp_path, "keyframes: generate"))
    made = {k.shot: k for k in plan.of_class(Keyframe)}
    assert sorted(made) == ["1", "3"]  # shot 2 starts from shot 1's last frame
    window = plan.node("shot/1/take0/window0")
    assert isinstance(window, Generate)
    assert window.params.shot.keyframe_first == made["1"].id
    assert made["1"].id in window.inputs
    # The image prompt is rendered from the shot: size, character, location, action.
    prompt = made["1"].params.prompt
    for words in ("medium shot", "Mara (a keeper in a yellow coat)", "a lamp room", "looks up"):
        assert words in prompt, prompt
    # The references are the on-screen character's and the location's pictures.
    assert made["1"].params.references == ["mara.png", "room.png"]


def test_the_cli_default_equals_the_header_default(tmp_path):
    by_flag = _plan(_project(tmp_path), keyframes="generate")
    by_header = _plan(_project(tmp_path, "keyframes: generate"))
    assert [n.hash for n in by_flag.nodes] == [n.hash for n in by_header.nodes]


def test_a_pinned_keyframe_wins_over_the_default(tmp_path):
    shots = "SHOT 1 MEDIUM on MARA 1s\n  keyframe first: room.png\n"
    plan = _plan(_project(tmp_path, "keyframes: generate", shots))
    assert plan.of_class(Keyframe) == []
    assert plan.node("shot/1/take0/window0").params.shot.keyframe_first == "room.png"


def test_editing_one_shot_changes_one_keyframe(tmp_path):
    before = _plan(_project(tmp_path, "keyframes: generate"))
    edited = SHOTS.replace("MARA smiles.", "MARA frowns.")
    after = _plan(_project(tmp_path, "keyframes: generate", edited))
    old = {k.id: k.hash for k in before.of_class(Keyframe)}
    new = {k.id: k.hash for k in after.of_class(Keyframe)}
    assert [i for i in old if old[i] != new[i]] == ["shot/3/keyframe_first"]


# ------------------------------------------------------------------------ run


@pytest.fixture
def video_requests(monkeypatch):
    """Every request the preview backend is asked to make, in order."""
    seen = []
    original = PreviewBackend.generate

    def spy(self, request):
        seen.append(request)
        return original(self, request)

    monkeypatch.setattr(PreviewBackend, "generate", spy)
    return seen


def test_the_accepted_keyframe_is_the_video_backends_first_frame(tmp_path, video_requests):
    script = _project(tmp_path, "keyframes: generate")
    plan = _plan(script)
    result = execute(plan, tmp_path, Cache(tmp_path / "cache"))
    assert result.ok, [str(f) for f in result.failures]
    for shot in ("1", "3"):
        accepted = result.outputs[f"shot/{shot}/keyframe_first"].file("keyframe.png")
        first = next(r for r in video_requests if r.shot_id == shot).keyframe_first
        assert first is not None and first.read_bytes() == accepted.read_bytes()
    # The continuous shot starts from the previous shot's last frame, not a keyframe.
    second = next(r for r in video_requests if r.shot_id == "2")
    assert second.keyframe_first is None and second.previous_frame is not None


class _FirstTryFails(image.ImageBackend):
    """Noise with the planned seed, the character's own picture with any other: a
    keyframe built to fail the identity check once."""

    name = "first-try-fails"
    capabilities = image.ImageCapabilities(max_references=4, edits=True)
    planned: set[int] = set()

    def make(self, request: image.ImageRequest) -> Image.Image:
        if request.seed in self.planned:
            rng = np.random.default_rng(request.seed)
            noise = rng.integers(0, 255, (request.height, request.width, 3), dtype=np.uint8)
            return Image.fromarray(noise)
        return Image.open(request.characters[0].refs[0]).convert("RGB")


class _NeverPasses(_FirstTryFails):
    name = "never-passes"

    def make(self, request: image.ImageRequest) -> Image.Image:
        return Image.new("RGB", (request.width, request.height), (0, 128, 0))


@pytest.fixture
def maker(monkeypatch):
    def use(kind: type[image.ImageBackend]):
        monkeypatch.setitem(image.MAKERS, image.BUILT_IN, kind)
        monkeypatch.setitem(image.MAKERS, kind.name, kind)
        return kind

    return use


def test_a_keyframe_below_its_minimum_is_remade_and_both_tries_are_kept(tmp_path, maker):
    used = maker(_FirstTryFails)
    plan = _plan(_project(tmp_path, "keyframes: generate"), minimum=0.5)
    used.planned = {k.params.seed for k in plan.of_class(Keyframe)}
    result = execute(plan, tmp_path, Cache(tmp_path / "cache"))
    assert result.ok, [str(f) for f in result.failures]
    meta = result.outputs["shot/1/keyframe_first"].meta
    scores = [t["score"] for t in meta["tries"]]
    assert len(scores) == 2 and scores[0] < 0.5 <= scores[1]
    assert meta["accepted"] == 1 and meta["reached"] is True
    assert meta["tries"][1]["seed"] != meta["tries"][0]["seed"]


def test_the_report_shows_both_tries_with_their_scores(tmp_path, maker, capsys):
    used = maker(_FirstTryFails)
    script = _project(tmp_path, "keyframes: generate")
    used.planned = {k.params.seed for k in _plan(script, minimum=0.5).of_class(Keyframe)}
    out = tmp_path / "film.mp4"
    argv = ["compile", str(script), "-o", str(out), "-q", "--consistency", "0.5",
            "--embedder", "appearance", "--no-burn-in"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    page = (tmp_path / "film.report.html").read_text()
    assert page.count("first keyframe, try 0") == 2 and page.count("first keyframe, try 1") == 2
    scores = re.findall(r"<span class='kf-score'>([0-9.]+)</span>", page)
    assert len(scores) == 4 and float(scores[0]) < 0.5 <= float(scores[1])


def test_strict_stops_before_any_video_when_keyframes_never_pass(
    tmp_path, maker, video_requests, capsys
):
    maker(_NeverPasses)
    script = _project(tmp_path, "keyframes: generate")
    argv = ["compile", str(script), "-o", str(tmp_path / "film.mp4"), "-q", "--strict",
            "--consistency", "0.5", "--embedder", "appearance", "--max-retries", "1"]  # fmt: skip
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "no try of its first keyframe reached consistency 0.50 (try 0: 0.00, try 1: 0.00)" in err
    assert video_requests == []  # not one call to the video backend
    assert not (tmp_path / "film.mp4").exists()


# ----------------------------------------------------------------- storyboard


def test_storyboard_writes_html_pdf_and_pngs_and_renders_in_chromium(tmp_path, video_requests):
    from test_report import ARTIFACTS, chromium

    shots = SHOTS + "\nSHOT 4 WIDE 1s\n  camera: pan left\n  keyframe last: generate\n"
    script = _project(tmp_path, shots=shots)  # no `keyframes:`: the storyboard asks for them
    assert main(["storyboard", str(script), "--embedder", "appearance"]) == 0
    folder = tmp_path / "film.storyboard"
    assert sorted(p.name for p in folder.glob("*.png")) == ["1.png", "3.png", "4.last.png",
                                                            "4.png"]  # fmt: skip
    assert video_requests == []  # only keyframes
    # The PNGs are the accepted keyframes, which a script can pin.
    with Image.open(folder / "1.png") as picture:
        assert picture.size == (320, 180)
    # The PDF: one page per shot, read back by a PDF reader.
    import pypdf

    assert len(pypdf.PdfReader(folder / "storyboard.pdf").pages) == 4
    # The HTML: self-contained, every shot laid out by a real browser.
    page = folder / "index.html"
    assert not re.search(r"(href|src)=['\"]?(https?:|//|file:)", page.read_text())
    browser = chromium()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}"]  # fmt: skip
    shot = tmp_path / "storyboard.png"
    subprocess.run([browser, *flags, f"--screenshot={shot}", "--window-size=1200,900",
                    page.as_uri()], capture_output=True, timeout=120, check=True)  # fmt: skip
    dom = subprocess.run([browser, *flags, "--dump-dom", page.as_uri()], capture_output=True,
                         text=True, timeout=120, check=True).stdout  # fmt: skip
    assert re.findall(r'<figure class="panel" id="shot-([^"]+)">', dom) == ["1", "2", "3", "4"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, ARTIFACTS / "storyboard.png")
    image = np.asarray(Image.open(shot).convert("RGB"), np.float64)
    assert image.std() > 20  # not blank
    # A script pins a storyboard picture, and the storyboard is made again over it.
    made = (folder / "3.png").read_bytes()
    pin = "  MARA smiles.\n  keyframe first: film.storyboard/3.png"
    _project(tmp_path, shots=SHOTS.replace("  MARA smiles.", pin))
    assert main(["storyboard", str(script), "--embedder", "appearance"]) == 0
    assert (folder / "3.png").read_bytes() == made


def test_editing_one_shot_and_rerunning_the_storyboard_remakes_one_keyframe(tmp_path):
    from director import storyboard

    def board(shots: str):
        plan = _plan(_project(tmp_path, shots=shots), keyframes="generate")
        cache = Cache(tmp_path / "cache")
        return storyboard.write_storyboard(plan, tmp_path, cache, tmp_path / "board").result

    first = board(SHOTS)
    assert sorted(i for i in first.ran if "keyframe" in i) == [
        "shot/1/keyframe_first", "shot/3/keyframe_first"
    ]  # fmt: skip
    again = board(SHOTS.replace("MARA smiles.", "MARA frowns."))
    assert [i for i in again.ran if "keyframe" in i] == ["shot/3/keyframe_first"]


def test_compile_storyboard_writes_the_storyboard_beside_the_film_and_no_video(
    tmp_path, video_requests
):
    script = _project(tmp_path)
    film = tmp_path / "out" / "cut.mp4"
    assert main(["compile", str(script), "--storyboard", "-o", str(film), "-q"]) == 0
    assert sorted(p.name for p in (tmp_path / "out" / "cut.storyboard").glob("*.png")) == [
        "1.png", "3.png"
    ]  # fmt: skip
    assert video_requests == [] and not film.exists()
