"""The VS Code extension folder: a valid manifest and a TextMate grammar that knows the language."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VSCODE = ROOT / "editors" / "vscode"
GRAMMAR = json.loads((VSCODE / "syntaxes" / "shot.tmLanguage.json").read_text(encoding="utf-8"))


def _patterns(node):
    if isinstance(node, dict):
        if "match" in node:
            yield node
        for value in node.values():
            yield from _patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from _patterns(value)


def test_the_manifest_points_at_the_grammar_and_the_server():
    manifest = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    [language] = manifest["contributes"]["languages"]
    [grammar] = manifest["contributes"]["grammars"]
    assert language["id"] == grammar["language"] == "shot" and language["extensions"] == [".shot"]
    assert (VSCODE / grammar["path"]).is_file() and grammar["scopeName"] == GRAMMAR["scopeName"]
    assert (VSCODE / language["configuration"]).is_file()
    assert manifest["contributes"]["configuration"]["properties"]["shotDirector.command"][
        "default"
    ] == ["director", "lsp"]
    json.loads((VSCODE / "language-configuration.json").read_text(encoding="utf-8"))


def test_every_pattern_compiles():
    for node in _patterns(GRAMMAR):
        re.compile(node["match"])
    for include in re.findall(r'"#([a-z-]+)"', json.dumps(GRAMMAR)):
        assert include in GRAMMAR["repository"], include


LINES = {
    "SHOT 1A WIDE 4s": "shot",
    "SHOT 1B CLOSE-UP on MARA 3s": "shot",
    "INT. LAMP_ROOM - NIGHT": "slugline",
    "DISSOLVE TO: 12f": "transition",
    "CUT TO:": "transition",
    "character MARA": "declaration",
    "audio STORM: refs/storm_loop.wav": "asset",
    "format: 1280x720 @ 24fps": "setting",
    "  camera: dolly in slow, then tilt up 10deg": "setting",
    "  music THEME from 1s fade in 2s duck under dialogue": "cue",
    "  keyframe first: BOARD_3": "keyframe",
    "  MARA": "speaker",
    "  MARA (V.O.)": "speaker",
    "    (under her breath)": "parenthetical",
    "# a note": "comment",
}


@pytest.mark.parametrize("line,rule", LINES.items())
def test_lines_get_their_scope(line, rule):
    order = [p["include"].lstrip("#") for p in GRAMMAR["patterns"]]
    first = next(name for name in order if re.match(GRAMMAR["repository"][name]["match"], line))
    assert first == rule
