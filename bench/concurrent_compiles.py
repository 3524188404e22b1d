"""Two compiles of one script on one cache at once: do both succeed, with one film?

Each try starts two `python -m director compile` processes together on the
same script and the same fresh cache (so both make every node and race to
commit each one), each writing its own film, and counts the tries where both
exit 0 and the two films are the same bytes.  A failing try prints both
processes' stderr.

    .venv/bin/python bench/concurrent_compiles.py [--tries 20] [--shots 6]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def script(shots: int) -> str:
    """A small animatic: `shots` one-second shots, every other one with a line."""
    lines = ["title: Race", "format: 64x36 @ 12fps", "character ANA", "  description: a guard", ""]
    for number in range(1, shots + 1):
        lines += [f"SHOT {number} WIDE 1s", f"  ANA waits by door {number}."]
        if number % 2 == 0:
            lines += ["  ANA", f"    Door {number}, still shut."]
        lines.append("")
    return "\n".join(lines)


def one_try(folder: Path, cache: Path) -> tuple[bool, str]:
    """Run the pair once; (both exit 0 with the same film bytes, what went wrong)."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    films = [folder / f"film_{side}.mp4" for side in "ab"]
    command = [sys.executable, "-m", "director", "compile", str(folder / "race.shot"), "-q"]
    running = [
        subprocess.Popen(
            [*command, "-o", str(film), "--cache", str(cache)],
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
        )
        for film in films
    ]
    errors = [process.communicate(timeout=300)[1] for process in running]
    codes = [process.returncode for process in running]
    if codes != [0, 0]:
        return False, f"exit statuses {codes}:\n" + "\n".join(errors)
    if films[0].read_bytes() != films[1].read_bytes():
        return False, "the two films differ"
    return True, ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tries", type=int, default=20)
    parser.add_argument("--shots", type=int, default=6)
    args = parser.parse_args()
    good = 0
    with tempfile.TemporaryDirectory(prefix="director-race-") as name:
        folder = Path(name)
        (folder / "race.shot").write_text(script(args.shots), encoding="utf-8")
        for attempt in range(args.tries):
            ok, problem = one_try(folder, folder / f"cache{attempt}")
            good += ok
            if not ok:
                print(f"try {attempt + 1}: {problem}", file=sys.stderr)
    print(f"{good} of {args.tries} tries: both compiles exit 0 with identical films")
    return 0 if good == args.tries else 1


if __name__ == "__main__":
    raise SystemExit(main())
