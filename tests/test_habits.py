"""Writer's habits that would lose content: each is warned about at its line, and the
fix its help gives, pasted in, checks clean and puts the content in the spec."""

from __future__ import annotations

import re

import pytest

HEADER = """title: Habits
character NELL
  description: a ferry pilot
audio HORN: refs/hit.wav
"""


def warnings(project, body: str, code: str):
    checked = project.check(HEADER + body)
    return checked, [d for d in checked.diagnostics if d.code == code]


@pytest.mark.parametrize(
    ("code", "wrong", "right", "reaches"),
    [
        (
            "W110",
            "SHOT 1 MEDIUM on NELL 3s\n  NELL\n  You'll take me?\n",
            "SHOT 1 MEDIUM on NELL 3s\n  NELL\n    You'll take me?\n",
            lambda shot: [d.text for d in shot.dialogue] == ["You'll take me?"],
        ),
        (
            "W111",
            "SHOT 1 MEDIUM on NELL 3s\n  NELL: You'll take me?\n",
            "SHOT 1 MEDIUM on NELL 3s\n  NELL\n    You'll take me?\n",
            lambda shot: [d.text for d in shot.dialogue] == ["You'll take me?"],
        ),
        (
            "W112",
            "SHOT 1 WIDE 3s\n  NELL waits.\n  sound HORN from 1s\n",
            None,  # the help's own line
            lambda shot: [c.asset for c in shot.cues] == ["HORN"],
        ),
        (
            "W113",
            "SHOT 1 WIDE 3s\n  nell steps aboard.\n",
            None,
            lambda shot: shot.characters == ["NELL"],
        ),
    ],
)
def test_a_habit_is_warned_at_its_line_and_its_fix_checks(project, code, wrong, right, reaches):
    checked, found = warnings(project, wrong, code)
    assert len(found) == 1
    wrong_line = (HEADER + wrong).splitlines()[found[0].span.line - 1]
    assert found[0].span.line == (HEADER + wrong).splitlines().index(wrong_line) + 1
    if right is None:  # the help ends with the corrected line
        fixed_line = re.split(r": ", found[0].help, maxsplit=1)[1]
        right = wrong.replace(wrong_line.strip(), fixed_line)
    fixed, still = warnings(project, right, code)
    assert still == [] and fixed.film is not None
    assert [d for d in fixed.diagnostics if d.severity == "error"] == []
    assert reaches(fixed.film.shots[0])


def test_names_in_capitals_and_real_cues_are_not_habits(project):
    checked = project.check(
        HEADER + "SHOT 1 WIDE 3s\n  NELL steps aboard. NELL: the pilot.\n  sfx HORN from 1s\n"
    )
    assert {d.code for d in checked.diagnostics} & {"W110", "W111", "W112", "W113"} == set()


def test_a_free_text_locations_help_declares_a_name_that_checks(project):
    checked = project.check("title: Dock\n\nEXT. FERRY DOCK - DUSK\n\nSHOT 1 WIDE 3s\n  Gulls.\n")
    (found,) = [d for d in checked.diagnostics if d.code == "W101"]
    declaration = found.help.removeprefix("declare it: ").split(" (")[0]
    name = declaration.split()[1]
    fixed = project.check(
        f"title: Dock\n{declaration}\n  description: a dock\n\n"
        f"EXT. {name} - DUSK\n\nSHOT 1 WIDE 3s\n  Gulls.\n"
    )
    assert [d for d in fixed.diagnostics if d.code == "W101"] == [] and fixed.film is not None
    assert fixed.film.scenes[-1].declared_location == "FERRY_DOCK"


@pytest.mark.parametrize(
    ("wrong", "fixed"),
    [
        ("  camera: dolly zoom\n", "  camera: dolly in, then zoom out\n"),
        ("  camera: track the runner\n", None),  # declare RUNNER and track RUNNER
        ("  ref: refs/my photo.png\n", '  ref: "refs/my photo.png"\n'),
    ],
)
def test_a_syntax_errors_help_is_valid_syntax(project, wrong, fixed):
    base = "title: Help\ncharacter MARA\n  description: a keeper\n"
    shot = "SHOT 1 WIDE 2s\n  MARA waits.\n"
    (project.root / "refs" / "my photo.png").write_bytes(
        (project.root / "refs" / "hero.png").read_bytes()
    )
    checked = project.check(base + shot + wrong)
    (error,) = [d for d in checked.diagnostics if d.severity == "error"]
    if fixed is None:
        name = error.help.rsplit(" ", 1)[1]
        base += f"character {name}\n  description: a runner\n"
        fixed = f"  camera: track {name}\n"
    else:
        assert (
            fixed.strip().split(": ", 1)[1]
            in error.help.replace("write: ", "").replace("write it as: ", "")
            or fixed.strip() in error.help
        )
    again = project.check(base + shot + fixed)
    assert [d for d in again.diagnostics if d.severity == "error"] == [], again.diagnostics


def test_a_fade_and_a_names_help_are_valid_syntax(project):
    fade = project.check("title: F\n\nSHOT 1 WIDE 2s\n  Gulls.\nFADE OUT.\n")
    (error,) = [d for d in fade.diagnostics if d.severity == "error"]
    fixed = error.help.removeprefix("write it as: ")
    assert project.check(f"title: F\n\nSHOT 1 WIDE 2s\n  Gulls.\n{fixed}\n").film is not None
    accented = project.check("title: Z\ncharacter Zoë\n  description: x\n")
    (error,) = [d for d in accented.diagnostics if d.severity == "error"]
    name = error.help.removeprefix("write ")
    assert name == "ZOË"
    again = project.check(f"title: Z\ncharacter {name}\n  description: x\n")
    assert not [d for d in again.diagnostics if d.severity == "error"]


def test_an_unquoted_path_with_a_comma_needs_no_quotes(project):
    """A comma is part of a path (only a space or a # ends one): it reaches the spec."""
    (project.root / "refs" / "dock, dusk.png").write_bytes(
        (project.root / "refs" / "room.png").read_bytes()
    )
    (project.root / "refs" / "a,b.png").write_bytes(
        (project.root / "refs" / "room.png").read_bytes()
    )
    checked = project.check(
        'title: Commas\nimage DOCK: "refs/dock, dusk.png"\n\n'
        "SHOT 1 WIDE 2s\n  ref: refs/a,b.png\n  ref: DOCK\n  Gulls.\n"
    )
    assert [d for d in checked.diagnostics if d.severity == "error"] == []
    refs = [m.path for m in checked.film.shots[0].refs]
    assert refs == ["refs/a,b.png", "refs/dock, dusk.png"]


WRITTEN = "title: Tea\ncharacter MRS_OBRIEN\n  display: MRS. O'BRIEN\ncharacter МАША\n\n"


@pytest.mark.parametrize(
    ("code", "wrong", "right"),
    [
        ("W110", "  MRS. O'BRIEN\n  Tea, love?\n", "  MRS. O'BRIEN\n    Tea, love?\n"),
        ("W111", "  MRS. O'BRIEN: Tea, love?\n", "  MRS. O'BRIEN\n    Tea, love?\n"),
        ("W111", "  МАША: Tea, love?\n", "  МАША\n    Tea, love?\n"),
    ],
)
def test_habits_with_written_forms_and_names_in_any_script(project, code, wrong, right):
    shot = "SHOT 1 MEDIUM 3s\n"
    checked = project.check(WRITTEN + shot + wrong)
    found = [d for d in checked.diagnostics if d.code == code]
    assert [d.span.line for d in found] == [WRITTEN.count("\n") + 2 + (code == "W110")]
    fixed = project.check(WRITTEN + shot + right)
    assert not [d for d in fixed.diagnostics if d.code in ("W110", "W111", "E012")]
    assert [d.text for d in fixed.film.shots[0].dialogue] == ["Tea, love?"]


@pytest.mark.parametrize(
    "declaration",
    ["character O'BRIEN", "character MARA-JANE", "character МАША ПЕТРОВА", "location OLD-PIER"],
)
def test_a_declared_names_shape_gets_a_help_that_checks(project, declaration):
    """A name with an apostrophe, a hyphen or a space: the help's declaration checks,
    and a character keeps what was written as its display form."""
    checked = project.check(f"title: Names\n{declaration}\n  description: x\n")
    (error,) = [d for d in checked.diagnostics if d.severity == "error"]
    assert error.span.line == 2 and "a name holds capital letters" in error.message
    fixed = re.fullmatch(
        r"write it as: (\w+ \w+)(?:, with the line (display: .+) indented under it)?", error.help
    )
    assert fixed is not None, error.help
    display = f"  {fixed[2]}\n" if fixed[2] else ""
    again = project.check(f"title: Names\n{fixed[1]}\n  description: x\n{display}")
    assert not [d for d in again.diagnostics if d.severity == "error"]
    if fixed[2]:
        (character,) = again.film.characters.values()
        assert character.display == declaration.split(" ", 1)[1]
