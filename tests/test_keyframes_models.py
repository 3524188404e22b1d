"""Keyframes made by diffusers image models (backends/image_diffusers.py) through
tiny random FLUX.2 Klein and Qwen-Image-Edit-Plus pipelines, animated by the tiny
LTX-2 pipeline: the accepted keyframe is exactly the picture LTX-2 starts from,
and the characters' reference pictures reach the image pipeline's `image` input
(docs/keyframes.md)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from tiny_models import compile_with, no_user_settings, one_thread, spy_on

from backends import image_tiny, tiny
from director.cli import main
from director.plan_nodes import Keyframe

__all__ = ["no_user_settings", "one_thread"]  # autouse fixtures

SCRIPT = """
title: Keyframes from image models
format: 96x64 @ 24fps
keyframes: {maker}

character HERO
  description: a courier in a red coat
  ref: refs/hero.png
  ref: refs/hero-side.png

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
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {
        "ltx2": tiny.save_ltx2(root / "LTX-2-tiny"),
        "flux2-klein": image_tiny.save_flux2_klein(root / "FLUX.2-klein-tiny"),
        "qwen-image-edit-plus": image_tiny.save_qwen_image_edit_plus(root / "Qwen-Edit-tiny"),
        "flux-kontext": image_tiny.save_flux_kontext(root / "FLUX.1-Kontext-tiny"),
    }


def _pictures(project) -> dict[str, np.ndarray]:
    """Reference pictures of distinct colours (and at least 64 px, as FLUX.2 reads them)."""
    rng = np.random.default_rng(7)
    colours = {"hero": (200, 30, 30), "hero-side": (180, 40, 60), "room": (40, 60, 190)}
    found = {}
    for name, colour in colours.items():
        noise = rng.integers(-20, 20, (80, 64, 3))
        found[name] = np.clip(np.asarray(colour) + noise, 0, 255).astype(np.uint8)
        path = project.root / "refs" / f"{name}.png"
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(found[name]).save(path)
    return found


def _settings(project, models, maker: str) -> None:
    """The image model's folder and recipe in the project's director.toml, as a user
    gives them; guidance 1 keeps Qwen's test to one transformer pass a step."""
    (project.root / "director.toml").write_text(
        f'[{maker}]\nmodel = "{models[maker]}"\nsteps = 2\nguidance = 1.0\n'
    )


# What each model's `image` input holds: every picture within its limit (the hero's
# two and the room's); Kontext reads one, the hero's most representative (the two
# are alike: the script's first).
READS = {
    "flux2-klein": ["hero", "hero-side", "room"],
    "qwen-image-edit-plus": ["hero", "hero-side", "room"],
    "flux-kontext": ["hero"],
}


@pytest.mark.parametrize(
    ("maker", "pipeline"),
    [
        ("flux2-klein", "Flux2KleinPipeline"),
        ("qwen-image-edit-plus", "QwenImageEditPlusPipeline"),
        ("flux-kontext", "FluxKontextPipeline"),
    ],
)
def test_the_image_models_keyframe_is_ltx2s_first_frame_and_reads_the_references(
    project, models, monkeypatch, maker, pipeline
):
    import diffusers
    from diffusers import LTX2ImageToVideoPipeline

    made_by = spy_on(monkeypatch, getattr(diffusers, pipeline))
    animated = spy_on(monkeypatch, LTX2ImageToVideoPipeline)
    script = project.write(SCRIPT.format(maker=maker))
    pictures = _pictures(project)
    _settings(project, models, maker)
    _, plan, cache = compile_with(
        script, "--backend", "ltx2", "--model", f"ltx2={models['ltx2']}", "--steps", "2"
    )
    keyframes = {node.shot: node for node in plan.of_class(Keyframe)}
    assert sorted(keyframes) == ["1", "3"]  # shot 2 continues from shot 1's last frame
    assert {node.params.maker for node in keyframes.values()} == {maker}
    assert keyframes["1"].params.maker_options["steps"] == 2
    # One image pipeline call a keyframe (no minimum: no retries), each reading the
    # pictures the model takes, in the script's order.
    assert len(made_by.calls) == 2
    for call in made_by.calls:
        read = call.arguments["image"]
        given = [np.asarray(picture) for picture in (read if isinstance(read, list) else [read])]
        expected = [pictures[name] for name in READS[maker]]
        assert len(given) == len(expected)
        assert all(np.array_equal(a, b) for a, b in zip(given, expected, strict=True))
    # LTX-2 starts shots 1 and 3 from the accepted keyframes, byte for byte.
    starts = [np.asarray(call.arguments["image"]) for call in animated.calls]
    assert len(starts) == 3
    for index, shot in ((0, "1"), (2, "3")):
        accepted = cache.get(keyframes[shot].hash).file("keyframe.png")
        with Image.open(accepted) as picture:
            assert np.array_equal(starts[index], np.asarray(picture.convert("RGB")))
        # ...and that picture is what the image model gave back.
        made = made_by.calls[0 if shot == "1" else 1].output.images[0]
        assert np.array_equal(starts[index], np.asarray(made.convert("RGB")))


def test_an_image_model_with_no_folder_is_a_usage_error(project, models, capsys):
    script = project.write(SCRIPT.format(maker="flux2-klein"))
    _pictures(project)
    out = project.root / "film.mp4"
    code = main(["compile", str(script), "-o", str(out), "-q", "--backend", "preview"])
    assert code == 2
    err = capsys.readouterr().err
    assert "no model folder is configured for the flux2-klein image backend" in err
    assert "--model flux2-klein=PATH" in err


def test_a_folder_of_another_model_is_named_in_the_message(project, models, capsys):
    script = project.write(SCRIPT.format(maker="qwen-image-edit-plus"))
    _pictures(project)
    folder = models["flux2-klein"]
    argv = ["plan", str(script), "--backend", "preview",
            "--model", f"qwen-image-edit-plus={folder}"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "holds a Flux2KleinPipeline model" in err and "QwenImageEditPlusPipeline" in err


def test_flux2_without_torchvision_says_so_instead_of_failing_in_transformers(tmp_path):
    """FLUX.2 [dev]'s processor (Pixtral's) cannot be built without torchvision; the
    keyframe fails with the package to install, not an ImportError from transformers."""
    import importlib.util

    from backends import image
    from backends.diffusers_base import ModelError

    if importlib.util.find_spec("torchvision") is not None:
        pytest.skip("torchvision is installed here")
    folder = tmp_path / "FLUX.2-dev"
    folder.mkdir()
    (folder / "model_index.json").write_text('{"_class_name": "Flux2Pipeline"}')
    maker = image.get("flux2")(model=folder, device="cpu")
    with pytest.raises(ModelError, match="torchvision not installed.*pip install torchvision"):
        maker.pipeline()
    assert image.get("flux2-klein").unavailable_reason() is None
