"""The ltx2 backend end to end on a tiny random LTX-2 saved to disk: 2 steps, CPU.

The model folder is built in code (`backends.tiny`) and loaded like a real
download; the film's picture and sound are decoded and checked against the
script; the conditioning is checked where the real pipeline receives it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tiny_models import clip_of, compile_with, decode, no_user_settings, one_thread, spy_on

from backends import tiny
from backends.conditioning import rgb_to_lab
from backends.diffusers_base import ModelError, model_identity
from backends.ltx2 import LTX2Backend
from director.cli import main
from director.clips import last_frame, read_frames

__all__ = ["no_user_settings", "one_thread"]  # autouse fixtures

SCRIPT = """
title: Tiny
format: 96x64 @ 24fps

character HERO
  description: a courier in a red coat
  voice: low and calm

location ROOM
  description: a bare room

INT. ROOM - DAY

SHOT 1 WIDE 1s
  HERO waits by the door.

SHOT 2 MEDIUM on HERO 1s continuous
  HERO
    Late again.
"""


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return tiny.save_ltx2(tmp_path_factory.mktemp("models") / "LTX-2-tiny")


def test_two_shots_make_a_film_with_the_scripts_frames_size_rate_and_sound(
    project, model, monkeypatch
):
    from diffusers import LTX2ImageToVideoPipeline, LTX2Pipeline

    text_to_video = spy_on(monkeypatch, LTX2Pipeline)
    from_frame = spy_on(monkeypatch, LTX2ImageToVideoPipeline)
    prompts = spy_on(monkeypatch, LTX2ImageToVideoPipeline, "encode_prompt")
    script = project.write(SCRIPT)
    out, plan, cache = compile_with(
        script, "--backend", "ltx2", "--model", str(model), "--steps", "2"
    )

    film = decode(out)
    assert len(film.frames) == 48  # two shots of 1 s at 24 fps
    assert (film.width, film.height, film.fps) == (96, 64, 24.0)
    # The sound is LTX-2's: no scratch voice is planned, and shot 1 (no cue, no
    # line) is not silent, because its sound was generated with its picture.
    assert not [n for n in plan.nodes if n.op == "voice"]
    shot_one = film.audio[:, : film.sample_rate // 2]
    assert np.abs(shot_one).max() > 1e-3

    # Shot 1 from text, shot 2 from shot 1's last frame; 25 frames each (8k+1).
    assert len(text_to_video.calls) == 1 and len(from_frame.calls) == 1
    for calls in (text_to_video.calls, from_frame.calls):
        arguments = calls[0].arguments
        assert arguments["num_inference_steps"] == 2
        assert (arguments["num_frames"], arguments["width"], arguments["height"]) == (25, 96, 64)
        assert arguments["frame_rate"] == 24.0
    (prompt, negative) = prompts.calls[0].positional
    assert "Late again." in prompt and "low and calm" in prompt
    assert from_frame.calls[0].arguments["prompt_embeds"] is prompts.calls[0].output[0]

    # What the pipeline received is exactly the previous shot's last frame...
    given = np.asarray(from_frame.calls[0].arguments["image"])
    assert np.array_equal(given, last_frame(clip_of(plan, cache, "shot/1/select")))
    # ...and the shot it made was colour-matched back to that frame: random
    # weights make grey noise, whose colour is far from the frame's before matching.
    raw = (from_frame.calls[0].output.frames[0][0] * 255).round().astype(np.uint8)
    made = next(read_frames(clip_of(plan, cache, "shot/2/take0/window0"), 0, 1))
    target = rgb_to_lab(given).reshape(-1, 3).mean(axis=0)
    assert np.abs(rgb_to_lab(made).reshape(-1, 3).mean(axis=0) - target).max() < 2.0
    assert np.abs(rgb_to_lab(raw).reshape(-1, 3).mean(axis=0) - target).max() > 2.0


def test_a_last_keyframe_goes_to_the_condition_pipeline_at_the_last_index(
    project, model, monkeypatch
):
    from diffusers import LTX2ConditionPipeline

    spy = spy_on(monkeypatch, LTX2ConditionPipeline)
    script = project.write(
        """
        title: Keys
        format: 64x64 @ 25fps

        INT. ROOM - DAY

        SHOT 1 WIDE 9f
          keyframe first: refs/room.png
          keyframe last: refs/hero.png
          The door opens.
        """
    )
    out, _, _ = compile_with(script, "--backend", "ltx2", "--model", str(model), "--steps", "2")
    assert len(decode(out).frames) == 9
    (condition_first, condition_last) = spy.calls[0].arguments["conditions"]
    assert (condition_first.index, condition_last.index) == (0, -1)
    hero = np.asarray(condition_last.frames)
    assert hero.shape == (64, 64, 3) and tuple(hero[32, 32]) == (200, 60, 40)  # refs/hero.png


def test_runtime_settings_leave_the_hashes_alone_and_the_model_does_not(project, model, tmp_path):
    script = project.write(SCRIPT)

    def generate_hashes(*extra):
        out = tmp_path / "plan.json"
        args = ["plan", str(script), "--backend", "ltx2", "-o", str(out), *extra]
        assert main(args) == 0
        nodes = json.loads(out.read_text())["nodes"]
        return {n["id"]: n["hash"] for n in nodes if n["op"] == "generate"}

    base = generate_hashes("--model", str(model))
    assert generate_hashes("--model", str(model), "--device", "cpu", "--offload", "none") == base
    assert generate_hashes("--model", str(model), "--dtype", "float32") == base
    assert generate_hashes("--model", str(model), "--steps", "4") != base
    # The same model in another folder is the same model...
    copy = tmp_path / "elsewhere" / "LTX-2-tiny"
    copy.parent.mkdir()
    import shutil

    shutil.copytree(model, copy)
    assert generate_hashes("--model", str(copy)) == base
    # ...and a changed config is another model.
    config = copy / "transformer" / "config.json"
    config.write_text(config.read_text().replace('"num_layers": 2', '"num_layers": 2 '))
    assert generate_hashes("--model", str(copy)) != base


@pytest.fixture(scope="module")
def distilled_model(tmp_path_factory):
    # Named like the dev weights: only the scheduler config says it is distilled.
    return tiny.save_ltx2(tmp_path_factory.mktemp("models") / "LTX-2-tiny", distilled=True)


def test_distilled_is_read_from_the_scheduler_config_not_the_folder_name(
    tmp_path, model, distilled_model
):
    import shutil

    options = LTX2Backend.plan_options(distilled_model, {})
    assert options == {
        "profile": "LTX-2 distilled", "steps": 8, "guidance": 1.0, "guidance_2": None,
        "flow_shift": None, "negative": "", "colour_match": True, "distilled": True,
        "stg": False, "model_id": model_identity(distilled_model),
        "two_stage": False,  # the tiny folder has no latent upsampler
    }  # fmt: skip
    assert LTX2Backend.plan_options(distilled_model, {"steps": 4})["steps"] == 4
    # Dev weights in a folder called "distilled" are still the dev model.
    misnamed = tmp_path / "LTX-2-distilled"
    shutil.copytree(model, misnamed)
    dev = LTX2Backend.plan_options(misnamed, {})
    assert (dev["profile"], dev["distilled"], dev["steps"], dev["guidance"]) == (
        "LTX-2 dev",
        False,
        40,
        4.0,
    )
    assert dev["negative"].startswith("blurry, out of focus") and dev["stg"] is False


def test_one_step_on_the_dev_scheduler_is_refused_at_plan_time(project, model, capsys):
    # The dev scheduler's terminal shift divides by zero at one step (0/0 sigmas:
    # black frames after three long tries); two steps and the distilled model are fine.
    script = project.write(SCRIPT)
    out = str(project.root / "plan.json")
    args = ["plan", str(script), "--backend", "ltx2", "--model", str(model), "-o", out]
    assert main([*args, "--steps", "1"]) == 2
    assert "needs at least 2 steps" in capsys.readouterr().err
    assert main([*args, "--steps", "2"]) == 0
    with pytest.raises(ModelError, match="at least 2 steps"):
        LTX2Backend(model=str(model), steps=1)


def test_no_model_folder_is_a_clear_usage_error(project, capsys):
    script = project.write(SCRIPT)
    assert main(["compile", str(script), "--backend", "ltx2", "-q"]) == 2
    error = capsys.readouterr().err
    assert "no model folder is configured for the ltx2 backend" in error
    assert "--model PATH" in error and "[ltx2]" in error


def test_a_hub_name_is_refused_with_how_to_download_it(project, capsys):
    script = project.write(SCRIPT)
    args = ["compile", str(script), "--backend", "ltx2", "--model", "Lightricks/LTX-2", "-q"]
    assert main(args) == 2
    error = capsys.readouterr().err
    assert "only from local folders" in error and "hf download Lightricks/LTX-2" in error


def test_the_backend_refuses_a_folder_that_changed_after_planning(model):
    backend = LTX2Backend(model=str(model), model_id="0" * 16, steps=2)
    with pytest.raises(ModelError, match="changed after the plan was made"):
        backend.pipeline()


def test_director_toml_gives_the_model_and_settings(project, model, monkeypatch):
    from diffusers import LTX2Pipeline

    spy = spy_on(monkeypatch, LTX2Pipeline)
    (project.root / "director.toml").write_text(
        f'[ltx2]\nmodel = "{model}"\nsteps = 2\nguidance = 1.5\ndevice = "cpu"\n'
    )
    script = project.write(
        """
        title: Settings
        format: 64x64 @ 24fps
        backend: ltx2

        INT. ROOM - DAY

        SHOT 1 WIDE 9f
          Rain on the window.
        """
    )
    compile_with(script)
    arguments = spy.calls[0].arguments
    assert (arguments["num_inference_steps"], arguments["guidance_scale"]) == (2, 1.5)


def test_out_of_memory_is_retried_with_less_memory(project, model, monkeypatch):
    import torch
    from diffusers import LTX2Pipeline

    real, tiled = LTX2Pipeline.__call__, []

    def out_of_memory_twice(self, *args, **kwargs):
        tiled.append(self.vae.use_tiling)
        if len(tiled) <= 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (injected)")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(LTX2Pipeline, "__call__", out_of_memory_twice)
    script = project.write(
        "title: M\nformat: 64x64 @ 24fps\n\nINT. ROOM - DAY\n\nSHOT 1 WIDE 9f\n  Rain.\n"
    )
    _, plan, cache = compile_with(
        script, "--backend", "ltx2", "--model", str(model), "--steps", "2"
    )
    # Level 1 offloads whole models (on a GPU; here on the CPU nothing changes),
    # level 2 also tiles the VAE, and that try is kept.
    assert tiled == [False, False, True]
    node = next(n for n in plan.nodes if n.op == "generate")
    assert cache.get(node.hash).meta["memory_level"] == 2


def test_takes_of_a_shot_encode_their_prompt_once(project, model, monkeypatch):
    from diffusers import LTX2Pipeline

    calls = spy_on(monkeypatch, LTX2Pipeline)
    prompts = spy_on(monkeypatch, LTX2Pipeline, "encode_prompt")
    script = project.write(
        "title: T\nformat: 64x64 @ 24fps\n\nINT. ROOM - DAY\n\nSHOT 1 WIDE 9f\n  takes: 3\n"
        "  Rain.\n\nSHOT 2 WIDE 9f\n  Snow.\n"
    )
    compile_with(script, "--backend", "ltx2", "--model", str(model), "--steps", "2")
    assert len(calls.calls) == 4  # three takes of shot 1, one of shot 2
    # The backend's own encodings (the pipeline then only passes the embeddings through).
    encoded = [c.positional[0] for c in prompts.calls if c.positional]
    assert len(encoded) == 2 and encoded[0].startswith("Rain.") and encoded[1].startswith("Snow.")


def test_a_distilled_folder_runs_the_distilled_sigmas_without_guidance_or_negative(
    project, distilled_model, monkeypatch
):
    from diffusers import LTX2Pipeline
    from diffusers.pipelines.ltx2.utils import DISTILLED_SIGMA_VALUES

    spy = spy_on(monkeypatch, LTX2Pipeline)
    encoded = spy_on(monkeypatch, LTX2Pipeline, "encode_prompt")
    script = project.write(
        "title: D\nformat: 64x64 @ 24fps\n\nINT. ROOM - DAY\n\nSHOT 1 WIDE 9f\n  Rain.\n"
    )
    compile_with(script, "--backend", "ltx2", "--model", str(distilled_model))
    arguments = spy.calls[0].arguments
    assert arguments["num_inference_steps"] == 8
    assert arguments["sigmas"] == list(DISTILLED_SIGMA_VALUES)
    assert arguments["guidance_scale"] == arguments["audio_guidance_scale"] == 1.0
    assert arguments["stg_scale"] == arguments["audio_stg_scale"] == 0.0
    # No guidance: the negative prompt is neither encoded nor passed.
    assert encoded.calls[0].arguments["do_classifier_free_guidance"] is False
    assert "negative_prompt_embeds" not in arguments


def test_ltx_2_0_runs_no_stg_pass_its_transformer_would_ignore(project, model, monkeypatch):
    # LTX-2.0's transformer has no perturbed attention: an STG pass costs a
    # transformer pass a step and changes nothing.  Dev: the guided pair (one
    # batched pass) and the modality pass, 2 passes a step, not 3.
    from diffusers import LTX2Pipeline, LTX2VideoTransformer3DModel

    spy = spy_on(monkeypatch, LTX2Pipeline)
    passes = spy_on(monkeypatch, LTX2VideoTransformer3DModel, "forward")
    script = project.write(
        "title: S\nformat: 64x64 @ 24fps\n\nINT. ROOM - DAY\n\nSHOT 1 WIDE 9f\n  Rain.\n"
    )
    compile_with(script, "--backend", "ltx2", "--model", str(model), "--steps", "2")
    assert spy.calls[0].arguments["stg_scale"] == 0.0
    assert len(passes.calls) == 2 * 2
    # Its negative prompt is the authors' default when the script gives none.
    assert spy.calls[0].arguments["negative_prompt_embeds"] is not None


def test_keyframed_shots_keep_a_bf16_model_in_bf16(project, tmp_path, monkeypatch):
    # from_pipe casts to float32 unless told otherwise: the first image-to-video
    # or condition shot doubled a bf16 model in memory (70 GB -> 139 GB for the
    # real 19B; bench/from_pipe_memory.py).  Every component of every pipeline
    # variant stays bf16.  The model: LTX-2.0's real transformer and scheduler
    # configs, cut to test size.
    import torch
    from diffusers import LTX2ConditionPipeline, LTX2ImageToVideoPipeline

    backends = []
    original = LTX2Backend.pipeline

    def recording(self, pipeline_class=None):
        backends.append(self)
        return original(self, pipeline_class)

    monkeypatch.setattr(LTX2Backend, "pipeline", recording)
    script = project.write(
        """
        title: B
        format: 64x64 @ 24fps

        INT. ROOM - DAY

        SHOT 1 WIDE 9f
          Rain.

        SHOT 2 WIDE 9f continuous
          The door opens.

        SHOT 3 WIDE 9f
          keyframe last: refs/hero.png
          The door closes.
        """
    )
    published = Path(__file__).parent / "fixtures" / "models" / "LTX-2-dev-Diffusers"
    model = tiny.save_ltx2_like(tmp_path / "model", published)
    # Two stages, as the authors run it: the upsampler (its published config, cut)
    # and the distilled LoRA; every parameter of both stays bf16 too.
    pytest.importorskip("peft")
    tiny.save_ltx2_refine_lora(tiny.save_ltx2_upsampler(model, published))
    assert LTX2Backend.recognise(model).profile.name == "LTX-2 dev"
    _, plan, _ = compile_with(
        script, "--backend", "ltx2", "--model", str(model), "--steps", "2", "--dtype", "bfloat16"
    )
    assert all(n.params.options["two_stage"] for n in plan.nodes if n.op == "generate")
    from diffusers import LTX2LatentUpsamplePipeline

    pipelines = {id(p): p for backend in backends for p in backend._pipelines.values()}
    kinds = {type(pipe) for pipe in pipelines.values()}
    assert {LTX2ImageToVideoPipeline, LTX2ConditionPipeline, LTX2LatentUpsamplePipeline} <= kinds
    for pipe in pipelines.values():
        for name, component in pipe.components.items():
            if isinstance(component, torch.nn.Module):
                dtypes = {parameter.dtype for parameter in component.parameters()}
                assert dtypes == {torch.bfloat16}, (type(pipe).__name__, name, dtypes)


# ------------------------------------------------------------ two stages

TWO_SHOTS = """
title: Two stages
format: 128x64 @ 24fps

INT. ROOM - DAY

SHOT 1 WIDE 9f
  Rain on the window.

SHOT 2 WIDE 9f
  keyframe first: refs/room.png
  The door opens.
"""


def _lora_active(transformer) -> bool:
    from peft.tuners.tuners_utils import BaseTunerLayer

    layers = [m for m in transformer.modules() if isinstance(m, BaseTunerLayer)]
    return bool(layers) and not layers[0].disable_adapters


@pytest.fixture(scope="module")
def two_stage_models(tmp_path_factory):
    """Named like nothing: a distilled folder and a dev folder, each with the
    tiny x2 latent upsampler; the dev one also with its tiny distilled LoRA."""
    pytest.importorskip("peft")
    root = tmp_path_factory.mktemp("two-stage")
    distilled = tiny.save_ltx2_upsampler(tiny.save_ltx2(root / "a", distilled=True))
    dev = tiny.save_ltx2_refine_lora(tiny.save_ltx2_upsampler(tiny.save_ltx2(root / "b")))
    return {"distilled": distilled, "dev": dev}


def _record_stages(monkeypatch):
    """Each LTX-2 call's arguments with the scheduler and LoRA state it ran with."""
    from diffusers import LTX2ImageToVideoPipeline, LTX2LatentUpsamplePipeline, LTX2Pipeline

    calls = []
    for cls in (LTX2Pipeline, LTX2ImageToVideoPipeline):
        original = cls.__call__

        def recording(self, *args, _original=original, **kwargs):
            state = (self.scheduler.config.use_dynamic_shifting, _lora_active(self.transformer))
            output = _original(self, *args, **kwargs)
            calls.append((type(self).__name__, kwargs, state, output))
            return output

        monkeypatch.setattr(cls, "__call__", recording)
    upsample = spy_on(monkeypatch, LTX2LatentUpsamplePipeline)
    return calls, upsample


def test_the_distilled_model_runs_in_two_stages_with_the_folders_upsampler(
    project, two_stage_models, monkeypatch
):
    from diffusers.pipelines.ltx2.utils import (
        DISTILLED_SIGMA_VALUES,
        STAGE_2_DISTILLED_SIGMA_VALUES,
    )

    calls, upsample = _record_stages(monkeypatch)
    script = project.write(TWO_SHOTS)
    model = two_stage_models["distilled"]
    out, plan, _ = compile_with(script, "--backend", "ltx2", "--model", str(model))
    assert {n.params.options["two_stage"] for n in plan.nodes if n.op == "generate"} == {True}
    film = decode(out)
    assert (film.width, film.height, len(film.frames)) == (128, 64, 18)
    # Per shot: stage 1 at half size, the upsampler, 3 steps at full size.
    assert [c[0] for c in calls] == ["LTX2Pipeline"] * 2 + ["LTX2ImageToVideoPipeline"] * 2
    assert len(upsample.calls) == 2
    for shot in range(2):
        (_, first, _, made), (_, second, _, _) = calls[2 * shot : 2 * shot + 2]
        assert (first["width"], first["height"], first["output_type"]) == (64, 32, "latent")
        assert first["sigmas"] == DISTILLED_SIGMA_VALUES and first["num_inference_steps"] == 8
        upsampled = upsample.calls[shot].output[0]
        assert upsample.calls[shot].arguments["latents"] is made[0]
        assert upsampled.shape[-2:] == (2 * made[0].shape[-2], 2 * made[0].shape[-1])
        assert second["latents"] is upsampled and second["audio_latents"] is made[1]
        assert (second["width"], second["height"], second["num_inference_steps"]) == (128, 64, 3)
        assert second["sigmas"] == STAGE_2_DISTILLED_SIGMA_VALUES
        assert second["noise_scale"] == STAGE_2_DISTILLED_SIGMA_VALUES[0]
        assert second["guidance_scale"] == 1.0 and "negative_prompt_embeds" not in second
    # The keyframe conditions both stages of shot 2.
    assert calls[2][1]["image"] is calls[3][1]["image"]


def test_the_dev_model_refines_with_its_distilled_lora_and_unshifted_sigmas(
    project, two_stage_models, monkeypatch
):
    calls, upsample = _record_stages(monkeypatch)
    script = project.write(TWO_SHOTS.split("\nSHOT 2")[0])
    model = two_stage_models["dev"]
    compile_with(script, "--backend", "ltx2", "--model", str(model), "--steps", "2")
    (_, first, stage_1, _), (_, second, stage_2, _) = calls
    # Stage 1: the dev recipe (guidance 4, the negative prompt), shifted sigmas, no LoRA.
    assert first["guidance_scale"] == 4.0 and first["negative_prompt_embeds"] is not None
    assert stage_1 == (True, False)
    # Stage 2: the LoRA on, the scheduler taking the stage-2 sigmas as they are...
    assert stage_2 == (False, True) and second["num_inference_steps"] == 3
    # ...and as they were afterwards, for the next shot's stage 1.
    from diffusers import LTX2Pipeline

    backend = LTX2Backend(model=str(model), steps=2, two_stage=True)
    pipe = backend.pipeline(LTX2Pipeline)
    backend._load_refine_lora(pipe)
    with backend._refining(pipe):
        assert _lora_active(pipe.transformer)
    assert not _lora_active(pipe.transformer) and pipe.scheduler.config.use_dynamic_shifting


def test_a_folder_without_an_upsampler_is_made_in_one_stage_and_plan_says_why(
    project, model, two_stage_models, tmp_path, capsys
):
    import shutil

    script = project.write(TWO_SHOTS)
    plan_file = str(project.root / "p.json")

    def plan(folder, *extra) -> tuple[int, str, set]:
        args = ["plan", str(script), "--backend", "ltx2", "--model", str(folder)]
        code = main([*args, "-o", plan_file, *extra])
        err = capsys.readouterr().err
        if code != 0:
            return code, err, set()
        nodes = json.loads(Path(plan_file).read_text())["nodes"]
        return (
            code,
            err,
            {n["params"]["options"]["two_stage"] for n in nodes if n["op"] == "generate"},
        )

    code, err, stages = plan(model)
    assert (code, stages) == (0, {False})
    assert "one stage, not the authors' two: the folder has no latent_upsampler/" in err
    # The dev model without its distilled LoRA refines with nothing: one stage too.
    no_lora = tmp_path / "no-lora"
    shutil.copytree(two_stage_models["dev"], no_lora)
    next(no_lora.glob("*distilled-lora*")).unlink()
    code, err, stages = plan(no_lora)
    assert stages == {False} and "no distilled LoRA (*distilled-lora*.safetensors)" in err
    # Asked for where it cannot be: a usage error, before anything runs.
    code, err, _ = plan(model, "--two-stage")
    assert code == 2 and "two_stage: the LTX-2 folder" in err and "latent_upsampler/" in err
    # Asked off, on the command line or in director.toml.
    code, err, stages = plan(two_stage_models["distilled"], "--no-two-stage")
    assert stages == {False} and "one stage, not the authors' two: two_stage is off" in err
    (project.root / "director.toml").write_text("[ltx2]\ntwo_stage = false\n")
    assert plan(two_stage_models["distilled"])[2] == {False}
    code, err, stages = plan(two_stage_models["distilled"], "--two-stage")
    assert stages == {True}
    assert "two stages: half size, the x2 latent upsampler, 3 refinement steps at full size" in err


def test_two_stages_round_the_sides_to_64_and_say_so(project, two_stage_models, capsys):
    script = project.write(TWO_SHOTS.replace("128x64", "96x64"))
    out = str(project.root / "p.json")
    model = two_stage_models["distilled"]
    args = ["plan", str(script), "--backend", "ltx2", "--model", str(model), "-o", out]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "warning[W122 rounded-size]" in err
    assert "makes sides divisible by 64: the film's 96x64 is made at 128x64" in err
    assert "help: format: 128x64 @ 24fps" in err
    sizes = {
        (n["params"]["width"], n["params"]["height"])
        for n in json.loads(Path(out).read_text())["nodes"]
        if n["op"] == "generate"
    }
    assert sizes == {(128, 64)}
    # One stage keeps the 32 rule: 96 is made as it is.
    assert main([*args, "--no-two-stage"]) == 0
    assert "W122" not in capsys.readouterr().err
