"""The CI integration files: pre-commit hooks and the documented GitHub workflow run."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from director.cli import _parser, main

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]
CLEAN = ROOT / "scripts_examples" / "lighthouse.shot"


def hooks() -> list[dict]:
    return yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))


def test_hooks_are_well_formed():
    found = {hook["id"]: hook for hook in hooks()}
    assert set(found) == {"director-check", "director-fmt", "director-fmt-fix"}
    for hook in found.values():
        assert hook["language"] == "python" and hook["entry"].startswith("director ")
        assert re.search(hook["files"], "film.shot") and not re.search(hook["files"], "a.py")


@pytest.mark.parametrize("hook", [h["id"] for h in hooks()])
def test_each_hook_passes_a_clean_script(hook):
    entry = next(h["entry"] for h in hooks() if h["id"] == hook)
    assert main(shlex.split(entry)[1:] + [str(CLEAN)]) == 0


def test_the_fmt_hook_fails_on_a_messy_script(tmp_path, capsys):
    messy = tmp_path / "messy.shot"
    messy.write_text(CLEAN.read_text(encoding="utf-8").replace("\n  ", "\n    "), encoding="utf-8")
    entry = next(h["entry"] for h in hooks() if h["id"] == "director-fmt")
    assert main(shlex.split(entry)[1:] + [str(messy)]) == 1
    assert "would reformat" in capsys.readouterr().err


def test_the_documented_workflow_runs_real_commands():
    text = (ROOT / "docs" / "ecosystem.md").read_text(encoding="utf-8")
    workflow = next(
        yaml.safe_load(block)
        for block in re.findall(r"```yaml\n(.*?)```", text, re.S)
        if block.startswith("name: scripts")
    )
    steps = workflow["jobs"]["check"]["steps"]
    commands = [s["run"] for s in steps if "run" in s and s["run"].startswith("director ")]
    assert commands == [
        "director check --format github scripts/*.shot",
        "director fmt --check scripts/*.shot",
    ]
    parser = _parser()
    for command in commands:
        parser.parse_args(shlex.split(command)[1:])  # every option exists


def test_github_format_annotates(tmp_path, capsys):
    script = tmp_path / "film.shot"
    script.write_text("title: Oops\n\nSHOT 1 WIDE 2s\n  MARA waves.\n  music NOPE\n")
    assert main(["check", "--format", "github", str(script)]) == 1
    assert re.search(r"^::error file=.*film\.shot,line=5,col=\d+", capsys.readouterr().out, re.M)
