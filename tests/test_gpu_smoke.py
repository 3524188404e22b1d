"""bench/gpu_smoke.py, which a GPU's first run uses as it is, runs here at a tiny size."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("diffusers")
SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "gpu_smoke.py"


def run(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_tiny_run_times_both_transformers_and_makes_both_films():
    out = run("--tiny", "--repeats", "1")
    lines = out.splitlines()
    assert lines[0].startswith("device: cpu") and "s/pass" in lines[1] and "MFU" in lines[1]
    assert [line.split("  ")[0] for line in lines[2:]] == [
        "LTX-2 dev (tiny)", "Wan2.1 T2V 14B (tiny)",
        "film via ltx2 (2 shots)", "film via wan (2 shots)",
    ]  # fmt: skip
    assert sum("film ok" in line for line in lines) == 2, out


def test_the_full_size_flops_are_the_published_configs_arithmetic():
    # Counted by torch over one pass of each full-size transformer on the meta
    # device: LTX-2 at 768x512x121 and Wan2.1 14B at 1280x720x81 (issue 20's figures).
    rows = json.loads(run("--flops", "--json"))["rows"]
    pflop = {(row["what"], row["size"]): row["pflop"] for row in rows}
    assert round(pflop[("LTX-2 dev 19B", "768x512x121")], 3) == 0.199
    assert round(pflop[("Wan2.1 T2V 14B", "1280x720x81")], 2) == 6.52
    # An H100's peak makes a Wan CFG step (two passes) 13.2 s at best.
    step = next(r["s_step"] for r in rows if r["size"] == "1280x720x81")
    assert round(step, 1) == 13.2
