"""Coverage-guided fuzzing of the whole front end (`check`, then `plan`) with atheris.

Every input is written as a project's top script and checked; when the check
passes, it is planned.  The oracle is the one tests/test_fuzz.py applies to its
2,000 cases in CI (`compile_bytes`): nothing but diagnostics may come out — no
exception, every diagnostic with a registered code and a place inside the file
it names, every renderer coping with it, a film exactly when there is no error.

The seed corpus is every script of scripts_examples/ and tests/check_cases/
(the project holds their reference files and imports), mutated by libFuzzer
under coverage feedback from director/ and backends/, with a dictionary of the
language's keywords and of hostile words (path escapes, look-alikes, NULs).

    .venv/bin/pip install -e ".[bench]"   # once: atheris is a benchmark-only dependency
    .venv/bin/python bench/fuzz.py --seconds 600 [--inputs N] [--workers 2] [--json]

Each worker is one libFuzzer process with its own copy of the corpus and its
own seed; the figures are summed.  A crash stops its worker, which writes the
input to bench/fuzz-crashes/ and prints the traceback; turn each into a case in
tests/check_cases/ or a test in tests/test_fuzz.py.  Exit status: 0 no internal
error, 1 a crash was found, 2 atheris is not installed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
CRASHES = ROOT / "bench" / "fuzz-crashes"
KEYWORDS = [
    "title:", "format:", "style:", "negative:", "seed:", "backend:", "import:", "character",
    "location", "audio", "image", "video", "description:", "ref:", "voice:", "INT.", "EXT.",
    "INT./EXT.", "SHOT", "WIDE", "MEDIUM", "CLOSE-UP", "EXTREME WIDE", "TWO-SHOT", "INSERT",
    "on", "camera:", "static", "pan", "tilt", "dolly", "zoom", "orbit", "track", "crane",
    "handheld", "left", "right", "up", "down", "in", "out", "slow", "fast", "then", "over",
    "ease", "music", "sfx", "ambience", "from", "for", "fade", "gain", "duck under dialogue",
    "keyframe first:", "keyframe last:", "takes:", "consistency:", "lens:", "angle:",
    "continuous", "CUT TO:", "DISSOLVE TO:", "WIPE TO:", "FADE IN:", "FADE OUT:",
    "SMASH CUT TO:", "(V.O.)", "(O.S.)", "(beat)", "4s", "12f", "250ms", "00:00:01:00",
    "90deg", "-6dB", "1.5x", "1280x720", "@ 24fps", "23.976fps",
    "../", "/etc/passwd", "refs/face.png", "file:///", "http://", "refs\u2215x.png",
    "\uff0e\uff0e/", "\\\\", "~/", "\x00", "\t", "\r\n", "\ufeff", "\u2028", "\u202e",
    # an attacker's: wide numbers, terminal escapes, C1 controls, deep imports
    "9" * 64, "1e400", "nan", "inf", "\x1b]0;t\x07", "\x1b[2J", "\x9b", "\x85", "\r",
    "import: nest/n0000.shot", "import: nest/n0990.shot",
]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=60, help="how long each worker runs")
    parser.add_argument(
        "--inputs", type=int, default=0, help="stop each worker after this many inputs (0: no)"
    )
    parser.add_argument("--workers", type=int, default=1, help="libFuzzer processes in parallel")
    parser.add_argument("--seed", type=int, default=1, help="the first worker's seed")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--worker", nargs=2, metavar=("PROJECT", "CORPUS"), help=argparse.SUPPRESS)
    parser.add_argument("libfuzzer", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        import atheris  # noqa: F401
    except ImportError:
        print('bench/fuzz.py needs atheris: pip install -e ".[bench]"', file=sys.stderr)
        return 2
    if args.worker:
        return _worker(Path(args.worker[0]), Path(args.worker[1]), args.libfuzzer)
    return _drive(args)


# ------------------------------------------------------------------ the driver


def _drive(args) -> int:
    sys.path.insert(0, str(TESTS))
    from test_fuzz import make_fuzz_project

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="director-fuzz-") as folder:
        work = Path(folder)
        seeds = _seed_corpus(work / "seeds")
        dictionary = work / "shot.dict"
        dictionary.write_text(
            "".join(f'"{_escape(word)}"\n' for word in KEYWORDS), encoding="utf-8"
        )
        artifacts = work / "crashes"
        artifacts.mkdir()
        workers = []
        for index in range(args.workers):
            project = make_fuzz_project(work / f"project{index}")
            corpus = work / f"corpus{index}"
            shutil.copytree(seeds, corpus)
            command = [
                sys.executable, __file__, "--worker", str(project), str(corpus), "--",
                f"-max_total_time={args.seconds}", f"-seed={args.seed + index}",
                f"-dict={dictionary}", "-max_len=32768", "-timeout=20", "-rss_limit_mb=4096",
                f"-artifact_prefix={artifacts}/", "-print_final_stats=1",
                *([f"-runs={args.inputs}"] if args.inputs else []),
            ]  # fmt: skip
            log = (work / f"worker{index}.log").open("w")
            workers.append((subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT), log))
        results = []
        for index, (process, log) in enumerate(workers):
            process.wait()
            log.close()
            text = (work / f"worker{index}.log").read_text(errors="replace")
            results.append(_figures(text, process.returncode))
            if process.returncode != 0:
                print(text[-6000:], file=sys.stderr)
        seed_count = len(list(seeds.iterdir()))
        crashes = []
        for found in sorted(artifacts.iterdir()):  # kept beside this script, to replay
            CRASHES.mkdir(parents=True, exist_ok=True)
            shutil.copy(found, CRASHES / found.name)
            crashes.append(os.path.relpath(CRASHES / found.name, ROOT))
    total = {
        "seconds": round(time.monotonic() - started, 1),
        "workers": args.workers,
        "seed_inputs": seed_count,
        "inputs": sum(r["inputs"] for r in results),
        "coverage_edges": max((r["edges"] for r in results), default=0),
        "internal_errors": sum(r["crashed"] for r in results),
        "crash_files": crashes,
    }
    if args.json:
        print(json.dumps(total, indent=2))
    else:
        rate = total["inputs"] / max(total["seconds"], 1e-9)
        print(
            f"{total['inputs']:,} inputs in {total['seconds']:.0f} s ({rate:,.0f}/s, "
            f"{args.workers} workers) from {seed_count} seed scripts; coverage "
            f"{total['coverage_edges']:,} edges; internal errors: {total['internal_errors']}"
        )
        for crash in total["crash_files"]:
            print(f"  crash input: {crash}")
    return 1 if total["internal_errors"] else 0


def _seed_corpus(folder: Path) -> Path:
    """Every example script and every diagnostics case, one file each."""
    folder.mkdir(parents=True)
    sources = sorted((ROOT / "scripts_examples").rglob("*.shot"))
    sources += sorted((TESTS / "check_cases").rglob("*.shot"))
    for index, path in enumerate(sources):
        (folder / f"{index:04d}-{path.stem}").write_bytes(path.read_bytes())
    return folder


def _escape(word: str) -> str:
    """A libFuzzer dictionary entry: printable ASCII as is, other bytes as \\xNN."""
    return "".join(
        chr(b) if 32 <= b < 127 and chr(b) not in '"\\' else f"\\x{b:02x}"
        for b in word.encode("utf-8")
    )


def _figures(log: str, returncode: int) -> dict:
    runs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", log)
    if not runs:  # killed before its final stats: the last progress line
        runs = re.findall(r"^#(\d+)\s", log, flags=re.M)
    edges = re.findall(r"cov: (\d+)", log)
    return {
        "inputs": int(runs[-1]) if runs else 0,
        "edges": int(edges[-1]) if edges else 0,
        "crashed": int(returncode != 0),
    }


# ------------------------------------------------------------------ one worker


def _worker(project: Path, corpus: Path, libfuzzer: list[str]) -> int:
    import atheris

    sys.path.insert(0, str(TESTS))
    with atheris.instrument_imports(include=["director", "backends"]):
        import director.check  # noqa: F401
        import director.plan  # noqa: F401
    from test_fuzz import compile_bytes

    def one_input(data: bytes) -> None:
        compile_bytes(project, data)

    os.chdir(project)  # diagnostics name files relative to the working folder
    atheris.Setup([sys.argv[0], *libfuzzer, str(corpus)], one_input)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main())
