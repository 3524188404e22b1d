"""The planner: graph shape, cache-key hashes, the timeline and backend rules."""

import json
import os
import subprocess
import sys

import jsonschema
import pytest

from backends.ltx2 import LTX2Backend
from backends.wan import WanBackend
from director.cli import main
from director.plan import plan_schema, split_windows

SCRIPT = """
title: Hashes
character HERO
  description: a courier in a red coat
  ref: refs/hero.png
location ROOM
  description: a bare concrete room
  ref: refs/room.png
audio MUSIC: refs/music.wav

INT. ROOM - DAY

SHOT 1 WIDE 4s
  HERO waits by the door.
  music MUSIC from 0s for 12s duck under dialogue

SHOT 2 MEDIUM on HERO 4s
  HERO checks a watch.
  HERO
    Late again.

DISSOLVE TO: 12f

SHOT 3 CLOSE-UP on HERO 3s
  HERO looks up.

SHOT 4 CLOSE-UP on HERO 3s continuous
  HERO turns to the window.

SHOT 5 WIDE 4s
  The room is empty.
"""


def hashes(plan) -> dict[str, str]:
    return {node.id: node.hash for node in plan.nodes}


def changed(project, before: str, after: str) -> set[str]:
    old, new = hashes(project.plan(before)), hashes(project.plan(after))
    assert set(old) == set(new)
    return {node for node in old if old[node] != new[node]}


def shot_nodes(shot: str, takes: int = 1) -> set[str]:
    ids = {f"shot/{shot}/prompt", f"shot/{shot}/select", f"shot/{shot}/segment"}
    for take in range(takes):
        ids |= {f"shot/{shot}/take{take}/window0", f"shot/{shot}/take{take}/consistency"}
    return ids


def test_editing_one_action_changes_that_shot_and_what_follows_from_it(project):
    edited = SCRIPT.replace("HERO looks up.", "HERO looks up, startled.")
    # shot 3's own nodes; the dissolve into it; shot 4, which continues it; the cut.
    expected = shot_nodes("3") | shot_nodes("4") - {"shot/4/prompt"}
    expected |= {"transition/2-3", "film/assemble", "film/mux"}
    assert changed(project, SCRIPT, edited) == expected


def test_editing_an_unchained_shot_leaves_its_neighbours_alone(project):
    edited = SCRIPT.replace("The room is empty.", "The room is empty and dark.")
    expected = {"shot/5/prompt", "shot/5/take0/window0", "shot/5/select", "shot/5/segment"}
    assert changed(project, SCRIPT, edited) == expected | {"film/assemble", "film/mux"}


def test_editing_dialogue_on_a_video_only_backend_changes_only_the_sound(project):
    # Wan's picture does not depend on the words: only the scratch voice, the
    # mix and the final mux do.
    edited = SCRIPT.replace("Late again.", "Late, again.")
    old = hashes(project.plan(SCRIPT, backend="wan"))
    new = hashes(project.plan(edited, backend="wan"))
    assert {n for n in old if old[n] != new[n]} == {"shot/2/voice", "film/mix", "film/mux"}


def test_editing_dialogue_redraws_the_animatics_subtitles(project):
    edited = SCRIPT.replace("Late again.", "Late, again.")
    expected = shot_nodes("2") - {"shot/2/prompt"} | {"shot/2/voice", "transition/2-3"}
    assert changed(project, SCRIPT, edited) == expected | {"film/mix", "film/assemble", "film/mux"}


def test_editing_dialogue_regenerates_the_shot_on_a_joint_audio_backend(project):
    edited = SCRIPT.replace("Late again.", "Late, again.")
    old = hashes(project.plan(SCRIPT, backend="ltx2"))
    new = hashes(project.plan(edited, backend="ltx2"))
    differ = {node for node in old if old[node] != new[node]}
    expected = shot_nodes("2") | {"transition/2-3", "film/assemble", "film/mix", "film/mux"}
    assert differ == expected


def test_moving_lines_without_changing_meaning_changes_nothing(project):
    edited = SCRIPT.replace("title: Hashes\n", "title: Hashes\n# a comment\n\n")
    assert changed(project, SCRIPT, edited) == set()


def test_changing_a_reference_file_changes_every_node_that_uses_it(project):
    before = hashes(project.plan(SCRIPT))
    (project.root / "refs" / "room.png").write_bytes(
        (project.root / "refs" / "hero.png").read_bytes()
    )
    after = hashes(project.plan(SCRIPT))
    differ = {node for node in before if before[node] != after[node]}
    assert "asset/refs/room.png" in differ
    assert all(f"shot/{n}/select" in differ for n in "12345")
    assert "film/mix" not in differ


def test_takes_add_one_branch_each(project):
    plan = project.plan(SCRIPT.replace("SHOT 5 WIDE 4s", "SHOT 5 WIDE 4s\n  takes: 3"))
    select = next(n for n in plan.nodes if n.id == "shot/5/select")
    assert select.inputs == [f"shot/5/take{k}/window0" for k in range(3)]
    seeds = [n.params.seed for n in plan.nodes if n.id.startswith("shot/5/take")]
    assert len(set(seeds)) == 3


def test_continuous_shot_is_wired_to_the_previous_shot(project):
    plan = project.plan(SCRIPT)
    generate = next(n for n in plan.nodes if n.id == "shot/4/take0/window0")
    assert "shot/3/select" in generate.inputs
    assert generate.params.continues == "previous_shot"


def test_plan_json_is_deterministic_and_valid_against_the_schema(project, capsys):
    path = project.write(SCRIPT)
    outputs = []
    for _ in range(2):
        assert main(["plan", str(path)]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]
    jsonschema.validate(json.loads(outputs[0]), plan_schema())


def test_plan_json_is_the_same_bytes_in_every_process(project):
    """Sets iterate in an order that follows string hashing, which Python seeds
    afresh in each process: nothing in a plan may depend on it."""
    path = project.write(SCRIPT)
    outputs = set()
    for seed in ("1", "2", "3"):
        environment = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-m", "director", "plan", str(path)],
            capture_output=True, text=True, env=environment, check=True,
        )  # fmt: skip
        outputs.add(done.stdout)
    assert len(outputs) == 1


def test_schema_command_prints_the_versioned_schema(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["$id"].endswith("/v1")
    assert "nodes" in schema["properties"]


def test_timeline_overlaps_dissolves_and_places_cues(project):
    timeline = project.plan(SCRIPT).timeline
    starts = {s.shot: (s.start, s.end) for s in timeline.shots}
    assert starts["1"] == (0, 96) and starts["2"] == (96, 192)
    assert starts["3"] == (180, 252)  # the 12-frame dissolve overlaps shots 2 and 3
    (dissolve,) = timeline.transitions
    assert (dissolve.start, dissolve.frames, dissolve.cut) == (180, 12, 186)
    assert timeline.frames == 96 + 96 + 72 + 72 + 96 - 12
    (cue,) = timeline.cues
    assert (cue.start, cue.frames, cue.duck) == (0, 288, True)
    (line,) = timeline.dialogue
    assert (line.start, line.end) == (96, 192)


def test_fades_work_inside_their_shots(project):
    script = "title: F\nFADE IN: 1s\nSHOT 1 WS 4s\nFADE OUT: 1s\nSHOT 2 WS 4s\nFADE OUT: 2s\n"
    timeline = project.plan(script).timeline
    assert timeline.frames == 192  # fades do not overlap shots
    kinds = [(t.kind, t.start, t.frames, t.covers, t.cut) for t in timeline.transitions]
    assert kinds == [
        ("fade in", 0, 24, 24, 0),
        ("fade out", 72, 24, 48, 96),
        ("fade out", 144, 48, 48, 192),
    ]
    heads_and_tails = [(s.head, s.tail) for s in timeline.shots]
    assert heads_and_tails == [(24, 24), (24, 48)]


def test_the_cut_is_segments_and_transitions_in_order(project):
    plan = project.plan(SCRIPT)
    assemble = next(n for n in plan.nodes if n.id == "film/assemble")
    assert assemble.inputs == [
        "shot/1/segment", "shot/2/segment", "transition/2-3", "shot/3/segment",
        "shot/4/segment", "shot/5/segment",
    ]  # fmt: skip
    by_id = {n.id: n for n in plan.nodes}
    assert (by_id["shot/2/segment"].params.start, by_id["shot/2/segment"].params.end) == (
        0,
        84,
    )
    assert by_id["shot/3/segment"].params.start == 12


@pytest.mark.parametrize(
    ("backend", "multiple", "offset", "side"),
    [(LTX2Backend, 8, 1, 32), (WanBackend, 4, 1, 16)],
)
def test_generation_follows_the_backend_rules(project, backend, multiple, offset, side):
    plan = project.plan(SCRIPT, backend=backend.name)
    generates = [n for n in plan.nodes if n.op == "generate"]
    assert generates
    for node in generates:
        p = node.params
        assert (p.frames - offset) % multiple == 0
        assert p.width % side == 0 and p.height % side == 0
        assert p.fps in backend.capabilities.frame_rates
        assert p.frames <= backend.capabilities.max_frames


def test_long_shots_are_split_into_overlapping_windows(project):
    plan = project.plan(SCRIPT.replace("SHOT 5 WIDE 4s", "SHOT 5 WIDE 20s"), backend="wan")
    windows = [n for n in plan.nodes if n.id.startswith("shot/5/take0/window")]
    assert len(windows) == 5
    assert all(w.params.frames <= 81 for w in windows)
    for earlier, later in zip(windows, windows[1:], strict=False):
        assert earlier.id in later.inputs
    join = next(n for n in plan.nodes if n.id == "shot/5/take0/join")
    assert join.inputs == [w.id for w in windows]


def test_split_windows_cover_the_shot_with_overlap():
    caps = WanBackend.capabilities
    windows = split_windows(caps, 320)
    assert windows[0] == (0, 81)
    for (start, frames), (next_start, _) in zip(windows, windows[1:], strict=False):
        assert next_start == start + frames - caps.window_overlap
    last_start, last_frames = windows[-1]
    assert last_start + last_frames >= 320
    assert all((frames - 1) % 4 == 0 for _, frames in windows)


def test_unsupported_conditioning_is_a_located_warning(project):
    checked = project.check(SCRIPT)
    from director.plan import plan_film

    result = plan_film(checked.film, backend="ltx2")
    warnings = [d for d in result.diagnostics if d.name == "unsupported-conditioning"]
    assert warnings and all(
        d.span.file == "film.shot" or d.span.file.endswith("film.shot") for d in warnings
    )
    text = (project.root / "film.shot").read_text().splitlines()
    shot_lines = {n for n, line in enumerate(text, start=1) if line.startswith("SHOT ")}
    assert {d.span.line for d in warnings} == shot_lines


def test_auto_is_resolved_once_per_plan_and_not_by_the_check(project, monkeypatch):
    # Resolving `auto` asks every backend whether it can run here (tinyfm searches
    # the import path); once per shot cost a feature-length script a fifth of a second.
    from backends import registry

    best_available = registry.best_available
    calls = []

    def counted(*args):
        calls.append(1)
        return best_available(*args)

    monkeypatch.setattr(registry, "best_available", counted)
    plan = project.plan(SCRIPT)
    assert len(calls) == 1  # the check leaves `auto` to the planner
    assert len({node.params.backend for node in plan.nodes if node.op == "generate"}) == 1


MINIMUMS = """
title: Minimums
consistency: 0.7

character MARA
  description: a keeper
  ref: refs/mara.png

SHOT 1 CLOSE-UP on MARA 2s
  MARA looks up.

SHOT 2 CLOSE-UP on MARA 2s
  consistency: 0.4
  MARA looks down.
"""


def test_the_shots_minimum_else_the_scripts_else_the_command_lines(project):
    from PIL import Image

    from director.plan import Consistency

    (project.root / "refs").mkdir(exist_ok=True)
    Image.new("RGB", (512, 512), (120, 90, 60)).save(project.root / "refs" / "mara.png")

    def minimums(text: str, **options) -> dict[str, float | None]:
        plan = project.plan(text, **options)
        return {n.id: n.params.min_consistency for n in plan.nodes if n.op == "select"}

    expected = {"shot/1/select": 0.7, "shot/2/select": 0.4}
    assert minimums(MINIMUMS) == expected
    assert minimums(MINIMUMS, scoring=Consistency(minimum=0.9)) == expected
    no_header = MINIMUMS.replace("consistency: 0.7\n", "")
    assert minimums(no_header, scoring=Consistency(minimum=0.9)) == {
        "shot/1/select": 0.9, "shot/2/select": 0.4,
    }  # fmt: skip
    assert minimums(no_header) == {"shot/1/select": None, "shot/2/select": 0.4}
