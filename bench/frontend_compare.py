"""The front end's CPU cost in two checkouts, on the same script, measured in turns.

`bench/frontend.py` times one checkout; on a shared machine its figures drift
with the load from one run to the next, so two runs made apart compare badly.
This generates `bench/frontend.py`'s feature-length script once, starts one
worker process per checkout (each imports only its own `director`), and asks
them in turn, swapping who goes first each round, to check the script and to
plan it (writing the plan's JSON, as `director plan` does).  It prints each
stage's best and median CPU seconds (`time.process_time`) in each checkout, and
the ratio of the second to the first.

    PYTHONPATH=$PWD python bench/frontend_compare.py BEFORE_DIR [AFTER_DIR]
        [--rounds 10] [--shots 1500] [--seed N] [--keep DIR]

BEFORE_DIR and AFTER_DIR are checkouts (e.g. `git worktree add /tmp/before
6717c7f`); AFTER_DIR is this repository by default.  Exit status 0.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import frontend  # noqa: E402  (bench/frontend.py: the script's generator)

# Run inside each checkout: one stage per line read, its CPU seconds written back.
WORKER = """
import gc, sys, time
from pathlib import Path
from director import media
from director.check import check_file
from director.plan import plan_film

path = Path(sys.argv[1])

def check():
    probe_cache = getattr(media, "_probe_cached", None)
    if probe_cache is not None:
        probe_cache.cache_clear()
    return check_file(path)

film = check().film

def plan():
    planned = plan_film(film)
    planned.plan.to_json()
    return planned

stages = {"check": check, "plan": plan}
for name in stages:
    stages[name]()  # warm-up: the grammar, the templates, the backends' imports
for line in sys.stdin:
    gc.collect()
    start = time.process_time()
    result = stages[line.strip()]()
    print(time.process_time() - start, flush=True)
    del result
"""


def worker(checkout: Path, script: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, str(script)], cwd=checkout, env=env,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip


def measure(checkouts: list[Path], script: Path, rounds: int) -> dict:
    """{(checkout, stage): [CPU seconds of each round]}, the checkouts taking turns."""
    workers = [worker(c, script) for c in checkouts]
    times: dict = {(c, s): [] for c in checkouts for s in ("check", "plan")}
    try:
        for index in range(rounds):
            order = list(zip(checkouts, workers, strict=True))
            for stage in ("check", "plan"):
                for checkout, process in order if index % 2 == 0 else order[::-1]:
                    process.stdin.write(stage + "\n")
                    process.stdin.flush()
                    line = process.stdout.readline()
                    if not line:
                        raise SystemExit(f"{checkout}: the worker stopped (does the script plan?)")
                    times[(checkout, stage)].append(float(line))
    finally:
        for process in workers:
            process.stdin.close()
            process.wait()
    return times


def report(checkouts: list[Path], times: dict, rounds: int) -> str:
    before, after = checkouts
    out = [
        f"CPU seconds, best and median of {rounds} rounds taken in turns",
        f"  before: {before}",
        f"  after:  {after}",
        "",
        f"  {'stage':<14}{'before':>16}{'after':>16}{'after / before':>22}",
    ]
    totals = {c: [a + b for a, b in zip(times[(c, 'check')], times[(c, 'plan')], strict=True)]
              for c in checkouts}  # fmt: skip
    rows = [("check", {c: times[(c, "check")] for c in checkouts}),
            ("plan", {c: times[(c, "plan")] for c in checkouts}),
            ("check + plan", totals)]  # fmt: skip
    for stage, runs in rows:
        best = [min(runs[c]) for c in checkouts]
        median = [statistics.median(runs[c]) for c in checkouts]
        cells = [f"{b:.3f} / {m:.3f}" for b, m in zip(best, median, strict=True)]
        ratio = f"{best[1] / best[0]:.2f} / {median[1] / median[0]:.2f}"
        out.append(f"  {stage:<14}{cells[0]:>16}{cells[1]:>16}{ratio:>22}")
    out.append("  (each cell: best / median)")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path, help="the checkout to compare against")
    parser.add_argument("after", type=Path, nargs="?", default=REPO, help="(this one)")
    parser.add_argument("--rounds", type=int, default=10, help="turns per stage (10)")
    parser.add_argument("--shots", type=int, default=1500, help="shots to generate (1500)")
    parser.add_argument("--seed", type=int, default=frontend.SEED, help="generator seed")
    parser.add_argument("--keep", type=Path, help="write the project into DIR and keep it")
    args = parser.parse_args(argv)
    checkouts = [args.before.resolve(), args.after.resolve()]
    with tempfile.TemporaryDirectory(prefix="shot-compare-") as tmp:
        root = (args.keep or Path(tmp)).resolve()
        root.mkdir(parents=True, exist_ok=True)
        script = frontend.generate(root, args.shots, args.seed)["path"]
        print(report(checkouts, measure(checkouts, script, args.rounds), args.rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
