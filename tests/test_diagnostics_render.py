"""Snapshots of the human renderer, and colour only when asked for.

The snapshots in `tests/snapshots/` are the exact text `director check`
prints (without colour) for a few representative cases of `check_cases/`.
Run with UPDATE_SNAPSHOTS=1 to rewrite them after an intended change, and
review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_check_cases import (  # noqa: F401 (fixtures)
    BY_NAME,
    compile_case,
    make_project,
    refs_folder,
)

from director.cli import main
from director.diagnostics import render_human

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"
ESC = "\x1b["

SNAPSHOT_CASES = [
    "unknown_character_speaker",  # label under the caret, did-you-mean help
    "duplicate_declaration_import",  # a note pointing into another file
    "tab_indentation",  # tabs shown as spaces, two diagnostics, a wider gutter
    "language_example",  # warnings only, across two files
]


def _compare(name: str, actual: str) -> None:
    path = SNAPSHOTS / f"{name}.txt"
    if UPDATE:
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    assert path.is_file(), f"no snapshot {path}; run with UPDATE_SNAPSHOTS=1 to create it"
    assert actual == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", SNAPSHOT_CASES)
def test_human_rendering_snapshot(name: str, make_project) -> None:  # noqa: F811
    case = BY_NAME[name]
    make_project(case)
    diagnostics, sources = compile_case(case)
    _compare(name, render_human(diagnostics, sources, colour=False))


@pytest.mark.parametrize("name", SNAPSHOT_CASES)
def test_cli_prints_the_snapshot(name: str, make_project, capsys) -> None:  # noqa: F811
    """`director check --color never` prints the same blocks, then a summary."""
    case = BY_NAME[name]
    make_project(case)
    main(["check", "--color", "never", case.main])
    err = capsys.readouterr().err
    expected = (SNAPSHOTS / f"{name}.txt").read_text(encoding="utf-8")
    assert err.startswith(expected)
    assert ESC not in err


def test_colour_only_when_asked(make_project, capsys, monkeypatch) -> None:  # noqa: F811
    make_project(BY_NAME["language_example"])  # warnings only
    monkeypatch.delenv("NO_COLOR", raising=False)

    assert main(["check", "--color", "always", "main.shot"]) == 0
    coloured = capsys.readouterr().err
    assert "\x1b[1;33mwarning[W101 free-text-location]\x1b[0m" in coloured
    assert "\x1b[1;34m  --> \x1b[0m" in coloured

    for flags in (["--color", "never"], ["--color", "auto"], []):  # capsys is not a terminal
        assert main(["check", *flags, "main.shot"]) == 0
        plain = capsys.readouterr().err
        assert ESC not in plain
        assert "warning[W101 free-text-location]" in plain


def test_auto_colour_follows_the_terminal_and_no_color(
    make_project,  # noqa: F811
    capsys,
    monkeypatch,
) -> None:
    make_project(BY_NAME["language_example"])
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    main(["check", "--color", "auto", "main.shot"])
    assert ESC in capsys.readouterr().err
    monkeypatch.setenv("NO_COLOR", "1")
    main(["check", "--color", "auto", "main.shot"])
    assert ESC not in capsys.readouterr().err


def test_errors_are_red(make_project) -> None:  # noqa: F811
    case = BY_NAME["unknown_character_speaker"]
    make_project(case)
    diagnostics, sources = compile_case(case)
    coloured = render_human(diagnostics, sources, colour=True)
    assert coloured.startswith("\x1b[1;31merror[E012 unknown-character]\x1b[0m")
    assert ESC not in render_human(diagnostics, sources)
