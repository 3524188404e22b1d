"""The one bounded reader (`director/reader.py`) and the budgets held while reading.

Each test is a regression test for a defect of issue 18: a hostile or clumsy
input that once took gigabytes, raised a traceback or was misread now comes
back as one located diagnostic (or reads correctly), through the command line.
"""

from __future__ import annotations

import json
import os
import threading

import pytest

from director.check import check_file
from director.cli import main
from director.fountain import MAX_SECONDS, import_fountain
from director.reader import MAX_PLAN_BYTES, Limits


def diagnostics_of(capsys, *args: str) -> tuple[int, list[dict]]:
    status = main(["check", *args, "--format", "json"])
    return status, json.loads(capsys.readouterr().out)


def where(diagnostic: dict) -> tuple[str, int, int]:
    span = diagnostic["span"]
    return diagnostic["code"], span["line"], span["column"]


# ------------------------------------------------------------- size budgets


def test_a_long_line_is_refused_before_it_is_lexed(project, capsys):
    """Defect 7: a 10 MB action line took 35 s and 5.9 GB."""
    path = project.write("title: Long\n\nSHOT 1 WIDE 2s\n  " + "word " * 10_000 + "\n")
    status, found = diagnostics_of(capsys, str(path))
    assert status == 1
    assert [where(d) for d in found] == [("E038", 4, 10_001)]
    assert "--max-line-length 50002" in found[0]["help"]
    [shown] = check_file(path).sources.values()
    quoted = shown.split("\n")[3]
    assert len(quoted) == 10_001  # cut where the limit is, so no message repeats it whole
    assert main(["check", str(path), "--max-line-length", "50002"]) == 0


def test_a_file_past_the_byte_limit_is_not_read_further(project, capsys):
    path = project.write("title: Big\n\nSHOT 1 WIDE 2s\n  The sea.\n" + "# padding\n" * 200)
    status, found = diagnostics_of(capsys, str(path), "--max-bytes", "1000")
    assert status == 1 and [where(d) for d in found] == [("E038", 1, 1)]
    assert "larger than the limit of 1,000 bytes" in found[0]["message"]
    assert main(["check", str(path), "--max-bytes", "4000"]) == 0


def test_shots_are_counted_while_parsing(project, capsys):
    """Defect 8: --max-shots was applied after the whole file was parsed (a 200,000-shot
    script took 22 s and 2.3 GB to be refused).  Parsing now stops at the first shot
    past the limit, so nothing after it is even read: not this broken last line."""
    shots = "".join(f"SHOT {n} WIDE 2s\n  A beat.\n\n" for n in range(1, 8))
    path = project.write(f"title: Many\n\n{shots}SHOT 8 WIDDE 2s\n")
    status, found = diagnostics_of(capsys, str(path), "--max-shots", "5")
    assert status == 1
    assert [where(d) for d in found] == [("E038", 18, 1)]  # SHOT 6; no E005 for SHOT 8
    assert "the script has 8 shots, more than the limit of 5" in found[0]["message"]


def test_a_deep_chain_of_imports_is_no_recursion_error(project, capsys):
    """Defect 9: about 490 nested imports raised RecursionError."""
    depth = 1200
    for n in range(depth):
        project.write(f"import: level{n + 1}.shot\n", f"level{n}.shot")
    project.write("character MARA\n", f"level{depth}.shot")
    path = project.write("title: Deep\nimport: level0.shot\n\nSHOT 1 WIDE 2s\n  MARA waits.\n")
    status, found = diagnostics_of(capsys, str(path))
    assert status == 1 and {d["code"] for d in found} >= {"E038"}
    assert main(["check", str(path), "--max-import-depth", str(depth + 2)]) == 0


# ----------------------------------------------------------------- numbers

HUGE = "9" * 5_000  # past Python's 4,300-digit limit on int(), and float() overflows


@pytest.mark.parametrize(
    ("line", "text", "column"),
    [
        ("duration", f"SHOT 1 WIDE {HUGE}s", 13),
        ("frames", f"SHOT 1 WIDE {HUGE}f", 13),
        ("rate", f"format: 640x360 @ {HUGE}fps", 19),
        ("width", f"format: {HUGE}x360", 9),
        ("seed", f"seed: {HUGE}", 7),
        ("takes", f"  takes: {HUGE}", 10),
        ("turn", f"  camera: pan left {HUGE[:400]}deg", 20),
        ("gain", f"  sfx TONE gain {HUGE[:400]}dB", 17),
    ],
)
def test_numbers_are_bounded_by_the_lexer(project, capsys, line, text, column):
    """Defect 10: over 4,300 digits raised ValueError, `9…9f` OverflowError, and a
    400-digit turn or gain passed the check as null and failed at compile."""
    header, body = ["title: Numbers", "audio TONE: refs/music.wav"], ["  The sea."]
    if text.startswith("  "):
        body.append(text)
    elif text.startswith("SHOT"):
        body = [text, *body]
    else:
        header.append(text)
    if not body[0].startswith("SHOT"):
        body.insert(0, "SHOT 1 WIDE 2s")
    lines = header + [""] + body
    path = project.write("\n".join(lines) + "\n")
    status, found = diagnostics_of(capsys, str(path))
    assert status == 1
    assert [where(d) for d in found] == [("E035", lines.index(text) + 1, column)]
    assert "more than 20 digits" in found[0]["message"]


def test_a_turn_and_a_gain_out_of_range_fail_the_check(project, capsys):
    path = project.write(
        "title: T\naudio TONE: refs/music.wav\n\nSHOT 1 WIDE 2s\n"
        "  sfx TONE gain 1000dB\n  camera: pan left 99999deg\n"
    )
    status, found = diagnostics_of(capsys, str(path))
    assert status == 1 and [where(d) for d in found] == [("E035", 5, 3), ("E035", 6, 20)]


# ------------------------------------------------------------------- text


def test_old_mac_line_endings_are_lines(project, capsys):
    """Defect 15: a file with CR-only line endings was one long title ("no shots")."""
    path = project.root / "film.shot"
    path.write_bytes(b"title: Old Mac\r\rSHOT 1 WIDE 2s\r  The sea.\r  SHOT\r")
    status, found = diagnostics_of(capsys, str(path))
    assert status == 0 and found == []
    film = check_file(path).film
    assert film.title == "Old Mac" and [s.id for s in film.shots] == ["1"]


def test_a_nul_byte_is_an_error_at_its_place(project, capsys):
    """Defect 15: NUL bytes were accepted and copied raw into the .srt."""
    path = project.root / "film.shot"
    path.write_bytes(b"title: NUL\n\nSHOT 1 WIDE 2s\n  MARA\n    Hel\x00lo\x00.\n")
    status, found = diagnostics_of(capsys, str(path))
    assert status == 1
    [control] = [d for d in found if d["code"] == "E007"]
    assert where(control) == ("E007", 5, 8)
    assert control["message"] == "the control character '\\x00' is not text"


# ------------------------------------------------------------------- files


def test_importing_a_folder_or_a_fifo_says_what_it_is(project, capsys):
    """Defect 16: "no file at 'dir.shot' … did you mean "dir.shot"?"."""
    (project.root / "cast.shot").mkdir()
    os.mkfifo(project.root / "pipe.shot")
    path = project.write(
        "title: T\nimport: cast.shot\nimport: pipe.shot\n\nSHOT 1 WIDE 2s\n  The sea.\n"
    )
    status, found = diagnostics_of(capsys, str(path))
    assert status == 1 and [where(d) for d in found] == [("E021", 2, 9), ("E021", 3, 9)]
    assert "it is a folder, not a file" in found[0]["message"]
    assert "FIFO" in found[1]["message"]
    assert not any("did you mean" in (d["help"] or "") for d in found)


def test_a_device_is_never_read_even_outside_the_project(project, capsys):
    """Defect 3, as `check` meets it: `import: /dev/zero` must not read for ever."""
    path = project.write("title: T\nimport: /dev/zero\n\nSHOT 1 WIDE 2s\n  The sea.\n")
    status, found = diagnostics_of(capsys, str(path), "--allow-outside")
    assert status == 1 and [where(d) for d in found] == [("E021", 2, 9)]
    assert "character device" in found[0]["message"]


def test_a_fifo_script_on_the_command_line_is_refused(project, capsys):
    os.mkfifo(project.root / "pipe.shot")
    done = threading.Event()
    outcome = {}

    def run():
        outcome["status"] = main(["check", str(project.root / "pipe.shot")])
        done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(20), "check blocked on a FIFO"
    assert outcome["status"] == 2
    assert "FIFO" in capsys.readouterr().err


def test_export_reads_a_plan_no_further_than_its_limit(tmp_path, capsys):
    """Issue 18's last reader: `export` read the plan whole, however large.  A
    sparse file one byte past the ceiling costs no disk and is refused unread."""
    plan = tmp_path / "huge.plan.json"
    with plan.open("wb") as handle:
        handle.truncate(MAX_PLAN_BYTES + 1)
    assert main(["export", str(plan), "--otio", str(tmp_path / "cut.otio")]) == 2
    error = capsys.readouterr().err
    assert f"{plan} cannot be read: it is over {MAX_PLAN_BYTES:,} bytes" in error
    assert not (tmp_path / "cut.otio").exists()


def test_export_refuses_a_fifo_plan_without_waiting(tmp_path, capsys):
    os.mkfifo(tmp_path / "pipe.plan.json")
    done = threading.Event()
    outcome = {}

    def run():
        arguments = ["export", str(tmp_path / "pipe.plan.json"), "--otio", str(tmp_path / "c.otio")]
        outcome["status"] = main(arguments)
        done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(20), "export blocked on a FIFO"
    assert outcome["status"] == 2
    assert "FIFO" in capsys.readouterr().err


def test_the_limits_have_flags_named_like_their_fields():
    from director.cli import _LIMIT_FLAGS

    assert {field for field, *_ in _LIMIT_FLAGS} == set(Limits.__dataclass_fields__)


# -------------------------------------------------------------- fountain


def test_a_long_action_paragraph_imports_as_shots_that_check(tmp_path):
    """Defect 16: a 1,600-word action paragraph became one 640 s shot that `check`
    then rejected."""
    sentence = "The keeper climbs the stair and looks out over the grey sea below. "
    words = (sentence * 200).split()[:1600]
    screenplay = "INT. LAMP ROOM - NIGHT\n\n" + " ".join(words) + "\n"
    script = tmp_path / "film.shot"
    script.write_text(import_fountain(screenplay, title="Long"), encoding="utf-8")
    checked = check_file(script)
    assert checked.film is not None, [d.message for d in checked.diagnostics]
    assert all(shot.frames <= MAX_SECONDS * 24 for shot in checked.film.shots)
    kept = " ".join(a for shot in checked.film.shots for a in shot.action).split()
    assert kept == words
