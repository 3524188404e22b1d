"""Every example of the language reference compiles exactly as written.

The header, declaration and scene examples together form one script
(tests/fixtures/language/film.shot), completed by a shared_cast.shot and the
refs it names.  The reference's code blocks are read from docs/language.md
and, when the workspace has it, from the shared original too.
"""

import re
import shutil
from pathlib import Path

import pytest

from director.check import check_file
from director.plan import plan_film

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "language"
SHARED = ROOT.parent / "shared" / "LANGUAGE.md"


def code_blocks(markdown: str) -> list[str]:
    return re.findall(r"```\n(.*?)```", markdown, re.S)


def doc_script(markdown: str) -> str:
    return "\n".join(code_blocks(markdown)[:3])


def test_fixture_is_the_documents_examples_verbatim():
    script = (FIXTURE / "film.shot").read_text(encoding="utf-8")
    for block in code_blocks((ROOT / "docs" / "language.md").read_text(encoding="utf-8"))[:3]:
        assert block in script


@pytest.mark.skipif(not SHARED.exists(), reason="the shared workspace is not beside this clone")
def test_docs_copy_matches_the_shared_reference():
    shared = code_blocks(SHARED.read_text(encoding="utf-8"))
    ours = code_blocks((ROOT / "docs" / "language.md").read_text(encoding="utf-8"))
    assert ours[: len(shared)] == shared


def test_the_examples_check_and_plan_without_errors(tmp_path):
    project = tmp_path / "language"
    shutil.copytree(FIXTURE, project)
    checked = check_file(project / "film.shot")
    errors = [
        f"{d.span} {d.code} {d.message}" for d in checked.diagnostics if d.severity == "error"
    ]
    assert errors == []
    planned = plan_film(checked.film)
    assert planned.plan is not None
    shots = [s.shot for s in planned.plan.timeline.shots]
    assert shots == ["1A", "1B", "2"]


def test_the_examples_mean_what_the_reference_says(tmp_path):
    project = tmp_path / "language"
    shutil.copytree(FIXTURE, project)
    film = check_file(project / "film.shot").film
    assert (film.title, film.format.width, film.format.height, film.seed) == (
        "The Lighthouse", 1280, 720, 1234,
    )  # fmt: skip
    assert [r.path for r in film.characters["MARA"].refs] == [
        "refs/mara_front.png",
        "refs/mara_profile.png",
    ]
    first, second, third = film.shots
    assert [m.move for m in first.camera] == ["dolly", "tilt"]
    assert first.camera[1].degrees == 10
    assert first.cues[0].fade_in == 24 and first.cues[0].gain_db == -12
    assert second.dialogue[0].parenthetical == "under her breath"
    assert third.transition_in.kind == "dissolve" and third.transition_in.frames == 12
    assert third.continuous and third.cues[0].duck
    assert third.refs[0].kind == "video"
