"""Benchmark: what a very large reference image costs `director score`.

Writes a one-second 64x64 clip and grey RGB PNG references of 7000x7000
(49 MP, under the 64 MP limit: decoded, then scaled to 2048 px) and 9000x9000
and 13000x13000 (past it: refused from the header), then runs
`director score CLIP --ref PNG --embedder appearance` in a fresh process for
each and prints the wall time, the CPU time, the peak resident memory
(`wait4`'s `ru_maxrss`) and the exit status (2 for a refused reference).

    .venv/bin/python bench/score_reference.py [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
SIDES = (7000, 9000, 13000)


def measure(folder: Path, reference: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "director", "score", "take.mp4", "--ref", reference]
    command += ["--embedder", "appearance"]
    started = time.perf_counter()
    child = subprocess.Popen(
        command, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(child.pid, 0)
    return {
        "exit": os.waitstatus_to_exitcode(status),
        "wall_s": round(time.perf_counter() - started, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_mb": round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
    }


def main() -> int:
    from case_refs import _clip, huge_png

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    figures = {}
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        _clip(folder / "take.mp4")
        for side in SIDES:
            huge_png(folder / f"ref{side}.png", side, side)
            figures[f"{side}x{side}"] = measure(folder, f"ref{side}.png")
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"{'reference':<12} {'MP':>4} {'exit':>4} {'wall s':>7} {'CPU s':>6} {'peak MB':>8}")
    for (label, f), side in zip(figures.items(), SIDES, strict=True):
        print(
            f"{label:<12} {side * side / 1e6:>4.0f} {f['exit']:>4} {f['wall_s']:>7.2f} "
            f"{f['cpu_s']:>6.2f} {f['peak_mb']:>8.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
