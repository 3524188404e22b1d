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
* Prints the wall time of each, the speed-up, and the director's own overhead
  per shot: (wall time at --jobs 1 - shots x latency) / shots, i.e. submitting,
  polling, downloading, conforming, cutting and mixing, per shot, with the
  render itself taken out.

Run: PYTHONPATH=$PWD python bench/hosted.py [--shots 20] [--latency 6] [--jobs 8]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
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


def compile_once(folder: Path, server: HostedServer, jobs: int) -> float:
    script = folder / "film.shot"
    cache = folder / f"cache-{jobs}-{time.monotonic_ns()}"
    command = [sys.executable, "-m", "director", "compile", str(script), "-q",
               "-o", str(folder / f"film-{jobs}.mp4"), "--cache", str(cache),
               "--jobs", str(jobs), "--poll-interval", "0.05"]  # fmt: skip
    env = {**os.environ, **server.env(), "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"compile failed:\n{done.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="hailuo-02")
    parser.add_argument("--shots", type=int, default=20)
    parser.add_argument("--latency", type=float, default=6.0, help="seconds a job renders")
    parser.add_argument("--jobs", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        (folder / "film.shot").write_text(film(args.backend, args.shots), encoding="utf-8")
        (folder / "server").mkdir()
        with HostedServer(folder / "server", latency=args.latency) as server:
            one = compile_once(folder, server, 1)
            many = compile_once(folder, server, args.jobs)
    overhead = (one - args.shots * args.latency) / args.shots
    print(f"{args.shots} shots on {args.backend}, {args.latency:g} s simulated render each")
    print(f"--jobs 1:  {one:7.1f} s")
    print(f"--jobs {args.jobs}:  {many:7.1f} s   speed-up {one / many:.1f}x")
    print(f"director's own work per shot (submit, poll, download, conform, cut): "
          f"{overhead * 1000:.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
