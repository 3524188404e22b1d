"""The first run on a GPU: full-size LTX-2 and Wan transformers, timed, and a film.

Run it as it is on a machine with a CUDA GPU (no model download: the weights
are random, the configs are the published folders' own, from
tests/fixtures/models):

    python bench/gpu_smoke.py            # full size, bf16, on cuda
    python bench/gpu_smoke.py --tiny     # a tiny size on the CPU: checks the script
    python bench/gpu_smoke.py --flops    # full-size FLOPs, counted on the meta device

It prints one table.  For each transformer at its size:

- `s/pass`: one transformer forward at batch 1 (median of the timed passes
  after a warm-up), and `s/step`: that times the passes a denoising step makes
  (LTX-2.0 dev: the guided pair and the modality pass, 3; distilled: 1; Wan:
  the guided pair, 2; the A14B experts take turns, so one at a time);
- `PFLOP/pass`: counted by torch's FlopCounterMode over one forward (matrix
  products and attention), and `MFU`: those FLOPs per second over the card's
  dense bf16 peak (from the table below, or `--peak-tflops`);
- `peak GiB`: the GPU's peak allocated memory (on the CPU: the process's peak
  resident memory).

Then `director compile` makes a two-shot film through each backend at
reduced depth and width (the tiny LTX-2 of `backends.tiny` with its tiny
upsampler and LoRA, in the authors' two stages; Wan2.1 T2V 1.3B
from its real configs, cut by `backends.tiny.save_wan_like`), on the GPU when
there is one, and the table says how long that took and whether it worked.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

PUBLISHED = REPO / "tests" / "fixtures" / "models"
# Dense bf16 peaks (TFLOP/s, no sparsity) from the vendors' data sheets.
PEAK_TFLOPS = {
    "H200": 989.0,
    "H100 SXM": 989.0,
    "H100 NVL": 835.0,
    "H100 PCIe": 756.0,
    "H100": 989.0,
    "A100": 312.0,
    "L40S": 362.0,
    "L4": 121.0,
    "RTX 4090": 165.0,
    "A10G": 70.0,
}


@dataclass(frozen=True)
class Case:
    """One transformer at one size: the published folder it comes from and its size."""

    name: str
    folder: str  # under tests/fixtures/models
    width: int
    height: int
    frames: int
    passes: int  # transformer passes a denoising step (batch 1 each)


FULL = (
    Case("LTX-2 dev 19B", "LTX-2-dev-Diffusers", 768, 512, 121, 3),
    # The authors' second stage of a 1536x1024 film (whose stage 1 is the case
    # above): 3 refinement steps of one pass, no guidance.
    Case("LTX-2 stage 2 (refine)", "LTX-2-dev-Diffusers", 1536, 1024, 121, 1),
    Case("Wan2.1 T2V 14B", "Wan2.1-T2V-14B-Diffusers", 832, 480, 81, 2),
    Case("Wan2.1 T2V 14B", "Wan2.1-T2V-14B-Diffusers", 1280, 720, 81, 2),
)
TINY = (
    Case("LTX-2 dev (tiny)", "LTX-2-dev-Diffusers", 64, 64, 9, 3),
    Case("Wan2.1 T2V 14B (tiny)", "Wan2.1-T2V-14B-Diffusers", 64, 48, 9, 2),
)
# What --tiny cuts from the real configs: depth and widths (heads, channels and
# every other setting stay the published ones).
TINY_CUT = {
    "LTX2VideoTransformer3DModel": {
        "num_layers": 1, "attention_head_dim": 8, "audio_attention_head_dim": 4,
        "cross_attention_dim": 256, "audio_cross_attention_dim": 128, "caption_channels": 32,
    },
    "WanTransformer3DModel": {
        "num_layers": 1, "attention_head_dim": 12, "ffn_dim": 32, "text_dim": 32,
    },
}  # fmt: skip
TEXT_TOKENS = {"LTX2VideoTransformer3DModel": 1024, "WanTransformer3DModel": 512}


@dataclass
class Row:
    what: str
    size: str
    s_pass: float | None = None
    s_step: float | None = None
    pflop: float | None = None
    mfu: float | None = None
    peak_gib: float | None = None
    note: str = ""


def transformer(case: Case, tiny: bool, device, dtype):
    """The case's transformer from its published config, random weights, made on `device`."""
    import diffusers
    import torch

    config = json.loads((PUBLISHED / case.folder / "transformer" / "config.json").read_text())
    model_class = getattr(diffusers, config["_class_name"])
    settings = {k: v for k, v in config.items() if not k.startswith("_")}
    if tiny:
        settings |= TINY_CUT[config["_class_name"]]
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # made in bf16 at once: a 19B model never exists in fp32
    try:
        with torch.device(device):
            model = model_class(**settings)
    finally:
        torch.set_default_dtype(previous)
    return model.eval().requires_grad_(False)


def inputs(model, case: Case, device, dtype) -> dict:
    """One forward's inputs at the case's size, shaped as the pipelines shape them."""
    import torch

    config = model.config
    text = torch.randn(1, TEXT_TOKENS[type(model).__name__], _text_width(model), dtype=dtype)
    if type(model).__name__ == "LTX2VideoTransformer3DModel":
        frames, height, width = (case.frames - 1) // 8 + 1, case.height // 32, case.width // 32
        audio = round(case.frames / 24 * 25)  # 16 kHz, hop 160, 4x: 25 latents a second
        arguments = {
            "hidden_states": torch.randn(1, frames * height * width, config.in_channels),
            "audio_hidden_states": torch.randn(1, audio, config.audio_in_channels),
            "encoder_hidden_states": text,
            "audio_encoder_hidden_states": text,
            "timestep": torch.tensor([500.0]),
            "num_frames": frames, "height": height, "width": width,
            "audio_num_frames": audio, "fps": 24.0, "return_dict": False,
        }  # fmt: skip
    else:
        latent = (
            1,
            config.in_channels,
            (case.frames - 1) // 4 + 1,
            case.height // 8,
            case.width // 8,
        )
        arguments = {
            "hidden_states": torch.randn(*latent),
            "timestep": torch.tensor([500]),
            "encoder_hidden_states": text,
            "return_dict": False,
        }
    return {
        key: value.to(device, dtype if value.is_floating_point() and key != "timestep" else None)
        if isinstance(value, torch.Tensor)
        else value
        for key, value in arguments.items()
    }


def _text_width(model) -> int:
    config = model.config
    return config.caption_channels if "caption_channels" in config else config.text_dim


def measure(case: Case, tiny: bool, device, dtype, peak_tflops: float | None, repeats: int) -> Row:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    size = f"{case.width}x{case.height}x{case.frames}"
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    model = transformer(case, tiny, device, dtype)
    arguments = inputs(model, case, device, dtype)
    with torch.no_grad():
        with FlopCounterMode(display=False) as counter:
            model(**arguments)  # the warm-up pass, counted
        seconds = []
        for _ in range(repeats):
            _sync(device)
            start = time.perf_counter()
            model(**arguments)
            _sync(device)
            seconds.append(time.perf_counter() - start)
    s_pass = statistics.median(seconds)
    flops = counter.get_total_flops()
    peak = (
        torch.cuda.max_memory_allocated() / 2**30
        if device.type == "cuda"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    )
    mfu = flops / s_pass / (peak_tflops * 1e12) if peak_tflops else None
    del model, arguments
    return Row(case.name, size, s_pass, s_pass * case.passes, flops / 1e15, mfu, peak)


def count(case: Case, peak_tflops: float) -> Row:
    """FLOPs of one full-size pass, counted on the meta device (no memory, no
    GPU), and the seconds a pass and a step would take at the card's peak."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    meta = torch.device("meta")
    model = transformer(case, False, meta, torch.bfloat16)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(**inputs(model, case, meta, torch.bfloat16))
    flops = counter.get_total_flops()
    ideal = flops / (peak_tflops * 1e12)
    size = f"{case.width}x{case.height}x{case.frames}"
    params = sum(p.numel() for p in model.parameters()) / 1e9
    note = f"ideal at peak; {params:.2f}B parameters"
    return Row(case.name, size, ideal, ideal * case.passes, flops / 1e15, note=note)


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


FILM = """title: Smoke
format: {size} @ 24fps

INT. ROOM - DAY

SHOT 1 WIDE 9f
  Rain runs down the window.

SHOT 2 MEDIUM 9f continuous
  The door opens.
"""


def film(backend: str, device: str) -> Row:
    """A two-shot film through `backend` with `director compile`, at reduced depth."""
    from backends import tiny as tiny_models

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        if backend == "ltx2":  # in the authors' two stages: the upsampler and the LoRA
            model, size = (
                tiny_models.save_ltx2_upsampler(tiny_models.save_ltx2(root / "model")),
                "128x64",
            )
            tiny_models.save_ltx2_refine_lora(model)
        else:
            published = PUBLISHED / "Wan2.1-T2V-1.3B-Diffusers"
            model, size = tiny_models.save_wan_like(root / "model", published), "64x48"
        script = root / "film.shot"
        script.write_text(FILM.format(size=size))
        command = [
            sys.executable, "-m", "director", "compile", str(script), "-o", str(root / "film.mp4"),
            "--backend", backend, "--model", str(model), "--steps", "2", "--device", device, "-q",
        ]  # fmt: skip
        start = time.perf_counter()
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - start
        ok = done.returncode == 0 and (root / "film.mp4").is_file()
        note = "film ok" if ok else f"FAILED: {done.stderr.strip().splitlines()[-1:]}"
    return Row(f"film via {backend} (2 shots)", size, note=f"{note}, {seconds:.1f} s")


def card_peak(device, given: float | None) -> tuple[str, float | None]:
    import torch

    if device.type != "cuda":
        return "cpu", given
    name = torch.cuda.get_device_name(device)
    found = next((peak for key, peak in PEAK_TFLOPS.items() if key in name), None)
    return name, given or found


def table(rows: list[Row], card: str, peak: float | None) -> str:
    def number(value, form):
        width = int(form.split(".")[0] or 0)
        return "-".rjust(width) if value is None else format(value, form)

    head = f"{'what':<28} {'size':<13} {'s/pass':>8} {'s/step':>8} {'PFLOP/pass':>10} "
    head += f"{'MFU %':>6} {'peak GiB':>8}  note"
    lines = [f"device: {card}; bf16 peak: {number(peak, '.0f')} TFLOP/s", head]
    for r in rows:
        lines.append(
            f"{r.what:<28} {r.size:<13} {number(r.s_pass, '8.3f')} {number(r.s_step, '8.3f')} "
            f"{number(r.pflop, '10.3g')} {number(r.mfu and r.mfu * 100, '6.1f')} "
            f"{number(r.peak_gib, '8.2f')}  {r.note}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="tiny sizes on the CPU (for CI)")
    parser.add_argument("--peak-tflops", type=float, help="the card's dense bf16 peak")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes (default 3)")
    parser.add_argument("--no-film", action="store_true", help="skip the two-shot films")
    parser.add_argument("--json", action="store_true", help="the rows as JSON, not a table")
    parser.add_argument(
        "--flops",
        action="store_true",
        help="only count each full-size pass's FLOPs (on the meta device: any machine) and "
        "the ideal seconds at --peak-tflops (default 989, an H100 SXM)",
    )
    args = parser.parse_args(argv)
    import torch

    if args.flops:
        peak = args.peak_tflops or PEAK_TFLOPS["H100 SXM"]
        show([count(case, peak) for case in FULL], "meta (counted, not run)", peak, args.json)
        return 0

    if args.tiny:
        device, dtype, cases = torch.device("cpu"), torch.float32, TINY
    elif not torch.cuda.is_available():
        print("gpu_smoke: no CUDA GPU here; use --tiny to check the script on the CPU")
        return 2
    else:
        device, dtype, cases = torch.device("cuda"), torch.bfloat16, FULL
    card, peak = card_peak(device, args.peak_tflops)
    rows = []
    for case in cases:
        try:
            rows.append(measure(case, args.tiny, device, dtype, peak, args.repeats))
        except torch.cuda.OutOfMemoryError:
            rows.append(Row(case.name, f"{case.width}x{case.height}", note="out of memory"))
        if device.type == "cuda":
            torch.cuda.empty_cache()
    if not args.no_film:
        rows += [film(backend, device.type) for backend in ("ltx2", "wan")]
    show(rows, card, peak, args.json)
    return 0


def show(rows: list[Row], card: str, peak: float | None, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"device": card, "peak_tflops": peak, "rows": [asdict(r) for r in rows]}))
    else:
        print(table(rows, card, peak))


if __name__ == "__main__":
    raise SystemExit(main())
