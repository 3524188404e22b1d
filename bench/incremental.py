"""Incremental-compile benchmark: edit one shot's action, recompile, compare with the cold compile.

What it does:

* Generates (seeded) a `--shots`-shot project (default 20) into a temporary
  directory with `bench/_films.py`: 1280×720 @ 24 fps on the `preview`
  backend, shots 3–5 s with camera moves, scenes joined by dissolves and
  fades, some dialogue, music/ambience/sfx cues; real reference pictures
  (Pillow) and sounds (soundfile).
* For each of `--repeat` rounds (default 3), with a fresh, empty cache:
  1. **full**: compiles the script cold, `python -m director compile FILE -o
     film.mp4 --cache DIR` in a fresh process (wall time around the whole
     process, interpreter start-up, check and plan included);
  2. **unchanged**: compiles it again with nothing changed (the fixed cost of
     a recompile: start-up, check, plan, cache look-ups, report, sidecars);
  3. **recompile**: edits the action line of the middle shot and compiles
     again.
  The ratio recompile / full is the figure the target is about.
* Checks that the recompile ran exactly the nodes whose hashes the edit
  changed (the two plan sidecars compared), that these are the edited shot's
  nodes, the transitions touching it and the assembly (`film/assemble`,
  `film/mux`), and that the cache gained exactly those entries.  The nodes
  that ran are read from the runtime's per-node progress lines (printed when
  stderr is not a terminal) and cross-checked against the cache's new entries.

Target: recompile / full <= 0.15 with `preview` (median of the rounds).

    .venv/bin/python bench/incremental.py [--shots 20] [--repeat 3] [--seed N] [--json]
        [--keep DIR]

Exit status 0 (whatever the verdict), 2 if a compile fails or the recompile
ran other nodes than the edit changed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _films  # noqa: E402
from _films import Compiled, compile_film, film_script, median, write_project  # noqa: E402

TARGET = 0.15
SEED = 7


def _edit(text: str, film: _films.Film, shot_id: str) -> str:
    """The script with shot `shot_id`'s action line changed, and nothing else."""
    shot = film.shot(shot_id)
    start = text.index(shot.lines[0] + "\n")
    at = text.index("  " + shot.action + "\n", start)
    edited = shot.action.rstrip(".") + ", slower now, as if listening."
    return text[:at] + "  " + edited + text[at + 2 + len(shot.action) :]


def _entries(cache: Path) -> set[str]:
    return {p.name for p in (cache / "entries").glob("*/*") if (p / "entry.json").exists()}


def _plan(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _touches(node_id: str, shot_id: str) -> bool:
    """Is this node one of the edited shot's, or the assembly?"""
    if node_id.startswith(f"shot/{shot_id}/") or node_id in ("film/assemble", "film/mux"):
        return True
    if node_id.startswith("transition/"):
        return shot_id in node_id.removeprefix("transition/").split("-")
    return False


def _must(compiled: Compiled, what: str) -> Compiled:
    if compiled.returncode != 0:
        sys.stderr.write(compiled.log[-4000:])
        raise SystemExit(f"incremental: the {what} compile failed ({compiled.returncode})")
    return compiled


def one_round(root: Path, script: Path, film: _films.Film, shot_id: str, index: int) -> dict:
    cache = root / f"cache-{index}"
    shutil.rmtree(cache, ignore_errors=True)
    out = root / "film.mp4"
    sidecar = root / "film.plan.json"
    script.write_text(film.text, encoding="utf-8")
    load_before = os.getloadavg()[0]

    full = _must(compile_film(script, out, cache, log=root / f"full-{index}.log"), "full")
    before_plan = _plan(sidecar)
    before_entries = _entries(cache)
    unchanged = _must(
        compile_film(script, out, cache, log=root / f"unchanged-{index}.log"), "unchanged"
    )
    script.write_text(_edit(film.text, film, shot_id), encoding="utf-8")
    again = _must(compile_film(script, out, cache, log=root / f"recompile-{index}.log"), "re")
    after_plan = _plan(sidecar)
    new_entries = _entries(cache) - before_entries
    script.write_text(film.text, encoding="utf-8")

    old_hashes = {node["hash"] for node in before_plan["nodes"]}
    by_hash = {node["hash"]: node["id"] for node in after_plan["nodes"]}
    changed = sorted(n["id"] for n in after_plan["nodes"] if n["hash"] not in old_hashes)
    ran = sorted(node_id for _, node_id, _ in again.nodes)
    gained = sorted(by_hash.get(h, f"?{h[:12]}") for h in new_entries)
    return {
        "full_s": full.wall_s,
        "full_execute_s": full.execute_s,
        "full_nodes": full.ran,
        "unchanged_s": unchanged.wall_s,
        "unchanged_ran": unchanged.ran,
        "recompile_s": again.wall_s,
        "recompile_execute_s": again.execute_s,
        "ratio": again.wall_s / full.wall_s,
        "ran": ran,
        "ran_count": again.ran,
        "reused_count": again.reused,
        "ran_by_op": {op: round(s, 3) for op, (_, s) in sorted(again.by_op().items())},
        "changed": changed,
        "cache_gained": gained,
        "exact": ran == changed == gained and all(_touches(i, shot_id) for i in ran),
        "cache": str(cache),
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
    }


def run(args: argparse.Namespace, root: Path) -> dict:
    film = film_script(shots=args.shots, seconds=(3.0, 5.0), seed=args.seed, reel=args.shots)
    script = write_project(root, film, "film.shot", seed=args.seed)
    shot_id = film.shots[(len(film.shots) - 1) // 2].id
    frames_seconds = None
    rounds = []
    for index in range(args.repeat):
        figures = one_round(root, script, film, shot_id, index)
        frames_seconds = _films.film_seconds(root / "film.plan.json")
        rounds.append(figures)
        if not (args.keep and index == args.repeat - 1):
            shutil.rmtree(figures["cache"], ignore_errors=True)
    frames, seconds = frames_seconds
    ratio = median([r["ratio"] for r in rounds])
    return {
        "machine": _films.machine(),
        "shots": len(film.shots),
        "film_frames": frames,
        "film_seconds": seconds,
        "dialogue_shots": sum(s.dialogue for s in film.shots),
        "transitions": [t for t in film.transitions if not t.startswith("CUT")],
        "edited_shot": shot_id,
        "repeat": args.repeat,
        "how": "python -m director compile (fresh process each), wall time",
        "rounds": rounds,
        "full_s": median([r["full_s"] for r in rounds]),
        "unchanged_s": median([r["unchanged_s"] for r in rounds]),
        "recompile_s": median([r["recompile_s"] for r in rounds]),
        "ratio": ratio,
        "exact": all(r["exact"] for r in rounds),
        "pass": ratio <= TARGET,
    }


def report(f: dict) -> str:
    m = f["machine"]
    last = f["rounds"][-1]
    verdict = "PASS" if f["pass"] else "FAIL"
    out = [
        f"Incremental-compile benchmark: {f['shots']} shots, {f['film_seconds']:.1f} s of film "
        f"({f['film_frames']} frames at 1280x720 @ 24 fps, preview backend), "
        f"{f['dialogue_shots']} shots with dialogue, transitions: {', '.join(f['transitions'])}",
        f"machine: {m['cpu']}, {m['cpus']} CPUs, {m['memory_gib']} GiB, Python {m['python']}; "
        f"{f['how']}; median of {f['repeat']}; commit {m['commit']}",
        "",
        f"  {'round':<8}{'full s':>9}{'unchanged s':>13}{'recompile s':>13}{'ratio':>8}"
        f"{'nodes ran':>11}  exact  load (1 min, before/after)",
    ]
    for k, r in enumerate(f["rounds"], 1):
        out.append(
            f"  {k:<8}{r['full_s']:>9.2f}{r['unchanged_s']:>13.2f}{r['recompile_s']:>13.2f}"
            f"{r['ratio']:>8.3f}{r['ran_count']:>5} of {r['ran_count'] + r['reused_count']:<4}"
            f" {'yes' if r['exact'] else 'NO ':<6}"
            f"{r['load_before']:.2f} / {r['load_after']:.2f}"
        )
    out += [
        f"  {'median':<8}{f['full_s']:>9.2f}{f['unchanged_s']:>13.2f}{f['recompile_s']:>13.2f}"
        f"{f['ratio']:>8.3f}",
        "",
        f"  edited: the action line of shot {f['edited_shot']}; the recompile ran "
        f"{len(last['ran'])} nodes (the cold compile {last['full_nodes']}; "
        "nodes with identical hashes run once):",
        "    " + ", ".join(last["ran"]),
        "  where the recompile's time went (the runtime's per-node seconds, last round): "
        + ", ".join(f"{op} {s:.2f}s" for op, s in last["ran_by_op"].items())
        + f"; outside the runtime (start-up, check, plan, report, sidecars) "
        f"{last['recompile_s'] - (last['recompile_execute_s'] or 0):.2f}s",
        "  ran exactly the nodes whose hashes changed (plan sidecars), all of them the edited "
        f"shot's or the assembly's, and the cache gained exactly those: "
        f"{'yes' if f['exact'] else 'NO'}",
        "",
        f"  target: recompile / full <= {TARGET} with preview: {f['ratio']:.3f}  {verdict}",
    ]
    return "\n".join(out)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shots", type=int, default=20, help="shots in the script (20)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds, each with a fresh cache (3)")
    parser.add_argument("--seed", type=int, default=SEED, help="generator seed")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--keep", type=Path, help="write the project into DIR and keep it (with the last cache)"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.shots < 3:
        parser.error("--repeat must be at least 1 and --shots at least 3")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        figures = run(args, args.keep.resolve())
    else:
        with tempfile.TemporaryDirectory(prefix="shot-incremental-") as tmp:
            figures = run(args, Path(tmp).resolve())
    print(json.dumps(figures, indent=2) if args.json else report(figures))
    return 0 if figures["exact"] else 2


if __name__ == "__main__":
    raise SystemExit(main())
