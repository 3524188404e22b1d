"""Compiling to film, end to end: real rendering, real encoding, decoded and inspected."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest

from backends import registry
from backends.preview import PreviewBackend
from director.cache import Cache
from director.check import check_file
from director.cli import main
from director.operations import RunContext
from director.plan import plan_film
from director.run import execute

SMALL = """
title: Small
format: 160x90 @ 24fps
location ROOM
  description: a bare room
  ref: refs/room.png
character HERO
  description: a courier
  ref: refs/hero.png
audio MUSIC: refs/music.wav

INT. ROOM - DAY

SHOT 1 WIDE 1s
  camera: pan left
  HERO waits.
  music MUSIC from 0s for 3s duck under dialogue

DISSOLVE TO: 6f

SHOT 2 MEDIUM on HERO 1s
  HERO
    Late again.

FADE OUT: 6f
"""


def decode(path: Path) -> tuple[list[np.ndarray], float]:
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        samples = sum(f.samples for f in container.decode(audio=0))
        return frames, samples / stream.rate


def test_a_small_film_has_its_frames_sound_and_sidecars(project):
    out = project.compile_film(SMALL)
    frames, seconds = decode(out)
    assert len(frames) == 24 + 24 - 6
    assert abs(seconds - len(frames) / 24) <= 1 / 24
    assert frames[-1].mean() < 8  # the final fade reaches black
    assert (project.root / "film.srt").read_text().count("Late again.") == 1
    vtt = (project.root / "film.vtt").read_text()
    assert vtt.startswith("WEBVTT\n") and vtt.count("<v HERO>Late again.") == 1
    assert (project.root / "film.plan.json").exists()


def test_recompiling_unchanged_reuses_everything(project, capsys):
    project.compile_film(SMALL)
    first = (project.root / "film.mp4").read_bytes()
    project.compile_film(SMALL)
    assert (project.root / "film.mp4").read_bytes() == first


def test_dry_run_says_what_changed(project, capsys):
    project.compile_film(SMALL)
    path = project.write(SMALL.replace("HERO waits.", "HERO waits, restless."))
    capsys.readouterr()
    assert main(["compile", str(path), "--dry-run"]) == 0
    report = capsys.readouterr().out
    assert "generate    shot/1/take0/window0: inputs changed: shot/1/prompt" in report
    assert "shot/2/take0" not in report


def twenty_shots(action_of_shot_7: str = "A door opens.") -> str:
    lines = ["title: Twenty", "format: 128x72 @ 12fps", ""]
    for index in range(1, 21):
        action = action_of_shot_7 if index == 7 else f"Beat number {index}."
        lines += [f"SHOT {index} WIDE 1s", f"  {action}", ""]
    return "\n".join(lines)


def run_plan(project, text: str, context_calls: list):
    checked = check_file(project.write(text))
    plan = plan_film(checked.film).plan
    context = RunContext(plan, project.root)
    result = execute(plan, project.root, Cache(project.root / "cache"), context=context)
    assert result.ok, [str(f) for f in result.failures]
    context_calls.append(dict(context.backend_calls))
    return result


def test_editing_one_shot_regenerates_only_that_shot(project):
    calls: list = []
    run_plan(project, twenty_shots(), calls)
    result = run_plan(project, twenty_shots("A door slams."), calls)
    assert calls[0] == {str(n): 1 for n in range(1, 21)}
    assert calls[1] == {"7": 1}
    assert set(result.ran) == {
        "shot/7/prompt", "shot/7/take0/window0", "shot/7/select", "shot/7/segment",
        "film/assemble", "film/mux",
    }  # fmt: skip


class FailingBackend(PreviewBackend):
    name = "failing"

    def generate(self, request):
        if request.shot_id == "2":
            raise RuntimeError("out of ideas")
        return super().generate(request)


@pytest.fixture
def failing_backend():
    registry.backends()["failing"] = FailingBackend
    yield
    del registry.backends()["failing"]


def test_keep_going_renders_the_rest_and_reports_every_failure(project, capsys, failing_backend):
    path = project.write("title: F\nformat: 64x36 @ 12fps\n" + "".join(
        f"SHOT {n} WIDE 1s\n  Beat {n}.\n" for n in range(1, 5)
    ))  # fmt: skip
    out = project.root / "f.mp4"
    code = main(
        ["compile", str(path), "-o", str(out), "-q", "--backend", "failing", "--keep-going"]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "film.shot:5:1: generate shot/2/take0/window0 failed: RuntimeError: out of ideas" in err
    cache = Cache(project.root / ".director" / "cache")
    assert sum(1 for _ in cache.entries.rglob("entry.json")) > 0
    assert not out.exists()


def test_a_killed_compile_resumes_to_the_same_bytes(project, tmp_path):
    script = project.write(twenty_shots())
    reference = tmp_path / "reference.mp4"
    assert main(["compile", str(script), "-o", str(reference), "-q",
                 "--cache", str(tmp_path / "clean-cache")]) == 0  # fmt: skip
    out = project.root / "resumed.mp4"
    command = [sys.executable, "-m", "director", "compile", str(script), "-o", str(out), "-q"]
    process = subprocess.Popen(command, cwd=project.root)
    cache = project.root / ".director" / "cache" / "entries"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(cache.rglob("entry.json"))) < 12:
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not out.exists()  # killed before the end: nothing at the output path
    assert main(["compile", str(script), "-o", str(out), "-q"]) == 0
    assert out.read_bytes() == reference.read_bytes()


@pytest.mark.parametrize(("codec", "suffix"), [("vp9", ".webm"), ("prores", ".mov")])
def test_other_codecs_make_playable_films(project, codec, suffix):
    out = project.compile_film(SMALL, "--codec", codec, out=f"film{suffix}")
    frames, seconds = decode(out)
    assert len(frames) == 42
    assert abs(seconds - 42 / 24) <= 1 / 24


def test_png_sequence_and_stems(project):
    out = project.compile_film(SMALL, "--codec", "png", "--stems", out="frames")
    assert len(list(out.glob("*.png"))) == 42
    stems = sorted(p.name for p in (project.root / "frames.stems").iterdir())
    assert any("music" in name for name in stems) and any("dialogue" in name for name in stems)


def test_ctrl_c_stops_cleanly_and_the_next_run_resumes(project):
    script = project.write(twenty_shots())
    out = project.root / "film.mp4"
    command = [sys.executable, "-m", "director", "compile", str(script), "-o", str(out), "-q"]
    process = subprocess.Popen(command, cwd=project.root, stderr=subprocess.PIPE, text=True)
    cache = project.root / ".director" / "cache"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(cache.rglob("entry.json"))) < 10:
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "run the same command to resume" in err
    assert "Traceback" not in err
    assert list((cache / "staging").iterdir()) == []  # the node in progress was cleaned up
    assert not out.exists()
    done_before = len(list(cache.rglob("entry.json")))
    assert main(["compile", str(script), "-o", str(out), "-q"]) == 0
    assert len(list(cache.rglob("entry.json"))) > done_before
