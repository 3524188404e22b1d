"""`director doctor`, settings files and `backend: auto` on a machine like this one.

The GPU question is answered by torch; the tests pin the answer (none) so
that they say the same on a machine that has one.
"""

from __future__ import annotations

import re

import pytest
from tiny_models import no_user_settings

from backends import tiny
from backends.diffusers_base import accelerator
from backends.ltx2 import LTX2Backend
from director import models
from director.cli import main

__all__ = ["no_user_settings"]  # autouse fixture


@pytest.fixture(autouse=True)
def no_gpu(monkeypatch):
    accelerator.cache_clear()
    monkeypatch.setattr("backends.diffusers_base.accelerator", lambda: None)
    monkeypatch.setattr("director.models.accelerator", lambda: None)
    yield
    accelerator.cache_clear()


@pytest.fixture(scope="module")
def ltx2_model(tmp_path_factory):
    return tiny.save_ltx2(tmp_path_factory.mktemp("models") / "LTX-2-tiny")


def test_doctor_says_plainly_there_is_no_gpu_and_no_weights(tmp_path, monkeypatch, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    monkeypatch.chdir(tmp_path)
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "there is no GPU and there are no model weights on this machine" in out
    # tinyfm's weights ship in the package: it runs wherever torch does
    assert "What can run here: preview, tinyfm. `backend: auto` picks preview." in out
    assert "ltx2     cannot run here" in out and "wan      cannot run here" in out
    assert "no model folder configured" in out and "no GPU that torch can use" in out
    assert "ltx2 and wan still run on the CPU when named" in out
    assert "diffusers" in out and "torch" in out


def test_doctor_reads_director_toml_and_says_what_the_model_takes(tmp_path, ltx2_model, capsys):
    (tmp_path / "director.toml").write_text(f'[ltx2]\nmodel = "{ltx2_model}"\n')
    assert main(["doctor", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"read {tmp_path / 'director.toml'}" in out
    assert f"model: {ltx2_model}, from director.toml" in out
    assert "holds: LTX-2 dev, which takes the prompt, a first frame, a last frame" in out
    # The model is there; only the GPU is missing.
    ltx2 = out[out.index("ltx2     cannot") : out.index("wan      cannot")]
    assert "no model folder" not in ltx2 and "no GPU that torch can use" in ltx2


def test_doctor_finds_a_bare_model_folders_backend(tmp_path, ltx2_model, capsys):
    assert main(["doctor", str(tmp_path), "--model", str(ltx2_model)]) == 0
    assert f"model: {ltx2_model}, from --model" in capsys.readouterr().out


def test_auto_picks_a_diffusers_backend_only_with_a_model_and_a_gpu(
    tmp_path, ltx2_model, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    models.forget()
    assert models.choose("auto").name == "preview"
    (tmp_path / "director.toml").write_text(f'[ltx2]\nmodel = "{ltx2_model}"\n')
    models.forget()  # answers are kept for a second
    assert models.choose("auto").name == "preview"  # a model, but no GPU
    assert "no GPU" in models.unavailable_reason(LTX2Backend)
    monkeypatch.setattr("director.models.accelerator", lambda: "cuda")
    models.forget()
    assert models.choose("auto").name == "ltx2"
    models.forget()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[ltx2]\nstpes = 4\n", 'no such setting; did you mean "steps"?'),
        ("[ltx]\nsteps = 4\n", '[ltx] is not a backend with settings; did you mean "ltx2"?'),
        ('[wan]\noffload = "gpu"\n', "expected one of none, model, sequential"),
        ('[wan]\nsteps = "many"\n', "expected int"),
        ("[wan]\nsteps = 0\n", "at least 1"),
        ("[wan\n", "director.toml"),
    ],
)
def test_settings_files_are_checked(tmp_path, text, message):
    (tmp_path / "director.toml").write_text(text)
    with pytest.raises(models.ConfigError, match=re.escape(message)):
        models.load_settings(tmp_path)


def test_the_project_file_wins_over_the_users_and_the_command_line_over_both(tmp_path, monkeypatch):
    user = tmp_path / "user"
    (user / "director").mkdir(parents=True)
    (user / "director" / "director.toml").write_text("[wan]\nsteps = 10\nguidance = 2.0\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(user))
    project = tmp_path / "project" / "scenes"
    project.mkdir(parents=True)
    (tmp_path / "project" / "director.toml").write_text("[wan]\nsteps = 20\n")
    from backends.wan import WanBackend

    resolved = models.resolve([WanBackend], project)
    assert resolved.plan_options["wan"]["steps"] == 20
    assert resolved.plan_options["wan"]["guidance"] == 2.0
    resolved = models.resolve([WanBackend], project, models.Overrides(steps=3, device="cpu"))
    assert resolved.plan_options["wan"]["steps"] == 3
    assert resolved.runtime["wan"] == {"device": "cpu"}


def test_a_bare_model_needs_one_diffusers_backend(project, capsys):
    script = project.write(
        """
        title: Two
        format: 64x64 @ 24fps
        backend: ltx2

        INT. ROOM - DAY

        SHOT 1 WIDE 9f
          backend: wan
          A door.

        SHOT 2 WIDE 9f
          A window.
        """
    )
    assert main(["plan", str(script), "--model", "somewhere"]) == 2
    assert (
        "say which folder is which: --model ltx2=PATH --model wan=PATH" in capsys.readouterr().err
    )
    preview = project.write(
        "title: P\nformat: 64x64 @ 24fps\nbackend: preview\n\nINT. ROOM - DAY\n\nSHOT 1 WIDE 9f\n"
        "  A door.\n"
    )
    assert main(["plan", str(preview), "--model", "somewhere"]) == 2
    assert "preview animatic, which loads no model" in capsys.readouterr().err
