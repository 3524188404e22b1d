"""Train tinyfm from a seed: `python -m backends.tinyfm.train`.

The defaults are the run that made the shipped weights
(`weights/tinyfm.safetensors`; 103.7 min on one thread of a 2-core CPU
shared with a second run; alone, 0.58 s a step on one thread and 0.34 s on
two, so about 57 min with `--threads 2`): the procedural clips of `data.py`
(train split), rendered at 64x64, 12 fps and 16 kHz, encoded once into the fixed
latents of `latent.py` (the `contacts` video latent, the mel latent with its
onset row), then
rectified-flow training of the joint model (`model.py`) on both streams
at once.  Progress goes to stdout (and `--log`); the EMA weights are written
every `--save-every` steps and at the end, so a stopped run still leaves
usable weights.

Choices, all in `Settings`:
- flow times from a logit-normal distribution (SD3), the same for both
  streams, except in a quarter of the batch where the sound's time is drawn on
  its own, so the audio branch also learns from cleaner (and noisier) video;
- classifier-free guidance dropout: 10% of captions and references dropped
  together, 10% of references alone; a quarter of the captions lose their
  colour words, so the character's colours must come from the reference;
- a random clock offset (0-2 s) on the time embeddings, so that the model
  makes clips longer than the 2 s it saw;
- AdamW, warm-up then cosine decay, gradient clipping, EMA of the weights.

`--init FILE` makes a second stage: training starts from that weights file (its
shape, words and statistics).  `--clean-picture P` gives a share of the batch a
clean picture and a noised sound, to train the sound on a finished picture (tried
with `generate(..., sound="after")`; docs/tinyfm.md has what it measured).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import data, latent
from .model import Conditioning, Config, TinyFM
from .pipeline import WEIGHTS, conditioning, load_model, save_model
from .text import Vocabulary, words

COLOUR_WORDS = frozenset(data.COLOURS) | frozenset(data.BACKGROUND_COLOURS)
# The normalised log-mel's mean rise over the bands, frame to frame, that starts a
# sound: the training clips' clicks and tones rise 0.1-0.6 into their first frame,
# and held sounds and silence about 0.
ONSET_RISE = 0.05


def _setting(default, help: str, choices: tuple[str, ...] | None = None):
    """A training setting: its default, the line `--help` gives for it, and the
    values it may take where they are few."""
    return field(default=default, metadata={"help": help, "choices": choices})


@dataclass(frozen=True)
class Settings:
    seed: int = _setting(0, "seed of the clips, the first weights and every draw in training")
    clips: int = _setting(6000, "procedural training clips rendered (data.py, train split)")
    steps: int = _setting(9500, "optimiser steps")
    batch: int = _setting(16, "clips per step")
    lr: float = _setting(1e-3, "peak learning rate (AdamW)")
    warmup: int = _setting(100, "steps of linear warm-up before the cosine decay")
    weight_decay: float = _setting(0.01, "AdamW weight decay")
    ema: float = _setting(0.998, "decay of the weights' moving average, which is what is saved")
    drop_all: float = _setting(
        0.1, "share of clips trained without caption or reference (for guidance)"
    )
    drop_reference: float = _setting(0.1, "share of clips trained without the reference")
    drop_colours: float = _setting(
        0.25, "share of captions that lose their colour words: colour from the reference"
    )
    independent_audio_time: float = _setting(
        0.25, "share of clips whose sound gets a flow time of its own"
    )
    # Those rows train the sound only: it learns to follow a finished picture, as
    # `generate(..., sound="after")` makes it.
    clean_picture: float = _setting(
        0.0, "share of clips with a clean picture (flow time 0) and a noised sound"
    )
    # The onsets are what sync is measured on, and a few frames of a clip.
    onset_weight: float = _setting(
        8.0, "how much more the sound's loss weighs where a sound starts"
    )
    max_offset: float = _setting(
        2.0, "seconds of random clock offset, so clips longer than 2 s come out"
    )
    dim: int = _setting(128, "model width")
    depth: int = _setting(4, "joint blocks")
    heads: int = _setting(4, "attention heads")
    threads: int = _setting(1, "CPU threads torch may use")
    save_every: int = _setting(500, "steps between saves of the weights")
    latent: str = _setting("contacts", "video latent (latent.py)", tuple(latent.VIDEO_CHANNELS))
    video_prediction: str = _setting(
        "data", "what the video branch predicts (model.Config)", ("data", "velocity")
    )
    number_tokens: bool = _setting(True, "the sprite's numbers as tokens too (yes/no)")
    audio_onsets: bool = _setting(True, "the sounds' onsets as a row of the audio latent (yes/no)")
    onset_row_weight: float = _setting(
        1.0, "the onset row's mean error added to the bands' this many times (0: one row of 33)"
    )
    # The path and sprite latents only.  The residuals are smaller than the first
    # picture (spread 1) so that the sampler settles the numbers, then the picture,
    # then the residuals; each part of the video loss is averaged over its own values
    # (by count a path latent's first frame is 1/48 of it, its path half of it).
    path_scale: float = _setting(
        12.0, "scale of the latent's numbers: paths, track, flashes (latent.Stats)"
    )
    residual_spread: float = _setting(0.5, "the residuals' spread in the model's units")
    first_weight: float = _setting(1.0, "weight of the first picture in the video loss")
    residual_weight: float = _setting(0.25, "weight of the residuals in the video loss")
    path_weight: float = _setting(2.0, "weight of the numbers in the video loss")
    init: str = _setting(
        "", "start from this weights file (its shape, words and statistics): a second stage"
    )


@dataclass
class Dataset:
    video: torch.Tensor  # (N, 3 or 6 channels, T, 16, 16) float16, normalised
    audio: torch.Tensor  # (N, 32 or 33 rows, F) float16, normalised
    references: torch.Tensor  # (N, 3, 16, 16) in [-1, 1]
    captions: list[str]


def prompt_words() -> list[str]:
    """The language's prompt words (director.prompts), so plan prompts read the same."""
    from director.prompts import MOVE_VERBS, SIZE_WORDS

    extra = ["left", "right", "up", "down", "in", "out", "slowly", "quickly", "camera"]
    return [*SIZE_WORDS, *SIZE_WORDS.values(), *MOVE_VERBS.values(), *extra]


def render_dataset(
    settings: Settings, log, stats: latent.Stats | None = None
) -> tuple[Dataset, latent.Stats]:
    """Render the training clips and encode them into latents normalised by `stats`
    (measured on the clips when not given)."""
    raw = latent.Stats(0.0, 1.0, 0.0, 1.0, 0.0, 1.0, settings.path_scale)
    videos, audios, refs, captions, onsets = [], [], [], [], []
    started = time.monotonic()
    for i, clip in enumerate(data.clips(settings.clips, settings.seed, split="train")):
        videos.append(encode_clip_video(clip, settings.latent, raw).half())
        audios.append(latent.encode_audio(clip.audio, raw).half())
        if settings.audio_onsets:
            onsets.append(latent.onset_pulses(audios[-1].shape[1], data.sound_onsets(clip)))
        refs.append(_reference(clip.reference))
        captions.append(clip.caption)
        if (i + 1) % 500 == 0:
            log(f"rendered {i + 1}/{settings.clips} clips ({time.monotonic() - started:.0f}s)")
    video, audio = torch.stack(videos).float(), torch.stack(audios).float()
    # A path or sprite latent: its numbers (paths, track, flashes) keep their fixed
    # scale, and its first picture and residuals are normalised apart.
    layered = settings.latent in LAYERED
    first, picture = _normalised_regions(settings.latent)
    stats = stats or latent.Stats(
        video_mean=round(video[picture].mean().item(), 4),
        video_std=round(
            video[picture].std().item() / (settings.residual_spread if layered else 1.0), 4
        ),
        audio_mean=round(audio.mean().item(), 4),
        audio_std=round(audio.std().item(), 4),
        first_mean=round(video[first].mean().item(), 4),
        first_std=round(video[first].std().item(), 4),
        path_scale=settings.path_scale,
    )
    if layered:
        video[first] = (video[first] - stats.first_mean) / stats.first_std
        video[picture] = (video[picture] - stats.video_mean) / stats.video_std
    else:
        video = (video - stats.video_mean) / stats.video_std
    video = video.half()
    audio = (audio - stats.audio_mean) / stats.audio_std
    if settings.audio_onsets:
        pulses = torch.as_tensor(np.stack(onsets))[:, None] * latent.ONSET_SCALE
        audio = torch.cat([audio, pulses], 1)
    audio = audio.half()
    return Dataset(video, audio, torch.stack(refs), captions), stats


LAYERED = ("path", "sprite", "contacts")  # latents of a picture, residuals and numbers
_ALL = slice(None)


def _normalised_regions(kind: str) -> tuple[tuple, tuple]:
    """Where a batch of `kind` latents (B, C, T, 16, 16) holds its first picture and
    its residuals (the frames latent: all of it, both)."""
    if kind == "path":
        return (_ALL, slice(0, 3), slice(0, 1)), (_ALL, slice(0, 3), slice(1, None))
    if kind in latent.NUMBERS:
        return (_ALL, latent.SPRITE_BACKGROUND), (_ALL, latent.SPRITE_RESIDUAL)
    return (_ALL,), (_ALL,)


def _loss_regions(kind: str) -> dict[str, tuple]:
    """The parts of a layered latent the video loss weighs alike: its still picture
    ("first"), its residuals and its numbers ("path")."""
    if kind == "path":
        first, residual = _normalised_regions(kind)
        return {"first": first, "residual": residual, "path": (_ALL, slice(3, None))}
    return {
        "first": (_ALL, latent.SPRITE_STILL),
        "residual": (_ALL, latent.SPRITE_RESIDUAL),
        "path": (_ALL, latent.NUMBERS[kind]),
    }


def encode_clip_video(clip: data.Clip, kind: str, stats: latent.Stats) -> torch.Tensor:
    """A clip's pictures in the video latent `kind` ("frames", "path", "sprite" or "contacts"),
    with what the renderer knows of them (the camera path; the layers, the
    character's track and the flashes)."""
    count = len(clip.frames)
    if kind == "path":
        return latent.encode_video_path(
            clip.frames, data.camera_path(clip.spec, count, clip.fps), stats
        )
    if kind in latent.NUMBERS:
        height, width = clip.frames.shape[1:3]
        first = data.clip_layers(clip.spec, (height, width), clip.fps, frames=1)
        contacts = kind == "contacts"
        return latent.encode_video_sprite(
            clip.frames,
            first.background[0],
            first.colour[0],
            first.alpha[0],
            data.camera_path(clip.spec, count, clip.fps),
            data.character_track(clip.spec, count, clip.fps, lifted=not contacts),
            data.flash_track(clip.spec, count, clip.fps, width / height),
            stats,
            _contact_pulses(clip, count) if contacts else None,
        )
    return latent.encode_video(clip.frames, stats)


def _contact_pulses(clip: data.Clip, count: int) -> np.ndarray:
    frames = data.contact_frames(clip.spec, count, clip.fps)
    return latent.contact_pulses(count, frames, clip.spec.bounce_height)


def _reference(image: np.ndarray) -> torch.Tensor:
    from .pipeline import reference_tensor

    return reference_tensor(image)


def batch_conditioning(
    model: TinyFM, dataset: Dataset, index: torch.Tensor, rng: np.random.Generator, s: Settings
) -> Conditioning:
    """Captions and references for a batch, with the guidance dropouts applied."""
    captions, references = [], []
    for i in index.tolist():
        caption, reference = dataset.captions[i], dataset.references[i]
        roll = rng.random()
        if roll < s.drop_all:
            caption, reference = "", None
        elif roll < s.drop_all + s.drop_reference:
            reference = None
        if caption and rng.random() < s.drop_colours:
            caption = " ".join(w for w in words(caption) if w not in COLOUR_WORDS)
        captions.append(caption)
        references.append(reference)
    cond = conditioning(model, captions, [None] * len(captions))
    for row, reference in enumerate(references):
        if reference is not None:
            cond.reference[row] = reference
            cond.has_ref[row] = True
    return cond


def logit_normal(n: int, generator: torch.Generator) -> torch.Tensor:
    return torch.sigmoid(torch.randn(n, generator=generator))


def train(settings: Settings, out: Path, log=print) -> TinyFM:
    torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    log(f"tinyfm training: {settings}")
    start = load_model(Path(settings.init)) if settings.init else None
    if start is not None and start.cfg.latent != settings.latent:
        raise ValueError(f"{settings.init} is a {start.cfg.latent} model: give --latent to match")
    dataset, stats = render_dataset(settings, log, start.stats if start else None)
    # A second stage keeps its start's words (its embedding table is sized by them;
    # words of the captions outside them are dropped, as at generation).
    vocabulary = (
        start.vocabulary if start else Vocabulary.build([*dataset.captions, *prompt_words()])
    )
    cfg = (
        start.cfg
        if start is not None
        else Config(
            vocab_size=len(vocabulary),
            max_words=vocabulary.max_words,
            dim=settings.dim,
            depth=settings.depth,
            heads=settings.heads,
            latent=settings.latent,
            video_prediction=settings.video_prediction,
            number_tokens=settings.number_tokens,
            video_channels=latent.VIDEO_CHANNELS[settings.latent],
            audio_channels=latent.ONSET_ROWS if settings.audio_onsets else latent.MEL_BANDS,
        )
    )
    model = TinyFM(cfg, vocabulary, stats)
    if start is not None:
        model.load_state_dict(start.state_dict())
    ema = TinyFM(cfg, vocabulary, stats)
    ema.load_state_dict(model.state_dict())
    ema.requires_grad_(False)
    params = sum(p.numel() for p in model.parameters())
    log(f"{len(vocabulary)} words, {params / 1e6:.2f}M parameters, stats {stats}")
    optimiser = torch.optim.AdamW(
        model.parameters(), lr=settings.lr, betas=(0.9, 0.99), weight_decay=settings.weight_decay
    )
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: _lr(step, settings))
    started, recent = time.monotonic(), []
    n = len(dataset.captions)
    for step in range(1, settings.steps + 1):
        index = torch.randint(n, (settings.batch,), generator=generator)
        parts = _loss(model, dataset, index, generator, rng, settings)
        loss = parts["video"] + parts["audio"]
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        _update_ema(ema, model, min(settings.ema, (1 + step) / (10 + step)))
        recent.append({k: v.item() for k, v in parts.items()})
        if step % 20 == 0 or step == settings.steps:
            elapsed = time.monotonic() - started
            mean = {k: float(np.mean([r[k] for r in recent])) for k in recent[0]}
            recent.clear()
            eta = elapsed / step * (settings.steps - step)
            detail = " ".join(f"{k} {v:.4f}" for k, v in mean.items())
            log(
                f"step {step}/{settings.steps} loss {mean['video'] + mean['audio']:.4f} "
                f"({detail}) "
                f"lr {schedule.get_last_lr()[0]:.2e} {elapsed / step:.2f}s/step "
                f"elapsed {elapsed / 60:.1f}min eta {eta / 60:.1f}min"
            )
        if step % settings.save_every == 0 or step == settings.steps:
            save_model(ema.eval(), out)
    log(f"done in {(time.monotonic() - started) / 60:.1f} min; weights: {out}")
    return ema


def _loss(model, dataset, index, generator, rng, settings) -> dict[str, torch.Tensor]:
    """The rectified-flow loss of both streams (predict noise - data at x_t): "video"
    and "audio", each a mean squared error; for a path or sprite latent, the video's is
    the weighted mean of its parts' ("first", "residual", "path"), each over its own
    values."""
    b = len(index)
    x_v, x_a = dataset.video[index].float(), dataset.audio[index].float()
    noise_v = torch.randn(x_v.shape, generator=generator)
    if settings.video_prediction == "data":
        noise_v = latent.tie(noise_v, settings.latent, noise=True)
    noise_a = torch.randn(x_a.shape, generator=generator)
    t_v = logit_normal(b, generator)
    own = torch.rand(b, generator=generator) < settings.independent_audio_time
    t_a = torch.where(own, logit_normal(b, generator), t_v)
    clean = torch.rand(b, generator=generator) < settings.clean_picture
    t_a = torch.where(clean, logit_normal(b, generator), t_a)
    t_v = torch.where(clean, 0.0, t_v)
    offset = torch.rand(b, generator=generator) * settings.max_offset
    xt_v = (1 - t_v.view(b, 1, 1, 1, 1)) * x_v + t_v.view(b, 1, 1, 1, 1) * noise_v
    xt_a = (1 - t_a.view(b, 1, 1)) * x_a + t_a.view(b, 1, 1) * noise_a
    cond = batch_conditioning(model, dataset, index, rng, settings)
    pred_v, pred_a = model(xt_v, xt_a, t_v, t_a, cond, time_offset=offset)
    error_v = (pred_v - (noise_v - x_v)).square()[~clean]  # a clean picture trains no video
    error_a = (pred_a - (noise_a - x_a)).square()
    error_a = error_a * onset_weights(x_a[:, : latent.MEL_BANDS], settings.onset_weight)
    if settings.onset_row_weight and error_a.shape[1] == latent.ONSET_ROWS:
        mel, row = error_a.split([latent.MEL_BANDS, 1], dim=1)
        parts = {"audio": mel.mean() + settings.onset_row_weight * row.mean()}
    else:
        parts = {"audio": error_a.mean()}
    if settings.latent not in LAYERED:
        return {"video": _mean(error_v), **parts}
    for name, region in _loss_regions(settings.latent).items():
        parts[name] = _mean(error_v[region])
    weights = {
        "first": settings.first_weight,
        "residual": settings.residual_weight,
        "path": settings.path_weight,
    }
    video = sum(w * parts[k] for k, w in weights.items()) / sum(weights.values())
    return {"video": video, **parts}


def onset_weights(audio: torch.Tensor, weight: float) -> torch.Tensor:
    """(B, 1, F) weights for a batch of normalised log-mel latents (B, bands, F):
    1 + `weight` on the frames a sound starts in (the bands' mean rise into the
    frame above `ONSET_RISE`) and on the frame before each (which must stay quiet:
    a sound early is as far off as one late), 1 elsewhere."""
    rise = (audio[:, :, 1:] - audio[:, :, :-1]).clamp(min=0).mean(1, keepdim=True)
    onset = F.pad(rise > ONSET_RISE, (1, 0))  # a rise into this frame
    onset = onset | F.pad(onset[:, :, 1:], (0, 1))  # ... or into the next
    return 1 + weight * onset.float()


def _mean(error: torch.Tensor) -> torch.Tensor:
    """The mean, 0 for no values (a batch whose every picture is clean)."""
    return error.mean() if error.numel() else error.sum()


def _lr(step: int, settings: Settings) -> float:
    if step < settings.warmup:
        return (step + 1) / settings.warmup
    progress = (step - settings.warmup) / max(1, settings.steps - settings.warmup)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))


@torch.no_grad()
def _update_ema(ema: TinyFM, model: TinyFM, decay: float) -> None:
    for e, p in zip(ema.parameters(), model.parameters(), strict=True):
        e.lerp_(p, 1 - decay)


def _parser(default):
    """How a setting's value is read from the command line: its default's type, and
    a yes/no for a flag (bool("false") would be true)."""
    if not isinstance(default, bool):
        return type(default)

    def flag(text: str) -> bool:
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise argparse.ArgumentTypeError(f"{text!r} is not yes or no")

    return flag


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m backends.tinyfm.train",
        description=__doc__.splitlines()[0],
        epilog="The defaults reproduce the shipped weights: about 57 min with --threads 2 "
        "on a 2-core CPU, 95 min on one thread; docs/tinyfm.md has the runs tried and what "
        "each measured.",
    )
    for setting in fields(Settings):
        parser.add_argument(
            f"--{setting.name.replace('_', '-')}",
            type=_parser(setting.default),
            default=None,
            choices=setting.metadata["choices"],
            help=f"{setting.metadata['help']} (default: {setting.default!r})",
        )
    parser.add_argument("--out", type=Path, default=WEIGHTS, help="where the weights go")
    parser.add_argument("--log", type=Path, help="also write progress to this file")
    args = parser.parse_args(argv)
    given = {f.name: getattr(args, f.name) for f in fields(Settings)}
    settings = replace(Settings(), **{k: v for k, v in given.items() if v is not None})
    log_file = args.log.open("a", encoding="utf-8") if args.log else None

    def log(line: str) -> None:
        print(line, flush=True)
        if log_file:
            log_file.write(line + "\n")
            log_file.flush()

    train(settings, args.out, log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
