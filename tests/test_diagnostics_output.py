"""What `director check` prints is safe and bounded, whatever the script holds.

Terminal escapes in a script reach the terminal escaped; a file name can
neither move a GitHub annotation nor inject a workflow command; a flood of
diagnostics on a long line renders in size linear in their count, capped per
file with a count of the rest.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from director import codes
from director.cli import main
from director.diagnostics import (
    DEFAULT_PER_FILE,
    make,
    render_github,
    render_human,
    visible,
    visible_lines,
)
from director.source import Span

HEADER = "title: Hostile\ncharacter MARA\n  description: a keeper\n\nSHOT 1 MEDIUM 4s\n"
# Our own colours are SGR sequences (ESC [ digits m); nothing else may reach the terminal.
OWN_COLOUR = re.compile(r"\x1b\[[0-9;]*m")
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


# ------------------------------------------------------------ a workflow-command parser
# Written from GitHub's "Workflow commands for GitHub Actions" page, not from
# the renderer: a command is one line `::name key=value,key=value::message`;
# in a message `%`, CR and LF are sent as %25, %0D and %0A; in a property
# value also `:` as %3A and `,` as %2C.  The runner reads each output line on
# its own, so a raw newline always starts a new line (and maybe a new command).


def _unescape_message(text: str) -> str:
    return text.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def _unescape_property(text: str) -> str:
    for escaped, char in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(escaped, char)
    return text


def parse_workflow_commands(output: str) -> list[tuple[str, dict[str, str], str]]:
    """Every line that is a workflow command, as the runner would read it."""
    commands = []
    for line in output.split("\n"):
        if not line.startswith("::") or "::" not in line[2:]:
            continue
        head, message = line[2:].split("::", 1)
        name, _, listed = head.partition(" ")
        properties = {}
        for pair in listed.split(",") if listed else []:
            key, _, value = pair.partition("=")
            properties[key] = _unescape_property(value)
        commands.append((name, properties, _unescape_message(message)))
    return commands


def test_the_parser_reads_the_pages_own_example():
    [(name, properties, message)] = parse_workflow_commands(
        "::error file=app.js,line=1,col=5,endColumn=7,title=YOUR-TITLE::Missing semicolon"
    )
    assert name == "error" and message == "Missing semicolon"
    assert properties == {
        "file": "app.js",
        "line": "1",
        "col": "5",
        "endColumn": "7",
        "title": "YOUR-TITLE",
    }


# ------------------------------------------------------------ helpers


def _script(tmp_path: Path, name: str, action: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + f"  {action}\n", encoding="utf-8")
    return path


def _check(capsys, monkeypatch, tmp_path: Path, *argv: str) -> tuple[int, str, str]:
    monkeypatch.chdir(tmp_path)
    code = main(["check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------ defect 4: terminal escapes

HOSTILE = "MARA sees \x1b]0;pwned\x07\x1b[2J\x1b[31m MRAA \u202e and \x9b2J"


@pytest.mark.parametrize("colour", ["never", "always"])
def test_escape_sequences_in_a_script_line_are_printed_escaped(
    tmp_path, capsys, monkeypatch, colour
):
    _script(tmp_path, "film.shot", HOSTILE)
    code, _, err = _check(capsys, monkeypatch, tmp_path, "--color", colour, "film.shot")
    # the control characters are themselves an error (E007), the rest is still checked
    assert code == 1 and "W107 unknown-capitalised-name" in err and "E007 control-character" in err
    plain = OWN_COLOUR.sub("", err)
    assert "\x1b" not in plain and "\x07" not in plain and "\x9b" not in plain
    assert RAW_CONTROL.search(plain) is None
    assert r"\x1b]0;pwned\x07\x1b[2J\x1b[31m" in plain
    assert r"\u202e" in plain and r"\x9b2J" in plain


def test_the_caret_stays_under_its_word_when_escapes_widen_the_line(tmp_path, capsys, monkeypatch):
    _script(tmp_path, "film.shot", HOSTILE)
    _, _, err = _check(capsys, monkeypatch, tmp_path, "--color", "never", "film.shot")
    lines = err.split("\n")
    warning = next(i for i, line in enumerate(lines) if "W107" in line)  # after E007's block
    at = next(i for i in range(warning, len(lines)) if lines[i].startswith("6 | "))
    source, caret = lines[at], lines[at + 1]
    start = caret.index("^")
    assert source[start : start + 4] == "MRAA" and caret.count("^") == 4


def test_a_control_character_in_the_file_name_is_printed_escaped(tmp_path, capsys, monkeypatch):
    _script(tmp_path, "film\x1b[2J.shot", "MARA sees MRAA.")
    _, _, err = _check(capsys, monkeypatch, tmp_path, "--color", "never", "film\x1b[2J.shot")
    assert "\x1b" not in err and r"--> film\x1b[2J.shot:6:13" in err


def test_visible_escapes_controls_and_bidi_and_keeps_the_rest():
    assert visible("a\tb\nc\rd\x00e\x7f") == r"a\tb\nc\rd\x00e\x7f"
    assert visible("\u202eabc\u2066") == r"\u202eabc\u2066"
    assert visible("Mära 東京 ✓") == "Mära 東京 ✓"
    assert visible("x" * 1000, limit=10) == "x" * 10 + "…"
    assert visible_lines("one\x1b[2J\ntwo\r") == "one\\x1b[2J\ntwo\\r"


# ------------------------------------------------------------ defect 5, issue 22 item 8: GitHub

PATH_NAMES = [
    "dir,with:colon%20and%25/film,2:3%.shot",  # comma, colon, percent (also %XX look-alikes)
    "film\n::error file=elsewhere.shot,line=1::injected.shot",  # a newline: an injection
    "film\r\n::warning::x.shot",
]


@pytest.mark.parametrize("name", PATH_NAMES)
def test_a_github_annotation_names_the_file_exactly(tmp_path, capsys, monkeypatch, name):
    path = _script(tmp_path, name, "MARA sees MRAA, and MARAA.")
    path_from_cwd = path.relative_to(tmp_path).as_posix()
    code, out, _ = _check(capsys, monkeypatch, tmp_path, "--format", "github", path_from_cwd)
    assert code == 0
    commands = parse_workflow_commands(out)
    assert [name for name, _, _ in commands] == ["warning", "warning"]
    assert len(out.splitlines()) == 2  # no line of its own for anything in the name
    for _, properties, message in commands:
        assert properties["file"] == path_from_cwd
        assert (properties["line"], properties["title"]) == ("6", "W107 unknown-capitalised-name")
        assert "is written like a name" in message


def test_a_github_message_with_percent_and_newlines_decodes_to_itself():
    span = Span(file="a,b.shot", line=1, column=1, end_line=1, end_column=2)
    message = "100%25 sure: a, b\r\nc"
    out = render_github([make(codes.INVALID_VALUE, span, message)])
    [(_, properties, decoded)] = parse_workflow_commands(out)
    assert properties["file"] == "a,b.shot"
    assert decoded == visible(message)  # a CR or LF of user text is shown, not obeyed


# ------------------------------------------------------------ defect 6: many diagnostics


def _flood(count: int, filler: int = 0) -> tuple[list, dict[str, str]]:
    """`count` warnings on one long line (and `filler` characters more of it)."""
    line = "  MARA sees " + "MRAA " * count + "x" * filler
    text = HEADER + line + "\n"
    diagnostics = [
        make(
            codes.UNKNOWN_CAPITALISED_NAME,
            Span(file="f.shot", line=6, column=c, end_line=6, end_column=c + 4),
            "MRAA is written like a name but nothing is declared by that name",
            help='did you mean "MARA"?',
        )
        for c in range(13, 13 + 5 * count, 5)
    ]
    return diagnostics, {"f.shot": text}


def test_rendering_is_linear_in_the_diagnostics_not_in_the_line():
    """2,000 warnings on a 100 kB line: each block shows a window, not the whole line
    (before, each block held the 100 kB line: 200 MB of text)."""
    diagnostics, sources = _flood(2_000, filler=90_000)
    text = render_human(diagnostics, sources, per_file=0)
    assert text.count("warning[W107") == 2_000
    assert len(text) < 2_000 * 600
    block = text.split("\n\n")[1_000]
    source, caret = block.split("\n")[3:5]
    assert len(source) < 140
    start = caret.index("^")
    assert source[start : start + 4] == "MRAA" and source.startswith("6 | …")


def test_each_file_shows_at_most_the_cap_and_counts_the_rest():
    diagnostics, sources = _flood(500)
    text = render_human(diagnostics, sources)
    assert text.count("warning[W107") == DEFAULT_PER_FILE
    assert f"note: {500 - DEFAULT_PER_FILE} more warnings in f.shot not shown" in text
    github = parse_workflow_commands(render_github(diagnostics))
    assert [n for n, _, _ in github].count("warning") == DEFAULT_PER_FILE
    assert github[-1][0] == "notice" and github[-1][1] == {"file": "f.shot"}
    assert github[-1][2].startswith(f"{500 - DEFAULT_PER_FILE} more warnings not shown")


def test_a_flood_of_warnings_never_hides_an_error():
    diagnostics, sources = _flood(300)
    late = Span(file="f.shot", line=7, column=1, end_line=7, end_column=2)
    diagnostics.append(make(codes.INVALID_VALUE, late, "a late error"))
    text = render_human(diagnostics, sources, per_file=10)
    assert "error[E035 invalid-value]: a late error" in text
    assert text.count("warning[W107") == 9
    assert "note: 291 more warnings in f.shot not shown" in text


def test_the_command_line_caps_and_the_flag_lifts_the_cap(tmp_path, capsys, monkeypatch):
    _script(tmp_path, "film.shot", "MARA sees " + "MRAA " * 120)
    _, _, err = _check(capsys, monkeypatch, tmp_path, "film.shot")
    assert err.count("warning[W107") == DEFAULT_PER_FILE
    assert err.rstrip().endswith("120 warnings")  # the summary counts every one
    _, _, err = _check(capsys, monkeypatch, tmp_path, "--max-diagnostics", "0", "film.shot")
    assert err.count("warning[W107") == 120 and "not shown" not in err
    _, out, _ = _check(capsys, monkeypatch, tmp_path, "--format", "json", "film.shot")
    assert out.count('"W107"') == 120  # JSON lists every one


# ------------------------------------------------------------ plain messages


def test_a_plain_message_prints_a_users_path_escaped(tmp_path, capsys, monkeypatch):
    _script(tmp_path, "film.shot", "MARA sees the sea.")
    name = "no\x1b]0;pwned\x07such.shot"
    code, _, err = _check(capsys, monkeypatch, tmp_path, name)
    assert code == 2
    assert r"no such script: no\x1b]0;pwned\x07such.shot" in err and "\x1b" not in err
    monkeypatch.chdir(tmp_path)
    assert main(["plan", "film.shot", "--template", "t\x1b[2J.j2"]) == 2
    err = capsys.readouterr().err
    assert r"t\x1b[2J.j2" in err and "\x1b" not in err
