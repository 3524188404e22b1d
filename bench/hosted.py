"""Hosted-model benchmark: 20 shots against the local strict server, --jobs 8 against --jobs 1.

What it does:

* Writes a 20-shot script (320x180 @ 24 fps, half-second shots) for a hosted
  model (`--backend`, default hailuo-02) into a temporary folder.
* Starts the strict TLS server of tests/hosted_server.py on 127.0.0.1 with a
  simulated render latency (`--latency`, default 6 s a job: real renders take
  minutes, so this understates what concurrency saves).
* Compiles the film cold (a fresh cache each time) through `director compile`
  in a subprocess, with the real fal-client / runwayml SDKs, once with
  `--jobs 1` and once with `--jobs N` (`--jobs`, default 8).
* Prints the wall time of each (and of the run itself, from the progress's
  "done in": start-up and delivery are outside it), the speed-up, the load
  average (the machine may be shared), and the director's own overhead per shot: (wall time at
  --jobs 1 - shots x latency) / shots, i.e. starting up, submitting, polling,
  downloading, conforming, cutting and mixing, per shot, with the render itself
  taken out; then the same split by operation from the --jobs 1 run's progress
  lines (a hosted node's time less the simulated render is its submit, polls,
  download and conform).

Run: PYTHONPATH=$PWD python bench/hosted.py [--shots 20] [--latency 6] [--jobs 8]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from hosted_server import HostedServer  # noqa: E402


def film(backend: str, shots: int) -> str:
    lines = [
        "title: Hosted bench",
        "format: 320x180 @ 24fps",
        "seed: 3",
        f"backend: {backend}",
        "",
        "INT. ROOM - DAY",
        "",
    ]
    for number in range(1, shots + 1):
        lines += [f"SHOT {number} WIDE 0.5s", f"  A lamp flickers, take {number}.", ""]
    return "\n".join(lines)


@dataclass
class Compiled:
    wall: float  # the whole command, start-up and delivery included
    run: float  # the run itself (the progress's "done in"): nodes made, requests served
    lines: str  # its progress lines


def compile_once(folder: Path, server: HostedServer, jobs: int) -> Compiled:
    """One cold compile (a fresh cache)."""
    script = folder / "film.shot"
    cache = folder / f"cache-{jobs}-{time.monotonic_ns()}"
    command = [sys.executable, "-m", "director", "compile", str(script),
               "-o", str(folder / f"film-{jobs}.mp4"), "--cache", str(cache),
               "--jobs", str(jobs), "--poll-interval", "0.05"]  # fmt: skip
    env = {**os.environ, **server.env(), "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"compile failed:\n{done.stderr}")
    run = re.search(r"done in ([0-9.]+)s", done.stderr)
    return Compiled(seconds, float(run[1]) if run else float("nan"), done.stderr)


def per_operation(lines: str, shots: int, latency: float) -> dict[str, float]:
    """Milliseconds a shot spends in each operation, from a serial run's progress
    lines ("op  id  0.12s"), the simulated render taken out of the hosted nodes."""
    total: dict[str, float] = {}
    for line in lines.splitlines():
        found = re.search(r"\] (\w+)\s+\S+\s+([0-9.]+)s$", line)
        if found:
            op, seconds = found[1], float(found[2])
            total[op] = total.get(op, 0.0) + seconds
    if "hosted" in total:
        total["hosted"] -= shots * latency
    return {op: 1000 * seconds / shots for op, seconds in total.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="hailuo-02")
    parser.add_argument("--shots", type=int, default=20)
    parser.add_argument("--latency", type=float, default=6.0, help="seconds a job renders")
    parser.add_argument("--jobs", type=int, default=8)
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        (folder / "film.shot").write_text(film(args.backend, args.shots), encoding="utf-8")
        (folder / "server").mkdir()
        with HostedServer(folder / "server", latency=args.latency) as server:
            one = compile_once(folder, server, 1)
            many = compile_once(folder, server, args.jobs)
    load_after = os.getloadavg()
    overhead = (one.wall - args.shots * args.latency) / args.shots
    print(f"{args.shots} shots on {args.backend}, {args.latency:g} s simulated render each, "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    print(f"load average (1, 5, 15 min) before: {_load(load_before)}, after: {_load(load_after)}")
    print(f"--jobs 1:  {one.wall:6.1f} s  (the run itself {one.run:6.1f} s)")
    print(
        f"--jobs {args.jobs}:  {many.wall:6.1f} s  (the run itself {many.run:6.1f} s)   "
        f"speed-up {one.wall / many.wall:.1f}x  (the run itself {one.run / many.run:.1f}x)"
    )
    print(f"start-up and delivery, outside the run: {one.wall - one.run:.1f} s and "
          f"{many.wall - many.run:.1f} s")  # fmt: skip
    print(f"director's own work per shot (start-up, submit, poll, download, conform, cut, "
          f"mix): {overhead * 1000:.0f} ms")  # fmt: skip
    split = per_operation(one.lines, args.shots, args.latency)
    ranked = sorted(split.items(), key=lambda item: -item[1])
    print("  of which, by operation (ms a shot): "
          + ", ".join(f"{op} {ms:.0f}" for op, ms in ranked))  # fmt: skip


def _load(averages: tuple[float, float, float]) -> str:
    return " ".join(f"{value:.1f}" for value in averages)


if __name__ == "__main__":
    main()
