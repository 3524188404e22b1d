"""Benchmark: what printing a flood of diagnostics costs.

Writes two scripts with 20,000 misspelt names (each a W107 warning): the one
filed in issue 18, all on one action line of about 100 kB (checked with
`--max-line-length 200000`, since the default refuses lines over 10,000
characters), and the same names on twenty lines of 5 kB (default limits).  Runs
`director check` on them in a fresh process per case: human output (capped at
50 per file, the default), human output with every warning shown
(`--max-diagnostics 0`), GitHub annotations and JSON.  For each it prints the
wall time, the CPU time, the peak resident memory of the process (`wait4`'s
`ru_maxrss`), and the bytes written.  Targets (issue 18): under 500 MB and
under 10 s each.

    .venv/bin/python bench/diagnostics.py [--warnings 20000] [--json]

Exit status 0 whatever the figures; 2 if a case exits other than 0.
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
TARGET_MB, TARGET_S = 500, 10.0

LONG_LINE = ["--max-line-length", "200000"]
CASES = {
    "one line, human (50 shown)": ("one", LONG_LINE),
    "one line, human, all shown": ("one", [*LONG_LINE, "--max-diagnostics", "0"]),
    "one line, github": ("one", [*LONG_LINE, "--format", "github"]),
    "one line, json": ("one", [*LONG_LINE, "--format", "json"]),
    "twenty lines, human (50 shown)": ("twenty", []),
    "twenty lines, human, all shown": ("twenty", ["--max-diagnostics", "0"]),
}


def write_script(folder: Path, warnings: int, lines: int) -> Path:
    path = folder / f"flood{lines}.shot"
    per_line = warnings // lines
    action = "".join("  MARA sees " + " ".join(["MRAA"] * per_line) + ".\n" for _ in range(lines))
    path.write_text(
        "title: A flood of warnings\ncharacter MARA\n  description: a keeper\n\n"
        f"SHOT 1 MEDIUM 4s\n{action}",
        encoding="utf-8",
    )
    return path


def measure(script: Path, flags: list[str]) -> dict:
    """One `director check` in its own process: wall s, CPU s, peak RSS MB, bytes out."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "director", "check", *flags, script.name]
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=script.parent, env=env, stdout=out, stderr=out)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        size = out.seek(0, os.SEEK_END)
    return {
        "exit": child.returncode,
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_mb": round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
        "output_bytes": size,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warnings", type=int, default=20_000)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        scripts = {
            "one": write_script(Path(folder), args.warnings, 1),
            "twenty": write_script(Path(folder), args.warnings, 20),
        }
        size = scripts["one"].stat().st_size
        figures = {name: measure(scripts[shape], flags) for name, (shape, flags) in CASES.items()}
    if args.json:
        print(json.dumps({"script_bytes": size, "cases": figures}, indent=2))
    else:
        print(f"{args.warnings:,} warnings, script {size / 1000:.0f} kB")
        print(f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
        print(f"{'case':<30} {'wall s':>7} {'CPU s':>6} {'peak MB':>8} {'output':>12}  verdict")
        for name, f in figures.items():
            ok = f["peak_mb"] < TARGET_MB and f["wall_s"] < TARGET_S and f["exit"] == 0
            print(
                f"{name:<30} {f['wall_s']:>7.2f} {f['cpu_s']:>6.2f} {f['peak_mb']:>8.1f} "
                f"{f['output_bytes']:>12,}  {'ok' if ok else 'OVER'}"
            )
    return 0 if all(f["exit"] == 0 for f in figures.values()) else 2


if __name__ == "__main__":
    sys.exit(main())
