"""The wan backend end to end on tiny random Wan models saved to disk: 2 steps, CPU.

Three folders, one per kind of Wan model (text to video, image to video,
VACE), each built in code and loaded like a real download.  What reaches the
real pipeline is recorded by wrapping the pipeline class's `__call__`.
"""

from __future__ import annotations

import numpy as np
import pytest
from tiny_models import clip_of, compile_with, decode, no_user_settings, one_thread, spy_on

from backends import tiny
from backends.conditioning import rgb_to_lab
from backends.wan import WanBackend
from director.cli import main
from director.clips import last_frame, read_frames

__all__ = ["no_user_settings", "one_thread"]  # autouse fixtures

SCRIPT = """
title: Tiny
format: 96x64 @ 24fps

character HERO
  description: a courier in a red coat
  ref: refs/hero.png

INT. ROOM - DAY

SHOT 1 WIDE on HERO 1s
  HERO waits by the door.

SHOT 2 MEDIUM on HERO 1s continuous
  HERO
    Late again.
"""


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {kind: tiny.save_wan(root / f"Wan-{kind}-tiny", kind) for kind in ("t2v", "i2v", "vace")}


def test_vace_makes_the_film_from_references_and_the_previous_shot(project, models, monkeypatch):
    from diffusers import WanVACEPipeline

    spy = spy_on(monkeypatch, WanVACEPipeline)
    script = project.write(SCRIPT)
    out, plan, cache = compile_with(
        script, "--backend", "wan", "--model", str(models["vace"]), "--steps", "2"
    )

    film = decode(out)
    assert len(film.frames) == 48  # the script's 24 fps, conformed from Wan's 16
    assert (film.width, film.height, film.fps) == (96, 64, 24.0)
    assert [n.id for n in plan.nodes if n.op == "voice"] == ["shot/2/voice"]  # no joint sound

    first, second = (call.arguments for call in spy.calls)
    for arguments in (first, second):
        assert arguments["num_inference_steps"] == 2
        assert (arguments["num_frames"], arguments["width"], arguments["height"]) == (17, 96, 64)
        # The character's reference, as an image no larger than the frame.
        (hero,) = arguments["reference_images"]
        assert hero.size == (96, 54) and hero.getpixel((48, 27)) == (200, 60, 40)
    assert "video" not in first  # shot 1 starts from nothing but the prompt
    # Shot 2's control video starts with shot 1's last frame (kept: black mask),
    # and leaves the rest to the model (grey, white mask).
    previous = last_frame(clip_of(plan, cache, "shot/1/select"))
    assert np.array_equal(np.asarray(second["video"][0]), previous)
    assert np.asarray(second["mask"][0]).max() == 0
    assert np.asarray(second["mask"][1]).min() == 255
    assert len(second["video"]) == len(second["mask"]) == 17
    # The shot was colour-matched back to that frame.
    made = next(read_frames(clip_of(plan, cache, "shot/2/take0/window0"), 0, 1))
    target = rgb_to_lab(previous).reshape(-1, 3).mean(axis=0)
    assert np.abs(rgb_to_lab(made).reshape(-1, 3).mean(axis=0) - target).max() < 2.0


def test_image_to_video_takes_the_first_and_last_keyframes(project, models, monkeypatch):
    from diffusers import WanImageToVideoPipeline

    spy = spy_on(monkeypatch, WanImageToVideoPipeline)
    script = project.write(
        """
        title: Keys
        format: 64x48 @ 16fps

        INT. ROOM - DAY

        SHOT 1 WIDE 9f
          keyframe first: refs/room.png
          keyframe last: refs/hero.png
          The door opens.
        """
    )
    out, _, _ = compile_with(script, "--backend", "wan", "--model", str(models["i2v"]))
    assert len(decode(out).frames) == 9
    arguments = spy.calls[0].arguments
    assert arguments["num_inference_steps"] == 30  # the default when nothing says otherwise
    assert arguments["image"].size == arguments["last_image"].size == (64, 48)
    assert arguments["image"].getpixel((5, 5)) == (40, 60, 90)  # refs/room.png
    assert arguments["last_image"].getpixel((5, 5)) == (200, 60, 40)  # refs/hero.png


def test_an_image_to_video_model_needs_a_first_frame(project, models, capsys):
    script = project.write(SCRIPT.replace("1s continuous", "1s"))
    args = ["compile", str(script), "--backend", "wan", "--model", str(models["i2v"]), "-q"]
    assert main([*args, "--steps", "1"]) == 1
    assert "makes video from a first frame, and shot 1 has none" in capsys.readouterr().err


def test_a_text_to_video_model_warns_at_plan_time_what_it_leaves_out(
    project, models, monkeypatch, capsys
):
    from diffusers import WanPipeline

    spy = spy_on(monkeypatch, WanPipeline)
    script = project.write(SCRIPT)
    compile_with(script, "--backend", "wan", "--model", str(models["t2v"]), "--steps", "2")
    err = capsys.readouterr().err
    # W109 at each shot, from what this folder's model takes: shot 2's first
    # frame (continuous) and both shots' reference images.
    assert err.count("warning[W109 unsupported-conditioning]") == 3
    assert "(Wan text to video) cannot be conditioned on a first frame; shot 2 gives one" in err
    assert "cannot be conditioned on reference images; shot 1 gives some" in err
    assert all(
        set(c.arguments) & {"image", "video", "reference_images"} == set() for c in spy.calls
    )
    # --strict makes them errors, before anything runs.
    strict = ["compile", str(script), "--backend", "wan", "--model", str(models["t2v"]), "--strict"]
    assert main([*strict, "-q"]) == 1


def test_each_kind_of_folder_says_what_it_takes(models):
    takes = {kind: WanBackend.conditioning_for(folder) for kind, folder in models.items()}
    assert takes["t2v"] == {"text"}
    assert takes["i2v"] == {"text", "first_frame", "last_frame"}
    assert takes["vace"] == WanBackend.capabilities.conditioning


def test_a_long_shot_is_made_in_windows_each_from_the_last_frame_of_the_one_before(
    project, models, monkeypatch
):
    from diffusers import WanVACEPipeline

    spy = spy_on(monkeypatch, WanVACEPipeline)
    script = project.write(
        "title: Long\nformat: 64x48 @ 16fps\n\nINT. ROOM - DAY\n\nSHOT 1 WIDE 6s\n  Waves.\n"
    )
    out, plan, cache = compile_with(
        script, "--backend", "wan", "--model", str(models["vace"]), "--steps", "1"
    )
    assert len(decode(out).frames) == 96
    windows = [n for n in plan.nodes if n.op == "generate"]
    assert [n.params.frames for n in windows] == [c.arguments["num_frames"] for c in spy.calls]
    assert len(windows) == 2 and "video" not in spy.calls[0].arguments
    before = last_frame(clip_of(plan, cache, windows[0].id))
    assert np.array_equal(np.asarray(spy.calls[1].arguments["video"][0]), before)
