"""Outputs never destroy inputs: every command that writes obeys one rule (outputs.py).

Each case is a real command on a real project; the files it must not touch are
compared byte for byte afterwards, and every refusal is exit 2 with a plain
message (an in-process traceback would fail the test by raising).
"""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from director.cli import main
from director.outputs import MARKER

TINY = """
title: Tiny
format: 64x36 @ 12fps
import: parts.shot
character HERO
  description: a courier
  ref: refs/hero.png
audio MUSIC: refs/music.wav

INT. ROOM - DAY

SHOT 1 WIDE 1s
  HERO waits.
  music MUSIC from 0s for 1s

SHOT 2 MEDIUM on HERO 1s
  HERO
    Late again.
"""

PARTS = """
location ROOM
  description: a bare room
  ref: refs/room.png
"""

SCREENPLAY = """Title: Tiny

INT. ROOM - DAY

Hero waits by the door.
"""


@pytest.fixture
def script(project) -> Path:
    project.write(PARTS, "parts.shot")
    return project.write(TINY)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder`, by relative path, with its bytes."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def refused(argv: list[str], capsys) -> str:
    """Run the command, which must refuse with exit 2; its message."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("director: error: ") and "Traceback" not in err
    return err


# ------------------------------------------------------------------ compile: data loss


def test_a_png_sequence_never_replaces_a_folder_of_references(script, capsys):
    """Defect 1: `--codec png -o refs` deleted every reference image."""
    refs = script.parent / "refs"
    before = snapshot(refs)
    err = refused(["compile", str(script), "-q", "--codec", "png", "-o", str(refs)], capsys)
    assert "refs/hero.png, a file the script names" in err
    assert snapshot(refs) == before


def test_a_png_sequence_never_replaces_a_users_folder(script, capsys):
    """A folder of the user's that the script does not name is not director's to empty."""
    notes = script.parent / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("call the actor\n")
    err = refused(["compile", str(script), "-q", "--codec", "png", "-o", str(notes)], capsys)
    assert "director did not write" in err
    assert (notes / "todo.txt").read_text() == "call the actor\n"
    assert snapshot(notes) == {"todo.txt": b"call the actor\n"}


def test_a_png_sequence_replaces_its_own_folder_and_fills_an_empty_one(script):
    frames = script.parent / "frames"
    frames.mkdir()  # empty: fine
    assert main(["compile", str(script), "-q", "--codec", "png", "-o", str(frames)]) == 0
    assert (frames / MARKER).is_file() and len(list(frames.glob("*.png"))) == 24
    (frames / "999999.png").write_bytes(b"stale")  # director's folder: replaced whole
    assert main(["compile", str(script), "-q", "--codec", "png", "-o", str(frames)]) == 0
    assert len(list(frames.glob("*.png"))) == 24 and not (frames / "999999.png").exists()
    leftovers = [p.name for p in script.parent.iterdir() if p.name.startswith(".frames")]
    assert leftovers == []  # nothing left beside it from the swap


@pytest.mark.parametrize(
    ("output", "role"),
    [
        ("film.shot", "the script itself"),
        ("parts.shot", "parts.shot, a script it imports"),
        ("refs/hero.png", "refs/hero.png, a file the script names"),
        ("refs/music.wav", "refs/music.wav, a file the script names"),
    ],
)
def test_compile_never_writes_over_the_script_or_what_it_names(script, capsys, output, role):
    """Defect 2: `-o commercial.shot` replaced the script with the mp4."""
    before = snapshot(script.parent)
    err = refused(["compile", str(script), "-q", "-o", str(script.parent / output)], capsys)
    assert role in err
    assert snapshot(script.parent) == before


def test_a_link_to_the_script_is_the_script(script, capsys):
    link = script.parent / "film.mp4"
    os.link(script, link)
    refused(["compile", str(script), "-q", "-o", str(link)], capsys)
    alias = script.parent / "alias.mp4"
    alias.symlink_to(script)
    refused(["compile", str(script), "-q", "-o", str(alias)], capsys)
    assert script.read_text().startswith("title: Tiny")


def test_the_files_beside_the_film_obey_the_rule_too(script, capsys):
    """The subtitles of `-o cut.mp4` go to cut.srt: here a link to a file the script
    names, so the compile is refused before anything is written."""
    os.link(script.parent / "refs" / "music.wav", script.parent / "cut.srt")
    before = snapshot(script.parent)
    err = refused(["compile", str(script), "-q", "-o", str(script.parent / "cut.mp4")], capsys)
    assert "the subtitles" in err and "refs/music.wav" in err
    assert snapshot(script.parent) == before


def test_two_outputs_of_one_compile_never_share_a_path(script, capsys):
    timeline = script.parent / "cut.edl"
    err = refused(
        ["compile", str(script), "-q", "-o", str(timeline), "--edl", str(timeline)], capsys
    )
    assert "the film and the timeline would both be written" in err
    assert not timeline.exists()


def test_a_dry_run_says_the_same_refusal(script, capsys):
    refused(["compile", str(script), "--dry-run", "-o", str(script)], capsys)


# ------------------------------------------------------------------ output paths


@pytest.mark.parametrize("output", [".", "refs", ".."])
def test_compile_to_a_folder_is_refused_plainly(script, capsys, output, monkeypatch):
    """Defect 11: `-o EXISTING_FOLDER` and `-o .` tracebacked."""
    monkeypatch.chdir(script.parent)
    before = snapshot(script.parent)
    err = refused(["compile", str(script), "-q", "-o", output], capsys)
    assert "folder" in err or "holds" in err
    assert snapshot(script.parent) == before


def test_compile_png_to_the_current_folder_is_refused(script, capsys, monkeypatch):
    monkeypatch.chdir(script.parent)
    err = refused(["compile", "film.shot", "-q", "--codec", "png", "-o", "."], capsys)
    assert "it holds the script itself" in err


def test_outputs_into_a_missing_folder_make_it(script, capsys):
    film = script.parent / "out" / "deep" / "film.mp4"
    assert main(["compile", str(script), "-q", "-o", str(film)]) == 0
    assert film.is_file() and (film.parent / "film.plan.json").is_file()
    plan = script.parent / "plans" / "new" / "film.json"
    assert main(["plan", str(script), "-o", str(plan)]) == 0
    assert plan.read_text().startswith("{")


def test_plan_to_a_folder_or_over_the_script_is_refused(script, capsys):
    refused(["plan", str(script), "-o", str(script.parent / "refs")], capsys)
    refused(["plan", str(script), "-o", str(script)], capsys)
    assert script.read_text().startswith("title: Tiny")


def test_an_output_under_a_file_is_refused(script, capsys):
    err = refused(["plan", str(script), "-o", str(script / "plan.json")], capsys)
    assert "is not a folder" in err


def test_import_to_a_folder_a_missing_folder_and_over_its_screenplay(tmp_path, capsys):
    screenplay = tmp_path / "tiny.fountain"
    screenplay.write_text(SCREENPLAY)
    (tmp_path / "scripts").mkdir()
    err = refused(["import", str(screenplay), "-o", str(tmp_path / "scripts"), "--force"], capsys)
    assert "it is a folder" in err
    err = refused(["import", str(screenplay), "-o", str(screenplay), "--force"], capsys)
    assert "the screenplay" in err and screenplay.read_text() == SCREENPLAY
    made = tmp_path / "new" / "tiny.shot"
    assert main(["import", str(screenplay), "-o", str(made)]) == 0
    assert made.read_text().startswith("title:")


@pytest.fixture
def read_only(tmp_path):
    """A folder nothing can be written in: chmod for a user, a read-only tmpfs for
    root (whom permissions do not stop); skipped where neither is possible."""
    folder = tmp_path / "locked"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    if shutil.which("mount") is None:
        pytest.skip("no mount here")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_read_only_folder_is_said_plainly(script, read_only, capsys):
    """Defect 11: a read-only output folder tracebacked."""
    for argv in (
        ["compile", str(script), "-q", "-o", str(read_only / "film.mp4")],
        ["compile", str(script), "-q", "-o", str(read_only / "sub" / "film.mp4")],
        ["plan", str(script), "-o", str(read_only / "film.json")],
    ):
        assert "read-only" in refused(argv, capsys)


def test_a_cache_in_a_read_only_folder_is_said_plainly(read_only):
    from director.cache import Cache, CacheError

    with pytest.raises(CacheError, match="name a folder you can write with --cache"):
        Cache(read_only / "cache")


# ------------------------------------------------------------------ export


def test_export_never_writes_over_its_plan_or_into_a_users_folder(script, capsys):
    film = str(script.parent / "film.mp4")
    assert main(["compile", str(script), "-q", "-o", film]) == 0  # media in the cache
    plan = script.parent / "film.otio"  # the compile's plan, under a timeline's name
    shutil.copyfile(script.parent / "film.plan.json", plan)
    before = plan.read_bytes()
    err = refused(["export", str(plan), "--otio", str(plan)], capsys)
    assert "it is the plan" in err
    users = script.parent / "cut.media"
    users.mkdir()
    (users / "mine.txt").write_text("keep")
    err = refused(["export", str(plan), "--otio", str(script.parent / "cut.otio")], capsys)
    assert "director did not write" in err and (users / "mine.txt").read_text() == "keep"
    ok = script.parent / "edit.otio"
    assert main(["export", str(plan), "--otio", str(ok)]) == 0
    assert (script.parent / "edit.media" / MARKER).is_file()
    assert main(["export", str(plan), "--otio", str(ok)]) == 0  # its own folder again
    assert plan.read_bytes() == before


def test_the_marker_is_the_only_way_a_folder_counts_as_directors(tmp_path):
    """An old or foreign folder with frames in it is not taken for director's."""
    from director.outputs import Target, refusal

    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "000000.png").write_bytes(b"png")
    target = Target(frames, "the PNG sequence", folder=True)
    assert "director did not write" in refusal([target], {})
    (frames / MARKER).write_text("")
    assert refusal([target], {}) is None
    with tempfile.TemporaryDirectory() as empty:
        assert refusal([Target(Path(empty), "the stems", folder=True)], {}) is None
