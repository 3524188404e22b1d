"""Consistency benchmark: what scoring takes costs next to rendering them.

What it does:

* Writes a project (deterministic): a 1280x720 @ 24 fps film on the `preview`
  backend, `--shots` shots of `--seconds` each (close-ups, medium close-ups
  and mediums with camera moves, two takes each), of one character whose
  reference is a real photograph (NASA's astronaut portrait, read from the
  scikit-image wheel as the tests do).
* Compiles it in a fresh process per embedder (`face`, `appearance`), with a
  fresh cache, through the runtime, and from the runtime's own per-node
  timings sums:
  - render: the `generate` nodes (the animatic drawn and encoded);
  - scoring: the `consistency` nodes (decoding the sampled frames, finding
    and describing the character, thumbnails);
  - the whole compile's wall time;
  and each take's score, to show that a change to scoring's speed left what
  it measures alone.
  The embedder's models are loaded before the compile starts (once per
  process, not per second of video) and their load time reported apart.
  Both per second of video made (every take counts: two takes are two
  seconds of video per second of film).
* Memory: in that process, the resident set after the film is planned, after
  the embedder is loaded, and the peak (VmHWM) once the compile is over; the
  scoring's share is the peak over a compile of the same film with scoring
  turned off (no character references), run the same way.

Target: scoring under 10% of the preview backend's render time per second.

    .venv/bin/python bench/consistency.py [--shots 6] [--seconds 4] [--json]

Exit status 0 whatever the verdict; 2 if a compile fails.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = 0.10
MIB = 1024 * 1024
SIZES = ["CLOSE-UP", "MEDIUM CLOSE-UP", "MEDIUM"]
MOVES = ["dolly in slow", "pan left", "handheld", "static", "zoom in", "truck right"]


def write_project(root: Path, shots: int, seconds: int, with_refs: bool = True) -> Path:
    sys.path.insert(0, str(ROOT / "tests"))
    from photos import Photos

    photos = Photos(Path(tempfile.gettempdir()) / "shot-director-registry-photos")
    photos.folder.mkdir(exist_ok=True)
    photos.save("astronaut", root / "refs" / "eileen.png")
    lines = [
        "title: Consistency bench",
        "format: 1280x720 @ 24fps",
        "",
        "character EILEEN",
        "  description: an astronaut in an orange suit",
    ]
    if with_refs:
        lines.append("  ref: refs/eileen.png")
    lines.append("")
    for index in range(shots):
        lines += [
            f"SHOT {index + 1} {SIZES[index % len(SIZES)]} on EILEEN {seconds}s",
            f"  camera: {MOVES[index % len(MOVES)]}",
            "  takes: 2",
            f"  EILEEN checks panel {index + 1}.",
            "",
        ]
    script = root / "film.shot"
    script.write_text("\n".join(lines), encoding="utf-8")
    return script


CHILD = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from director.cache import Cache
    from director.check import check_file
    from director.plan import Consistency, plan_film
    from director.plan_nodes import Consistency as ConsistencyNode, Generate
    from director.progress import Progress
    from director.run import execute
    from director import consistency

    def rss(field):
        for line in open("/proc/self/status"):
            if line.startswith(field):
                return int(line.split()[1]) * 1024
        return 0

    script, cache, embedder = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    film = check_file(script).film
    plan = plan_film(film, scoring=Consistency(embedder=embedder)).plan
    planned = rss("VmRSS:")
    loaded, load_seconds = planned, 0.0
    if embedder != "none" and plan.of_class(ConsistencyNode):
        started = time.perf_counter()
        consistency.embedder(embedder)
        load_seconds = time.perf_counter() - started
        loaded = rss("VmRSS:")

    class Timed(Progress):
        seconds = {}
        def done(self, node, seconds, reused):
            self.seconds[node.op] = self.seconds.get(node.op, 0.0) + seconds
            super().done(node, seconds, reused)

    progress = Timed(len(plan.timeline.shots), mode="quiet")
    started = time.perf_counter()
    result = execute(plan, script.parent, Cache(cache), progress=progress)
    wall = time.perf_counter() - started
    video = sum(n.params.frames / n.params.fps for n in plan.of_class(Generate))
    takes = {n.id: result.outputs[n.id].meta["score"] for n in plan.of_class(ConsistencyNode)}
    film_seconds = plan.timeline.frames * plan.fps_den / plan.fps_num
    print(json.dumps({
        "ok": result.ok, "wall": wall, "by_op": progress.seconds, "video_seconds": video,
        "film_seconds": film_seconds, "rss_planned": planned, "rss_loaded": loaded,
        "load_seconds": load_seconds, "take_scores": takes,
        "rss_peak": rss("VmHWM:"),
    }))
    """
)


def run(script: Path, cache: Path, embedder: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(script), str(cache), embedder],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(2)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    if not figures["ok"]:
        raise SystemExit(2)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shots", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        plain = Path(folder) / "plain"
        plain.mkdir()
        baseline = run(write_project(plain, args.shots, args.seconds, False), plain / "c", "none")
        for embedder in ("face", "appearance"):
            project = Path(folder) / embedder
            project.mkdir()
            script = write_project(project, args.shots, args.seconds)
            figures = run(script, project / "cache", embedder)
            video = figures["video_seconds"]
            render = figures["by_op"].get("generate", 0.0) / video
            scoring = figures["by_op"].get("consistency", 0.0) / video
            results[embedder] = {
                "video_seconds": round(video, 2),
                "render_s_per_video_s": round(render, 4),
                "scoring_s_per_video_s": round(scoring, 4),
                "scoring_vs_render": round(scoring / render, 3),
                "compile_wall_s_per_video_s": round(figures["wall"] / video, 4),
                "scoring_vs_compile": round(scoring * video / figures["wall"], 3),
                "model_load_s": round(figures["load_seconds"], 2),
                "model_load_mib": round((figures["rss_loaded"] - figures["rss_planned"]) / MIB, 1),
                "peak_rss_mib": round(figures["rss_peak"] / MIB, 1),
                "peak_added_mib": round((figures["rss_peak"] - baseline["rss_peak"]) / MIB, 1),
                "meets_target": scoring / render < TARGET,
                "take_scores": {k: round(v, 4) for k, v in figures["take_scores"].items()},
            }
    results["no scoring"] = {"peak_rss_mib": round(baseline["rss_peak"] / MIB, 1)}
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    print(f"{args.shots} shots x {args.seconds}s x 2 takes, 1280x720 @ 24 fps, preview backend")
    print(f"{'embedder':<11} {'render s/s':>10} {'score s/s':>10} {'score/render':>12} "
          f"{'score/compile':>13} {'load s':>6} {'load MiB':>9} {'peak +MiB':>9}  "
          "target <10%")  # fmt: skip
    for name in ("face", "appearance"):
        r = results[name]
        print(f"{name:<11} {r['render_s_per_video_s']:>10.3f} {r['scoring_s_per_video_s']:>10.3f} "
              f"{r['scoring_vs_render']:>11.1%} {r['scoring_vs_compile']:>12.1%} "
              f"{r['model_load_s']:>6.2f} {r['model_load_mib']:>9.1f} {r['peak_added_mib']:>9.1f}  "
              f"{'met' if r['meets_target'] else 'MISSED'}")  # fmt: skip
    print(f"peak RSS without scoring: {results['no scoring']['peak_rss_mib']:.1f} MiB")
    for name in ("face", "appearance"):
        scores = " ".join(f"{v:.4f}" for v in results[name]["take_scores"].values())
        print(f"{name} take scores (shot by shot, take by take): {scores}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
