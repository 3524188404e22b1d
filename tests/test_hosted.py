"""Hosted models end to end: the real pinned SDKs (fal-client, runwayml) against the
strict local server in hosted_server.py, driven by `director compile` in a subprocess
whose environment points every provider at 127.0.0.1 (anything else goes to a proxy
that is not there)."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
from hosted_server import FAL_KEY, RUNWAY_KEY, HostedServer
from PIL import Image

pytest.importorskip("fal_client")
pytest.importorskip("runwayml")

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).parent / "snapshots" / "hosted"
MODELS = ("seedance-2", "kling-3", "veo-3.1", "hailuo-02", "ltx-2-fal", "gen-4.5", "ray-2-flash",
          "pika-2.2")  # fmt: skip
RUNWAY_ROUTES = ("seedance-2", "kling-3", "veo-3.1")  # models with a route through Runway too

# Three shots: a character with a reference picture, a `continuous` shot, a pinned
# first frame.  12 + 6 + 12 frames at 24 fps.
THREE_SHOTS = """
title: Hosted
format: 320x180 @ 24fps
seed: 7
backend: {backend}

character MARA
  description: a woman in a red coat
  ref: refs/hero.png

location ROOM
  description: a bare room with one window
  ref: refs/room.png

INT. ROOM - NIGHT

SHOT 1 WIDE on MARA 0.5s
  MARA walks in.

SHOT 2 MEDIUM on MARA 0.25s continuous
  {action}

SHOT 3 CLOSE-UP on MARA 0.5s
  keyframe first: refs/room.png
  MARA smiles.
"""
FILM_FRAMES = 12 + 6 + 12


def script(backend: str, action: str = "MARA sits down.") -> str:
    return THREE_SHOTS.format(backend=backend, action=action)


@pytest.fixture
def server(tmp_path):
    folder = tmp_path / "server"
    folder.mkdir()
    with HostedServer(folder, latency=0.15) as running:
        yield running


def compile_(project, server: HostedServer, *args: str, wait: bool = True, **env):
    command = [sys.executable, "-m", "director", "compile", str(project.root / "film.shot"),
               "-o", str(project.root / "out" / "film.mp4"), "--poll-interval", "0.02",
               *args]  # fmt: skip
    environment = {**os.environ, **server.env(), "PYTHONPATH": str(ROOT), **env}
    if not wait:
        return subprocess.Popen(command, env=environment, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)  # fmt: skip
    return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=300)


def film_facts(path: Path) -> dict:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video))
        return {
            "size": (video.width, video.height),
            "rate": video.average_rate,
            "frames": frames,
            "audio": len(container.streams.audio),
        }


def normalised(body: dict, uploads: dict[str, bytes]) -> dict:
    """A request body with each data URI replaced by what it holds (kind and size),
    and each upload's URI by what was uploaded."""

    def replace(value):
        if isinstance(value, str) and value.startswith("data:image/"):
            header, data = value.split(",", 1)
            image = Image.open(io.BytesIO(base64.b64decode(data)))
            return f"<{header.split(';')[0][5:]} {image.width}x{image.height}>"
        if isinstance(value, str) and value in uploads:
            image = Image.open(io.BytesIO(uploads[value]))
            return f"<upload {image.format} {image.width}x{image.height}>"
        if isinstance(value, list):
            return [replace(v) for v in value]
        if isinstance(value, dict):
            return {k: replace(v) for k, v in value.items()}
        return value

    return replace(body)


def sent(server: HostedServer) -> list[dict]:
    bodies = [{"endpoint": j.endpoint, "body": normalised(j.body, server.uploads)}
              for j in server.submissions]  # fmt: skip
    return sorted(bodies, key=lambda b: json.dumps(b, sort_keys=True))


# ------------------------------------------------------------ six models


@pytest.mark.parametrize(
    "backend, via",
    [(model, None) for model in MODELS] + [(model, "runway") for model in RUNWAY_ROUTES],
)
def test_each_model_compiles_three_shots_to_the_exact_format(project, server, backend, via):
    project.write(script(backend))
    done = compile_(project, server, "--jobs", "3", *(["--via", via] if via else []))
    assert done.returncode == 0, done.stderr
    assert server.violations == []
    assert len(server.submissions) == 3 and server.duplicates() == 0
    facts = film_facts(project.root / "out" / "film.mp4")
    assert facts["size"] == (320, 180)
    assert facts["rate"] == 24
    assert facts["frames"] == FILM_FRAMES
    assert facts["audio"] == 1
    golden = GOLDEN / (f"{backend}@{via}.json" if via else f"{backend}.json")
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(json.dumps(sent(server), indent=1, sort_keys=True) + "\n")
    assert sent(server) == json.loads(golden.read_text())


def test_a_second_compile_sends_nothing(project, server):
    project.write(script("kling-3"))
    assert compile_(project, server).returncode == 0
    first = list(server.requests)
    again = compile_(project, server)
    assert again.returncode == 0, again.stderr
    assert server.requests == first


# ------------------------------------------------------------ never pay twice


def test_a_killed_compile_polls_the_same_jobs_and_makes_the_same_film(project, tmp_path):
    project.write(script("seedance-2"))
    folder = tmp_path / "slow"
    folder.mkdir()
    with HostedServer(folder, latency=6.0) as server:
        running = compile_(project, server, "--jobs", "3", wait=False)
        deadline = time.monotonic() + 60
        # In flight: submitted, and polled (so their ids are in the journal: it is
        # written before the first poll).
        while time.monotonic() < deadline and not (
            len(server.submissions) == 3 and all(j.polls for j in server.submissions)
        ):
            time.sleep(0.02)
        assert len(server.submissions) == 3, "three jobs in flight before the kill"
        running.send_signal(signal.SIGKILL)
        running.wait()
        server.latency = 0.3
        again = compile_(project, server, "--jobs", "3")
        assert again.returncode == 0, again.stderr
        assert server.duplicates() == 0 and len(server.submissions) == 3
        assert server.violations == []
        resumed = (project.root / "out" / "film.mp4").read_bytes()
    reference = tmp_path / "reference"
    reference.mkdir()
    with HostedServer(reference, latency=0.1) as fresh:
        (project.root / "out" / "film.mp4").unlink()
        shutil.rmtree(project.root / ".director")  # the cache: everything made again
        assert compile_(project, fresh, "--jobs", "3").returncode == 0
        assert (project.root / "out" / "film.mp4").read_bytes() == resumed


# ------------------------------------------------------------ concurrency

# `director compile` with the order in which the run's progress saw nodes start and
# finish written to a file: the executor itself runs unchanged, observed.
OBSERVED = """
import json, sys
from director import cli, progress
events, path = [], sys.argv.pop(1)
start, done = progress.Progress.start, progress.Progress.done
def observed_start(self, node):
    events.append(["start", node.id])
    start(self, node)
def observed_done(self, node, seconds, reused):
    events.append(["done", node.id])
    done(self, node, seconds, reused)
progress.Progress.start, progress.Progress.done = observed_start, observed_done
sys.argv[0] = "director"
try:
    code = cli.main()
finally:
    open(path, "w").write(json.dumps(events))
sys.exit(code)
"""

THREE_PLAIN_SHOTS = """
title: Three
format: 320x180 @ 24fps
seed: 7
backend: hailuo-02

INT. ROOM - NIGHT

SHOT 1 WIDE 0.5s
  A lamp flickers.

SHOT 2 WIDE 0.5s
  The lamp goes out.

SHOT 3 WIDE 0.5s
  The lamp comes back.
"""


def test_a_slot_takes_the_next_request_as_soon_as_a_result_is_downloaded(project, server,
                                                                       tmp_path):  # fmt: skip
    """With two slots and three shots, the third request goes out when the first
    result is downloaded: before that result is conformed (its window's node is
    done) and before any shot's local work (`select`) starts."""
    project.write(THREE_PLAIN_SHOTS)
    server.latency = 0.5
    events = tmp_path / "events.json"
    command = [sys.executable, "-c", OBSERVED, str(events), "compile",
               str(project.root / "film.shot"), "-o", str(project.root / "out" / "film.mp4"),
               "--poll-interval", "0.02", "--jobs", "2"]  # fmt: skip
    env = {**os.environ, **server.env(), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert len(server.submissions) == 3 and server.duplicates() == 0
    order = [tuple(event) for event in json.loads(events.read_text())]
    third = order.index(("start", "shot/3/take0/window0"))
    first_windows = [order.index(("done", f"shot/{n}/take0/window0")) for n in (1, 2)]
    selects = [order.index(("start", f"shot/{n}/select")) for n in (1, 2)]
    assert third < min(first_windows), order
    assert third < min(selects), order


# ------------------------------------------------------------ cost


def test_max_cost_below_the_estimate_sends_nothing(project, server):
    project.write(script("veo-3.1"))
    refused = compile_(project, server, "--max-cost", "1.00")
    assert refused.returncode == 1
    assert "--max-cost" in refused.stderr and "nothing was sent" in refused.stderr
    assert server.requests == []


def test_dry_run_and_plan_print_the_estimate(project, server):
    project.write(script("veo-3.1"))
    dry = compile_(project, server, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    # three shots, each asked for Veo's shortest duration (4 s) at $0.40 a second
    assert "cost: 3 shots to render (3 requests), 0 requests reused: about $4.80" in dry.stdout
    assert server.requests == []
    plan = subprocess.run([sys.executable, "-m", "director", "plan",
                           str(project.root / "film.shot")], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    assert plan.returncode == 0
    assert "about $4.80 on veo-3.1 via fal" in plan.stderr
    money = json.loads(plan.stdout)["cost"]["money"]
    assert [w["seconds"] for w in money["windows"]] == [4, 4, 4]


def test_prices_in_director_toml_win(project):
    (project.root / "director.toml").write_text("[kling-3]\nprice_per_second = 1.0\n")
    plan = project.plan(script("kling-3"), prices={"kling-3": 1.0})
    assert plan.cost.money.total == 9.0  # three requests of 3 s (Kling's shortest)
    assert {w.source for w in plan.cost.money.windows} == {"director.toml"}
    done = subprocess.run([sys.executable, "-m", "director", "plan",
                           str(project.root / "film.shot")], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    assert "about $9.00" in done.stderr


# ------------------------------------------------------------ provider faults


def test_a_moderation_refusal_points_at_the_shot_and_keep_going_finishes_the_rest(project, server):
    path = project.write(script("seedance-2", action="MARA does something FORBIDDEN."))
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if "SHOT 2" in text)
    failed = compile_(project, server, "--keep-going")
    assert failed.returncode == 1
    assert f"film.shot:{line}:" in failed.stderr
    assert "moderation" in failed.stderr or "content_policy" in failed.stderr
    assert "not submitted again" in failed.stderr
    assert len(server.submissions) == 3  # the other shots were made
    again = compile_(project, server, "--keep-going")
    assert again.returncode == 1
    assert len(server.submissions) == 3  # the refused job is asked about, never resent


def test_runway_moderation_says_its_failure_code(project, server):
    project.write(script("gen-4.5", action="MARA does something FORBIDDEN."))
    failed = compile_(project, server, "--keep-going")
    assert failed.returncode == 1
    assert "SAFETY.INPUT.TEXT" in failed.stderr


def test_429_with_retry_after_is_waited_for(project, server):
    project.write(script("hailuo-02"))
    server.throttle_submits, server.retry_after = 2, 1.0
    done = compile_(project, server, "--jobs", "1")
    assert done.returncode == 0, done.stderr
    assert server.violations == []  # nothing asked again before Retry-After
    assert len(server.submissions) == 3 and server.duplicates() == 0


def test_runway_429_with_retry_after_is_waited_for(project, server):
    project.write(script("gen-4.5"))
    server.throttle_submits, server.retry_after = 1, 1.0
    done = compile_(project, server, "--jobs", "1")
    assert done.returncode == 0, done.stderr
    assert server.violations == []
    assert len(server.submissions) == 3 and server.duplicates() == 0


@pytest.mark.parametrize("backend", ["ltx-2-fal", "gen-4.5"])
def test_failed_polls_are_polled_again_never_resubmitted(project, server, backend):
    project.write(script(backend))
    server.fail_polls = 4
    done = compile_(project, server)
    assert done.returncode == 0, done.stderr
    assert len(server.submissions) == 3 and server.duplicates() == 0


def test_an_expired_link_is_fetched_fresh_without_a_new_render(project, server):
    project.write(script("kling-3"))
    server.expire_first_download = True
    done = compile_(project, server)
    assert done.returncode == 0, done.stderr
    assert len(server.submissions) == 3 and server.duplicates() == 0
    assert all(job.downloads == 2 for job in server.submissions)


# ------------------------------------------------------------ secrets


def test_missing_key_refuses_before_sending(project, server):
    project.write(script("kling-3"))  # served by Runway too: fal asked for by name
    refused = compile_(project, server, "--via", "fal", FAL_KEY="")
    assert refused.returncode == 1
    assert "set FAL_KEY" in refused.stderr
    assert server.requests == []


def test_the_keys_are_nowhere_on_disk_or_screen(project, server):
    project.write(script("seedance-2", action="MARA does something FORBIDDEN."))
    printed = [compile_(project, server, "--keep-going")]
    project.write(script("gen-4.5"))
    printed.append(compile_(project, server, "--jobs", "2", "--dry-run"))
    printed.append(compile_(project, server, "--jobs", "2"))
    env = {**os.environ, **server.env(), "PYTHONPATH": str(ROOT)}
    for command in (["doctor", str(project.root)], ["plan", str(project.root / "film.shot")]):
        printed.append(subprocess.run([sys.executable, "-m", "director", *command], env=env,
                                      capture_output=True, text=True))  # fmt: skip
    assert printed[2].returncode == 0, printed[2].stderr
    doctor = printed[3].stdout
    assert "fal      key set (FAL_KEY)" in doctor and "runway   key set" in doctor
    assert ("kling-3    via fal, runway: takes text, first frame, last frame, character "
            "references (not via runway: character references)") in doctor  # fmt: skip
    for key in (FAL_KEY, RUNWAY_KEY):
        for output in printed:
            assert key not in output.stdout and key not in output.stderr
        for path in project.root.rglob("*"):
            if path.is_file():
                assert key.encode() not in path.read_bytes(), path


# ------------------------------------------------------------ Runway's routes and uploads

ONE_SHOT = """
title: One
format: 320x180 @ 24fps
seed: 7
backend: {backend}

INT. ROOM - NIGHT

SHOT 1 WIDE 0.5s
  keyframe first: {first}
{last}  The lamp goes out.
"""


def one_shot(backend: str, first: str = "refs/room.png", last: str | None = None) -> str:
    return ONE_SHOT.format(backend=backend, first=first,
                           last=f"  keyframe last: {last}\n" if last else "")  # fmt: skip


def test_runway_takes_the_first_and_last_frames_in_one_list(project, server):
    project.write(one_shot("seedance-2", last="refs/hero.png"))
    done = compile_(project, server, "--via", "runway")
    assert done.returncode == 0, done.stderr
    assert server.violations == []
    (job,) = server.submissions
    assert (job.endpoint, job.body["model"]) == ("image_to_video", "seedance2")
    assert [image["position"] for image in job.body["promptImage"]] == ["first", "last"]
    first, last = (normalised(image, {})["uri"] for image in job.body["promptImage"])
    assert first == last == "<image/png 864x496>"


def test_a_picture_above_the_data_uri_limit_is_uploaded_and_never_paid_twice(project, server):
    """Runway's data URIs hold 5 MB: a 1920x1080 picture of noise (about 6 MB as a
    PNG) goes through Runway's upload call instead, as the same lossless PNG.  The
    request's identity is the picture's content, not the upload's URI: a compile that
    lost its cache but kept the hosted journal neither uploads nor submits again."""
    noise = np.random.default_rng(3).integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    Image.fromarray(noise).save(project.root / "refs" / "noise.png")
    project.write(one_shot("kling-3", first="refs/noise.png"))
    done = compile_(project, server, "--via", "runway")
    assert done.returncode == 0, done.stderr
    assert server.violations == []
    (job,) = server.submissions
    (uri,) = server.uploads
    assert job.body["promptImage"] == [{"position": "first", "uri": uri}]
    sent_picture = np.asarray(Image.open(io.BytesIO(server.uploads[uri])).convert("RGB"))
    assert (sent_picture == noise).all()
    cache = project.root / ".director" / "cache"
    for entry in cache.iterdir():
        if entry.name != "hosted":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    again = compile_(project, server, "--via", "runway")
    assert again.returncode == 0, again.stderr
    assert len(server.submissions) == 1 and len(server.uploads) == 1


def test_the_same_picture_on_fal_goes_as_a_jpeg_data_uri(project, server):
    """fal's upload call goes to fixed hosts of fal's own (no base URL to point at a
    test server): above the limit a picture goes to fal as a JPEG data URI."""
    noise = np.random.default_rng(3).integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    Image.fromarray(noise).save(project.root / "refs" / "noise.png")
    project.write(one_shot("kling-3", first="refs/noise.png"))
    done = compile_(project, server, "--via", "fal")
    assert done.returncode == 0, done.stderr
    assert server.violations == [] and server.uploads == {}
    (job,) = server.submissions
    assert normalised(job.body, {})["start_image_url"] == "<image/jpeg 1920x1080>"


def test_what_a_route_cannot_take_is_said_for_that_route(project):
    """Kling 3.0 takes character references (elements) only via fal, and a Runway
    model takes no last frame without a first one: each is W109 at the shot."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FAL_KEY": "", "RUNWAYML_API_SECRET": ""}
    project.write(script("kling-3"))

    def planned(*args: str) -> str:
        return subprocess.run([sys.executable, "-m", "director", "plan",
                               str(project.root / "film.shot"), *args],
                              capture_output=True, text=True, env=env).stderr  # fmt: skip

    by_fal, by_runway = planned("--via", "fal"), planned("--via", "runway")
    assert by_fal.count("W109") == 1  # shot 1: no first frame, so no elements
    assert by_runway.count("W109") == 3  # every shot with MARA
    assert "and only via fal" in by_runway
    project.write(one_shot("seedance-2", last="refs/hero.png").replace(
        "  keyframe first: refs/room.png\n", ""))  # fmt: skip
    assert "W109" not in planned("--via", "fal")
    assert "cannot be conditioned on a last frame" in planned("--via", "runway")


# ------------------------------------------------------------ planning


def test_what_a_model_cannot_take_is_a_located_warning_and_strict_refuses(project, server):
    project.write(script("hailuo-02"))
    planned = subprocess.run([sys.executable, "-m", "director", "plan",
                              str(project.root / "film.shot"), "--strict"],
                             capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    assert planned.returncode == 1
    assert "hailuo-02 cannot be conditioned on reference images" in planned.stderr
    assert "film.shot:" in planned.stderr
    project.write(script("kling-3"))  # its references only go with a first frame: shot 1
    planned = subprocess.run([sys.executable, "-m", "director", "plan",
                              str(project.root / "film.shot")], capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    assert planned.returncode == 0
    assert planned.stderr.count("W109") == 1
    assert "kling-3 cannot be conditioned on reference images without a first frame" in (
        planned.stderr
    )


def test_requests_ask_for_allowed_durations_and_the_nearest_size(project):
    plan = project.plan(script("seedance-2"))
    windows = [n for n in plan.nodes if n.op == "hosted"]
    assert [w.params.seconds for w in windows] == [4, 4, 4]  # Seedance's shortest
    assert {(w.params.width, w.params.height, w.params.resolution) for w in windows} == {
        (864, 496, "480p")  # 16:9 at the smallest size at least as tall as 180 px
    }
    assert [w.params.frames for w in windows] == [96, 96, 96]
    plan = project.plan(script("hailuo-02").replace("320x180", "180x320"))
    window = next(n for n in plan.nodes if n.op == "hosted")
    assert (window.params.aspect, window.params.seconds) == ("16:9", 6)  # its only aspect
