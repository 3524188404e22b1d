"""`director fmt`: canonical, idempotent, comments kept, and never a change of meaning."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_fuzz import mutated

from director.cli import main
from director.fmt import format_text
from director.parse import parse_source
from director.reader import old_mac_lines
from director.source import SourceFile

ROOT = Path(__file__).resolve().parents[1]


def syntax(text: str):
    """The syntax tree of `text` as the checker reads it (CR-only lines as lines), without
    positions, or None when it does not parse."""
    tree, _ = parse_source(SourceFile(Path("x.shot"), "x.shot", old_mac_lines(text)))
    return None if tree is None else _without_spans(tree.model_dump())


def _without_spans(value):
    if isinstance(value, dict):
        return {k: _without_spans(v) for k, v in value.items() if k not in ("span", "path")}
    if isinstance(value, list):
        return [_without_spans(v) for v in value]
    return value


def _scripts() -> list[tuple[str, str]]:
    found = []
    for folder in ("scripts_examples", "tests/check_cases", "tests/fixtures"):
        for path in sorted((ROOT / folder).rglob("*.shot")):
            text = path.read_bytes().decode("utf-8-sig", errors="replace")
            found.append((str(path.relative_to(ROOT)), text))
    for doc in ("README.md", "docs/language.md"):
        markdown = (ROOT / doc).read_text(encoding="utf-8")
        for number, block in enumerate(re.findall(r"```\n(.*?)```", markdown, re.S)):
            found.append((f"{doc}#{number}", block))
    return [(name, text) for name, text in found if syntax(text) is not None]


SCRIPTS = _scripts()


def test_there_are_scripts_to_format():
    assert len(SCRIPTS) > 60


@pytest.mark.parametrize("name,text", SCRIPTS, ids=[name for name, _ in SCRIPTS])
def test_formatting_keeps_the_meaning_and_is_idempotent(name, text):
    formatted = format_text(text)
    assert syntax(formatted) == syntax(text)
    assert format_text(formatted) == formatted
    comments = [line.split("#", 1)[1].strip() for line in text.splitlines() if "#" in line]
    for comment in comments:  # every comment survives (quoted '#' too: it is kept as text)
        assert comment in formatted


def test_the_examples_are_already_canonical():
    for path in sorted((ROOT / "scripts_examples").rglob("*.shot")):
        text = path.read_text(encoding="utf-8")
        assert format_text(text) == text, path


MESSY = """\ufeff# A messy script\r


title:   The   Lighthouse   # the title
format:1280x720@24fps
seed:  7
audio   STORM :  refs/storm.wav
character MARA     # lead
    description:    a keeper   with  "quoted # not a comment"   \t
    ref:    "refs/my file.png"
# about the room
location   ROOM
    description: a room
INT.   ROOM   -   NIGHT
SHOT   1A   EXTREME WIDE   on MARA,MARA   4s    continuous # x


    camera:   dolly in   slow,then   tilt up 10deg then static
    angle:  eye level
    music   STORM  from 1s   fade in   2s duck   under dialogue


    MARA   (V.O.)
        (  whispering  )
        Hello   there.
    # a note inside
    keyframe first :  refs/a.png
DISSOLVE TO:    12f
SHOT 2 CU 2s
  MARA
      Hi.
# trailing


"""

CANONICAL = """# A messy script

title: The   Lighthouse  # the title
format: 1280x720 @ 24fps
seed: 7
audio STORM: refs/storm.wav

character MARA  # lead
  description: a keeper   with  "quoted # not a comment"
  ref: "refs/my file.png"

# about the room
location ROOM
  description: a room

INT. ROOM - NIGHT

SHOT 1A EXTREME WIDE on MARA, MARA 4s continuous  # x
  camera: dolly in slow, then tilt up 10deg, then static
  angle: eye level
  music STORM from 1s fade in 2s duck under dialogue

  MARA (V.O.)
    (whispering)
    Hello   there.
  # a note inside
  keyframe first: refs/a.png

DISSOLVE TO: 12f

SHOT 2 CU 2s
  MARA
    Hi.

# trailing
"""


def test_a_messy_script_comes_out_canonical():
    assert format_text(MESSY) == CANONICAL
    assert syntax(CANONICAL) == syntax(MESSY.removeprefix("\ufeff"))


@st.composite
def relaid(draw, text: str) -> str:
    """`text` (canonical) laid out differently in ways the grammar ignores: another
    indentation width, more blank lines where there is one, trailing spaces, CRLF."""
    width = draw(st.integers(1, 6))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    lines = []
    for line in text.split("\n")[:-1]:
        depth = (len(line) - len(line.lstrip(" "))) // 2
        body = line.strip()
        if not body:
            lines += [""] * draw(st.integers(1, 3))
            continue
        lines.append(" " * (width * depth) + body + " " * draw(st.integers(0, 2)))
    return newline.join(lines) + newline * draw(st.integers(1, 3))


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_layout_of_a_script_formats_to_the_same_text(data):
    _, text = data.draw(st.sampled_from(SCRIPTS))
    canonical = format_text(text)
    other = data.draw(relaid(canonical))
    assert format_text(other) == canonical


# ---------------------------------------------------------------- the command


def test_fmt_rewrites_files_in_place(tmp_path, capsys):
    path = tmp_path / "messy.shot"
    path.write_text(MESSY, encoding="utf-8", newline="")
    assert main(["fmt", str(path)]) == 0
    assert path.read_text(encoding="utf-8") == CANONICAL
    assert f"reformatted {path}" in capsys.readouterr().err
    assert main(["fmt", str(path)]) == 0
    assert capsys.readouterr().err == ""


def test_fmt_check_prints_a_diff_and_fails_without_writing(tmp_path, capsys):
    messy, clean = tmp_path / "messy.shot", tmp_path / "clean.shot"
    messy.write_text(MESSY, encoding="utf-8", newline="")
    clean.write_text(CANONICAL, encoding="utf-8")
    assert main(["fmt", "--check", str(clean)]) == 0
    assert main(["fmt", "--check", str(clean), str(messy)]) == 1
    out, err = capsys.readouterr()
    assert "+format: 1280x720 @ 24fps" in out and "-format:1280x720@24fps" in out
    assert f"would reformat {messy}" in err and "clean" not in err
    assert messy.read_bytes().decode("utf-8") == MESSY
    assert main(["fmt", "--diff", str(messy)]) == 0
    assert "+SHOT 2 CU 2s" not in capsys.readouterr().out  # that line did not change
    assert messy.read_bytes().decode("utf-8") == MESSY


def test_fmt_leaves_a_file_that_does_not_parse_alone(tmp_path, capsys):
    path = tmp_path / "broken.shot"
    path.write_text("title: Broken\nSHOT 1 HUGE 2s\n", encoding="utf-8")
    assert main(["fmt", str(path)]) == 1
    err = capsys.readouterr().err
    assert "E0" in err and "does not parse; left alone" in err
    assert path.read_text(encoding="utf-8") == "title: Broken\nSHOT 1 HUGE 2s\n"


def test_fmt_reads_stdin_and_writes_stdout(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(MESSY.encode())))
    assert main(["fmt", "-"]) == 0
    assert capsys.readouterr().out == CANONICAL


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_scripts_that_parse_keep_their_meaning(data):
    """The fuzz test's mutations make odd but valid layouts: tokens glued or split,
    lines indented, strange characters in free text."""
    text = data.draw(mutated()).decode("utf-8-sig", errors="replace")
    before = syntax(text)
    if before is None:
        return
    formatted = format_text(text)
    assert syntax(formatted) == before
    assert format_text(formatted) == formatted


def test_only_the_grammars_spaces_are_spacing():
    """U+2028 and other Unicode spaces are text to the grammar, though Python strips them."""
    text = "title: \u2028\n\nSHOT 1 WIDE 2s\n  \u00a0A door.\u2028\n"
    assert syntax(text) is not None
    assert format_text(text) == text


def test_an_old_mac_file_is_laid_out_in_lf_lines_once_and_for_all():
    """A CR-only file is read as lines by the checker; fmt breaks it at the same places,
    writes LF, and formatting the result again changes nothing (a hypothesis example
    once found the second pass differing by a trailing CR)."""
    text = "title: Pier\rformat: 640x360 @ 24fps\r\rINT. ROOM - DAY\r\rSHOT 1 WIDE 2s\r  A lamp.\r"
    formatted = format_text(text)
    assert "\r" not in formatted
    assert syntax(formatted) == syntax(text) is not None
    assert format_text(formatted) == formatted
