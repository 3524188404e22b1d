"""tinyfm's video latents round-tripped with no model: what camera moves each keeps,
as `measure.camera_direction` reads them (the evaluation's measure)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from backends.tinyfm import data, latent, measure
from backends.tinyfm.model import MIN_FLOW_TIME, Conditioning, Config, TinyFM
from backends.tinyfm.pipeline import generate
from backends.tinyfm.text import Vocabulary

RAW = latent.Stats(0.0, 1.0, 0.0, 1.0, 0.0, 1.0)
FPS = 12


@pytest.fixture(scope="module")
def clips() -> list[data.Clip]:
    """One held-out clip of every camera move."""
    rng = np.random.default_rng([3, 0x1A7])
    specs = [data.sample_spec(rng, "eval", 2.0, camera=move) for move in data.CAMERA_MOVES]
    return [data.render(spec, (64, 64), FPS, 16000) for spec in specs]


def path_round_trip(clip: data.Clip, size: int = 256) -> np.ndarray:
    path = data.camera_path(clip.spec, len(clip.frames), FPS)
    return latent.decode_video_path(latent.encode_video_path(clip.frames, path, RAW), RAW,
                                    (size, size))  # fmt: skip


def test_the_camera_path_latent_keeps_the_camera_moves_the_plain_grid_loses(clips):
    kept = [measure.camera_direction(path_round_trip(c)) == c.camera for c in clips]
    plain = [
        measure.camera_direction(latent.decode_video(latent.encode_video(c.frames, RAW), RAW,
                                                     (256, 256))) == c.camera
        for c in clips
    ]  # fmt: skip
    assert sum(kept) >= len(clips) - 1, [
        c.camera for c, k in zip(clips, kept, strict=True) if not k
    ]
    assert sum(plain) <= len(clips) // 2  # what the shipped latent keeps: why the path


def test_the_path_latent_is_the_first_frame_residuals_and_the_path(clips):
    clip = clips[2]
    path = data.camera_path(clip.spec, len(clip.frames), FPS)
    encoded = latent.encode_video_path(clip.frames, path, RAW)
    assert encoded.shape == (3 + latent.PATH_CHANNELS, len(clip.frames), 16, 16)
    read = encoded[3:].mean(dim=(2, 3)).T / RAW.path_scale
    pairs = torch.as_tensor(path).reshape(-1, 2, 3).mean(1)  # the path once per two frames
    assert torch.allclose(read, pairs.repeat_interleave(2, 0), atol=1e-6)
    if clip.spec.camera.split()[0] in ("pan", "tilt", "zoom", "dolly", "orbit"):  # linear
        smooth = latent.smooth_path(pairs, len(clip.frames))
        assert torch.allclose(smooth, torch.as_tensor(path), atol=1e-5)
    first = latent.decode_video_path(encoded, RAW, (64, 64))[0].astype(int)
    assert np.abs(first - clip.frames[0].astype(int)).mean() < 25  # the grid's blur only
    assert tuple(latent.decode_video_path(encoded, RAW, (96, 54)).shape) == (24, 54, 96, 3)


@pytest.mark.parametrize(
    "kind, prediction", [("path", "velocity"), ("sprite", "data"), ("contacts", "data")]
)
def test_a_model_on_a_layered_latent_generates_whole_frames(kind, prediction):
    words = ["a", "red", "ball", "pan", "left"]
    cfg = Config(vocab_size=len(words) + 2, dim=32, depth=1, heads=4, latent=kind,
                 video_channels=latent.VIDEO_CHANNELS[kind],
                 video_prediction=prediction)  # fmt: skip
    torch.manual_seed(0)
    model = TinyFM(cfg, Vocabulary.build([" ".join(words)]), latent.Stats()).eval()
    picture, sound = generate(model, "a red ball pan left", None, 1.0, seed=1, steps=2,
                              size=(64, 48))  # fmt: skip
    assert picture.shape == (12, 48, 64, 3) and picture.dtype == np.uint8
    assert sound.shape == (16000,)
    if kind in latent.NUMBERS:
        # generation leaves a sprite latent's residuals out unless asked: the same
        # sampled latent (same sound), another picture (the untrained head predicts
        # residuals of 0, which a mean of 0.1 makes a brightening)
        model.stats = replace(model.stats, video_mean=0.1)
        common = {"seed": 1, "steps": 2, "size": (64, 48)}
        bare = generate(model, "a red ball pan left", None, 1.0, **common)
        full = generate(model, "a red ball pan left", None, 1.0, residuals=True, **common)
        assert np.array_equal(full[1], bare[1])
        assert np.array_equal(bare[0], picture)
        assert full[0].astype(int).sum() > bare[0].astype(int).sum()


def test_a_data_predicting_head_takes_the_noise_from_its_input():
    # A head that predicts the clean video gives the velocity (x_t - data) / t: with
    # its zero-initialised output layer it predicts data 0, so the velocity is x_t / t
    # exactly, however many numbers a patch holds; a velocity head predicts 0.
    words = ["a", "red", "ball"]
    vocabulary = Vocabulary.build([" ".join(words)])
    video = torch.randn(
        2, 3 + latent.PATH_CHANNELS, 4, 16, 16, generator=torch.Generator().manual_seed(0)
    )
    audio = torch.zeros(2, latent.MEL_BANDS, 8)
    t = torch.tensor([0.5, 0.01])
    cond = Conditioning.empty(2, 8)
    for prediction in ("data", "velocity"):
        cfg = Config(vocab_size=len(vocabulary), max_words=8, dim=32, depth=1, heads=4,
                     latent="path", video_channels=video.shape[1],
                     video_prediction=prediction)  # fmt: skip
        torch.manual_seed(0)
        velocity, _ = TinyFM(cfg, vocabulary, latent.Stats()).eval()(video, audio, t, t, cond)
        if prediction == "data":  # the second row's time is held at MIN_FLOW_TIME
            expected = video / torch.tensor([0.5, MIN_FLOW_TIME]).view(2, 1, 1, 1, 1)
            assert torch.allclose(velocity, expected)
        else:
            assert not velocity.any()


def test_the_path_is_one_value_a_pair_in_the_latent_in_the_noise_and_in_the_output(clips):
    clip = clips[5]
    path = data.camera_path(clip.spec, len(clip.frames), FPS)
    encoded = latent.encode_video_path(clip.frames, path, RAW)[None]
    assert torch.allclose(latent.tie_path(encoded), encoded, atol=1e-6)  # the encoder's form
    noise = torch.randn(32, 6, 24, 16, 16, generator=torch.Generator().manual_seed(0))
    tied = latent.tie_path(noise, noise=True)
    assert torch.equal(tied[:, :3], noise[:, :3])
    pairs = tied[:, 3:].reshape(32, 3, 12, 2 * 16 * 16)
    assert torch.equal(pairs, pairs[..., :1].expand_as(pairs))
    assert 0.9 < pairs[..., 0].std().item() < 1.1  # unit spread, not 1/sqrt(512)


# ------------------------------------------------------------ the sprite latent


def sprite_latent(clip: data.Clip) -> torch.Tensor:
    from backends.tinyfm.train import encode_clip_video

    return encode_clip_video(clip, "sprite", RAW)


def scripted_events(clip: data.Clip) -> list[float]:
    return [t for t in clip.spec.event_times if t < clip.spec.seconds]


def test_the_sprite_latent_keeps_every_move_and_event_in_its_numbers_alone(clips):
    # the character apart, with its track, the camera path and the flashes: with the
    # residuals taken out, the decoded picture still shows every scripted move, bounce
    # and flash (what the evaluation measures), each on its frame
    more = [c for c in data.clips(6, 11, split="eval") if c.spec.event_ticks]
    events = [c for c in clips if c.spec.event_ticks] + more
    assert {c.spec.action for c in events} == {"bounce", "flash"}
    missed = []
    for clip in clips:
        encoded = sprite_latent(clip)
        encoded[:3] = 0.0
        decoded = latent.decode_video_sprite(encoded, RAW, (256, 256))
        if measure.camera_direction(decoded) != clip.camera:
            missed.append(clip.camera)
    assert len(missed) <= 1, missed  # 118 of 120 in bench/tinyfm_latent.py
    for clip in events:
        encoded = sprite_latent(clip)
        encoded[:3] = 0.0
        seen = measure.visual_events(latent.decode_video_sprite(encoded, RAW, (128, 128)), FPS)
        assert measure.sync_offset_ms(scripted_events(clip), seen) == 0.0, clip.spec


def test_the_sprite_latent_layout_and_its_residuals(clips):
    clip = clips[4]
    encoded = sprite_latent(clip)
    frames = len(clip.frames)
    assert encoded.shape == (latent.SPRITE_CHANNELS, frames, 16, 16)
    still = encoded[3:10]
    assert torch.equal(still, still[:, :1].expand_as(still))  # the same in every frame
    numbers = encoded[10:]
    assert torch.allclose(numbers, numbers[:, :, :1, :1].expand_as(numbers))  # over the grid
    track = encoded[13:16, :, 0, 0].T / RAW.path_scale + latent._TRACK_CENTRE
    expected = data.character_track(clip.spec, frames, FPS)
    assert torch.allclose(track, torch.as_tensor(expected), atol=1e-6)
    # with the residuals, the decoded clip is the clip, up to the grid's blur
    decoded = latent.decode_video_sprite(encoded, RAW, (64, 64)).astype(int)
    error = np.abs(decoded - clip.frames.astype(int)).mean()
    encoded[:3] = 0.0
    bare = np.abs(latent.decode_video_sprite(encoded, RAW, (64, 64)).astype(int) - clip.frames)
    assert error < 12 and error < bare.mean()
    assert latent.decode_video_sprite(encoded, RAW, (96, 54)).shape == (frames, 54, 96, 3)
    # decoding without residuals leaves them out, whatever they are
    encoded = sprite_latent(clip)
    without = latent.decoder("sprite", residuals=False)(encoded, RAW, (64, 64))
    encoded[:3] = 0.5
    assert np.array_equal(without, latent.decoder("sprite", False)(encoded, RAW, (64, 64)))


def test_without_residuals_a_faint_haze_round_the_character_draws_nothing(clips):
    # A generated sprite's box holds a faint colour round the character; the gate
    # on its coverage keeps that square from being drawn (with the residuals, the
    # drawing is the encoder's own, ungated).
    encoded = sprite_latent(clips[9])
    clear = latent.decode_video_sprite(encoded, RAW, (64, 64), residuals=False)
    outside = encoded[9] < -0.99  # no character there
    hazy = encoded.clone()
    hazy[9][outside] = -0.6  # a coverage of 0.2 ...
    hazy[6:9][:, outside] = 0.2 * 0.8  # ... of a light colour, premultiplied
    assert outside.float().mean() > 0.2
    gated = latent.decode_video_sprite(hazy, RAW, (64, 64), residuals=False).astype(int)
    changed = np.abs(gated - clear).max(-1) > 2  # only where the upsampling blends
    hazy[:3] = encoded[:3] = 0.0  # the haze into a character's edge
    ungated = latent.decode_video_sprite(hazy, RAW, (64, 64), residuals=True).astype(int)
    drawn = np.abs(ungated - latent.decode_video_sprite(encoded, RAW, (64, 64))).max(-1) > 2
    assert drawn.mean() > 0.1 and changed.mean() < drawn.mean() / 5  # the box's square


def test_the_contacts_latent_keeps_a_bounce_as_its_floor_contacts():
    from backends.tinyfm.train import encode_clip_video

    bounces = [c for c in data.clips(40, 5, split="eval") if c.spec.action == "bounce"][:4]
    assert len(bounces) == 4
    for clip in bounces:
        frames = len(clip.frames)
        encoded = encode_clip_video(clip, "contacts", RAW)
        assert encoded.shape == (latent.CONTACTS_CHANNELS, frames, 16, 16)
        numbers = encoded[10:, :, 0, 0].T / RAW.path_scale
        floor = data.character_track(clip.spec, frames, FPS, lifted=False)
        assert torch.allclose(numbers[:, 3:6] + latent._TRACK_CENTRE, torch.as_tensor(floor))
        lifted = latent.lifted_track(torch.as_tensor(floor), numbers[:, 9:11])
        expected = data.character_track(clip.spec, frames, FPS)
        assert torch.allclose(lifted, torch.as_tensor(expected), atol=1e-5)
        decoded = latent.decode_video_sprite(encoded, RAW, (128, 128), residuals=False)
        seen = measure.visual_events(decoded, FPS)
        assert measure.sync_offset_ms(scripted_events(clip), seen) == 0.0, clip.spec
        # the bounce is where the contacts are: move them a frame on, and it moves
        later = encoded.clone()
        later[19] = torch.roll(encoded[19], 1, 0)
        later[19, 0] = 0.0
        seen = measure.visual_events(latent.decode_video_sprite(later, RAW, (128, 128), False), FPS)
        shifted = [t + 1 / FPS for t in scripted_events(clip)]
        assert measure.sync_offset_ms(shifted, seen) < 1e-9


def test_a_bounce_rises_between_contacts_and_keeps_their_spacing_past_the_ends():
    pulses = torch.as_tensor(latent.contact_pulses(24, [3, 9, 17], apex=0.5))
    assert pulses[[2, 3, 4], 0].tolist() == [0.5, 1.0, 0.5] and pulses[0, 1] == 0.5
    floor = torch.zeros(24, 3)  # a character a frame high (log height 0), foot at 0
    lift = -latent.lifted_track(floor, pulses)[:, 2]
    assert lift[[3, 9, 17]].tolist() == [0.0, 0.0, 0.0]
    assert lift[6] == pytest.approx(0.5) and lift[13] == pytest.approx(0.5)  # the apexes
    spacing = 7.0  # the median of 6 and 8, before the first contact and after the last
    assert lift[0] == pytest.approx(0.5 * 4 * (4 / spacing) * (3 / spacing))
    assert lift[20] == pytest.approx(0.5 * 4 * (3 / spacing) * (4 / spacing))
    assert torch.equal(latent.lifted_track(floor, torch.zeros(24, 2)), floor)  # no contact


def test_the_character_track_puts_its_foot_under_the_drawn_character(clips):
    for clip in clips:
        layers = data.clip_layers(clip.spec, (64, 64), FPS)
        track = data.character_track(clip.spec, len(clip.frames), FPS)
        for f in (0, len(clip.frames) - 1):
            alpha = layers.alpha[f]
            rows, cols = np.nonzero(alpha > 0.5)
            x = ((cols + 0.5) / 64 - 0.5) * 1.0
            lowest = (rows.max() + 0.5) / 64 - 0.5
            assert abs(np.average(x, weights=alpha[rows, cols]) - track[f, 1]) < 0.04
            assert abs(lowest - track[f, 2]) < 0.04  # the foot: the lowest covered row
            height = (rows.max() - rows.min() + 1) / 64
            assert abs(np.log(height) - track[f, 0]) < 0.35  # squash and the pixels' grain


def test_a_clips_layers_compose_to_its_pictures():
    clip = next(data.clips(1, 4, split="eval"))
    layers = data.clip_layers(clip.spec, (64, 64), FPS)
    composed = np.floor(np.clip(layers.composed(clip.spec, FPS), 0, 1) * 255 + 0.5)
    assert np.array_equal(composed.astype(np.uint8), clip.frames)
    first = data.clip_layers(clip.spec, (64, 64), FPS, frames=1)
    assert np.array_equal(first.background[0], layers.background[0])
    assert np.array_equal(first.alpha[0], layers.alpha[0])


def test_the_sprite_latents_numbers_and_still_channels_are_one_value_each(clips):
    encoded = sprite_latent(clips[7])[None]
    assert torch.allclose(latent.tie_sprite(encoded), encoded, atol=1e-5)  # the encoder's form
    noise = torch.randn(16, 19, 24, 16, 16, generator=torch.Generator().manual_seed(0))
    tied = latent.tie_sprite(noise, noise=True)
    assert torch.equal(tied[:, :3], noise[:, :3])  # residuals: free
    still = tied[:, 3:10]
    assert torch.equal(still, still[:, :, :1].expand_as(still))
    numbers = tied[:, 13:]
    assert torch.equal(numbers, numbers[..., :1, :1].expand_as(numbers))
    for values in (still[:, :, 0], tied[:, 10:13, ::2, 0, 0], numbers[..., 0, 0]):
        assert 0.85 < values.std().item() < 1.15  # unit spread, as noise should be


def test_onset_pulses_closer_than_any_two_sounds_are_one_onset():
    # Two peaks 100 ms apart (a model unsure of the frame) are one onset at their
    # mean weighed by height; sounds half a second apart, as in the data, stay two.
    unsure = latent.onset_pulses(80, [0.5, 0.6]) * np.array([1.0] * 22 + [0.7] * 58)
    (onset,) = latent.onset_frames(unsure)
    assert onset == pytest.approx((20 * 1.0 + 24 * 0.7) / 1.7)
    apart = latent.onset_pulses(80, [0.5, 1.0, 1.5])
    assert latent.onset_frames(apart) == pytest.approx([20, 40, 60])


def test_an_onset_row_makes_each_sound_start_on_its_sample():
    # Through the mel latent and its onset row, clicks and tones start where they
    # did; a rise smeared over the frames before (as a model makes it) still starts
    # at the pulse, where without the row it starts early or goes unheard.
    clips = [c for c in data.clips(12, 3, split="eval") if c.events][:5]
    assert {c.spec.action for c in clips} == {"bounce", "flash"}
    for clip in clips:
        starts = data.sound_onsets(clip)
        mel = latent.encode_audio(clip.audio, RAW)
        pulses = latent.onset_pulses(mel.shape[1], starts)
        assert latent.onset_frames(pulses) == pytest.approx(
            [t * 16000 / latent.HOP for t in starts], abs=1e-6
        )
        row = torch.as_tensor(pulses)[None] * latent.ONSET_SCALE
        decoded = latent.decode_audio(torch.cat([mel, row]), RAW, len(clip.audio))
        assert measure.sync_offset_ms(starts, measure.audio_onsets(decoded, 16000)) < 2.0
    tone = next(c for c in clips if c.spec.action == "flash")
    start = data.sound_onsets(tone)[0]
    mel = latent.encode_audio(tone.audio, RAW)
    k = int(start * 16000 / latent.HOP) + 1  # the first frame centred after the start
    smeared = mel.clone()
    for back, share in ((1, 0.8), (2, 0.5), (3, 0.2)):  # a ramp over the three frames before
        smeared[:, k - back] = mel[:, k - 4] + share * (mel[:, k] - mel[:, k - 4])
    row = torch.as_tensor(latent.onset_pulses(mel.shape[1], [start]))[None] * latent.ONSET_SCALE
    stepped = latent.decode_audio(torch.cat([smeared, row]), RAW, len(tone.audio))
    assert measure.sync_offset_ms([start], measure.audio_onsets(stepped, 16000)) < 2.0
    ramped = latent.decode_audio(smeared, RAW, len(tone.audio))
    assert all(abs(t - start) > 0.05 for t in measure.audio_onsets(ramped, 16000))  # unheard
