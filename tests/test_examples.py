"""The README's main job, for every example: a playable film with sound of the right length."""

import shutil
from pathlib import Path

import av
import pytest

from director.check import check_file
from director.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "scripts_examples"
SCRIPTS = sorted(p for p in EXAMPLES.rglob("*.shot") if "title:" in p.read_text(encoding="utf-8"))


def test_there_are_five_examples():
    assert len(SCRIPTS) >= 5


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_example_checks_clean_even_under_strict(script, capsys):
    assert main(["check", "--strict", str(script)]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_example_compiles_to_a_film_with_sound(script, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(script.parent, project)
    copy = project / script.name
    out = tmp_path / "film.mp4"
    assert main(["compile", str(copy), "-o", str(out), "-q"]) == 0
    timeline = check_file(copy).film
    fps = timeline.format.fps
    with av.open(str(out)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        frames = sum(1 for _ in container.decode(video=0))
    with av.open(str(out)) as container:
        samples = sum(f.samples for f in container.decode(audio=0))
    expected = sum(s.frames for s in timeline.shots) - sum(
        s.transition_in.frames
        for s in timeline.shots
        if s.transition_in.kind in ("dissolve", "wipe")
    )
    assert frames == expected
    assert (video.width, video.height) == (timeline.format.width, timeline.format.height)
    assert abs(samples / audio.rate - expected / fps) <= 1 / fps
