"""tinyfm evaluation: colour, camera and sync on held-out prompts, against two ablations.

What it does, in one run:

* Draws `--n` prompts from the procedural data's **eval split**
  (`backends/tinyfm/data.py`: combinations of colours, pattern and camera move
  that training never sees), the camera moves in turn so that each gets the
  same share, `--seconds` long, with each character's reference image.
* Generates every prompt (caption + reference, seed `--seed` + its index) with
  three models:
  - **full**: the shipped weights (or `--weights`);
  - **(a) no cross-attention**: the same weights, the cross-branch
    attention between picture and sound removed;
  - **(b) untrained**: a model of the same shape with random weights.
* Measures each clip with `backends/tinyfm/measure.py`:
  - **colour ΔE**: CIEDE2000 between the reference's character colours and
    the generated character's (mean over clips; lower is better);
  - **camera accuracy**: the share of clips whose measured move (phase
    correlation of the background, the character's own track) is the
    prompt's (higher is better);
  - **sync**: over the clips with events (bounces, flashes), the mean
    offset between the visual events seen in the picture and the audio
    onsets matched to them, one to one within 250 ms, an unmatched event or
    a stray onset counting 250 ms (lower is better).  When the picture shows
    no event at all, the prompt's scripted event times stand in for it, so a
    model cannot win by drawing nothing.

Targets (printed PASS/FAIL): camera accuracy >= 90 %; sync <= one video
frame; and clear margins over both ablations: over (b), every measure
(camera >= 25 points, colour >= 5 ΔE, sync >= half a frame); over (a), sync
(>= half a frame), which is what the cross-branch attention is for.  The
colour and camera figures of (a) are reported, with no target: the picture
branch alone makes them.

`--oracle` evaluates the procedural clips themselves instead of a model - a
check of the harness, which must score about perfectly - against two sham
ablations that must fail: (a) each clip's own picture with its sound moved
by a third of a second, (b) the picture of another prompt with the sound of a
third.

    .venv/bin/python bench/tinyfm_eval.py [--oracle] [--n 36] [--seed 0] [--steps N]
        [--seconds 2] [--size 256] [--weights FILE] [--sound joint|after] [--residuals] [--json]

Exit status 0 when every target passes, 1 when one fails, 2 when there is no
model to evaluate (no weights, or no `backends.tinyfm.load_model`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backends.tinyfm import data, measure  # noqa: E402

FPS = 12
SAMPLE_RATE = 16000
CAMERA_TARGET = 0.90
CAMERA_MARGIN = 0.25  # over the untrained model, in share of clips
COLOUR_MARGIN = 5.0  # ΔE00 over the untrained model
SYNC_TARGET_MS = 1000.0 / FPS  # one video frame
SYNC_MARGIN_MS = 500.0 / FPS  # half a frame, over either ablation
ORACLE_SHIFT_S = 1 / 3  # the sham ablation (a) moves each clip's sound this far


class NoModel(Exception):
    """There is no model to evaluate: no code for it, or no weights."""


Generator = Callable[[data.ClipSpec, int], tuple[np.ndarray, np.ndarray]]


@dataclass
class Result:
    """One condition's measures over the prompts."""

    name: str
    delta_e: list[float] = field(default_factory=list)
    camera: list[tuple[str, str]] = field(default_factory=list)  # (asked, measured)
    sync: list[float] = field(default_factory=list)  # ms, clips with events only
    events_seen: int = 0  # clips with events whose picture showed at least one
    seconds: float = 0.0  # generating, all clips

    @property
    def mean_delta_e(self) -> float:
        return float(np.mean(self.delta_e)) if self.delta_e else 0.0

    @property
    def camera_accuracy(self) -> float:
        return sum(a == m for a, m in self.camera) / len(self.camera) if self.camera else 0.0

    @property
    def mean_sync(self) -> float:
        return float(np.mean(self.sync)) if self.sync else 0.0

    def summary(self) -> dict:
        return {
            "colour_delta_e": round(self.mean_delta_e, 2),
            "camera_accuracy": round(self.camera_accuracy, 4),
            "camera_correct": sum(a == m for a, m in self.camera),
            "clips": len(self.camera),
            "sync_ms": round(self.mean_sync, 1),
            "clips_with_events": len(self.sync),
            "events_seen_in_picture": self.events_seen,
            "generate_seconds": round(self.seconds, 1),
            "camera_misses": [{"asked": a, "measured": m} for a, m in self.camera if a != m],
        }


def prompts(n: int, seed: int, seconds: float) -> list[data.ClipSpec]:
    """`n` held-out prompts, the camera moves in turn."""
    rng = np.random.default_rng([seed, 0xE7A1])
    moves = data.CAMERA_MOVES
    return [data.sample_spec(rng, "eval", seconds, camera=moves[i % len(moves)]) for i in range(n)]


def evaluate(name: str, specs: list[data.ClipSpec], make: Generator, quiet: bool) -> Result:
    result = Result(name)
    for i, spec in enumerate(specs):
        start = time.perf_counter()
        frames, audio = make(spec, i)
        result.seconds += time.perf_counter() - start
        reference = data.reference_image(spec, 64)
        result.delta_e.append(measure.reference_delta_e(frames, reference))
        result.camera.append((spec.camera, measure.camera_direction(frames)))
        if spec.event_ticks:
            visual = measure.visual_events(frames, FPS)
            if visual:
                result.events_seen += 1
            else:  # nothing to see: the script's own times stand in
                visual = [t for t in spec.event_times if t < spec.seconds]
            onsets = measure.audio_onsets(audio, SAMPLE_RATE)
            result.sync.append(measure.sync_offset_ms(visual, onsets))
        if not quiet:
            print(f"\r  {name}: {i + 1}/{len(specs)}", end="", file=sys.stderr, flush=True)
    if not quiet:
        print(file=sys.stderr)
    return result


def oracle_conditions(specs, size) -> list[tuple[str, Generator]]:
    clips: dict[int, data.Clip] = {}

    def clip(i: int) -> data.Clip:
        i %= len(specs)
        if i not in clips:
            clips[i] = data.render(specs[i], size, FPS, SAMPLE_RATE)
        return clips[i]

    def itself(spec, i):
        return clip(i).frames, clip(i).audio

    def sound_moved(spec, i):
        shift = round(ORACLE_SHIFT_S * SAMPLE_RATE)
        return clip(i).frames, np.roll(clip(i).audio, shift)

    def another(spec, i):
        return clip(i + 1).frames, clip(i + 2).audio

    return [
        ("procedural clips", itself),
        ("(a) sham: sound moved 1/3 s", sound_moved),
        ("(b) sham: another prompt's picture", another),
    ]


def model_conditions(args) -> list[tuple[str, Generator]]:
    try:
        from backends.tinyfm import generate, load_model
    except (ImportError, AttributeError) as error:
        raise NoModel(
            f"no model to evaluate ({error}): `backends.tinyfm` must provide load_model "
            "and generate (or run with --oracle)"
        ) from None
    try:
        trained = load_model(args.weights)
        untrained = load_model(args.weights, untrained=True, seed=args.seed)
    except (FileNotFoundError, ValueError) as error:
        raise NoModel(f"cannot load the model: {error} (or run with --oracle)") from None
    height, width = args.size

    def with_(model, cross: bool) -> Generator:
        def make(spec, i):
            return generate(
                model,
                data.caption_for(spec),
                data.reference_image(spec, 64),
                spec.seconds,
                seed=args.seed + i,
                size=(width, height),
                fps=FPS,
                steps=args.steps,
                cross_attention=cross,
                **({"sound": args.sound} if args.sound else {}),
                **({"residuals": True} if args.residuals else {}),
            )

        return make

    return [
        ("full model", with_(trained, True)),
        ("(a) no cross-attention", with_(trained, False)),
        ("(b) untrained", with_(untrained, True)),
    ]


def verdicts(full: Result, no_cross: Result, untrained: Result) -> list[dict]:
    def row(what: str, value: float, target: str, ok: bool) -> dict:
        return {"target": what, "value": round(value, 4), "needs": target, "pass": bool(ok)}

    return [
        row("camera accuracy", full.camera_accuracy, f">= {CAMERA_TARGET:.0%}",
            full.camera_accuracy >= CAMERA_TARGET),
        row("sync (ms)", full.mean_sync, f"<= {SYNC_TARGET_MS:.1f} (one frame)",
            full.mean_sync <= SYNC_TARGET_MS),
        row("sync margin over (a), ms", no_cross.mean_sync - full.mean_sync,
            f">= {SYNC_MARGIN_MS:.1f} (half a frame)",
            no_cross.mean_sync - full.mean_sync >= SYNC_MARGIN_MS),
        row("camera margin over (b)", full.camera_accuracy - untrained.camera_accuracy,
            f">= {CAMERA_MARGIN:.2f}",
            full.camera_accuracy - untrained.camera_accuracy >= CAMERA_MARGIN),
        row("colour margin over (b), ΔE", untrained.mean_delta_e - full.mean_delta_e,
            f">= {COLOUR_MARGIN:.1f}", untrained.mean_delta_e - full.mean_delta_e >= COLOUR_MARGIN),
        row("sync margin over (b), ms", untrained.mean_sync - full.mean_sync,
            f">= {SYNC_MARGIN_MS:.1f} (half a frame)",
            untrained.mean_sync - full.mean_sync >= SYNC_MARGIN_MS),
    ]  # fmt: skip


def report(header: str, results: list[Result], checks: list[dict]) -> str:
    lines = [header, ""]
    lines.append(f"{'':38} {'colour ΔE00':>11} {'camera':>14} {'sync ms':>8} {'events seen':>12}")
    for r in results:
        correct = sum(a == m for a, m in r.camera)
        camera = f"{r.camera_accuracy:4.0%} ({correct}/{len(r.camera)})"
        seen = f"{r.events_seen}/{len(r.sync)}"
        lines.append(
            f"{r.name:38} {r.mean_delta_e:11.2f} {camera:>14} {r.mean_sync:8.1f} {seen:>12}"
        )
    lines += ["", "targets:"]
    for c in checks:
        verdict = "PASS" if c["pass"] else "FAIL"
        lines.append(f"  {c['target']:30} {c['value']:10.3f}  needs {c['needs']:28} {verdict}")
    misses = [f"{a} -> {m}" for a, m in results[0].camera if a != m]
    if misses:
        lines += ["", f"{results[0].name}, camera misses: " + "; ".join(misses)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--oracle", action="store_true", help="evaluate the procedural clips")
    parser.add_argument("--n", type=int, default=36, help="prompts (default 36: 3 per move)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None, help="sampling steps (model default)")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--size", type=int, nargs=2, default=(256, 256), metavar=("H", "W"))
    parser.add_argument("--weights", type=Path, default=None, help="a weights file")
    parser.add_argument(
        "--sound",
        choices=("joint", "after"),
        default=None,
        help="sample the sound with the picture, or again after it (model default)",
    )
    parser.add_argument(
        "--residuals",
        action="store_true",
        help="decode a sprite model's residuals too (generation leaves them out)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be at least 1")
    model_only = args.steps, args.weights, args.sound
    if args.oracle and (any(v is not None for v in model_only) or args.residuals):
        parser.error("--steps, --weights, --sound and --residuals are for a model, not --oracle")
    args.size = tuple(args.size)
    specs = prompts(args.n, args.seed, args.seconds)
    try:
        conditions = oracle_conditions(specs, args.size) if args.oracle else model_conditions(args)
    except NoModel as error:
        print(f"tinyfm_eval: {error}", file=sys.stderr)
        return 2
    results = [evaluate(name, specs, make, args.json) for name, make in conditions]
    checks = verdicts(*results)
    height, width = args.size
    what = (
        "procedural clips (--oracle)"
        if args.oracle
        else f"tinyfm, steps {args.steps or 'default'}, sound {args.sound or 'default'}"
        + (", residuals" if args.residuals else "")
    )
    header = (
        f"tinyfm eval: {what}; {args.n} held-out prompts (eval split, seed {args.seed}), "
        f"{args.seconds:g} s at {width}x{height} @ {FPS} fps, {SAMPLE_RATE} Hz"
    )
    if args.json:
        out = {
            "oracle": args.oracle,
            "n": args.n,
            "seed": args.seed,
            "steps": args.steps,
            "sound": args.sound,
            "residuals": args.residuals,
            "seconds": args.seconds,
            "size": [height, width],
            "conditions": {r.name: r.summary() for r in results},
            "targets": checks,
            "pass": all(c["pass"] for c in checks),
        }
        print(json.dumps(out, indent=2, ensure_ascii=False))
    else:
        print(report(header, results, checks))
    return 0 if all(c["pass"] for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
