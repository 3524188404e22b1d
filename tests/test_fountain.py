"""Fountain import: every element of a screenplay lands in a .shot file that checks."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from screenplain.parsers import fountain as screenplain
from screenplain.types import Dialog, DualDialog, Slug

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


# -- public screenplays: nothing the writer wrote is lost ---------------------------------------

PUBLIC = sorted((FIXTURES / "public").glob("*.fountain")) + sorted(
    (FIXTURES / "syntax").glob("*.fountain")
)
ALL = SCREENPLAYS + PUBLIC


def _paragraphs(text: str):
    return list(screenplain.parse(io.StringIO(text)))


def _dialogues(text: str) -> list[Dialog]:
    found = []
    for paragraph in _paragraphs(text):
        if isinstance(paragraph, Dialog):
            found.append(paragraph)
        elif isinstance(paragraph, DualDialog):
            found += [paragraph.left, paragraph.right]
    return found


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.casefold())


def test_there_are_ten_public_screenplays_with_their_licences():
    assert len(PUBLIC) >= 10
    sources = (FIXTURES / "SOURCES.md").read_text(encoding="utf-8")
    for path in PUBLIC:
        assert path.name in sources, f"{path.name}: source and licence not recorded"


@pytest.mark.parametrize("screenplay", PUBLIC, ids=[p.stem for p in PUBLIC])
def test_a_public_screenplay_imports_to_a_script_that_checks(tmp_path, screenplay):
    script, checked = imported(tmp_path, screenplay)
    assert [d for d in checked.diagnostics if d.severity is Severity.ERROR] == []
    text = script.read_text(encoding="utf-8")
    assert format_text(text) == text
    spoken = [line.text for shot in checked.film.shots for line in shot.dialogue]
    expected = _spoken(screenplay.read_text(encoding="utf-8"))
    assert [_same_words(s) for s in spoken] == [_same_words(s) for s in expected]


@pytest.mark.parametrize("screenplay", ALL, ids=[p.stem for p in ALL])
def test_every_scene_heading_is_kept(tmp_path, screenplay):
    script, _ = imported(tmp_path, screenplay)
    written = [
        p for p in _paragraphs(screenplay.read_text(encoding="utf-8")) if isinstance(p, Slug)
    ]
    headings = re.findall(
        r"^(?:INT\.|EXT\.|INT\./EXT\.) ", script.read_text(encoding="utf-8"), re.M
    )
    assert len(headings) == len(written)


@pytest.mark.parametrize("screenplay", ALL, ids=[p.stem for p in ALL])
def test_every_parenthetical_is_kept(tmp_path, screenplay):
    """Each parenthetical (and stage direction in a cue) reaches the spec: as a line's
    parenthetical, or, with no words after it, as action."""
    _, checked = imported(tmp_path, screenplay)
    kept = " ".join(
        [line.parenthetical or "" for shot in checked.film.shots for line in shot.dialogue]
        + [action for shot in checked.film.shots for action in shot.action]
    )
    for dialogue in _dialogues(screenplay.read_text(encoding="utf-8")):
        for parenthetical, line in dialogue.blocks:
            if parenthetical:
                for word in _words(str(line)):
                    assert word in _words(kept), (str(line), word)


@pytest.mark.parametrize("screenplay", ALL, ids=[p.stem for p in ALL])
def test_written_names_are_kept_and_no_W107(tmp_path, screenplay):
    script, checked = imported(tmp_path, screenplay)
    text = script.read_text(encoding="utf-8")
    for dialogue in _dialogues(screenplay.read_text(encoding="utf-8")):
        cue = re.sub(r"\([^)]*\)", "", str(dialogue.character)).strip(" ^@")
        assert f"  description: TODO describe {' '.join(cue.split())}" in text
    assert [d for d in checked.diagnostics if d.code == "W107"] == []


def test_writers_habits_keep_their_meaning(tmp_path):
    script, checked = imported(tmp_path, FIXTURES / "writers_habits.fountain")
    text = script.read_text(encoding="utf-8")
    film = checked.film
    assert set(film.characters) == {"MR_HUGHES", "EMILE", "MASHA"}
    assert film.characters["MASHA"].description == "TODO describe МАША"  # the written name
    assert "TODO describe MR. HUGHES" in text and "TODO describe ÉMILE" in text
    displays = {name: c.display for name, c in film.characters.items()}
    assert displays == {"MR_HUGHES": "MR. HUGHES", "EMILE": "ÉMILE", "MASHA": "МАША"}
    # Scene headings with an en dash, a period and an em dash: the right time of day.
    headings = re.findall(r"^(?:INT\.|EXT\.) .*$", text, re.M)
    assert headings == ["EXT. HARBOUR - DUSK", "INT. HARBOUR_OFFICE - NIGHT", "EXT. QUAY - MORNING"]
    lines = [line for shot in film.shots for line in shot.dialogue]
    said = {line.text: line for line in lines}
    assert said["We were always late."].extension == "V.O."  # (V. O.)
    assert said["Émile! The boat!"].extension == "O.S."  # (O.S., PRELAP)
    assert said["Nobody sails tonight."].extension == "O.S."  # (OFF SCREEN)
    assert said["Ignore him."].extension == "V.O."  # (en off)
    assert said["Harbour to Pilot, over."].parenthetical == "into the radio"  # in the cue
    assert said["It is calm."].parenthetical == (
        "looking at the water, her hand on the rope, then back at him"
    )  # three lines, one parenthetical
    actions = [a for shot in film.shots for a in shot.action]
    assert "EMILE (a long pause)" in actions  # a block with only a parenthetical
    # Action references rewritten to the declared names, so they are references.
    assert (
        actions[0].startswith("MR_HUGHES, the harbour master") and "EMILE and MASHA" in actions[0]
    )
    assert "MR_HUGHES" in film.shots[0].characters
    assert "# THE END" in text and "THE END" not in " ".join(actions)


def test_screenplay_capitals_earn_no_W107():
    case = (
        Path(__file__).resolve().parent / "check_cases" / "screenplay_capitals_are_not_names.shot"
    )
    warned = [d for d in check_file(case).diagnostics if d.code == "W107"]
    assert [
        case.read_text().splitlines()[d.span.line - 1][d.span.column - 1 :][:4] for d in warned
    ] == ["MRAA"]
