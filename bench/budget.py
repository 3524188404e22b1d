"""The preview backend's `Estimate`, measured: memory and CPU time of drawing and encoding a shot.

Each case runs in a fresh process (so the peak resident memory is its own): one
window of the animatic at a size, drawn with a camera move over a plate and a
character, and encoded as the runtime encodes it.  It prints the peak memory
growth and CPU seconds beside what `PreviewBackend.capabilities.estimate`
predicts; the figures in backends/preview.py come from the dearest case
(a dolly, whose plate is drawn at twice the density).

    .venv/bin/python bench/budget.py [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = [  # width, height, frames, move
    (640, 360, 48, "static"),
    (1280, 720, 48, "static"),
    (1280, 720, 96, "static"),
    (640, 360, 48, "dolly"),
    (1280, 720, 48, "dolly"),
    (1920, 1080, 48, "dolly"),
]

ONE_CASE = """
import json, resource, sys, tempfile, time
from fractions import Fraction
from pathlib import Path
sys.path.insert(0, "tests")
from conftest import write_refs
from backends.base import CharacterRefs, ShotRequest
from backends.preview import PreviewBackend
from director.clips import write_clip
from director.spec import CameraMove

width, height, frames, move = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
folder = Path(tempfile.mkdtemp())
refs = write_refs(folder)
camera = () if move == "static" else (
    CameraMove(move=move, direction="in", start=0, frames=frames, factor=2.0),)
request = ShotRequest(
    shot_id="1", size="MEDIUM", prompt="", negative="", seed=1, width=width, height=height,
    fps=24.0, frames=frames, camera=camera, plate=refs / "room.png",
    characters=(CharacterRefs("HERO", (refs / "hero.png",)),),
)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
started = time.process_time()
write_clip(folder / "clip.mp4", PreviewBackend().generate(request).frames, Fraction(24))
print(json.dumps({
    "cpu_seconds": time.process_time() - started,
    "memory_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before,
}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from backends.preview import PreviewBackend

    estimate = PreviewBackend.capabilities.estimate
    rows = []
    for width, height, frames, move in CASES:
        done = subprocess.run(
            [sys.executable, "-c", ONE_CASE, str(width), str(height), str(frames), move],
            cwd=ROOT, capture_output=True, text=True, check=True,
        )  # fmt: skip
        measured = json.loads(done.stdout)
        rows.append({
            "size": f"{width}x{height}", "frames": frames, "move": move,
            **measured,
            "estimated_memory_bytes": estimate.memory(width, height, frames),
            "estimated_seconds": estimate.seconds(width, height, frames, estimate.steps),
        })  # fmt: skip
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print("| shot | move | peak memory | estimate | CPU s | estimate |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['size']}, {r['frames']} frames | {r['move']} | "
            f"{r['memory_bytes'] / 2**20:.0f} MiB | "
            f"{r['estimated_memory_bytes'] / 2**20:.0f} MiB | "
            f"{r['cpu_seconds']:.2f} | {r['estimated_seconds']:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
