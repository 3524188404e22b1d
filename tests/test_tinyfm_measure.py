"""tinyfm's measurements recover the ground truth of procedural clips, and fail when they should."""

from __future__ import annotations

import numpy as np
import pytest

from backends.tinyfm import data, measure


def _clip(camera: str, seed: int, size=(64, 64), **fixed) -> data.Clip:
    rng = np.random.default_rng([seed, data.CAMERA_MOVES.index(camera)])
    while True:
        spec = data.sample_spec(rng, "eval", camera=camera)
        if all(getattr(spec, k) == v for k, v in fixed.items()):
            return data.render(spec, size)


# -- building blocks ----------------------------------------------------------------------------


def test_phase_shift_finds_whole_and_sub_pixel_shifts():
    rng = np.random.default_rng(0)
    big = rng.random((80, 80))
    big = (big + np.roll(big, 1, 0) + np.roll(big, 1, 1)) / 3  # a little smoothing
    a = big[8:72, 8:72]
    for dx, dy in ((3, -2), (-5, 4), (0, 0)):
        b = big[8 - dy : 72 - dy, 8 - dx : 72 - dx]
        got = measure.phase_shift(a, b)
        assert (round(float(got[0]), 1), round(float(got[1]), 1)) == (dx, dy)
    # half a pixel: the average of two neighbours
    b = (big[8:72, 7:71] + big[8:72, 8:72]) / 2
    assert float(measure.phase_shift(a, b)[0]) == pytest.approx(0.5, abs=0.15)


@pytest.mark.parametrize(
    ("lab1", "lab2", "expected"),
    [  # from Sharma, Wu and Dalal's CIEDE2000 test data
        ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
        ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
        ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
        ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ],
)
def test_ciede2000_matches_the_published_pairs(lab1, lab2, expected):
    assert float(measure.delta_e2000(np.array(lab1), np.array(lab2))) == pytest.approx(
        expected, abs=1e-4
    )


def test_sync_matches_one_to_one_and_charges_what_is_left():
    assert measure.sync_offset_ms([0.5, 1.0], [0.51, 1.0]) == pytest.approx(5.0)
    # a missing sound and a stray one each count a full window
    assert measure.sync_offset_ms([0.5, 1.0], [0.5]) == pytest.approx(125.0)
    assert measure.sync_offset_ms([0.5], [0.5, 1.5]) == pytest.approx(125.0)
    # outside the window is no match
    assert measure.sync_offset_ms([0.5], [0.9]) == pytest.approx(250.0)
    # nearest first: 1.02 belongs to 1.0, not to 0.9
    pairs, lone_v, lone_a = measure.match_events([0.9, 1.0], [1.02])
    assert pairs == [(1.0, 1.02)] and lone_v == [0.9] and lone_a == []
    assert measure.sync_offset_ms([], []) == 0.0


def test_silence_and_steady_sound_have_no_onsets():
    rate = 16000
    assert measure.audio_onsets(np.zeros(2 * rate, np.float32), rate) == []
    t = np.arange(2 * rate) / rate
    hum = 0.05 * np.sin(2 * np.pi * 110 * t) * np.minimum(1, t / 0.3)
    assert measure.audio_onsets(hum.astype(np.float32), rate) == []


def test_click_onset_is_found_to_the_millisecond():
    rate = 16000
    audio = np.random.default_rng(1).normal(0, 0.01, 2 * rate)
    at = 12345
    audio[at : at + 160] += 0.5 * np.linspace(1, 0, 160) * np.sign(np.sin(np.arange(160)))
    (onset,) = measure.audio_onsets(audio.astype(np.float32), rate)
    assert abs(onset - at / rate) < 0.002


# -- on procedural clips ------------------------------------------------------------------------


def test_camera_direction_recovers_every_move():
    wrong = []
    for camera in data.CAMERA_MOVES:
        for seed in range(3):
            clip = _clip(camera, seed)
            got = measure.camera_direction(clip.frames)
            if got != camera:
                wrong.append((camera, got, clip.caption))
    assert len(wrong) <= 1, wrong


def test_global_motion_measures_the_amount():
    pan = _clip("pan left", 5)
    dx, dy, scale = measure.global_motion(pan.frames)
    assert dx == pytest.approx(pan.spec.amount, abs=0.03) and abs(dy) < 0.02
    assert scale == pytest.approx(1.0, abs=0.03)
    tilt = _clip("tilt down", 5)
    dx, dy, scale = measure.global_motion(tilt.frames)
    assert dy == pytest.approx(-tilt.spec.amount, abs=0.03) and abs(dx) < 0.02
    zoom = _clip("zoom out", 5)
    dx, dy, scale = measure.global_motion(zoom.frames)
    assert scale == pytest.approx(1 / zoom.spec.amount, rel=0.06)


def test_static_noise_is_static_and_moving_noise_is_a_pan():
    rng = np.random.default_rng(2)
    still = np.repeat(rng.integers(0, 256, (1, 64, 64, 3), dtype=np.uint8), 12, axis=0)
    assert measure.camera_direction(still) == "static"
    big = rng.integers(0, 256, (64, 120, 3), dtype=np.uint8)
    moving = np.stack([big[:, 30 - 2 * f : 94 - 2 * f] for f in range(12)])  # content goes right
    assert measure.camera_direction(moving) == "pan left"


def test_events_and_onsets_line_up_with_the_truth():
    rng = np.random.default_rng(3)
    seen = {"bounce": 0, "flash": 0}
    while min(seen.values()) < 4:
        spec = data.sample_spec(rng, "eval")
        if spec.action == "rest" or seen[spec.action] >= 4:
            continue
        seen[spec.action] += 1
        clip = data.render(spec)
        truth = [e.frame / clip.fps for e in clip.events]
        visual = measure.visual_events(clip.frames, clip.fps)
        audio = measure.audio_onsets(clip.audio, clip.sample_rate)
        assert visual == pytest.approx(truth), clip.caption
        assert measure.sync_offset_ms(visual, audio) <= 5.0, (clip.caption, visual, audio)


def test_a_resting_clip_has_no_events():
    clip = _clip("static", 4, action="rest")
    assert measure.visual_events(clip.frames, clip.fps) == []


def test_sync_of_shifted_audio_is_the_shift():
    clip = _clip("static", 6, action="bounce")
    late = np.concatenate([np.zeros(800, np.float32), clip.audio[:-800]])  # 50 ms late
    visual = measure.visual_events(clip.frames, clip.fps)
    audio = measure.audio_onsets(late, clip.sample_rate)
    assert measure.sync_offset_ms(visual, audio) == pytest.approx(50.0, abs=3.0)


def test_reference_colour_error_is_small_for_the_own_reference_and_large_for_another():
    clips = [_clip(camera, 7) for camera in data.CAMERA_MOVES]
    own, other = [], []
    for i, clip in enumerate(clips):
        own.append(measure.reference_delta_e(clip.frames, clip.reference))
        mine = set(data.character_colours(clip.spec))
        stranger = next(
            c for c in clips[i + 1 :] + clips[:i] if mine.isdisjoint(data.character_colours(c.spec))
        )
        other.append(measure.reference_delta_e(clip.frames, stranger.reference))
    assert np.median(own) < 4 and max(own) < 10, own
    assert np.median(other) > 15 and min(other) > max(own), (own, other)


def test_measures_work_on_a_full_size_clip():
    clip = _clip("zoom in", 8, size=(256, 256), action="bounce")
    assert measure.camera_direction(clip.frames) == "zoom in"
    truth = [e.frame / clip.fps for e in clip.events]
    assert measure.visual_events(clip.frames, clip.fps) == pytest.approx(truth)
    assert measure.reference_delta_e(clip.frames, clip.reference) < 8


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="frames"):
        measure.camera_direction(np.zeros((4, 8, 8), np.uint8))
    with pytest.raises(ValueError, match="reference"):
        measure.reference_delta_e(np.zeros((4, 16, 16, 3), np.uint8), np.zeros((16, 16)))


def test_the_eval_harness_passes_the_procedural_clips_and_fails_the_shams(capsys):
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import tinyfm_eval

    code = tinyfm_eval.main(["--oracle", "--n", "4", "--size", "48", "48", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["pass"], out
    real, moved, other = out["conditions"].values()
    assert real["camera_accuracy"] == 1.0 and real["sync_ms"] <= 5.0
    assert moved["sync_ms"] >= 200 and other["camera_accuracy"] < 0.5
    with pytest.raises(SystemExit):  # --steps is for a model
        tinyfm_eval.main(["--oracle", "--steps", "3"])
    # without a model: exit 2 and say why
    assert tinyfm_eval.main(["--n", "1", "--weights", "/nonexistent/tinyfm.safetensors"]) == 2
    assert "cannot load the model" in capsys.readouterr().err


@pytest.mark.parametrize("height", [0.5, 2.0])
def test_a_reference_shrunk_below_a_few_pixels_is_read_at_its_own_size(height):
    """A clip whose character is a pixel or two tall: shrinking the reference's to
    match left no character to read, and the colour error raised."""
    clip = data.render(data.sample_spec(np.random.default_rng(3), "eval"), size=(64, 64))
    pixels = measure._reference_character(clip.reference, height)
    assert len(pixels) == len(measure._reference_character(clip.reference))
