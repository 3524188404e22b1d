"""Seconds per denoising step and peak memory of the ltx2 and wan backends' pipelines.

Two modes:

* Tiny (the default; runs anywhere, on the CPU): the tiny random LTX-2 and Wan
  pipelines of `backends.tiny`, built in code, at a tiny size (96x64; 25
  frames for LTX-2, 17 for Wan).  These figures measure the pipelines'
  fixed costs, not a real model's speed.
* Real (`--model PATH --backend ltx2|wan`, for a GPU): the model folder loaded
  through the backend exactly as `director compile` loads it (same dtype,
  device and offload rules), at `--width`x`--height`, `--frames` (default
  768x512, 121 frames for LTX-2; 832x480, 81 frames for Wan).

Each run times every step with the pipeline's `callback_on_step_end`, after
one warm-up call, and reports the median step, the whole call (text encoding,
steps, decoding) and the peak memory: the GPU's peak allocated memory on
CUDA, else the growth of the process's peak resident memory over the warm-up
and the timed call (and the whole process's peak, imports included).

Run from the repository root:

    .venv/bin/python bench/diffusers_steps.py [--steps 4] [--threads 1] [--json]
    .venv/bin/python bench/diffusers_steps.py --backend ltx2 --model /models/LTX-2 \\
        [--width 768 --height 512 --frames 121] [--dtype bfloat16] [--offload none]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

REAL_SIZES = {"ltx2": (768, 512, 121), "wan": (832, 480, 81)}
TINY_SIZES = {"ltx2": (96, 64, 25), "wan": (96, 64, 17)}


@dataclass
class Result:
    backend: str
    mode: str  # "tiny" or the model folder's name
    device: str
    dtype: str
    width: int
    height: int
    frames: int
    steps: int
    step_s: float  # median seconds per denoising step
    first_step_s: float
    call_s: float  # the whole pipeline call
    peak_mib: float
    peak_kind: str  # "cuda allocated" or "rss growth"
    process_peak_mib: float  # the whole process's peak resident memory


def run(pipe, arguments: dict, steps: int, device) -> tuple[list[float], float, float, str]:
    """One timed pipeline call: per-step seconds, the call's seconds, peak MiB."""
    import torch

    marks: list[float] = []

    def on_step(pipeline, step, timestep, kwargs):
        if device.type == "cuda":
            torch.cuda.synchronize()
        marks.append(time.perf_counter())
        return kwargs

    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    rss_before = _rss_mib()
    started = time.perf_counter()
    pipe(**arguments, num_inference_steps=steps, callback_on_step_end=on_step)
    if cuda:
        torch.cuda.synchronize()
    call = time.perf_counter() - started
    # The first mark follows text encoding and the first step together; steps are
    # the gaps between marks, and the first step is estimated as the median.
    gaps = [b - a for a, b in zip(marks, marks[1:], strict=False)]
    if cuda:
        peak, kind = torch.cuda.max_memory_allocated() / 2**20, "cuda allocated"
    else:
        peak, kind = _rss_mib() - rss_before, "rss growth"
    return [marks[0] - started, *gaps], call, peak, kind


def _rss_mib() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return usage / 2**20 if sys.platform == "darwin" else usage / 2**10


def tiny_pipeline(backend: str):
    from backends import tiny

    return tiny.ltx2_pipeline() if backend == "ltx2" else tiny.wan_pipeline("t2v")


def arguments_for(backend: str, width: int, height: int, frames: int) -> dict:
    import torch

    arguments = {
        "prompt": "A lighthouse keeper polishes the great brass lens while rain hammers the "
        "windows; the camera dollies in slowly.",
        "negative_prompt": "blurry, distorted",
        "width": width,
        "height": height,
        "num_frames": frames,
        "generator": torch.Generator("cpu").manual_seed(0),
        "output_type": "np",
    }
    if backend == "ltx2":
        arguments["frame_rate"] = 24.0
    return arguments


def measure(args, backend: str) -> Result:
    import torch

    if args.model:
        from backends import registry

        settings = {"device": args.device, "dtype": args.dtype, "offload": args.offload}
        loaded = registry.get(backend)(model=args.model, steps=args.steps, **settings)
        pipe, device = loaded.pipeline(), loaded.device()
        dtype = str(loaded.torch_dtype()).removeprefix("torch.")
        width, height, frames = args.width or REAL_SIZES[backend][0], args.height, args.frames
        height = height or REAL_SIZES[backend][1]
        frames = frames or REAL_SIZES[backend][2]
        mode = Path(args.model).name
    else:
        pipe, device, dtype, mode = tiny_pipeline(backend), torch.device("cpu"), "float32", "tiny"
        pipe.set_progress_bar_config(disable=True)
        width, height, frames = TINY_SIZES[backend]
    rss_before = _rss_mib()
    arguments = arguments_for(backend, width, height, frames)
    if type(pipe).__name__ == "WanImageToVideoPipeline":
        from PIL import Image

        arguments["image"] = Image.new("RGB", (width, height), (128, 128, 128))
    run(pipe, arguments, 2, device)  # warm-up: kernels, caches, allocator
    arguments["generator"] = torch.Generator("cpu").manual_seed(0)
    steps, call, peak, kind = run(pipe, arguments, args.steps, device)
    if kind == "rss growth":  # on the CPU: the growth over both calls, warm-up included
        peak = _rss_mib() - rss_before
    later = steps[1:] or steps
    return Result(
        backend=backend,
        mode=mode,
        device=str(device),
        dtype=dtype,
        width=width,
        height=height,
        frames=frames,
        steps=args.steps,
        step_s=statistics.median(later),
        first_step_s=steps[0],
        call_s=call,
        peak_mib=peak,
        peak_kind=kind,
        process_peak_mib=_rss_mib(),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("ltx2", "wan"), action="append")
    parser.add_argument("--model", help="a real model folder (then name one --backend)")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--width", type=int)
    parser.add_argument("--height", type=int)
    parser.add_argument("--frames", type=int)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--offload", default="none")
    parser.add_argument("--threads", type=int, help="torch CPU threads (tiny mode: 1)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    backends = args.backend or ["ltx2", "wan"]
    if args.model and len(backends) != 1:
        parser.error("--model needs exactly one --backend")

    import torch

    threads = args.threads or (None if args.model else 1)
    if threads:
        torch.set_num_threads(threads)
    results = [measure(args, backend) for backend in backends]
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
        return 0
    cpu = platform.processor() or platform.machine()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, {cpu}")
    print(
        "| backend | model | device | dtype | size | steps | s/step (median) | first step "
        "(+ text) | whole call | peak memory | process peak RSS |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(
            f"| {r.backend} | {r.mode} | {r.device} | {r.dtype} | {r.width}x{r.height}x"
            f"{r.frames} | {r.steps} | {r.step_s:.4f} s | {r.first_step_s:.3f} s | "
            f"{r.call_s:.3f} s | {r.peak_mib:.0f} MiB ({r.peak_kind}) | "
            f"{r.process_peak_mib:.0f} MiB |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
