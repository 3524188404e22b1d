"""tinyfm's video latent, round-tripped: what camera accuracy a perfect model could reach.

A model can never show more than its latent keeps. This encodes the held-out
prompts of `bench/tinyfm_eval.py` (same prompts, same seed) into a video
latent and straight back, with no model in between, and measures the decoded
clips' camera move with `backends/tinyfm/measure.py`, as the evaluation does:

* **shipped (16x16 frames)**: the first shipped model's latent (`latent.encode_video`):
  every frame area-averaged to a 16x16 grid, decoded by bicubic upsampling;
* **camera path** (`latent.encode_video_path`, a model's `latent: path`; never
  shipped): the first frame on the 16x16 grid, the
  background's path per frame (scale and shift: three numbers a frame), and
  per frame the 16x16 residual between the frame and the first frame moved
  along the path; decoded by moving the upsampled first frame along the path
  and adding the upsampled residual;
* **camera path, no residual**: the same without the residuals (what the path
  alone carries);
* **sprite** (`latent.encode_video_sprite`, the second shipped model's): the first
  frame's background on the grid, the character on a grid of its own box, the
  camera path, the character's track and the flashes as numbers a frame, and
  residuals; **sprite, no residual** without them;
* **contacts, no residual** (`latent: contacts`, the shipped model's): the sprite with a bounce
  kept as its floor contacts and apex, the foot's rise drawn between them.

Beside the camera figure, the events each decoded picture shows (flashes,
bounces) are scored against the scripted ones as the evaluation scores sync
(with no stand-in for a picture that shows none).

The path, track and flashes come from the procedural data's own renderer
(`data.camera_path`, `character_track`, `flash_track`, `clip_layers`), as a
training encoder has them. Clips are 64x64 (the training size),
decoded at `--size` (256, the evaluation's).

    .venv/bin/python bench/tinyfm_latent.py [--n 36] [--seed 0] [--size 256] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from tinyfm_eval import FPS, SAMPLE_RATE, prompts  # noqa: E402

from backends.tinyfm import data, latent, measure  # noqa: E402
from backends.tinyfm.train import encode_clip_video  # noqa: E402

GRID = latent.LATENT_SIDE
TRAINING_SIZE = (64, 64)


def shipped(clip: data.Clip, size: int) -> np.ndarray:
    stats = latent.Stats(0.0, 1.0, 0.0, 1.0, 0.0, 1.0)
    return latent.decode_video(latent.encode_video(clip.frames, stats), stats, (size, size))


def camera_path(clip: data.Clip, size: int, residuals: bool = True) -> np.ndarray:
    stats = latent.Stats(0.0, 1.0, 0.0, 1.0, 0.0, 1.0)
    path = data.camera_path(clip.spec, len(clip.frames), FPS)
    encoded = latent.encode_video_path(clip.frames, path, stats)
    if not residuals:
        encoded[:3, 1:] = 0.0
    return latent.decode_video_path(encoded, stats, (size, size))


def sprite(clip: data.Clip, size: int, residuals: bool = True, kind: str = "sprite") -> np.ndarray:
    stats = latent.Stats(0.0, 1.0, 0.0, 1.0, 0.0, 1.0)
    encoded = encode_clip_video(clip, kind, stats)
    if not residuals:
        encoded[:3] = 0.0
    return latent.decode_video_sprite(encoded, stats, (size, size))


LATENTS = {
    "shipped (16x16 frames)": shipped,
    "camera path + 16x16 residuals": camera_path,
    "camera path, no residual": lambda clip, size: camera_path(clip, size, residuals=False),
    "sprite + 16x16 residuals": sprite,
    "sprite, no residual": lambda clip, size: sprite(clip, size, residuals=False),
    "contacts, no residual": lambda clip, size: sprite(clip, size, False, "contacts"),
}


def sync_ms(clip: data.Clip, decoded: np.ndarray) -> float:
    """The visual events the decoded picture shows against the scripted ones, scored
    as the evaluation scores sync (an event missing or extra counts 250 ms), with no
    stand-in for a picture that shows none: what a model whose sound followed its
    picture perfectly could score on this latent."""
    seen = measure.visual_events(decoded, FPS)
    scripted = [t for t in clip.spec.event_times if t < clip.spec.seconds]
    return measure.sync_offset_ms(scripted, seen)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=36)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    specs = prompts(args.n, args.seed, 2.0)
    clips = [data.render(spec, TRAINING_SIZE, FPS, SAMPLE_RATE) for spec in specs]
    results = {}
    for name, round_trip in LATENTS.items():
        decoded = [round_trip(clip, args.size) for clip in clips]
        moves = [
            (clip.camera, measure.camera_direction(d))
            for clip, d in zip(clips, decoded, strict=True)
        ]
        syncs = [
            sync_ms(clip, d)
            for clip, d in zip(clips, decoded, strict=True)
            if clip.spec.event_ticks
        ]
        results[name] = {
            "camera_right": sum(asked == seen for asked, seen in moves),
            "clips": len(moves),
            "wrong": [f"{asked} -> {seen}" for asked, seen in moves if asked != seen],
            "sync_ms": round(float(np.mean(syncs)), 1),
            "clips_with_events": len(syncs),
        }
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    print(f"{args.n} held-out prompts (seed {args.seed}), 64x64 clips decoded at {args.size}")
    for name, result in results.items():
        share = result["camera_right"] / result["clips"]
        print(
            f"  {name:<32} camera {result['camera_right']:>3}/{result['clips']} ({share:.0%})"
            f"   sync {result['sync_ms']:6.1f} ms over {result['clips_with_events']} clips"
        )
        for wrong in sorted(set(result["wrong"])):
            print(f"      {wrong} x{result['wrong'].count(wrong)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
