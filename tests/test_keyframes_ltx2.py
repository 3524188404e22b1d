"""`keyframes: generate` through the tiny LTX-2 pipeline: the accepted keyframe is
exactly the picture the video pipeline starts from (docs/keyframes.md)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from tiny_models import compile_with, no_user_settings, one_thread, spy_on

from backends import tiny

__all__ = ["no_user_settings", "one_thread"]  # autouse fixtures

SCRIPT = """
title: Keyframes through LTX-2
format: 96x64 @ 24fps
keyframes: generate

character HERO
  description: a courier in a red coat
  ref: refs/hero.png

location ROOM
  description: a bare room
  ref: refs/room.png

INT. ROOM - DAY

SHOT 1 WIDE on HERO 9f
  HERO waits by the door.

SHOT 2 MEDIUM on HERO 9f continuous
  HERO turns.

SHOT 3 MEDIUM on HERO 9f
  HERO leaves.
"""


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return tiny.save_ltx2(tmp_path_factory.mktemp("models") / "LTX-2-tiny")


def test_the_accepted_keyframe_is_the_first_frame_ltx2_receives(project, model, monkeypatch):
    from diffusers import LTX2ImageToVideoPipeline

    from_frame = spy_on(monkeypatch, LTX2ImageToVideoPipeline)
    script = project.write(SCRIPT)
    _, plan, cache = compile_with(
        script, "--backend", "ltx2", "--model", str(model), "--steps", "2"
    )
    made = {n.shot: cache.get(n.hash) for n in plan.nodes if n.op == "keyframe"}
    assert sorted(made) == ["1", "3"]  # shot 2 continues from shot 1's last frame
    given = [np.asarray(call.arguments["image"]) for call in from_frame.calls]
    assert len(given) == 3
    for index, shot in ((0, "1"), (2, "3")):
        with Image.open(made[shot].file("keyframe.png")) as accepted:
            assert np.array_equal(given[index], np.asarray(accepted.convert("RGB")))
    # The keyframe shows the character's reference picture: its red is in the frame.
    red = (given[0][..., 0] > 150) & (given[0][..., 1] < 100)
    assert red.sum() > 20
