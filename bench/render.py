"""Render benchmark: the preview backend's real-time factor and peak memory, short film vs long.

What it does:

* Generates (seeded) two films with `bench/_films.py`, by default of 2 and 20
  minutes (`--short`: 1 and 5; `--minutes A B` for others): 1280×720 @ 24 fps
  on the `preview` backend, the same shot mix repeated (shots 3–6 s, camera
  moves, characters with reference pictures, location plates, dissolves and
  fades, dialogue, music/ambience/sfx cues), with small real assets.
* Compiles each cold (fresh cache) in a fresh process, `python -m director
  compile FILE -o film.mp4 --cache DIR`, and measures:
  - wall time around the whole process (start-up, check and plan included);
  - real-time factor = film seconds (from the plan's timeline) / wall seconds;
  - peak RSS: `ru_maxrss` of the compile process from `os.wait4`, which is
    the largest resident set of any one process of its tree (the compile
    itself; the scratch voice runs in process); and, as a cross-check, the
    sum of the tree's resident sets sampled from /proc every 0.2 s;
  - CPU seconds (user + system) and so the mean number of busy cores;
  - a breakdown by operation, from the runtime's per-node progress lines
    (printed when stderr is not a terminal): generate, segment, transition,
    assemble, voice, mix, mux …; "outside the runtime" is the wall time
    outside the runtime's own "done in" figure (interpreter start-up, check,
    plan, the run record and report, sidecars).
* `--profile` compiles the shorter film once more under cProfile and prints
  the functions with the most own time, and the cumulative time of the
  operations' main calls.

Targets: real-time factor >= 2 on this 2-core machine, and the long film's
peak RSS within 1.25x the short film's.

    .venv/bin/python bench/render.py [--short | --minutes 2 20] [--seed N] [--json]
        [--keep DIR] [--profile]

Exit status 0 (whatever the verdicts), 2 if a compile fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _films  # noqa: E402

TARGET_RTF = 2.0
TARGET_MEMORY = 1.25
SEED = 7
MIB = 1024 * 1024


class TreeSampler:
    """Samples the summed RSS of a process and its descendants from /proc."""

    def __init__(self, interval: float = 0.2):
        self.interval = interval
        self.peak = 0
        self.processes = 1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, pid: int) -> None:
        self._thread = threading.Thread(target=self._run, args=(pid,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()

    def _run(self, pid: int) -> None:
        while not self._stop.is_set():
            pids = _tree(pid)
            self.processes = max(self.processes, len(pids))
            self.peak = max(self.peak, sum(_rss(p) for p in pids))
            self._stop.wait(self.interval)


def _tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                todo.extend(int(c) for c in children)
        except OSError:
            pass
    return found


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def measure(root: Path, minutes: float, seed: int, prefix: tuple[str, ...] = ()) -> dict:
    film = _films.film_script(minutes=minutes, seconds=(3.0, 6.0), seed=seed)
    script = _films.write_project(root, film, "film.shot", seed=seed)
    cache = root / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    out = root / "film.mp4"
    sampler = TreeSampler()
    load_before = os.getloadavg()[0]
    compiled = _films.compile_film(
        script, out, cache, log=root / "compile.log", prefix=prefix, on_start=sampler.start
    )
    sampler.stop()
    load_after = os.getloadavg()
    if compiled.returncode != 0:
        sys.stderr.write(compiled.log[-4000:])
        raise SystemExit(f"render: the {minutes:g}-minute compile failed ({compiled.returncode})")
    frames, seconds = _films.film_seconds(root / "film.plan.json")
    delivered = _delivered(out)
    by_op = compiled.by_op()
    front = compiled.wall_s - (compiled.execute_s or 0.0)
    return {
        "minutes": minutes,
        "shots": len(film.shots),
        "dialogue_shots": sum(s.dialogue for s in film.shots),
        "transitions": sum(not t.startswith("CUT") for t in film.transitions),
        "film_frames": frames,
        "film_seconds": seconds,
        "delivered_frames": delivered[0],
        "delivered_seconds": delivered[1],
        "wall_s": compiled.wall_s,
        "rtf": seconds / compiled.wall_s,
        "cpu_s": compiled.user_s + compiled.system_s,
        "busy_cores": (compiled.user_s + compiled.system_s) / compiled.wall_s,
        "film_s_per_cpu_s": seconds / (compiled.user_s + compiled.system_s),
        "load_before": load_before,
        "load_after_1_5_15": load_after,
        "peak_rss_bytes": compiled.max_rss_kib * 1024,
        "sampled_tree_rss_bytes": sampler.peak,
        "tree_processes": sampler.processes,
        "execute_s": compiled.execute_s,
        "front_end_s": front,
        "nodes_ran": compiled.ran,
        "by_op": {op: {"nodes": n, "seconds": round(s, 2)} for op, (n, s) in by_op.items()},
        "cache_bytes": sum(p.stat().st_size for p in cache.rglob("*") if p.is_file()),
        "film_bytes": out.stat().st_size,
    }


def _delivered(path: Path) -> tuple[int, float]:
    import av

    with av.open(str(path)) as container:
        video = container.streams.video[0]
        return video.frames, float(container.duration or 0) / 1e6


def profile(root: Path, minutes: float, seed: int, top: int = 25) -> dict:
    import pstats

    stats_file = root / "compile.prof"
    measure(root, minutes, seed, prefix=("-m", "cProfile", "-o", str(stats_file)))
    stats = pstats.Stats(str(stats_file))
    total = stats.total_tt
    rows = []
    for (file, line, name), (_, calls, own, cumulative, _) in stats.stats.items():
        rows.append((own, cumulative, calls, f"{_short(file)}:{line}({name})"))
    rows.sort(reverse=True)
    wanted = {
        "render": "backends/animatic.py",
        "write_clip": "director/clips.py",
        "read_frames": "director/clips.py",
        "render_segment": "director/assemble.py",
        "render_transition": "director/assemble.py",
        "concat": "director/assemble.py",
        "mix": "director/assemble.py",
        "mux": "director/assemble.py",
        "synthesize": "director/voice.py",
        "check_file": "director/check.py",
        "plan_film": "director/plan.py",
    }
    cumulative = {}
    for (file, _, name), (_, _, _, cum, _) in stats.stats.items():
        if name in wanted and file.endswith(wanted[name]):
            key = f"{wanted[name]}:{name}"
            cumulative[key] = round(max(cum, cumulative.get(key, 0.0)), 2)
    return {
        "minutes": minutes,
        "total_s": total,
        "top_own": [
            {"function": f, "own_s": round(o, 2), "cumulative_s": round(c, 2), "calls": n}
            for o, c, n, f in rows[:top]
        ],
        "cumulative": cumulative,
    }


def _short(file: str) -> str:
    for marker in ("/site-packages/", "/work/main/", "/lib/python3"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


def run(args: argparse.Namespace, root: Path) -> dict:
    short, long = args.minutes
    results = []
    for minutes in (short, long):
        print(f"render: compiling the {minutes:g}-minute film ...", file=sys.stderr, flush=True)
        results.append(measure(root / f"film-{minutes:g}min", minutes, args.seed))
        r = results[-1]
        print(
            f"render: {minutes:g} min: {r['wall_s']:.1f} s wall, {r['rtf']:.2f}x real time, "
            f"peak RSS {r['peak_rss_bytes'] / MIB:.0f} MiB",
            file=sys.stderr,
            flush=True,
        )
        if not args.keep:
            shutil.rmtree(root / f"film-{minutes:g}min" / "cache", ignore_errors=True)
    first, second = results
    figures = {
        "machine": _films.machine(),
        "how": "python -m director compile in a fresh process, cold cache; wall time; "
        "peak RSS from os.wait4 ru_maxrss",
        "films": results,
        "memory_ratio": second["peak_rss_bytes"] / first["peak_rss_bytes"],
        "pass_rtf": all(r["rtf"] >= TARGET_RTF for r in results),
        "pass_memory": second["peak_rss_bytes"] <= TARGET_MEMORY * first["peak_rss_bytes"],
    }
    if args.profile:
        print(f"render: profiling the {short:g}-minute film ...", file=sys.stderr, flush=True)
        try:
            figures["profile"] = profile(root / "profile", short, args.seed)
        except SystemExit as error:  # keep the measurements when only the profile fails
            figures["profile_error"] = str(error)
        if not args.keep:
            shutil.rmtree(root / "profile" / "cache", ignore_errors=True)
    return figures


def report(f: dict) -> str:
    m = f["machine"]
    verdict = {True: "PASS", False: "FAIL"}
    films = f["films"]
    out = [
        "Render benchmark: preview backend, 1280x720 @ 24 fps, cold compiles",
        f"machine: {m['cpu']}, {m['cpus']} CPUs, {m['memory_gib']} GiB, Python {m['python']}; "
        f"{f['how']}; commit {m['commit']}",
        "",
        f"  {'film':<34}" + "".join(f"{r['minutes']:>14g} min" for r in films),
    ]

    def row(label: str, values: list[str]) -> None:
        out.append(f"  {label:<34}" + "".join(f"{v:>18}" for v in values))

    row("shots / with dialogue / transitions", [
        f"{r['shots']} / {r['dialogue_shots']} / {r['transitions']}" for r in films
    ])  # fmt: skip
    row("film length (frames)", [f"{r['film_seconds']:.1f} s ({r['film_frames']})" for r in films])
    row("delivered mp4 (frames)", [
        f"{r['delivered_seconds']:.1f} s ({r['delivered_frames']})" for r in films
    ])  # fmt: skip
    row("wall time", [f"{r['wall_s']:.1f} s" for r in films])
    row("real-time factor", [f"{r['rtf']:.2f}x" for r in films])
    row("wall ms per frame", [f"{1000 * r['wall_s'] / r['film_frames']:.1f}" for r in films])
    row("CPU s (busy cores)", [f"{r['cpu_s']:.0f} ({r['busy_cores']:.2f})" for r in films])
    row("film s per CPU s", [f"{r['film_s_per_cpu_s']:.2f}" for r in films])
    row("load average before / after (1 min)", [
        f"{r['load_before']:.2f} / {r['load_after_1_5_15'][0]:.2f}" for r in films
    ])  # fmt: skip
    row("peak RSS (wait4 ru_maxrss)", [f"{r['peak_rss_bytes'] / MIB:.0f} MiB" for r in films])
    row("peak tree RSS (sampled sum)", [
        f"{r['sampled_tree_rss_bytes'] / MIB:.0f} MiB" for r in films
    ])  # fmt: skip
    row("processes seen in the tree", [str(r["tree_processes"]) for r in films])
    row("cache written", [f"{r['cache_bytes'] / MIB:.0f} MiB" for r in films])
    out += ["", "  where the wall time went (seconds, share of wall):"]
    ops = []
    for r in films:
        ops += [op for op in r["by_op"] if op not in ops]
    order = ["generate", "segment", "transition", "select", "consistency", "voice", "assemble"]
    order += ["mix", "mux", "prompt", "asset"]
    ops.sort(key=lambda op: order.index(op) if op in order else len(order))
    for op in ops:
        cells = []
        for r in films:
            entry = r["by_op"].get(op, {"nodes": 0, "seconds": 0.0})
            share = entry["seconds"] / r["wall_s"]
            cells.append(f"{entry['seconds']:.1f} ({share:.0%}) x{entry['nodes']}")
        row(f"  {op}", cells)
    row("  outside (start-up, check, plan, report)", [
        f"{r['front_end_s']:.1f} ({r['front_end_s'] / r['wall_s']:.0%})" for r in films
    ])  # fmt: skip
    rtfs = " / ".join(f"{r['rtf']:.2f}x" for r in films)
    out += [
        "",
        f"  peak RSS ratio long / short: {f['memory_ratio']:.3f}",
        f"  target: real-time factor >= {TARGET_RTF:g}x for both:      "
        f"{rtfs}  {verdict[f['pass_rtf']]}",
        f"  target: long film's peak RSS within {TARGET_MEMORY}x the short's: "
        f"{f['memory_ratio']:.3f}  {verdict[f['pass_memory']]}",
    ]
    if "profile_error" in f:
        out += ["", f"  profile: failed: {f['profile_error']}"]
    if "profile" in f:
        p = f["profile"]
        out += [
            "",
            f"  cProfile of the {p['minutes']:g}-minute compile (main thread; "
            f"{p['total_s']:.1f} s profiled), most own time:",
        ]
        for entry in p["top_own"]:
            out.append(
                f"    {entry['own_s']:>7.2f}s own {entry['cumulative_s']:>8.2f}s cum "
                f"{entry['calls']:>9}  {entry['function']}"
            )
        out.append("  cumulative time of the main calls:")
        for name, seconds in sorted(p["cumulative"].items(), key=lambda kv: -kv[1]):
            out.append(f"    {seconds:>8.2f}s  {name}")
    return "\n".join(out)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--minutes", type=float, nargs=2, default=None, metavar=("SHORT", "LONG"),
        help="the two films' lengths in minutes (2 20)",
    )  # fmt: skip
    parser.add_argument("--short", action="store_true", help="quick run: 1 and 5 minutes")
    parser.add_argument("--seed", type=int, default=SEED, help="generator seed")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--keep", type=Path, help="write the projects (and their caches) into DIR and keep them"
    )
    parser.add_argument(
        "--profile", action="store_true", help="also profile the shorter film's compile (cProfile)"
    )
    args = parser.parse_args(argv)
    if args.minutes is None:
        args.minutes = [1.0, 5.0] if args.short else [2.0, 20.0]
    elif args.short:
        parser.error("--short and --minutes do not go together")
    if min(args.minutes) <= 0:
        parser.error("--minutes must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        figures = run(args, args.keep.resolve())
    else:
        with tempfile.TemporaryDirectory(prefix="shot-render-") as tmp:
            figures = run(args, Path(tmp).resolve())
    figures["benchmark_wall_s"] = time.perf_counter() - started
    print(json.dumps(figures, indent=2) if args.json else report(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
