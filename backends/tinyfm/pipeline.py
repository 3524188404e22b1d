"""Loading tinyfm's weights and generating a clip: caption and reference in,
frames and sound out.

The weights file is safetensors; its metadata holds what the tensors need to
make sense: the model's `Config`, the caption vocabulary and the latents'
statistics.  An untrained model of the same shape (an ablation) reads only
that metadata and draws its weights from a seed.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import WEIGHTS, latent, sampler
from .model import REF_SIDE, Conditioning, Config, TinyFM
from .text import Vocabulary

FORMAT = "tinyfm-1"
FPS = 12.0  # the model's own frame rate
# 32 steps: on the held-out prompts of seed 1 the shipped model reads 66 camera moves of
# 72 right against 65 at 16 steps, the least the 90 % allows (bench/tinyfm_eval.py,
# docs/tinyfm.md); a 4 s shot takes about 2 s on one CPU thread.
DEFAULT_STEPS = 32
DEFAULT_GUIDANCE = 3.0
DEFAULT_SAMPLER = "euler"
DEFAULT_SHIFT = 1.0
DEFAULT_SOUND = "joint"
# A sprite latent's residuals blur the drawn picture more than they add: without
# them the sprite model's camera moves read 78 % right against 61 %, its colours
# 13.6 against 14.1 ΔE00, sync about the same (bench/tinyfm_eval.py, docs/tinyfm.md);
# and without them the character's coverage is gated (latent.COVERAGE_GATE).
DEFAULT_RESIDUALS = False
SOUND_ORDERS = ("joint", "after")


# ------------------------------------------------------------------ weights


def save_model(model: TinyFM, path: Path) -> None:
    """The model's weights and what they need (config, vocabulary, statistics)."""
    from safetensors.torch import save_file

    metadata = {
        "format": FORMAT,
        "config": json.dumps(model.cfg.to_dict()),
        "vocabulary": json.dumps(list(model.vocabulary.tokens)),
        "max_words": str(model.vocabulary.max_words),
        "stats": json.dumps(asdict(model.stats)),
    }
    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata=metadata)


def load_model(weights: Path | None = None, *, untrained: bool = False, seed: int = 0) -> TinyFM:
    """The model in `weights` (the shipped file by default), in eval mode; with
    `untrained`, a model of the same shape with weights drawn from `seed`."""
    from safetensors import safe_open

    path = Path(weights) if weights is not None else WEIGHTS
    if not path.is_file():
        raise FileNotFoundError(
            f"no tinyfm weights at {path}: train them with `python -m backends.tinyfm.train`"
        )
    with safe_open(str(path), framework="pt") as file:
        metadata = file.metadata() or {}
        if metadata.get("format") != FORMAT:
            raise ValueError(f"{path} is not a {FORMAT} weights file")
        state = None if untrained else {key: file.get_tensor(key) for key in file.keys()}  # noqa: SIM118
    cfg = Config.from_dict(json.loads(metadata["config"]))
    vocabulary = Vocabulary(tuple(json.loads(metadata["vocabulary"])), int(metadata["max_words"]))
    stats = latent.Stats(**json.loads(metadata["stats"]))
    torch.manual_seed(seed)
    model = TinyFM(cfg, vocabulary, stats)
    if untrained:
        _randomise_zero_layers(model, seed)
    else:
        model.load_state_dict(state)
    return model.eval()


def _randomise_zero_layers(model: TinyFM, seed: int) -> None:
    """adaLN-Zero starts with zero gates and zero outputs, which would make an
    untrained model predict no velocity at all; give those layers the default
    initialisation of a linear layer, so the ablation is a random network."""
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Linear) and not module.weight.any():
                bound = 1 / module.in_features**0.5
                module.weight.uniform_(-bound, bound, generator=generator)
                module.bias.uniform_(-bound, bound, generator=generator)


# --------------------------------------------------------------- generating


def reference_tensor(reference: np.ndarray | None) -> torch.Tensor:
    """An (R, R, 3) uint8 reference image as a (3, 16, 16) thumbnail in [-1, 1]."""
    if reference is None:
        return torch.zeros(3, REF_SIDE, REF_SIDE)
    image = torch.tensor(np.array(reference)[..., :3]).float().permute(2, 0, 1)
    return F.adaptive_avg_pool2d(image / 127.5 - 1.0, REF_SIDE)


def conditioning(model: TinyFM, captions: list[str], references: list) -> Conditioning:
    """Word ids and reference thumbnails for a batch of captions and references."""
    return Conditioning(
        model.vocabulary.encode(captions),
        torch.stack([reference_tensor(r) for r in references]),
        torch.tensor([r is not None for r in references]),
    )


def latent_shapes(seconds: float) -> tuple[int, int, int]:
    """Video latent frames, mel frames and audio samples for a clip of `seconds`."""
    frames = max(2, round(seconds * FPS))
    frames += frames % 2
    samples = round(seconds * latent.SAMPLE_RATE)
    return frames, latent.mel_frames(samples), samples


def generate(
    model: TinyFM,
    caption: str,
    reference: np.ndarray | None,
    seconds: float,
    *,
    seed: int,
    size: tuple[int, int] = (256, 256),
    fps: float = 12,
    steps: int | None = None,
    cross_attention: bool = True,
    guidance: float = DEFAULT_GUIDANCE,
    method: str = DEFAULT_SAMPLER,
    shift: float = DEFAULT_SHIFT,
    sound: str = DEFAULT_SOUND,
    residuals: bool = DEFAULT_RESIDUALS,
) -> tuple[np.ndarray, np.ndarray]:
    """A clip of `seconds`: (T, height, width, 3) uint8 frames at `fps` (`size` is
    (width, height)) and (samples,) float32 sound at 16 kHz.  The model makes 12
    frames a second; another rate takes the nearest made frame.  Sampling is by
    `method` ("euler" or "heun") over `steps` (spaced by `sampler.times` with
    `shift`) with classifier-free guidance.  `sound="joint"` samples picture and
    sound together; `"after"` then samples the sound again, from its own noise,
    over the finished picture (held clean), so the sound follows what is seen.
    `residuals` adds a sprite latent's residuals to its drawn layers."""
    if sound not in SOUND_ORDERS:
        raise ValueError(f"sound must be one of {', '.join(SOUND_ORDERS)}, not {sound!r}")
    frames, mels, samples = latent_shapes(seconds)
    generator = torch.Generator().manual_seed(seed)
    side, channels = latent.LATENT_SIDE, model.cfg.video_channels
    video = torch.randn(1, channels, frames, side, side, generator=generator)
    if model.cfg.video_prediction == "data":
        video = latent.tie(video, model.cfg.latent, noise=True)  # as in training
    audio = torch.randn(1, model.cfg.audio_channels, mels, generator=generator)
    cond = conditioning(model, [caption], [reference])
    null = Conditioning.empty(1, model.cfg.max_words)
    x = _pack(video, audio)

    def joint_velocity(c: Conditioning, x: torch.Tensor, t: float) -> torch.Tensor:
        vid, aud = _unpack(x, video.shape, audio.shape)
        tt = torch.full((x.shape[0],), t)
        return _pack(*model(vid, aud, tt, tt, c, cross_attention=cross_attention))

    ts = sampler.times(steps or DEFAULT_STEPS, shift=shift)
    solve = sampler.SAMPLERS[method]
    x = solve(_with_guidance(joint_velocity, cond, null, guidance), x, ts)
    video, audio = _unpack(x, video.shape, audio.shape)
    if sound == "after":
        picture = video

        def sound_velocity(c: Conditioning, a: torch.Tensor, t: float) -> torch.Tensor:
            b = a.shape[0]
            times = (torch.zeros(b), torch.full((b,), t))
            vid = picture.expand(b, *picture.shape[1:])
            return model(vid, a, *times, c, cross_attention=cross_attention)[1]

        noise = torch.randn(audio.shape, generator=generator)
        audio = solve(_with_guidance(sound_velocity, cond, null, guidance), noise, ts)
    decode = latent.decoder(model.cfg.latent, residuals)
    picture = decode(video[0], model.stats, size)
    count = max(1, round(seconds * fps))
    made = np.minimum((np.arange(count) * FPS / fps).round().astype(int), len(picture) - 1)
    track = latent.decode_audio(audio[0], model.stats, samples, seed=seed)
    return picture[made], track


def _with_guidance(velocity, cond: Conditioning, null: Conditioning, guidance: float):
    """`velocity(conditioning, x, t)` as a sampler's `velocity(x, t)`, with
    classifier-free guidance (one batched call) unless `guidance` is 1."""
    if guidance == 1.0:
        return partial(velocity, cond)
    both = cond.cat(null)
    return sampler.guided(lambda x, t: velocity(both, torch.cat([x, x]), t).chunk(2), guidance)


def _pack(video: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
    return torch.cat([video.flatten(1), audio.flatten(1)], 1)


def _unpack(x: torch.Tensor, video_shape, audio_shape) -> tuple[torch.Tensor, torch.Tensor]:
    split = int(np.prod(video_shape[1:]))
    b = x.shape[0]
    return x[:, :split].reshape(b, *video_shape[1:]), x[:, split:].reshape(b, *audio_shape[1:])
