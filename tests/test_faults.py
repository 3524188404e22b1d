"""Faults during a run, injected for real: no finished shot is lost, and each says what happened.

- out of memory: a backend with a fake device limit raises BackendOutOfMemory
  (or torch's own OutOfMemoryError) partway through a real shot, and fits at a
  lower memory level;
- NaN and black frames from a real backend call: retried with a new seed,
  recorded in the entry;
- a full disk: a 16 MiB tmpfs mounted for the test, filled to leave room for
  half a film (skipped where mounting is not permitted);
- a flipped byte in a cache entry: found by its SHA-256, remade;
- a reference file changed while the run is under way.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from contextlib import contextmanager, suppress
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from backends import registry
from backends.base import BackendOutOfMemory, is_out_of_memory
from backends.preview import PreviewBackend
from director.cache import Cache
from director.check import check_file
from director.cli import main
from director.operations import RunContext
from director.plan import Plan, plan_film
from director.run import execute

THREE_SHOTS = """
title: Faults
format: 96x54 @ 12fps
location ROOM
  description: a bare room
  ref: refs/room.png
character HERO
  description: a courier
  ref: refs/hero.png

INT. ROOM - DAY

SHOT 1 WIDE 1s
  The room waits.

SHOT 2 MEDIUM on HERO 2s
  seed: 7
  HERO paces.

SHOT 3 WIDE 1s
  The door.
"""


@contextmanager
def registered(backend: type[PreviewBackend]):
    registry.backends()[backend.name] = backend
    try:
        yield backend
    finally:
        del registry.backends()[backend.name]


def plan_of(project, text: str, backend: str):
    checked = check_file(project.write(text))
    assert checked.film is not None, checked.diagnostics
    return plan_film(checked.film, backend=backend).plan


def compiled_plan(project, name: str = "film") -> Plan:
    """The plan a `director compile` wrote beside its film: its hashes are the cache's."""
    return Plan.model_validate_json((project.root / f"{name}.plan.json").read_text())


def run(project, plan, cache: Path | None = None):
    context = RunContext(plan, project.root)
    result = execute(plan, project.root, Cache(cache or project.root / "cache"), context=context)
    return result, dict(context.backend_calls)


def generate_meta(result, shot: str) -> dict:
    return result.outputs[f"shot/{shot}/take0/window0"].meta


def compile_cli(project, *extra: str, name: str = "film.mp4") -> tuple[int, Path]:
    out = project.root / name
    code = main(["compile", str(project.root / "film.shot"), "-o", str(out), *extra])
    return code, out


# ------------------------------------------------------------------ out of memory


class SmallDevice(PreviewBackend):
    """The animatic on a pretend device that holds `LIMIT` pixel-frames at memory level 0,
    twice as many at level 1 and so on: beyond that it runs out partway through
    the shot, after drawing a few frames, as a VAE decode does."""

    name = "small-device"
    capabilities = PreviewBackend.capabilities.model_copy(update={"memory_levels": 3})
    LIMIT = 96 * 54 * 12  # one second of the test film
    released = 0

    def generate(self, request):
        made = super().generate(request)
        need = request.width * request.height * request.frames
        if need <= self.LIMIT * 2**request.memory_level:
            return made

        def frames_then_out_of_memory():
            yield from (next(iter(made.frames)) for _ in range(2))
            raise BackendOutOfMemory(f"{need} pixel-frames at level {request.memory_level}")

        return type(made)(frames=frames_then_out_of_memory())

    def release_memory(self):
        type(self).released += 1


def test_out_of_memory_is_retried_at_a_lower_memory_level(project, capsys):
    with registered(SmallDevice):
        plan = plan_of(project, THREE_SHOTS, "small-device")
        result, calls = run(project, plan)
    assert result.ok, [str(f) for f in result.failures]
    assert calls == {"1": 1, "2": 2, "3": 1}  # shot 2 (twice the limit) fits at level 1
    meta = generate_meta(result, "2")
    assert meta["memory_level"] == 1 and meta["frames"] == 24
    assert meta["retries"] == [
        {"problem": "out of memory", "seed": 7, "memory_level": 0,
         "then": "retrying at memory level 1"}
    ]  # fmt: skip
    assert generate_meta(result, "1")["memory_level"] == 0
    assert SmallDevice.released >= 1
    entry = result.outputs["shot/2/take0/window0"]
    assert sorted(p.name for p in entry.folder.iterdir()) == ["clip.mp4", "entry.json"]


def test_out_of_memory_at_every_level_fails_that_shot_only(project, capsys, monkeypatch):
    monkeypatch.setattr(SmallDevice, "LIMIT", 96 * 54 * 12 // 4)  # shot 2 would need level 3
    monkeypatch.setattr(SmallDevice, "released", 0)
    project.write(THREE_SHOTS)
    with registered(SmallDevice):
        code, out = compile_cli(project, "--backend", "small-device", "--keep-going", "-q")
        err = capsys.readouterr().err
        assert code == 1 and not out.exists()
        assert (
            "film.shot:15:1: generate shot/2/take0/window0 failed: the small-device backend "
            "ran out of memory at memory level 2 (96x54, 24 frames)"
        ) in err
        assert "retrying at memory level 2" in err
        # The device grows: the next run makes shot 2 alone; nothing finished is lost.
        monkeypatch.setattr(SmallDevice, "LIMIT", 96 * 54 * 24)
        result, calls = run(project, plan_of(project, THREE_SHOTS, "small-device"),
                            project.root / ".director" / "cache")  # fmt: skip
    assert result.ok and calls == {"2": 1}


def test_torch_and_python_out_of_memory_errors_count_as_out_of_memory():
    torch = pytest.importorskip("torch")
    assert is_out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory"))
    assert is_out_of_memory(MemoryError())
    assert is_out_of_memory(BackendOutOfMemory())
    assert not is_out_of_memory(RuntimeError("CUDA error: an illegal memory access"))


# ------------------------------------------------------------ NaN and black frames


class Glitchy(PreviewBackend):
    """A backend whose float output goes NaN (or decodes black) for some seeds."""

    name = "glitchy"
    black_is_failure = True  # as for a diffusion model
    nan_seeds: set[int] = {7}
    black_seeds: set[int] = set()

    def generate(self, request):
        made = super().generate(request)

        def frames():
            for index, frame in enumerate(made.frames):
                picture = frame.astype(np.float32) / 255  # as a VAE returns it
                if request.seed in self.nan_seeds and index == 5:
                    picture[3, 4, 1] = np.nan
                if request.seed in self.black_seeds:
                    picture[:] = 0.0
                yield picture

        return type(made)(frames=frames())


def test_nan_frames_are_retried_with_a_new_seed_and_recorded(project, capsys):
    with registered(Glitchy):
        plan = plan_of(project, THREE_SHOTS, "glitchy")
        result, calls = run(project, plan)
        assert result.ok
        meta = generate_meta(result, "2")
        assert calls == {"1": 1, "2": 2, "3": 1}
        assert meta["seed"] != 7 and meta["retries"][0]["problem"] == "NaN in frame 5"
        assert meta["retries"][0]["then"] == f"retrying with seed {meta['seed']}"
        # The retry seed is a function of the planned one: a clean cache makes the same bytes.
        again, _ = run(project, plan, project.root / "other-cache")
    first = result.outputs["shot/2/take0/window0"].file("clip.mp4").read_bytes()
    assert again.outputs["shot/2/take0/window0"].file("clip.mp4").read_bytes() == first


def test_black_output_is_retried_then_fails_with_the_seeds_tried(project, capsys, monkeypatch):
    monkeypatch.setattr(Glitchy, "nan_seeds", set())
    monkeypatch.setattr(Glitchy, "black_seeds", {7})
    with registered(Glitchy):
        result, calls = run(project, plan_of(project, THREE_SHOTS, "glitchy"))
        assert result.ok and calls["2"] == 2
        assert generate_meta(result, "2")["retries"][0]["problem"] == "black frames only"
        # Every seed black: the shot fails, naming them; the other shots are made.
        monkeypatch.setattr(Glitchy, "black_is_failure", True)
        monkeypatch.setattr(
            Glitchy, "black_seeds", type("All", (), {"__contains__": lambda *_: True})()
        )
        project.write(THREE_SHOTS.replace("seed: 7", "seed: 8"))
        code, out = compile_cli(project, "--backend", "glitchy", "--keep-going", "-q")
    err = capsys.readouterr().err
    assert code == 1 and not out.exists()
    assert "the glitchy backend made black frames only with each of the seeds 8, " in err


def test_the_preview_backend_may_draw_a_black_shot(project, capsys):
    Image.new("RGB", (96, 54), (0, 0, 0)).save(project.root / "refs" / "night.png")
    project.write("title: Night\nformat: 96x54 @ 12fps\nlocation VOID\n  ref: refs/night.png\n"
                  "\nEXT. VOID - NIGHT\n\nSHOT 1 WIDE 1s\n")  # fmt: skip
    code, out = compile_cli(project, "--no-burn-in", "-q")
    assert code == 0


# ----------------------------------------------------------------- a full disk


@pytest.fixture
def small_disk():
    """A tmpfs of 16 MiB, unmounted afterwards; skipped where mounting is not allowed.
    Mounted outside pytest's own temporary folders, which pytest sessions running
    beside this one may remove."""
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = Path(tempfile.mkdtemp(prefix="director-small-disk-"))
    command = ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        mount.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
        with suppress(OSError):
            mount.rmdir()


def fill(disk: Path, leave: int) -> Path:
    """Fill `disk` with one file until `leave` bytes are free."""
    filler = disk / "filler"
    free = shutil.disk_usage(disk).free
    with filler.open("wb") as handle:
        handle.write(b"\0" * max(0, free - leave))
    return filler


def used(folder: Path) -> int:
    return sum(p.stat().st_blocks * 512 for p in folder.rglob("*") if p.is_file())


def test_a_full_disk_stops_cleanly_and_the_cache_stays_intact(project, small_disk, capsys):
    text = "title: Disk\nformat: 96x54 @ 12fps\n\n" + "".join(
        f"SHOT {n} WIDE 1s\n  Beat {n}.\n\n" for n in range(1, 9)
    )
    project.write(text)
    reference = project.root / "reference.mp4"
    assert main(["compile", str(project.root / "film.shot"), "-o", str(reference), "-q",
                 "--cache", str(project.root / "clean")]) == 0  # fmt: skip
    # Room for about half of the cache this film needs.
    filler = fill(small_disk, used(project.root / "clean") // 2)
    cache = small_disk / "cache"
    code, out = compile_cli(project, "--cache", str(cache), "-q")
    err = capsys.readouterr().err
    assert code == 1 and not out.exists(), err
    assert f"the disk holding the cache ({cache}) is full" in err, err
    assert "free some space and run the same command to resume" in err
    assert "Traceback" not in err
    assert list((cache / "staging").iterdir()) == []
    # What is in the cache is whole: every entry passes its digests.
    kept = Cache(cache)
    finished = [json.loads(m.read_text())["hash"] for m in cache.rglob("entry.json")]
    assert finished and all(kept.get(digest) is not None for digest in finished), kept.damaged
    selects = {m.parent.name for m in cache.rglob("entry.json")
               if json.loads(m.read_text())["op"] == "select"}  # fmt: skip
    filler.unlink()
    plan = compiled_plan(project, "reference")
    result, calls = run(project, plan, cache)
    assert result.ok, [str(f) for f in result.failures]
    made_before = {n.id.split("/")[1] for n in plan.nodes if n.op == "select" and n.hash in selects}
    assert made_before and not made_before & set(calls), (made_before, calls)  # none made twice
    code, out = compile_cli(project, "--cache", str(cache), "-q")
    assert code == 0
    assert_same_pictures(out, reference)


def assert_same_pictures(film: Path, reference: Path) -> None:
    """Every frame of `film` is its reference frame, give or take the encoder: no
    pixel off by more than a few levels (a shot's own text, drawn into another
    shot, differs by a hundred).  Not the same bytes: this film's pieces and the
    reference's come from two compiles, and on the CI sandbox x264 now and then
    codes the same frames a little differently (docs/reliability.md)."""
    with av.open(str(film)) as ours, av.open(str(reference)) as theirs:
        frames = [f.to_ndarray(format="rgb24").astype(np.int16) for f in ours.decode(video=0)]
        wanted = [f.to_ndarray(format="rgb24").astype(np.int16) for f in theirs.decode(video=0)]
    assert len(frames) == len(wanted)
    for index, (frame, other) in enumerate(zip(frames, wanted, strict=True)):
        assert np.abs(frame - other).max() <= ENCODER_SLACK, index


# The most a pixel was seen to move between two x264 encodes of the same frames.
ENCODER_SLACK = 32


def test_a_full_disk_at_delivery_leaves_no_partial_film(project, small_disk, capsys):
    project.write(THREE_SHOTS)
    assert compile_cli(project, "-q")[0] == 0
    filler = fill(small_disk, 4096)
    out = small_disk / "film.mp4"
    code = main(["compile", str(project.root / "film.shot"), "-o", str(out), "-q"])
    err = capsys.readouterr().err
    assert code == 1
    assert f"no space left to write beside {out}" in err and "Traceback" not in err
    assert not out.exists()
    assert [p.name for p in small_disk.iterdir() if p.name.startswith(".")] == []  # no temporaries
    filler.unlink()
    assert main(["compile", str(project.root / "film.shot"), "-o", str(out), "-q"]) == 0
    assert out.read_bytes() == (project.root / "film.mp4").read_bytes()


# ------------------------------------------------------------ a damaged cache entry


def flip_byte(path: Path, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    offset = len(data) // 2 if offset is None else offset
    data[offset] ^= 0x01
    with path.open("r+b") as handle:  # in place: the same inode, as bit rot would be
        handle.write(data)


def test_a_flipped_byte_in_a_cached_clip_is_found_and_the_shot_remade(project, capsys):
    project.write(THREE_SHOTS)
    assert compile_cli(project, "-q")[0] == 0
    film = (project.root / "film.mp4").read_bytes()
    plan = compiled_plan(project)
    cache = project.root / ".director" / "cache"
    window = next(n for n in plan.nodes if n.id == "shot/1/take0/window0")
    flip_byte(Cache(cache).folder(window.hash) / "clip.mp4")
    code, out = compile_cli(project, "-q")
    err = capsys.readouterr().err
    assert code == 0 and out.read_bytes() == film
    assert (
        "warning: generate shot/1/take0/window0: its cache entry was damaged "
        "(clip.mp4: its SHA-256 does not match the manifest); making it again"
    ) in err
    _, calls = run(project, plan, cache)
    assert calls == {}  # remade once, and whole again


def test_a_flipped_byte_in_a_manifest_is_found(project, capsys):
    project.write(THREE_SHOTS)
    assert compile_cli(project, "-q")[0] == 0
    plan = compiled_plan(project)
    cache = project.root / ".director" / "cache"
    window = next(n for n in plan.nodes if n.id == "shot/3/take0/window0")
    manifest = Cache(cache).folder(window.hash) / "entry.json"
    text = manifest.read_text()
    manifest.write_text(text.replace('"frames": 12', '"frames": 13'))
    result, calls = run(project, plan, cache)
    assert result.ok and calls == {"3": 1}
    assert generate_meta(result, "3")["frames"] == 12


# ------------------------------------------------------- a reference file changes


class Meddling(PreviewBackend):
    """Rewrites the hero's reference image while it makes shot 2, as an editor saving
    over it during a long run would."""

    name = "meddling"

    def generate(self, request):
        if request.shot_id == "2":
            hero = next(p for c in request.characters for p in c.refs)
            Image.new("RGB", (640, 360), (10, 200, 10)).save(hero)
        return super().generate(request)


def test_a_reference_changed_during_the_run_is_detected(project, capsys):
    project.write(THREE_SHOTS)
    with registered(Meddling):
        code, out = compile_cli(project, "--backend", "meddling", "--keep-going", "-q")
        err = capsys.readouterr().err
        assert code == 1 and not out.exists()
        assert (
            "film.shot:15:1: generate shot/2/take0/window0 failed: refs/hero.png changed on "
            "disk during the run"
        ) in err
        # Compiled again, the new picture is used; shots 1 and 3 do not show the hero: kept.
        plan = plan_of(project, THREE_SHOTS, "meddling")
        result, calls = run(project, plan, project.root / ".director" / "cache")
    assert result.ok and calls == {"2": 1}


def test_a_reference_changed_after_the_check_fails_its_asset_node(project):
    plan = plan_of(project, THREE_SHOTS, "preview")
    Image.new("RGB", (640, 360), (1, 2, 3)).save(project.root / "refs" / "room.png")
    result, calls = run(project, plan)
    assert [f.node.id for f in result.failures] == ["asset/refs/room.png"]
    assert "changed on disk after the script was checked" in result.failures[0].message
    assert calls == {}
