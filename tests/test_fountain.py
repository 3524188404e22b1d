"""Fountain import: every element of a screenplay lands in a .shot file that checks."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from screenplain.parsers import fountain as screenplain
from screenplain.types import Dialog, DualDialog

from director.check import check_file
from director.cli import main
from director.diagnostics import Severity
from director.fmt import format_text
from director.fountain import import_fountain

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "fountain"
SCREENPLAYS = sorted(FIXTURES.glob("*.fountain"))


def imported(tmp_path: Path, screenplay: Path):
    script = tmp_path / (screenplay.stem + ".shot")
    script.write_text(import_fountain(screenplay.read_text(encoding="utf-8")), encoding="utf-8")
    return script, check_file(script)


@pytest.mark.parametrize("screenplay", SCREENPLAYS, ids=[p.stem for p in SCREENPLAYS])
def test_a_screenplay_imports_to_a_script_that_checks(tmp_path, screenplay):
    script, checked = imported(tmp_path, screenplay)
    errors = [d for d in checked.diagnostics if d.severity is Severity.ERROR]
    assert errors == [] and checked.film is not None
    text = script.read_text(encoding="utf-8")
    assert format_text(text) == text  # already in the canonical layout


def _spoken(text: str) -> list[str]:
    """Every line of dialogue in a Fountain screenplay, as screenplain reads it."""
    lines = []
    for paragraph in screenplain.parse(io.StringIO(text)):
        dialogues = [paragraph] if isinstance(paragraph, Dialog) else []
        if isinstance(paragraph, DualDialog):
            dialogues = [paragraph.left, paragraph.right]
        for dialogue in dialogues:
            lines += [str(line) for paren, line in dialogue.blocks if not paren and str(line)]
    return lines


def _same_words(line: str) -> str:
    """A line as the importer may rewrite it: spaces, '#' and lone quotes."""
    line = " ".join(line.lstrip("~").replace("#", "No.").split())
    return line.replace('"', "\u201d")


@pytest.mark.parametrize("screenplay", SCREENPLAYS, ids=[p.stem for p in SCREENPLAYS])
def test_every_line_of_dialogue_survives(tmp_path, screenplay):
    _, checked = imported(tmp_path, screenplay)
    spoken = [line.text for shot in checked.film.shots for line in shot.dialogue]
    expected = _spoken(screenplay.read_text(encoding="utf-8"))
    assert [_same_words(s) for s in spoken] == [_same_words(s) for s in expected]
    assert len(spoken) > 3


def test_every_element_maps_as_documented(tmp_path):
    script, checked = imported(tmp_path, FIXTURES / "every_element.fountain")
    text = script.read_text(encoding="utf-8")
    film = checked.film
    assert film.title == "The Lighthouse"  # title page, emphasis dropped
    assert "# Author: A. Writer" in text and "# Contact: A. Writer; writer@example.com" in text
    assert set(film.characters) == {"MARA", "TOM", "BRICK", "STEEL", "MCCLANE"}
    assert set(film.locations) == {"LAMP_ROOM", "LIGHTHOUSE", "KITCHEN", "VAN"}
    assert "  description: TODO describe LAMP ROOM" in text
    # scene headings, in order, with INT./EXT. prefixes and times of day
    headings = re.findall(r"^(?:INT\.|EXT\.|INT\./EXT\.) .*$", text, re.M)
    assert headings == [
        "INT. LAMP_ROOM - NIGHT",
        "EXT. LIGHTHOUSE - CONTINUOUS",
        "INT. KITCHEN - DAY",  # the forced heading ".FLASHBACK - INT. KITCHEN"
        "INT./EXT. VAN - DAY",
        "INT. LAMP_ROOM - LATER",  # its scene number #12# dropped
    ]
    transitions = re.findall(r"^[A-Z ]+:.*$", text, re.M)
    assert transitions == [
        "FADE IN: 12f", "CUT TO:", "DISSOLVE TO: 12f", "SMASH CUT TO:", "FADE OUT: 12f"
    ]  # fmt: skip
    assert "# # ACT ONE" in text and "# = The keeper's last night." in text
    for dropped in ("gull", "old girl", "==="):  # boneyard, notes, page breaks
        assert dropped not in text
    shots = {shot.id: shot for shot in film.shots}
    assert [d.speaker for d in shots["1B"].dialogue] == ["MARA", "TOM", "MARA"]  # one exchange
    assert shots["1B"].dialogue[0].parenthetical == "under her breath"
    assert "SHOT 2B TWO-SHOT on BRICK, STEEL 2s  # dual dialogue" in text
    assert "SHOT 2C WIDE 2s  # centered\n  THE END OF THE BEGINNING" in text
    assert '"the No.1 boat"' in text and "A small boat" in text  # '#' and *emphasis*
    assert "  Willow, weep for me" in text  # lyrics
    assert "  MARA (O.S.)\n" in text and "  TOM (V.O.)\n" in text


def test_shots_last_as_long_as_their_words(tmp_path):
    _, checked = imported(tmp_path, FIXTURES / "every_element.fountain")
    seconds = {shot.id: shot.frames / 24 for shot in checked.film.shots}
    assert seconds["1A"] == 6.5  # 16 words at 2.5 a second, rounded up to half a second
    assert seconds["3C"] == 2.0  # four words: the two-second minimum
    assert not [d for d in checked.diagnostics if d.code == "W104"]  # no dialogue too fast


def test_edge_cases(tmp_path):
    script, checked = imported(tmp_path, FIXTURES / "edge_cases.fountain")
    text = script.read_text(encoding="utf-8")
    assert checked.film.title == 'Edge "Cases" No.2'
    assert "location ZOE_S_HOUSE" in text and "character ZOE" in text
    assert "location ZOE_PLACE" in text  # a place named like a character is renamed
    assert "character DE_LA_CRUZ" in text  # '@' forced the cue, case and spaces folded
    assert "  Keyframes of an old film" in text  # not read as the keyframe keyword
    assert "  ZOE (O.S.)" in text and "  ZOE\n" in text  # O.C. means off screen; CONT'D goes
    assert "    (whispering [softly])" in text
    assert "# transition as written: JUMP CUT TO:" in text
    assert text.rstrip().endswith("# transition as written: TIME CUT TO:")  # nothing after it
    assert "  sing it \u201dclear" in text  # a lone quote would open a string
    assert "EXT. OLD_PIER - DUSK" in text
    assert "INT. HALLWAY - LATER" in text  # "INT HALLWAY, LATER"


def test_a_long_exchange_is_split_between_speeches(tmp_path):
    speech = " ".join(["word"] * 30)
    lines = []
    for turn in range(4):
        lines += [("ANNA" if turn % 2 == 0 else "BEN"), speech, ""]
    screenplay = tmp_path / "long.fountain"
    screenplay.write_text("INT. ROOM - DAY\n\n" + "\n".join(lines), encoding="utf-8")
    _, checked = imported(tmp_path, screenplay)
    assert [len(shot.dialogue) for shot in checked.film.shots] == [1, 1, 1, 1]
    assert all(shot.frames == 12 * 24 for shot in checked.film.shots)


def test_import_command(tmp_path, capsys):
    out = tmp_path / "film.shot"
    source = FIXTURES / "every_element.fountain"
    assert main(["import", str(source), "-o", str(out)]) == 0
    assert main(["check", str(out)]) == 0
    assert main(["import", str(source), "-o", str(out)]) == 2  # it exists
    assert "--force" in capsys.readouterr().err
    assert main(["import", str(source), "-o", str(out), "--force"]) == 0
    capsys.readouterr()
    assert main(["import", str(source)]) == 0
    assert capsys.readouterr().out == out.read_text(encoding="utf-8")
    assert main(["import", str(tmp_path / "missing.fountain")]) == 2
