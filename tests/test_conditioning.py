"""Keyframes at the request's size, and colour matching in Lab."""

from __future__ import annotations

import numpy as np
from PIL import Image

from backends.conditioning import (
    ColourTransfer,
    contain,
    cover,
    keyframe,
    lab_to_rgb,
    match_colour,
    match_frames,
    rgb_to_lab,
)


def lab_mean(frame: np.ndarray) -> np.ndarray:
    return rgb_to_lab(frame).reshape(-1, 3).mean(axis=0)


def test_lab_round_trips_every_colour():
    rng = np.random.default_rng(0)
    colours = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert np.array_equal(lab_to_rgb(rgb_to_lab(colours)), colours)
    white = rgb_to_lab(np.full((1, 1, 3), 255, np.uint8))[0, 0]
    assert np.allclose(white, (100, 0, 0), atol=0.01)


def test_matching_gives_a_frame_the_references_mean_and_spread():
    rng = np.random.default_rng(1)
    frame = rng.integers(90, 170, (48, 64, 3), dtype=np.uint8)  # grey noise
    reference = np.zeros((48, 64, 3), np.uint8)
    reference[..., 0] = np.linspace(120, 220, 64, dtype=np.uint8)  # a red ramp
    reference[..., 1:] = 40
    matched = match_colour(frame, reference)
    assert np.abs(lab_mean(matched) - lab_mean(reference)).max() < 1.5
    spread = rgb_to_lab(matched).reshape(-1, 3).std(axis=0)
    wanted = rgb_to_lab(reference).reshape(-1, 3).std(axis=0)
    assert np.allclose(spread, wanted, rtol=0.15, atol=1.0)


def test_a_window_gets_one_transform_so_its_own_light_changes_survive():
    dark = np.full((8, 8, 3), 60, np.uint8)
    bright = np.full((8, 8, 3), 120, np.uint8)
    reference = np.full((8, 8, 3), 90, np.uint8)
    first, second = match_frames([dark, bright], reference)
    assert np.abs(lab_mean(first) - lab_mean(reference)).max() < 0.5
    assert lab_mean(second)[0] > lab_mean(first)[0] + 15  # still brighter than the first


def test_a_flat_frame_is_not_stretched_into_noise():
    flat = np.full((8, 8, 3), 128, np.uint8)
    busy = np.random.default_rng(2).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    transfer = ColourTransfer.between(flat, busy)
    assert transfer.gain.max() <= 4.0


def test_keyframes_cover_the_frame_and_references_fit_inside_it(tmp_path):
    wide = Image.new("RGB", (640, 360), (10, 20, 30))
    wide.paste((250, 0, 0), (0, 0, 100, 360))  # a red band on the left, cropped away
    path = tmp_path / "wide.png"
    wide.save(path)
    frame = keyframe(path, 64, 64)
    assert frame.size == (64, 64) and frame.getpixel((0, 32)) == (10, 20, 30)
    assert cover(wide, 320, 180).size == (320, 180)
    assert contain(wide, 96, 64).size == (96, 54)
    assert contain(wide, 1920, 1080).size == (640, 360)  # never scaled up
    previous = np.full((90, 160, 3), 7, np.uint8)
    assert keyframe(previous, 96, 64).size == (96, 64)
