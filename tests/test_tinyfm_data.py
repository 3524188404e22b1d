"""The procedural training data of tinyfm: shapes, determinism, the split, events and sound."""

from __future__ import annotations

import time
from collections import Counter

import numpy as np
import pytest

from backends.tinyfm import data


@pytest.fixture(scope="module")
def train_clips() -> list[data.Clip]:
    return list(data.clips(48, seed=7, split="train"))


def test_clip_shapes_and_types(train_clips):
    for clip in train_clips:
        frames = round(clip.spec.seconds * clip.fps)
        assert clip.frames.shape == (frames, 64, 64, 3) and clip.frames.dtype == np.uint8
        assert clip.audio.shape == (frames * clip.sample_rate // clip.fps,)
        assert clip.audio.dtype == np.float32 and np.abs(clip.audio).max() <= 1.0
        assert clip.reference.shape == (64, 64, 3) and clip.reference.dtype == np.uint8
        assert clip.camera in data.CAMERA_MOVES and clip.camera == clip.spec.camera
        assert all(0 <= e.frame < frames for e in clip.events)


def test_any_size_and_rate():
    spec = data.sample_spec(np.random.default_rng(3), seconds=1.5)
    clip = data.render(spec, size=(48, 80), fps=24, sample_rate=8000)
    assert clip.frames.shape == (36, 48, 80, 3)
    assert clip.audio.shape == (12000,)
    assert clip.reference.shape == (48, 48, 3)


def test_same_seed_same_bytes():
    a = list(data.clips(3, seed=11, split="eval", size=(32, 40)))
    b = list(data.clips(3, seed=11, split="eval", size=(32, 40)))
    for x, y in zip(a, b, strict=True):
        assert x.spec == y.spec and x.caption == y.caption
        assert x.frames.tobytes() == y.frames.tobytes()
        assert x.audio.tobytes() == y.audio.tobytes()
    c = next(data.clips(1, seed=12, split="eval", size=(32, 40)))
    assert c.spec != a[0].spec


def test_split_holds_out_combinations():
    rng = np.random.default_rng(0)
    train = [data.sample_spec(rng, "train") for _ in range(400)]
    held = [data.sample_spec(rng, "eval") for _ in range(150)]

    def combo(s):
        return (s.primary, s.secondary, s.pattern, s.camera)

    assert {combo(s) for s in train}.isdisjoint({combo(s) for s in held})
    assert all(data.split_of(*combo(s)) == "eval" for s in held)
    # every move, colour and pattern of the held-out clips is seen in training on its own
    for field in ("camera", "primary", "pattern"):
        assert {getattr(s, field) for s in held} <= {getattr(s, field) for s in train}
    assert set(Counter(s.camera for s in train)) == set(data.CAMERA_MOVES)
    with pytest.raises(ValueError, match="split"):
        data.sample_spec(rng, "test")


def test_moves_are_drawn_evenly():
    rng = np.random.default_rng(1)
    counts = Counter(data.sample_spec(rng).camera for _ in range(1200))
    assert min(counts.values()) > 1200 / len(data.CAMERA_MOVES) * 0.6, counts


def test_caption_says_what_is_shown(train_clips):
    for clip in train_clips:
        s, text = clip.spec, clip.caption
        kind, _, direction = s.camera.partition(" ")
        assert text.startswith(f"{s.size}. camera {data.MOVE_PHRASES[kind]}")
        assert direction in text
        assert f"{s.primary} {s.shape}" in text and f"{s.floor} floor" in text
        if s.secondary:
            assert f"with {s.secondary} {s.pattern}" in text
        assert ("click on each bounce" in text) == (s.action == "bounce")
        assert ("tone with each flash" in text) == (s.action == "flash")


def _mask(clip: data.Clip) -> np.ndarray:
    """Pixels near one of the character's colours: (T, H, W) bool."""
    colours = np.array(data.character_colours(clip.spec), dtype=np.int32)
    d = np.abs(clip.frames[..., None, :].astype(np.int32) - colours).sum(-1).min(-1)
    return d < 30


def test_character_stays_in_frame_and_away_from_the_edges(train_clips):
    for clip in train_clips:
        if clip.spec.action == "flash":
            continue
        mask = _mask(clip)
        assert mask.sum(axis=(1, 2)).min() > 4, clip.caption
        assert not mask[:, :2].any() and not mask[:, -2:].any(), clip.caption
        assert not mask[:, :, :2].any() and not mask[:, :, -2:].any(), clip.caption


def test_bounce_contacts_are_the_lowest_frames_and_click():
    rng = np.random.default_rng(5)
    seen = 0
    while seen < 6:
        spec = data.sample_spec(rng)
        if spec.action != "bounce" or spec.camera != "static":
            continue
        seen += 1
        clip = data.render(spec, size=(96, 96))
        mask = _mask(clip)
        rows = np.arange(96)[None, :, None]
        bottom = np.where(mask, rows, -1).max(axis=(1, 2))  # lowest character row
        for event in clip.events:
            f = event.frame
            assert bottom[f] >= bottom[max(0, f - 1)] and bottom[f] >= bottom[f + 1]
            assert abs(bottom[f] + 1 - event.y * 96) <= 2  # the row above the contact line
            start = f * clip.sample_rate // clip.fps
            before = np.abs(clip.audio[start - 160 : start]).max()
            after = np.abs(clip.audio[start : start + 160]).max()
            assert after > 0.3 and after > 4 * before


def test_flash_brightens_its_frame_and_sounds_a_tone():
    rng = np.random.default_rng(6)
    seen = 0
    while seen < 6:
        spec = data.sample_spec(rng)
        if spec.action != "flash":
            continue
        seen += 1
        clip = data.render(spec)
        brightness = clip.frames.astype(np.float64).mean(axis=(1, 2, 3))
        for event in clip.events:
            f = event.frame
            assert brightness[f] - brightness[f - 1] > 25
            start = f * clip.sample_rate // clip.fps
            before = np.abs(clip.audio[start - 160 : start]).max()
            after = np.abs(clip.audio[start + 80 : start + 400]).max()
            assert after > 0.3 and after > 4 * before


def test_reference_shows_the_character_colours():
    rng = np.random.default_rng(8)
    for _ in range(12):
        spec = data.sample_spec(rng)
        ref = data.reference_image(spec, 64).reshape(-1, 3).astype(np.int32)
        for colour in data.character_colours(spec):
            near = np.abs(ref - np.array(colour)).sum(-1) < 12
            assert near.mean() > 0.04, (spec.primary, spec.secondary, spec.pattern)
        corner = tuple(int(c) for c in data.reference_image(spec, 64)[0, 0])
        assert corner in data.NEUTRALS


def test_fast_enough_for_training():
    start = time.perf_counter()
    for _ in data.clips(40, seed=2, size=(64, 64)):
        pass
    assert (time.perf_counter() - start) / 40 < 0.1  # about 0.02 s on a 2-core machine
