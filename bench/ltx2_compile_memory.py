"""Peak resident memory of `director compile` through the LTX-2 real-config
folder in bf16, in the authors' two stages and in one (issue 20).

The folder is the one tests/test_ltx2.py's bf16 test compiles: LTX-2.0 dev's
transformer and scheduler configs (tests/fixtures/models) cut to test size by
`backends.tiny.save_ltx2_like` (one layer, heads of 8 channels), its latent
upsampler's config cut by `save_ltx2_upsampler`, and a tiny distilled LoRA.
The film: three 9-frame shots at 64x64 (from text; continuous, so image to
video; a last keyframe, so the condition pipeline).  Each compile runs in its
own process, and its peak resident memory is the process's own.

    python bench/ltx2_compile_memory.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

PUBLISHED = REPO / "tests" / "fixtures" / "models" / "LTX-2-dev-Diffusers"
SCRIPT = """title: Memory
format: 64x64 @ 24fps

INT. ROOM - DAY

SHOT 1 WIDE 9f
  Rain.

SHOT 2 WIDE 9f continuous
  The door opens.

SHOT 3 WIDE 9f
  keyframe last: last.png
  The door closes.
"""


# Runs `director compile` and reports its own peak resident memory (KiB on Linux).
CHILD = (
    "import resource, sys\n"
    "from director.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "print('peak', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def compile_peak_gib(folder: Path, model: Path, *extra: str) -> float:
    """The peak resident memory of one `director compile` process, in GiB."""
    out = folder / f"film{len(extra)}.mp4"
    command = [
        sys.executable, "-c", CHILD, "compile", str(folder / "film.shot"), "-o", str(out),
        "--backend", "ltx2", "--model", str(model), "--steps", "2", "--dtype", "bfloat16",
        "--device", "cpu", "-q", *extra,
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=folder, check=True, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    peak = next(line for line in done.stderr.splitlines() if line.startswith("peak "))
    return int(peak.split()[1]) / 2**20


def main() -> None:
    from PIL import Image

    from backends import tiny

    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "film.shot").write_text(SCRIPT)
        Image.new("RGB", (64, 64), (200, 60, 40)).save(folder / "last.png")
        model = tiny.save_ltx2_like(folder / "model", PUBLISHED)
        tiny.save_ltx2_refine_lora(tiny.save_ltx2_upsampler(model, PUBLISHED))
        one = compile_peak_gib(folder, model, "--no-two-stage")
        two = compile_peak_gib(folder, model)
    print("director compile, LTX-2.0 dev real-config folder (cut), bf16, 3 shots at 64x64")
    print(f"one stage:  peak resident {one:.2f} GiB")
    print(f"two stages: peak resident {two:.2f} GiB (upsampler and LoRA loaded)")


if __name__ == "__main__":
    main()
