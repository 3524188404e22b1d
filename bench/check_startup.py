"""Start-up benchmark: the wall time of `director check` in a fresh process.

What a user waits for when an editor or a pre-commit hook runs `director
check` on every save: the interpreter, the imports and the check.  Two
scripts: a three-line one (where the imports are nearly all of it) and the
feature-length script of `bench/frontend.py` (1,500 shots, kept with
`--keep`).  For each, the best of `--repeat` runs of

    python -m director check FILE

in a fresh process, then, from one run with `-X importtime`, the seconds
spent importing and whether torch, PyAV (`av`), Pillow (`PIL`) or numpy
were imported at all.

    PYTHONPATH=$PWD python bench/check_startup.py [--feature DIR/film.shot] [--repeat 7]

Without `--feature` the feature-length project is generated into a
temporary folder first (bench/frontend.py --keep).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
THREE_LINES = "title: Three lines\nformat: 640x360 @ 24fps\nSHOT 1 WIDE 2s\n"
HEAVY = ("torch", "av", "PIL", "numpy")


def _run(script: Path, *flags: str) -> subprocess.CompletedProcess:
    command = [sys.executable, *flags, "-m", "director", "check", str(script)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=script.parent)


def timed(script: Path, repeat: int) -> tuple[float, float]:
    """The best wall time and the best CPU time (user + system: less swayed by other
    jobs on a shared machine) of `repeat` runs."""
    best, best_cpu = float("inf"), float("inf")
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = _run(script)
        best = min(best, time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        best_cpu = min(best_cpu, cpu)
        if done.returncode != 0:
            raise SystemExit(f"{script}: director check failed:\n{done.stderr}")
    return best, best_cpu


def imports(script: Path) -> tuple[float, list[str]]:
    """Seconds spent importing (the top-level imports' cumulative times) and which of
    the heavy packages were imported."""
    log = _run(script, "-X", "importtime").stderr
    total, heavy = 0, set()
    for line in log.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
        if not match:
            continue
        cumulative, depth, name = int(match[1]), len(match[2]), match[3]
        if depth == 1:  # a top-level import: its time includes everything it imported
            total += cumulative
        top = name.split(".")[0]
        if top in HEAVY:
            heavy.add(top)
    return total / 1e6, sorted(heavy)


def feature_script(folder: Path) -> Path:
    subprocess.run(
        [sys.executable, str(REPO / "bench" / "frontend.py"), "--repeat", "1", "--keep",
         str(folder)],
        check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    (script,) = folder.glob("*.shot")
    return script


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feature", type=Path, help="the feature-length script (generated)")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        small = Path(folder) / "three.shot"
        small.write_text(THREE_LINES, encoding="utf-8")
        feature = args.feature or feature_script(Path(folder) / "feature")
        for label, script in (("three lines", small), ("feature length", feature)):
            seconds, cpu = timed(script, args.repeat)
            importing, heavy = imports(script)
            print(
                f"{label:<15} {seconds:.2f} s wall, {cpu:.2f} s CPU (best of {args.repeat}); "
                f"{importing:.2f} s importing; heavy imports: {', '.join(heavy) or 'none'}"
            )


if __name__ == "__main__":
    main()
