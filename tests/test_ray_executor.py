"""The Ray executor on a real local Ray cluster: the same film, worker faults, the schedule.

One cluster (`ray.init(num_cpus=2)`, no dashboard, its files under the test's
temporary folder) serves the whole module; the example is the chase (14 shots,
two `continuous` chains) at a small format, compiled for real.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import ray

from director.cache import Cache
from director.cli import main
from director.operations import RunContext
from director.ray_executor import (
    ShotWorker,
    capacity,
    describe,
    execute,
    ranks,
    simulate,
    worker_resources,
)
from director.run import execute as local_execute

EXAMPLES = Path(__file__).resolve().parents[1] / "scripts_examples"
NODE_LINE = re.compile(r"^\[\s*\d+/\d+ shots\] (\S+)\s+(\S+)\s+[\d.]+s$")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    temp = tmp_path_factory.mktemp("ray")
    # ray.init leaves its SIGTERM handler and excepthook behind: put them back after.
    handler, excepthook = signal.getsignal(signal.SIGTERM), sys.excepthook
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        _temp_dir=str(temp),
        object_store_memory=100 * 2**20,
        logging_level=logging.ERROR,
        log_to_driver=False,
    )
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()
    signal.signal(signal.SIGTERM, handler)
    sys.excepthook = excepthook


def small_example(folder: Path, name: str) -> Path:
    """An example copied with its references, at 256x144 so that it is quick."""
    shutil.copytree(EXAMPLES / "refs", folder / "refs")
    text = (EXAMPLES / f"{name}.shot").read_text(encoding="utf-8")
    assert "format: 1280x720 @ 24fps" in text
    script = folder / f"{name}.shot"
    script.write_text(text.replace("format: 1280x720 @ 24fps", "format: 256x144 @ 24fps"))
    return script


def compile_locally(script: Path, folder: Path) -> Path:
    out = folder / f"{script.stem}.mp4"
    cache = folder / "cache"
    assert main(["compile", str(script), "-o", str(out), "-q", "--cache", str(cache)]) == 0
    return out


@pytest.fixture(scope="module")
def chase(tmp_path_factory) -> Path:
    """The chase: 14 shots, two chains of `continuous` shots."""
    return small_example(tmp_path_factory.mktemp("chase"), "chase")


@pytest.fixture(scope="module")
def reference(chase, tmp_path_factory) -> Path:
    """The chase compiled by the local executor."""
    return compile_locally(chase, tmp_path_factory.mktemp("local"))


@pytest.mark.parametrize("name", ["chase", "lighthouse"])
def test_the_ray_executor_makes_the_same_film_as_the_local_one(cluster, name, chase, reference,
                                                               tmp_path, capsys):  # fmt: skip
    # The chase has chains of continuous shots; the lighthouse two speakers' dialogue.
    if name == "chase":
        script = chase
    else:
        script = small_example(tmp_path / "project", name)
        reference = compile_locally(script, tmp_path / "local")
    out = tmp_path / f"{name}.mp4"
    cache = tmp_path / "cache"
    command = ["compile", str(script), "-o", str(out), "--cache", str(cache), "--executor", "ray"]
    capsys.readouterr()
    assert main(command) == 0
    err = capsys.readouterr().err
    assert "2 Ray workers" in err
    assert out.read_bytes() == reference.read_bytes()
    for sidecar in (".srt", ".vtt", ".plan.json"):
        ours, theirs = out.with_suffix(sidecar), reference.with_suffix(sidecar)
        assert ours.read_bytes() == theirs.read_bytes(), sidecar
    # A driver started again resumes from the cache: nothing is made twice.
    assert main(command) == 0
    assert "ran 0 nodes" in capsys.readouterr().err


def test_shots_are_made_on_the_workers_and_the_film_on_the_driver(cluster, project):
    plan = project.plan(TWO_SHOTS)
    context = RunContext(plan, project.root)
    result = execute(plan, project.root, Cache(project.root / "cache"), context=context)
    assert result.ok and plan.output in result.outputs
    made = {node.op for node in plan.nodes if node.id in result.ran}
    assert {"generate", "segment", "mux"} <= made
    assert context.backend_calls == {}  # no generation in this process


def test_a_killed_worker_is_retried_without_losing_finished_shots(cluster, chase, reference,
                                                                 tmp_path, capsys):  # fmt: skip
    out = tmp_path / "chase.mp4"
    cache = tmp_path / "cache"
    killed: list[tuple[int, str]] = []
    finished: dict[Path, int] = {}  # entries made before the kill → their inode

    def kill_a_worker_mid_node() -> None:
        deadline = time.monotonic() + 120
        while not killed and time.monotonic() < deadline:
            entries = list((cache / "entries").glob("*/*/entry.json"))
            staging = cache / "staging"
            if len(entries) >= 20 and staging.is_dir():
                for folder in staging.iterdir():
                    pid = int(folder.name.split(".")[1])
                    if pid != os.getpid() and _is_ray_worker(pid):
                        finished.update({p.parent: p.parent.stat().st_ino for p in entries})
                        os.kill(pid, signal.SIGKILL)
                        killed.append((pid, folder.name.split(".")[0]))
                        break
            time.sleep(0.005)

    killer = threading.Thread(target=kill_a_worker_mid_node)
    killer.start()
    code = main(["compile", str(chase), "-o", str(out), "--cache", str(cache),
                 "--executor", "ray"])  # fmt: skip
    killer.join()
    err = capsys.readouterr().err
    assert killed, "no worker was caught in the middle of a node"
    assert code == 0, err
    assert out.read_bytes() == reference.read_bytes()
    digest = killed[0][1]
    assert Cache(cache).has(digest)  # the killed worker's node, made again
    # Every shot finished before the kill is still the same entry, never made again,
    # and no node was made twice.
    assert finished and all(folder.stat().st_ino == inode for folder, inode in finished.items())
    made = [match[2] for line in err.splitlines() if (match := NODE_LINE.match(line))]
    assert len(made) == len(set(made))
    assert f"ran {len(made)} nodes" in err


def test_dry_run_shows_the_parallel_schedule_and_its_makespan(chase, capsys):
    command = ["compile", str(chase), "--dry-run", "--executor", "ray", "--workers", "2"]
    command += ["--cache", str(chase.parent / "empty-cache")]
    assert main(command) == 0
    out = capsys.readouterr().out
    assert "parallel schedule on 2 workers:" in out
    assert "worker 1" in out and "worker 2" in out
    assert "estimated makespan: " in out


SCHEDULED = """
title: Schedule
format: 320x180 @ 24fps

INT. ROOM - DAY

SHOT 1 WIDE 2s
  A door opens.

SHOT 2 MEDIUM 2s continuous
  A hand reaches in.

SHOT 3 CLOSE-UP 2s continuous
  The hand finds the switch.

SHOT 4 WIDE 1s
  takes: 2
  The light comes on.
"""


def test_the_schedule_runs_chains_in_order_longest_first_and_takes_side_by_side(project):
    plan = project.plan(SCHEDULED)
    # Three workers: one for the chain of continuous shots, two for shot 4's takes.
    slots = {slot.node.id: slot for slot in simulate(plan, 3, done=lambda node: False)}
    chain = [slots[f"shot/{n}/take0/window0"] for n in (1, 2, 3)]
    assert chain[0].start == 0  # the longest chain starts first
    assert chain[0].end <= chain[1].start and chain[1].end <= chain[2].start
    rank = ranks(plan)
    assert rank["shot/1/take0/window0"] > rank["shot/4/take0/window0"]
    takes = slots["shot/4/take0/window0"], slots["shot/4/take1/window0"]
    assert takes[0].worker != takes[1].worker
    assert takes[0].start < takes[1].end and takes[1].start < takes[0].end  # side by side
    lines = describe(plan, 3, done=lambda node: False)
    serial = sum(s.end - s.start for s in slots.values() if s.node.op == "generate")
    makespan = max(s.end for s in slots.values())
    assert makespan < serial
    assert lines[-1].startswith("estimated makespan: ")


def test_a_worker_that_cannot_see_the_cache_is_refused(chase, tmp_path):
    worker = ShotWorker(str(chase.parent), str(tmp_path / "cache"), {})
    token = tmp_path / "token"
    token.write_text("abc", encoding="utf-8")
    assert worker.probe(str(token), "abc") is None
    assert "reads other content" in worker.probe(str(token), "xyz")
    assert "cannot read" in worker.probe(str(tmp_path / "elsewhere" / "token"), "abc")
    assert "cannot see the project" in ShotWorker("/nowhere", str(tmp_path), {}).probe(
        str(token), "abc"
    )


def test_ray_flags_need_the_ray_executor(chase, capsys):
    assert main(["compile", str(chase), "--workers", "2"]) == 2
    assert "--workers needs --executor ray" in capsys.readouterr().err


def _is_ray_worker(pid: int) -> bool:
    try:
        return b"ray::" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


TWO_SHOTS = """
title: Two
format: 160x90 @ 24fps

INT. ROOM - DAY

SHOT 1 WIDE 1s
  A door opens.

SHOT 2 MEDIUM 1s
  A light comes on.

SHOT 3 WIDE 1s continuous
  The room is empty.
"""


def test_a_shot_that_fails_on_a_worker_is_reported_as_a_local_failure(cluster, project):
    plan = project.plan(TWO_SHOTS)
    window = next(n for n in plan.nodes if n.id == "shot/2/take0/window0")
    window.params.width = 161  # H.264 refuses an odd width: the encoder fails for real
    results = {}
    for name, run in (("local", local_execute), ("ray", execute)):
        cache = Cache(project.root / f"cache-{name}")
        results[name] = run(plan, project.root, cache, keep_going=True)
    local, remote = results["local"], results["ray"]
    assert [str(f) for f in remote.failures] == [str(f) for f in local.failures]
    assert "film.shot:9:1: generate shot/2/take0/window0 failed: " in str(local.failures[0])
    assert [n.id for n in remote.blocked] == [n.id for n in local.blocked]
    assert {"shot/3/select", "film/mux"} <= {n.id for n in remote.blocked}
    assert "shot/1/segment" in remote.ran  # the shots that do not depend on it are made


def test_workers_ask_for_what_their_backends_declare(project):
    from backends.wan import WanBackend

    assert WanBackend.resources({}) == {"num_cpus": 1, "num_gpus": 1}
    assert WanBackend.resources({"device": "cuda:1"}) == {"num_cpus": 1, "num_gpus": 1}
    assert WanBackend.resources({"device": "cpu"}) == {"num_cpus": 1}
    plan = project.plan(SCHEDULED)
    need = worker_resources(plan, {}, plan.nodes)  # the animatic: a CPU and its memory
    dearest = max(n.cost.memory_bytes for n in plan.nodes if n.op == "generate")
    assert need == {"num_cpus": 1, "memory": dearest}
    nodes = [
        {"Alive": True, "Resources": {"CPU": 16.0, "GPU": 2.0, "memory": 64e9}},
        {"Alive": True, "Resources": {"CPU": 1.0, "GPU": 8.0, "memory": 64e9}},
        {"Alive": False, "Resources": {"CPU": 64.0, "GPU": 8.0, "memory": 64e9}},
    ]
    assert capacity(nodes, {"num_cpus": 1, "num_gpus": 1}) == 2 + 1  # GPUs, then a CPU, bind
    assert capacity(nodes, need) == 17
    assert capacity(nodes, {"num_cpus": 1, "num_gpus": 4}) == 0 + 1
    assert capacity(nodes, {"num_cpus": 1, "num_gpus": 16}) == 0


def test_a_killed_driver_is_resumed_from_the_cache(cluster, chase, reference, tmp_path):
    out = tmp_path / "chase.mp4"
    cache = tmp_path / "cache"
    command = [sys.executable, "-m", "director", "compile", str(chase), "-o", str(out), "-q",
               "--cache", str(cache), "--executor", "ray", "--address", cluster]  # fmt: skip
    driver = subprocess.Popen(command, cwd=chase.parent, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and driver.poll() is None:
        if len(list((cache / "entries").glob("*/*/entry.json"))) >= 30:
            break
        time.sleep(0.01)
    assert driver.poll() is None, driver.stderr.read().decode()
    driver.kill()  # SIGKILL: no clean-up at all; its workers go with its job
    driver.wait()
    assert not out.exists()
    finished = {
        p.parent: p.parent.stat().st_ino for p in (cache / "entries").glob("*/*/entry.json")
    }
    assert len(finished) >= 30
    code = main(["compile", str(chase), "-o", str(out), "-q", "--cache", str(cache),
                 "--executor", "ray"])  # fmt: skip
    assert code == 0
    assert out.read_bytes() == reference.read_bytes()
    # What the killed driver's workers had finished was reused, not made again.
    assert all(folder.stat().st_ino == inode for folder, inode in finished.items())


def test_without_time_estimates_the_schedule_is_in_frame_steps(project, capsys):
    plan = project.plan(SCHEDULED, backend="wan")  # wan gives no time estimate
    rank = ranks(plan)
    assert rank["shot/1/take0/window0"] > rank["shot/4/take0/window0"] > 0
    lines = describe(plan, 3, done=lambda node: False)
    assert "frame-steps" in lines[0] and "frame-steps on 3 workers" in lines[-1]


def test_a_node_that_fails_on_the_driver_is_reported_and_the_workers_go_on(cluster, project):
    """The driver's own nodes run beside the loop that feeds the workers: a failure
    there is the local executor's failure, and the shots are still made."""
    plan = project.plan(TWO_SHOTS)
    mix = next(n for n in plan.nodes if n.id == "film/mix")
    mix.params.codec = "h265"  # a codec no sound is coded for here
    results = {}
    for name, run in (("local", local_execute), ("ray", execute)):
        cache = Cache(project.root / f"cache-{name}")
        results[name] = run(plan, project.root, cache, keep_going=True)
    local, remote = results["local"], results["ray"]
    assert len(local.failures) == 1 and "mix film/mix failed" in str(local.failures[0])
    assert [str(f) for f in remote.failures] == [str(f) for f in local.failures]
    assert [n.id for n in remote.blocked] == [n.id for n in local.blocked] == ["film/mux"]
    assert {"shot/1/segment", "shot/2/segment", "shot/3/segment"} <= set(remote.ran)
