"""A character's written form (`display: MRS. O'BRIEN`) is how a screenwriter names them:
a speaker line or action written in it stands for the character, the identifier stays
checkable, and subtitles show the written form."""

from __future__ import annotations

import re

import av
import numpy as np
import pytest

from director.fmt import format_text
from director.plan_nodes import Generate, Voice

HEADER = """title: Tea
format: 320x180 @ 24fps
character MRS_OBRIEN
  display: MRS. O'BRIEN
character NELL
  description: a ferry pilot

"""


def check(project, body: str):
    checked = project.check(HEADER + body)
    # W102: a body that leaves NELL unused is no problem here.
    found = [(d.code, d.span.line, d.span.column) for d in checked.diagnostics]
    return checked, [f for f in found if f[0] != "W102"]


@pytest.mark.parametrize(
    "speaker",
    ["MRS. O'BRIEN", "MRS. O\u2019BRIEN", "MRS.  O'BRIEN", "MRS. O'BRIEN (V.O.)", "MRS_OBRIEN"],
)
def test_a_speaker_in_the_written_form_is_the_character(project, speaker):
    checked, found = check(project, f"SHOT 1 MEDIUM 3s\n  {speaker}\n    Tea, love?\n")
    assert found == [] and checked.film is not None
    (line,) = checked.film.shots[0].dialogue
    assert (line.speaker, line.text) == ("MRS_OBRIEN", "Tea, love?")
    assert (line.extension == "V.O.") == speaker.endswith("(V.O.)")


def test_the_written_form_in_action_names_the_character(project):
    checked, found = check(project, "SHOT 1 WIDE 3s\n  MRS. O'BRIEN pours tea for NELL.\n")
    assert found == []  # no W107 for MRS or BRIEN
    assert checked.film.shots[0].characters == ["MRS_OBRIEN", "NELL"]


def test_an_undeclared_written_form_is_located_and_its_help_checks(project):
    body = "SHOT 1 MEDIUM 3s\n  DR. JEKYLL\n    Good evening.\n"
    checked, found = check(project, body)
    assert found == [("E012", HEADER.count("\n") + 2, 3)]
    (error,) = [d for d in checked.diagnostics if d.code == "E012"]
    declaration = re.fullmatch(
        r"declare it: character (\w+), with the line (display: .+) indented under it", error.help
    )
    assert declaration is not None, error.help
    name, display = declaration.groups()
    fixed, found = check(project, f"character {name}\n  {display}\n\n" + body)
    assert found == [] and fixed.film.shots[0].dialogue[0].speaker == name == "DR_JEKYLL"
    # Close to a declared written form: the help names it.
    checked, _ = check(project, "SHOT 1 MEDIUM 3s\n  MRS. O'BRIAN\n    Tea?\n")
    assert [d.help for d in checked.diagnostics if d.code == "E012"] == [
        'did you mean "MRS. O\'BRIEN"?'
    ]


def test_the_plan_subtitles_the_written_form_and_voices_the_character(project):
    plan = project.plan(HEADER + "SHOT 1 MEDIUM 3s\n  MRS. O'BRIEN\n    Tea, love?\n")
    (generate,) = [n for n in plan.nodes if isinstance(n, Generate)]
    (voice,) = [n for n in plan.nodes if isinstance(n, Voice)]
    assert [s.speaker for s in generate.params.shot.dialogue] == ["MRS. O'BRIEN"]
    assert [v.speaker for v in voice.params.lines] == ["MRS_OBRIEN"]


def test_fmt_keeps_a_written_speaker():
    text = HEADER + "SHOT 1 MEDIUM 3s\n  MRS. O'BRIEN  (V.O.)\n    (softly)\n    Tea?\n"
    formatted = format_text(text)
    assert "  MRS. O'BRIEN (V.O.)\n    (softly)\n    Tea?\n" in formatted


def subtitle_band(project, speaker: str, display: bool) -> np.ndarray:
    header = HEADER if display else HEADER.replace("  display: MRS. O'BRIEN\n", "")
    out = project.compile_film(header + f"SHOT 1 MEDIUM 1s\n  {speaker}\n    Tea, love?\n")
    with av.open(str(out)) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
    return frame[120:175].astype(int)  # the lower third, above the timecode's row


def test_subtitles_show_the_written_form_on_pixels(project):
    """Written either way, the line is subtitled "MRS. O'BRIEN: Tea, love?"; without a
    written form, "MRS_OBRIEN: …", which reads differently."""
    written = subtitle_band(project, "MRS. O'BRIEN", display=True)
    by_name = subtitle_band(project, "MRS_OBRIEN", display=True)
    plain = subtitle_band(project, "MRS_OBRIEN", display=False)
    assert np.abs(written - by_name).mean() < 1.0
    assert np.abs(written - plain).mean() > 3 * max(0.3, np.abs(written - by_name).mean())
