"""Choosing the image backend (`keyframes: NAME`, `--keyframes NAME`), what it is
given (references within its limit, the most representative first), how its
keyframes are scored (against earlier keyframes too) and what they cost in the
plan (docs/keyframes.md).  Fast: the video backend is the preview animatic."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from backends import image
from director import budget
from director.check import check_file
from director.cli import main
from director.consistency import most_representative
from director.plan import Consistency, plan_film
from director.plan_nodes import Keyframe
from director.run import execute

SCRIPT = """title: Choosing
format: 160x96 @ 12fps
keyframes: {maker}

character MARA
  description: a keeper in a red coat
{refs}
location ROOM
  description: a lamp room
  ref: room.png

INT. ROOM - NIGHT

SHOT 1 MEDIUM on MARA 1s
  MARA looks up.

SHOT 2 WIDE 1s
  The lamp turns.

SHOT 3 CLOSE-UP on MARA 1s
  MARA smiles.
"""


def _picture(folder: Path, name: str, colour, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    noise = rng.integers(-25, 25, (120, 90, 3))
    path = folder / name
    Image.fromarray(np.clip(np.asarray(colour) + noise, 0, 255).astype(np.uint8)).save(path)
    return path


def _project(folder: Path, maker: str = "generate", refs=("mara.png",)) -> Path:
    colours = {"mara.png": (210, 30, 30), "mara-near.png": (200, 45, 35),
               "mara-odd.png": (30, 200, 60), "room.png": (70, 70, 160)}  # fmt: skip
    for seed, (name, colour) in enumerate(colours.items()):
        _picture(folder, name, colour, seed)
    lines = "".join(f"  ref: {ref}\n" for ref in refs)
    script = folder / "film.shot"
    script.write_text(SCRIPT.format(maker=maker, refs=lines))
    return script


def _plan(script: Path, keyframes: str | None = None, minimum: float | None = None):
    checked = check_file(script)
    assert checked.film is not None, [str(d) for d in checked.diagnostics]
    scoring = Consistency(embedder="appearance", minimum=minimum)
    return plan_film(checked.film, backend="preview", scoring=scoring, keyframes=keyframes)


class _Recording(image.ImageBackend):
    """A keyframe maker for tests: records what it is asked for, and shows the
    character's first given reference (or, from `shown`, another picture by shot)."""

    name = "recording"
    capabilities = image.ImageCapabilities(max_references=3, edits=True)
    requests: list[image.ImageRequest] = []
    shown: dict[str, Path] = {}

    def make(self, request: image.ImageRequest) -> Image.Image:
        type(self).requests.append(request)
        path = self.shown.get(request.shot_id, request.references[0])
        with Image.open(path) as picture:
            return picture.convert("RGB").resize((request.width, request.height))


class _TextOnly(_Recording):
    name = "text-only"
    capabilities = image.ImageCapabilities(max_references=0, edits=False)


@pytest.fixture
def makers(monkeypatch):
    for kind in (_Recording, _TextOnly):
        monkeypatch.setitem(image.MAKERS, kind.name, kind)
    monkeypatch.setattr(_Recording, "requests", [])
    monkeypatch.setattr(_Recording, "shown", {})


# ------------------------------------------------------------------ choosing


def test_keyframes_name_chooses_the_image_backend_in_the_node(tmp_path):
    plan = _plan(_project(tmp_path, "flux2-klein")).plan
    assert {k.params.maker for k in plan.of_class(Keyframe)} == {"flux2-klein"}
    # The built-in maker's keyframe JSON has none of the model's fields.
    built_in = _plan(_project(tmp_path)).plan.of_class(Keyframe)[0]
    written = json.loads(built_in.model_dump_json())["params"]
    assert built_in.params.maker == "animatic"
    assert not {"maker_options", "max_references"} & set(written)


def test_an_unknown_keyframes_backend_on_the_command_line_gets_did_you_mean(tmp_path, capsys):
    script = _project(tmp_path)
    assert main(["plan", str(script), "--backend", "preview", "--keyframes", "qwen-edit"]) == 2
    err = capsys.readouterr().err
    assert "no image backend called 'qwen-edit'" in err
    assert 'did you mean "qwen-image-edit-plus"?' in err


def test_a_maker_that_reads_no_references_is_a_located_warning_at_plan_time(tmp_path, makers):
    planned = _plan(_project(tmp_path), keyframes="text-only")
    assert planned.plan is not None
    warnings = [d for d in planned.diagnostics if d.code == "W109"]
    # Every shot: the room's picture is left out of shot 2's too.
    lines = [(d.span.line, "text-only" in d.message) for d in warnings]
    assert lines == [(15, True), (18, True), (21, True)]
    assert all(k.params.references == [] for k in planned.plan.of_class(Keyframe))


# ------------------------------------------------------- references over the limit


def test_most_representative_puts_the_odd_picture_last(tmp_path):
    _project(tmp_path)
    refs = [tmp_path / "mara-odd.png", tmp_path / "mara.png", tmp_path / "mara-near.png"]
    ranked = most_representative(refs, "appearance")
    assert ranked[-1] == tmp_path / "mara-odd.png"
    assert sorted(ranked[:2]) == sorted(refs[1:])


def test_above_the_limit_the_embedder_chooses_each_owners_most_representative(tmp_path, makers):
    refs = ("mara-odd.png", "mara.png", "mara-near.png")
    script = _project(tmp_path, refs=refs)
    plan = _plan(script, keyframes="recording").plan
    made = plan.of_class(Keyframe)[0]
    assert made.params.max_references == 3 and len(made.params.references) == 4
    result = execute(plan, tmp_path, _cache(tmp_path))
    assert result.ok, [str(f) for f in result.failures]
    given = [p.name for p in _Recording.requests[0].references]
    # MARA's two alike pictures and the room's; the odd one out is left.
    assert sorted(given) == ["mara-near.png", "mara.png", "room.png"]
    assert given[1] == "room.png"  # owners take turns: MARA's best, the room, MARA's next
    meta = result.outputs[made.id].meta
    assert [Path(p).name for p in meta["references"]] == given


# ---------------------------------------------------- scored against earlier shots


def test_a_keyframe_is_scored_against_the_characters_earlier_keyframe(tmp_path, makers):
    script = _project(tmp_path, refs=("mara.png", "mara-odd.png"))
    plan = _plan(script, keyframes="recording").plan
    first, third = (next(k for k in plan.of_class(Keyframe) if k.shot == s) for s in "13")
    assert first.params.anchors == {} and third.params.anchors == {"MARA": first.id}
    assert first.id in third.inputs
    # Shot 1 shows MARA's first picture, shot 3 her other one: each matches a
    # reference, but shot 3 no longer looks like shot 1.
    _Recording.shown = {"1": tmp_path / "mara.png", "3": tmp_path / "mara-odd.png"}
    result = execute(plan, tmp_path, _cache(tmp_path))
    assert result.ok, [str(f) for f in result.failures]
    later = result.outputs[third.id].meta["tries"][0]
    assert later["drift"]["MARA"] < 0.5 < _reference_score(tmp_path, "mara-odd.png")
    assert later["score"] == later["characters"]["MARA"] == later["drift"]["MARA"]
    assert "drift" not in result.outputs[first.id].meta["tries"][0]


def _reference_score(folder: Path, name: str) -> float:
    """What the picture scores against MARA's references alone."""
    from director import consistency

    refs = [folder / "mara.png", folder / "mara-odd.png"]
    with Image.open(folder / name) as picture:
        frame = np.asarray(picture.convert("RGB").resize((160, 96)))
    scored = consistency.score_frames([frame], [consistency.Character("MARA", refs)], "appearance")
    return scored.characters[0].score


def _cache(folder: Path):
    from director.cache import Cache

    return Cache(folder / "cache")


# ------------------------------------------------------------------- the cost


def test_the_plans_cost_counts_keyframes_apart_from_the_video(tmp_path):
    plan = _plan(_project(tmp_path, "flux2-klein"), minimum=0.5).plan
    assert [k.maker for k in plan.cost.keyframes] == ["flux2-klein"]
    counted = plan.cost.keyframes[0]
    # Shots 1 and 3 may be remade twice; shot 2 has no one to score, so one try.
    assert (counted.keyframes, counted.tries, counted.device) == (3, 7, "cuda")
    assert counted.memory_bytes == image.get("flux2-klein").capabilities.estimate.weights_bytes
    assert sum(d.windows for d in plan.cost.devices) == 3  # the video windows, as before
    assert "3 keyframes (at most 7 tries) with flux2-klein on the cuda" in budget.summary(plan)
    built_in = _plan(_project(tmp_path, "generate")).plan
    assert [k.maker for k in built_in.cost.keyframes] == ["animatic"]
    # A plan without keyframes has no such field: its JSON is as before.
    plain = _plan(_write_without_keyframes(tmp_path)).plan
    assert "keyframes" not in json.loads(plain.to_json())["cost"]


def _write_without_keyframes(folder: Path) -> Path:
    script = _project(folder)
    script.write_text(script.read_text().replace("keyframes: generate\n", ""))
    return script
