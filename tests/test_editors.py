r"""The VS Code extension folder: a valid manifest and a TextMate grammar that knows the language.

The grammar's patterns are Oniguruma's (VS Code's regex engine): `\p{Ll}` and Unicode
`\w`.  They are checked two ways: with Python's `regex` module, whose syntax and Unicode
classes agree with Oniguruma's for what the grammar uses, always; and with VS Code's own
TextMate engine (vscode-textmate over the Oniguruma WebAssembly build, through
tests/textmate/tokenize.js) where `npm install` has been run in editors/vscode.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import regex as re
from hypothesis import given
from hypothesis import strategies as st

from director.names import is_name

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
    "  МАША": "speaker",
    "  李": "speaker",
    "  MRS. O'BRIEN (V.O.) (CONT'D)": "speaker",
    "character ZOË": "declaration",
    "audio ПЕСНЯ: refs/song.wav": "asset",
    "  music ПЕСНЯ from 1s": "cue",
    "    (under her breath)": "parenthetical",
    "# a note": "comment",
}


@pytest.mark.parametrize("line,rule", LINES.items())
def test_lines_get_their_scope(line, rule):
    order = [p["include"].lstrip("#") for p in GRAMMAR["patterns"]]
    first = next(name for name in order if re.match(GRAMMAR["repository"][name]["match"], line))
    assert first == rule


def _name_of(rule: str, line: str) -> str | None:
    """The name a rule's second group reads in `line` (None: the rule does not match)."""
    found = re.match(GRAMMAR["repository"][rule]["match"], line)
    return found[2] if found else None


# Letters of several scripts, in both cases where they have them, and the other
# characters a name may or may not hold.
ALPHABET = "AZaz09_ÉéËëЖжΩω李ßǅ-. '"


@given(st.text(ALPHABET, min_size=1, max_size=6))
def test_a_declared_name_is_highlighted_exactly_when_it_is_a_name(word):
    """The grammar's name pattern reads what the checker calls a name (names.is_name):
    capitals of any script, letters of scripts without case, digits and `_`."""
    highlighted = _name_of("declaration", f"character {word}") == word
    assert highlighted == is_name(word)


NAMES_IN_TEXT = {
    "CHLOÉ waves.": ["CHLOÉ"],
    "МАША и ZOË ждут.": ["МАША", "ZOË"],
    "李 walks past TOM.": ["李", "TOM"],
    "café, маша, Zoë and A wait.": [],  # lower case, mixed case, one capital letter
}


@pytest.mark.parametrize("text", list(NAMES_IN_TEXT))
def test_names_in_action_text_in_any_script(text):
    pattern = re.compile(GRAMMAR["repository"]["name"]["match"])
    assert [m[0] for m in pattern.finditer(text)] == NAMES_IN_TEXT[text]


# -- VS Code's own engine ---------------------------------------------------------------------

TOKENIZE = ROOT / "tests" / "textmate" / "tokenize.js"
MODULES = VSCODE / "node_modules"
needs_vscode_textmate = pytest.mark.skipif(
    shutil.which("node") is None or not (MODULES / "vscode-textmate").is_dir(),
    reason="no node, or no vscode-textmate: npm install in editors/vscode",
)


def tokenize(lines: list[str]) -> list[list[tuple[str, list[str]]]]:
    grammar = VSCODE / "syntaxes" / "shot.tmLanguage.json"
    done = subprocess.run(
        ["node", str(TOKENIZE), str(grammar)],
        input=json.dumps(lines),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [[(text, scopes) for text, scopes in line] for line in json.loads(done.stdout)]


def scoped(tokens, scope: str) -> list[str]:
    return [text for text, scopes in tokens if any(s.startswith(scope) for s in scopes)]


@needs_vscode_textmate
def test_vscode_highlights_names_in_any_script():
    lines = {
        "character ZOË": ("entity.name.type", ["ZOË"]),
        "location 市场": ("entity.name.type", ["市场"]),
        "  МАША": ("entity.name.function.speaker", ["МАША"]),
        "  MRS. O’BRIEN (V.O.)": ("entity.name.function.speaker", ["MRS. O’BRIEN"]),
        "SHOT 1 WIDE on CHLOÉ, 李 3s": ("variable.other.name", ["CHLOÉ", "李"]),
        "  МАША и ZOË ждут; café, Zoë.": ("variable.other.name", ["МАША", "ZOË"]),
        "  music ПЕСНЯ from 1s": ("variable.other.name", ["ПЕСНЯ"]),
    }
    for line, tokens in zip(lines, tokenize(list(lines)), strict=True):
        scope, names = lines[line]
        assert scoped(tokens, scope) == names, (line, tokens)


@needs_vscode_textmate
def test_vscode_and_python_agree_on_what_a_name_is():
    words = ["MARA", "ZOË", "Zoë", "ZOë", "МАША", "Маша", "李", "李明", "A1_B", "_X", "1A", "ǅ"]
    for word, tokens in zip(words, tokenize([f"character {w}" for w in words]), strict=True):
        assert (scoped(tokens, "entity.name.type") == [word]) == is_name(word), word
