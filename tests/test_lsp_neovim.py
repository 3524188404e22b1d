"""`director lsp` driven by a real editor client: Neovim's built-in LSP client, headless.

The client is Debian's `neovim` (.ci/run installs it when missing); its Lua
driver (tests/lsp_client/neovim.lua) asks for completion right after
`camera:`, types the move chosen, then asks for the outline, a quick fix for
a "did you mean" and formatting, and applies the edits as Neovim applies
them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write_refs

from director.fmt import format_text

DRIVER = Path(__file__).parent / "lsp_client" / "neovim.lua"

SCRIPT = """title: Night Watch

character MARA
    description: a weathered lighthouse keeper
    ref: refs/hero.png

INT. LAMP ROOM - NIGHT

SHOT 1   WIDE 2s
    camera:
    MRA
      Another night.

EXT. GALLERY - NIGHT

SHOT 2 CU on MARA 2s
    MARA looks out.
"""


def neovim() -> str:
    found = shutil.which("nvim")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("nvim is missing in CI (.ci/run installs Debian's neovim)")
        pytest.skip("Debian's neovim is not installed (.ci/run installs it)")
    return found


@pytest.fixture(scope="module")
def answered(tmp_path_factory) -> dict:
    nvim = neovim()
    root = tmp_path_factory.mktemp("lsp")
    write_refs(root)
    script = root / "film.shot"
    script.write_text(SCRIPT, encoding="utf-8")
    camera_line = SCRIPT.split("\n").index("    camera:")
    out = root / "answers.json"
    env = {
        **os.environ,
        "DIRECTOR_PYTHON": sys.executable,
        "DIRECTOR_SCRIPT": str(script),
        "DIRECTOR_OUT": str(out),
        "DIRECTOR_CAMERA_LINE": str(camera_line),
        "DIRECTOR_CAMERA_COLUMN": str(len("    camera:")),
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
        "XDG_CONFIG_HOME": str(root / "config"),
        "XDG_DATA_HOME": str(root / "data"),
        "XDG_STATE_HOME": str(root / "state"),
    }
    command = [nvim, "--headless", "--clean", "-n", "-c", f"luafile {DRIVER}"]
    subprocess.run(command, env=env, cwd=root, timeout=120, check=False,
                   stdin=subprocess.DEVNULL, capture_output=True)  # fmt: skip
    assert out.is_file(), "Neovim wrote no answers"
    answers = json.loads(out.read_text())
    assert answers["started"], "the server did not initialise"
    return answers


def test_completion_right_after_camera_offers_moves(answered):
    completion = answered["completion"]
    items = completion["items"] if isinstance(completion, dict) else completion
    labels = {item["label"] for item in items}
    assert {"pan", "dolly", "static"} <= labels, labels
    assert "MARA" not in labels


def test_the_outline_holds_scenes_and_their_shots(answered):
    outline = [
        (scene["name"], [shot["name"] for shot in scene.get("children", [])])
        for scene in answered["symbols"]
    ]
    assert outline == [
        ("INT. LAMP ROOM - NIGHT", ["SHOT 1"]),
        ("EXT. GALLERY - NIGHT", ["SHOT 2"]),
    ]


def test_a_quick_fix_applies_the_did_you_mean(answered):
    assert answered["actions"][0]["title"] == 'Replace with "MARA"'
    assert "    MARA" in answered["after_fix"]
    assert "    MRA" not in answered["after_fix"]


def test_formatting_lays_the_script_out_as_director_fmt(answered):
    after = "\n".join(answered["after_format"]) + "\n"
    fixed = SCRIPT.replace("    MRA\n", "    MARA\n").replace("camera:", "camera: static")
    assert after == format_text(fixed)
    assert after != fixed
