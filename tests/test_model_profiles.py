"""Published LTX-2 and Wan folders, recognised from their real configs and run with
their authors' recipes.

tests/fixtures/models holds the configs of each published folder (see its
README for where they come from).  Recognition and planning read only configs,
so the real ones are used as they are, in renamed folders; the compile tests
build test-sized models from them (`backends.tiny.save_wan_like`).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tiny_models import compile_with, no_user_settings, one_thread, spy_on

from backends import tiny
from backends.ltx2 import LTX2Backend
from backends.wan import NEGATIVE, WanBackend
from director.cli import main
from director.plan import Plan

__all__ = ["no_user_settings", "one_thread"]  # autouse fixtures

PUBLISHED = Path(__file__).parent / "fixtures" / "models"
RECOGNISED = {
    "LTX-2-dev-Diffusers": "LTX-2 dev",
    "LTX-2-distilled-Diffusers": "LTX-2 distilled",
    "Wan2.1-T2V-1.3B-Diffusers": "Wan2.1 T2V 1.3B",
    "Wan2.1-T2V-14B-Diffusers": "Wan2.1 T2V 14B",
    "Wan2.1-I2V-14B-480P-Diffusers": "Wan2.1 I2V 14B (480P or 720P)",
    "Wan2.1-I2V-14B-720P-Diffusers": "Wan2.1 I2V 14B (480P or 720P)",
    "Wan2.1-FLF2V-14B-720P-diffusers": "Wan2.1 FLF2V 14B 720P",
    "Wan2.1-VACE-1.3B-diffusers": "Wan2.1 VACE 1.3B",
    "Wan2.1-VACE-14B-diffusers": "Wan2.1 VACE 14B",
    "Wan2.2-T2V-A14B-Diffusers": "Wan2.2 T2V A14B",
    "Wan2.2-I2V-A14B-Diffusers": "Wan2.2 I2V A14B",
    "Wan2.2-TI2V-5B-Diffusers": "Wan2.2 TI2V 5B",
}
# (steps, guidance, guidance_2) of each, as the authors run them.
RECIPES = {
    "Wan2.1 T2V 1.3B": (50, 6.0, None),
    "Wan2.1 T2V 14B": (50, 5.0, None),
    "Wan2.1 I2V 14B (480P or 720P)": (40, 5.0, None),
    "Wan2.1 FLF2V 14B 720P": (50, 5.0, None),
    "Wan2.1 VACE 1.3B": (50, 5.0, None),
    "Wan2.1 VACE 14B": (50, 5.0, None),
    "Wan2.2 T2V A14B": (40, 4.0, 3.0),
    "Wan2.2 I2V A14B": (40, 3.5, 3.5),
    "Wan2.2 TI2V 5B": (50, 5.0, None),
    "LTX-2 dev": (40, 4.0, None),
    "LTX-2 distilled": (8, 1.0, None),
}


def backend_for(name: str):
    return LTX2Backend if name.startswith("LTX") else WanBackend


def renamed(published: str, tmp_path: Path) -> Path:
    """The published folder's configs under a name that says nothing."""
    folder = tmp_path / "model"
    shutil.copytree(PUBLISHED / published, folder)
    return folder


def test_the_fixtures_are_every_published_folder_with_its_source():
    assert sorted(p.name for p in PUBLISHED.iterdir() if p.is_dir()) == sorted(RECOGNISED)
    readme = (PUBLISHED / "README.md").read_text()
    assert all(name in readme for name in RECOGNISED)


@pytest.mark.parametrize("published", sorted(RECOGNISED))
def test_each_published_folder_is_recognised_from_its_configs_whatever_its_name(
    published, tmp_path
):
    folder = renamed(published, tmp_path)
    backend = backend_for(published)
    recognition = backend.recognise(folder)
    assert recognition.profile.name == RECOGNISED[published]
    assert recognition.profile.published
    assert "model_index._class_name" in recognition.describe(folder)
    options = backend.plan_options(folder, {})
    steps, guidance, guidance_2 = RECIPES[recognition.profile.name]
    assert (options["steps"], options["guidance"], options["guidance_2"]) == (
        steps, guidance, guidance_2,
    )  # fmt: skip
    # Every setting of the recipe can be overridden.
    mine = {"steps": 7, "guidance": 2.5, "guidance_2": 1.5, "flow_shift": 9.0, "negative": "x"}
    mine = {k: v for k, v in mine.items() if k in backend.plan_settings}
    assert {k: backend.plan_options(folder, mine)[k] for k in mine} == mine


def test_the_flow_shift_follows_the_frame_size_where_the_authors_say_so(tmp_path):
    i2v = WanBackend.recognise(renamed("Wan2.1-I2V-14B-480P-Diffusers", tmp_path)).profile
    assert (i2v.shift_for(832, 480), i2v.shift_for(1280, 720)) == (3.0, 5.0)
    flf2v = WanBackend.recognise(PUBLISHED / "Wan2.1-FLF2V-14B-720P-diffusers").profile
    assert flf2v.shift_for(1280, 720) == 16.0
    assert (
        WanBackend.recognise(PUBLISHED / "Wan2.1-T2V-1.3B-Diffusers").profile.shift_for(832, 480)
        == 8.0
    )


SHOTS = """
title: Folders
format: {format}

INT. ROOM - DAY

SHOT 1 WIDE 5s
  keyframe last: refs/hero.png
  The door opens.

SHOT 2 MEDIUM 1s
  keyframe first: refs/room.png
  She steps in.
"""


def plan_with(project, published: str, fmt: str, *extra: str) -> tuple[int, Plan | None]:
    script = project.write(SHOTS.format(format=fmt))
    out = project.root / "plan.json"
    args = ["plan", str(script), "--backend", "wan", "--model", str(PUBLISHED / published)]
    code = main([*args, "-o", str(out), *extra])
    return code, Plan.model_validate_json(out.read_text()) if code == 0 else None


def test_ti2v_5b_is_planned_at_its_own_rate_frames_and_sides(project, capsys):
    code, plan = plan_with(project, "Wan2.2-TI2V-5B-Diffusers", "272x272 @ 24fps")
    assert code == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    assert "wan: Wan2.2-TI2V-5B-Diffusers is Wan2.2 TI2V 5B (" in err
    windows = [n for n in plan.nodes if n.op == "generate"]
    shot_one = [n for n in windows if n.params.shot.id == "1"]
    # 5 s at 24 fps in one window of 121 frames, not 16 fps windows of 81.
    assert [(n.params.fps, n.params.frames) for n in shot_one] == [(24.0, 121)]
    # Sides the model can make (divisible by 32), planned as such: nothing for
    # diffusers to shrink behind the plan's back.
    assert all(n.params.width % 32 == 0 and n.params.height % 32 == 0 for n in windows)
    assert plan.backends["wan"].frame_rates == (24.0,)
    # TI2V takes a first frame but no last one: a located warning.
    assert "cannot be conditioned on a last frame; shot 1 gives one" in err


def test_wan21_i2v_warns_about_a_last_frame_and_refuses_a_shot_without_a_first(project, capsys):
    code, _ = plan_with(project, "Wan2.1-I2V-14B-720P-Diffusers", "832x480 @ 16fps")
    err = capsys.readouterr().err
    assert code == 1
    assert "warning[W109 unsupported-conditioning]" in err
    assert "(Wan2.1 I2V 14B (480P or 720P)) cannot be conditioned on a last frame" in err
    assert "error[E039 missing-conditioning]" in err
    assert "makes video from a first frame, and shot 1 has none" in err
    assert "film.shot:6:1" in err  # at shot 1's line
    # FLF2V takes the last frame: only the missing first frame is left.
    code, _ = plan_with(project, "Wan2.1-FLF2V-14B-720P-diffusers", "832x480 @ 16fps")
    err = capsys.readouterr().err
    assert "W109" not in err and "E039" in err


def test_the_plan_carries_the_recipe_and_says_which_model_it_found(project, capsys):
    code, plan = plan_with(project, "Wan2.1-VACE-1.3B-diffusers", "832x480 @ 16fps")
    assert code == 0
    assert 'is Wan2.1 VACE 1.3B (model_index._class_name "WanVACEPipeline"' in (
        capsys.readouterr().err
    )
    options = next(n for n in plan.nodes if n.op == "generate").params.options
    assert options["profile"] == "Wan2.1 VACE 1.3B"
    assert (options["steps"], options["guidance"], options["negative"]) == (50, 5.0, NEGATIVE)


# ------------------------------------------------------- compiled, test-sized


@pytest.fixture(scope="module")
def cut(tmp_path_factory):
    root = tmp_path_factory.mktemp("cut")

    def build(published: str) -> Path:
        folder = root / published
        if not folder.exists():
            tiny.save_wan_like(folder, PUBLISHED / published)
        return folder

    return build


KEYS = """
title: Keys
format: 64x48 @ 16fps

INT. ROOM - DAY

SHOT 1 WIDE 9f
  keyframe first: refs/room.png
  keyframe last: refs/hero.png
  The door opens.
"""


def test_wan22_a14b_passes_both_experts_guidance_and_its_flow_shift(project, cut, monkeypatch):
    from diffusers import WanPipeline

    spy = spy_on(monkeypatch, WanPipeline)
    shifts = []
    use_flow_shift = WanBackend._use_flow_shift

    def recording(self, pipe, request):
        use_flow_shift(self, pipe, request)
        shifts.append(pipe.scheduler.config.flow_shift)

    monkeypatch.setattr(WanBackend, "_use_flow_shift", recording)
    script = project.write(KEYS.replace("  keyframe first: refs/room.png\n", "").replace(
        "  keyframe last: refs/hero.png\n", ""
    ))  # fmt: skip
    model = cut("Wan2.2-T2V-A14B-Diffusers")
    compile_with(script, "--backend", "wan", "--model", str(model), "--steps", "2")
    (call,) = spy.calls
    arguments = call.arguments
    assert (arguments["guidance_scale"], arguments["guidance_scale_2"]) == (4.0, 3.0)
    assert arguments["negative_prompt_embeds"] is not None
    assert shifts == [12.0]  # the authors' for 2.2 T2V; the folder's scheduler says 3


def test_wan21_i2v_leaves_out_the_last_frame_it_cannot_take(project, cut, monkeypatch, capsys):
    # The 480P/720P image-to-video transformer takes one image's CLIP tokens: a
    # last frame crashed it ("Sizes of tensors must match").
    from diffusers import WanImageToVideoPipeline

    spy = spy_on(monkeypatch, WanImageToVideoPipeline)
    script = project.write(KEYS)
    model = cut("Wan2.1-I2V-14B-480P-Diffusers")
    compile_with(script, "--backend", "wan", "--model", str(model), "--steps", "1")
    assert "cannot be conditioned on a last frame" in capsys.readouterr().err
    arguments = spy.calls[0].arguments
    assert arguments["last_image"] is None and arguments["image"].size == (64, 48)
    assert arguments["num_inference_steps"] == 1


def test_ti2v_5b_makes_video_from_a_first_frame_at_24_fps(project, cut, monkeypatch):
    from diffusers import WanImageToVideoPipeline, WanPipeline

    from_text = spy_on(monkeypatch, WanPipeline)
    from_frame = spy_on(monkeypatch, WanImageToVideoPipeline)
    script = project.write(
        KEYS.replace("64x48 @ 16fps", "64x64 @ 24fps").replace(
            "  keyframe last: refs/hero.png\n", ""
        )
        + "\nSHOT 2 WIDE 9f\n  Rain.\n"
    )
    model = cut("Wan2.2-TI2V-5B-Diffusers")
    compile_with(script, "--backend", "wan", "--model", str(model), "--steps", "1")
    (first,), (second,) = from_frame.calls, from_text.calls
    assert first.arguments["image"].size == (64, 64) and "image" not in second.arguments
    for call in (first, second):
        assert (call.arguments["num_frames"], call.arguments["width"]) == (9, 64)
    assert json.loads((model / "model_index.json").read_text())["expand_timesteps"] is True


# ------------------------------------------------------- sizes the models know


@pytest.mark.parametrize(
    ("published", "fmt", "trained"),
    [
        ("Wan2.1-T2V-1.3B-Diffusers", "1280x720 @ 16fps", "832x480 or 480x832"),
        ("Wan2.2-TI2V-5B-Diffusers", "832x480 @ 24fps", "1280x704 or 704x1280"),
        ("Wan2.1-FLF2V-14B-720P-diffusers", "832x480 @ 16fps", "1280x720 or 720x1280"),
        ("Wan2.1-VACE-1.3B-diffusers", "1280x720 @ 16fps", "832x480 or 480x832"),
    ],
)
def test_a_size_the_model_was_not_trained_at_is_a_located_warning(
    project, capsys, published, fmt, trained
):
    code, _ = plan_with(project, published, fmt)
    err = capsys.readouterr().err
    assert "warning[W121 untrained-size]" in err, err
    assert f"was trained at {trained}; shot 1 and every other wan shot are made at" in err
    assert "film.shot:6:1" in err.split("W121")[1]  # at shot 1, the first the model makes
    assert err.count("W121") == 1  # once a backend, not once a shot
    # At a size it was trained at: nothing to say.
    width, height = trained.split(" or ")[0].split("x")
    plan_with(project, published, f"{width}x{height} @ {fmt.split('@ ')[1]}")
    assert "W121" not in capsys.readouterr().err


def test_ti2v_sides_are_rounded_to_32_with_a_warning_not_silently(project, capsys):
    code, plan = plan_with(project, "Wan2.2-TI2V-5B-Diffusers", "1280x720 @ 24fps")
    err = capsys.readouterr().err
    assert code == 0 and "warning[W122 rounded-size]" in err
    assert "makes sides divisible by 32: the film's 1280x720 is made at 1280x704" in err
    assert "help: format: 1280x704 @ 24fps" in err
    assert "W121" not in err  # 1280x704 is the size TI2V was trained at
    assert {(n.params.width, n.params.height) for n in plan.nodes if n.op == "generate"} == {
        (1280, 704)
    }
    # The help checks: at the size it names there is nothing to round.
    plan_with(project, "Wan2.2-TI2V-5B-Diffusers", "1280x704 @ 24fps")
    assert "W122" not in capsys.readouterr().err


def test_the_size_warnings_are_errors_under_strict(project, capsys):
    # VACE takes both keyframes of SHOTS; its free-text location is the other warning.
    code, _ = plan_with(project, "Wan2.1-VACE-1.3B-diffusers", "1280x720 @ 16fps", "--strict")
    assert code == 1 and "W121" in capsys.readouterr().err
    code, _ = plan_with(project, "Wan2.1-VACE-1.3B-diffusers", "832x480 @ 16fps", "--strict")
    assert code == 1
    assert [line for line in capsys.readouterr().err.splitlines() if "[W" in line] == [
        "error[W101 free-text-location]: 'ROOM' is not a declared location, so it has no "
        "description or references"
    ]


# ------------------------------------------------- the recipe from the command line


def test_guidance_2_flow_shift_and_negative_come_from_the_command_line_or_director_toml(
    project, capsys
):
    def options(*extra: str) -> dict:
        code, plan = plan_with(project, "Wan2.2-T2V-A14B-Diffusers", "832x480 @ 16fps", *extra)
        assert code == 0, capsys.readouterr().err
        return next(n for n in plan.nodes if n.op == "generate").params.options

    recipe = options()
    assert (recipe["guidance_2"], recipe["flow_shift"], recipe["negative"]) == (3.0, None, NEGATIVE)
    given = options("--guidance-2", "2.5", "--flow-shift", "7", "--negative", "fog, rain")
    assert (given["guidance_2"], given["flow_shift"], given["negative"]) == (2.5, 7.0, "fog, rain")
    (project.root / "director.toml").write_text(
        '[wan]\nguidance_2 = 1.5\nflow_shift = 9\nnegative = "smoke"\n'
    )
    toml = options()
    assert (toml["guidance_2"], toml["flow_shift"], toml["negative"]) == (1.5, 9.0, "smoke")
    assert options("--guidance-2", "2")["guidance_2"] == 2.0  # the command line wins
    assert options("--negative", "")["negative"] == ""  # an empty one is a setting too


def test_the_recipe_flags_are_in_help_and_refused_where_the_model_has_no_such_setting(
    project, capsys
):
    from director.cli import _parser

    text = _parser().parse_args(["plan", "x.shot"]).__dict__
    assert {"guidance_2", "flow_shift", "negative", "two_stage"} <= set(text)
    with pytest.raises(SystemExit):
        main(["plan", "--help"])
    shown = capsys.readouterr().out
    assert all(f in shown for f in ("--guidance-2", "--flow-shift", "--negative", "--two-stage"))
    # LTX-2 shifts its own sigmas and has one transformer: a usage error, not ignored.
    script = project.write(SHOTS.format(format="768x512 @ 24fps"))
    ltx2 = PUBLISHED / "LTX-2-dev-Diffusers"
    args = ["plan", str(script), "--backend", "ltx2", "--model", str(ltx2), "--flow-shift", "5"]
    assert main(args) == 2
    assert "--flow-shift (ltx2): no such setting" in capsys.readouterr().err
    # Wan has no two stages.
    wan = PUBLISHED / "Wan2.1-T2V-14B-Diffusers"
    assert main(["plan", str(script), "--backend", "wan", "--model", str(wan), "--two-stage"]) == 2
    assert "--two-stage (wan): no such setting" in capsys.readouterr().err


def test_the_ltx2_folders_plan_the_authors_two_stages(project, tmp_path, capsys):
    script = project.write(SHOTS.format(format="768x512 @ 24fps"))
    out = project.root / "plan.json"

    def plan(folder: Path) -> tuple[str, set]:
        args = ["plan", str(script), "--backend", "ltx2", "--model", str(folder), "-o", str(out)]
        assert main(args) == 0
        nodes = Plan.model_validate_json(out.read_text()).nodes
        made = {n.params.options["two_stage"] for n in nodes if n.op == "generate"}
        return capsys.readouterr().err, made

    err, made = plan(renamed("LTX-2-distilled-Diffusers", tmp_path / "d"))
    assert made == {True}
    assert "is LTX-2 distilled (" in err and "two stages: half size, the x2 latent upsampler" in err
    # The dev folder as Lightricks publishes it holds the distilled LoRA at its root
    # (weights are not kept here: its name stands for it).
    dev = renamed("LTX-2-dev-Diffusers", tmp_path / "v")
    err, made = plan(dev)
    assert made == {False} and "one stage, not the authors' two: the folder has no distilled" in err
    (dev / "ltx-2-19b-distilled-lora-384.safetensors").touch()
    err, made = plan(dev)
    assert made == {True} and "refinement steps at full size with the distilled LoRA" in err
