"""tinyfm's training script, at a toy size: a run from a seed is reproducible and
leaves weights that load and generate; a second stage starts from the first's
weights, words and statistics; rows with a clean picture train the sound only."""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import pytest
import torch
from tiny_models import one_thread

from backends.tinyfm import data, latent, train
from backends.tinyfm.pipeline import generate, load_model

__all__ = ["one_thread"]  # autouse fixture

TOY = train.Settings(clips=8, steps=3, batch=4, dim=32, depth=1, heads=4, warmup=1, save_every=2)


@pytest.fixture(scope="module")
def first_stage(tmp_path_factory):
    out = tmp_path_factory.mktemp("stage1") / "tinyfm.safetensors"
    train.train(TOY, out, log=lambda line: None)
    return out


def test_a_run_from_a_seed_is_reproducible_and_its_weights_generate(first_stage, tmp_path):
    again = tmp_path / "again.safetensors"
    train.train(TOY, again, log=lambda line: None)
    a, b = load_model(first_stage), load_model(again)
    for name, tensor in a.state_dict().items():
        assert torch.equal(tensor, b.state_dict()[name]), name
    frames, sound = generate(
        a, "WIDE. camera pans left.", None, 1.0, seed=0, size=(32, 32), steps=2
    )
    assert frames.shape == (12, 32, 32, 3) and sound.shape == (16000,)
    assert np.isfinite(sound).all()


def test_a_second_stage_starts_from_the_first_ones_weights_words_and_statistics(
    first_stage, tmp_path
):
    start = load_model(first_stage)
    out = tmp_path / "stage2.safetensors"
    lines: list[str] = []
    settings = replace(TOY, init=str(first_stage), steps=1, lr=1e-12, clean_picture=0.5)
    train.train(settings, out, log=lines.append)
    second = load_model(out)
    assert second.cfg == start.cfg
    assert second.vocabulary == start.vocabulary and second.stats == start.stats
    # a vanishing learning rate: the EMA starts at the first stage's weights and stays
    for name, tensor in start.state_dict().items():
        assert torch.allclose(tensor, second.state_dict()[name], atol=1e-6), name


def test_a_second_stage_must_keep_its_starts_latent(first_stage, tmp_path):
    other = "path" if TOY.latent != "path" else "frames"
    settings = replace(TOY, init=str(first_stage), latent=other)
    with pytest.raises(ValueError, match=f"{TOY.latent} model"):
        train.train(settings, tmp_path / "x.safetensors", log=lambda line: None)


def test_rows_with_a_clean_picture_train_the_sound_only(first_stage):
    model = load_model(first_stage).train()
    dataset, _ = train.render_dataset(TOY, lambda line: None, model.stats)
    index = torch.arange(4)

    def loss(clean: float) -> dict[str, torch.Tensor]:
        model.zero_grad()
        settings = replace(TOY, clean_picture=clean)
        generator = torch.Generator().manual_seed(0)
        parts = train._loss(model, dataset, index, generator, np.random.default_rng(0), settings)
        (parts["video"] + parts["audio"]).backward()
        return parts

    clean = loss(1.0)
    assert clean["video"].item() == 0.0 and clean["audio"].item() > 0.0
    assert not model.video_out.linear.weight.grad.any()  # the picture's head learns nothing
    assert model.audio_out.linear.weight.grad.any()
    noisy = loss(0.0)
    assert noisy["video"].item() > 0.0 and model.video_out.linear.weight.grad.any()


def test_the_onset_rows_loss_can_weigh_apart_from_the_bands(first_stage):
    model = load_model(first_stage)
    assert model.cfg.audio_channels == latent.ONSET_ROWS  # the defaults: an onset row
    dataset, _ = train.render_dataset(TOY, lambda line: None, model.stats)

    def audio_loss(weight: float) -> float:
        settings = replace(TOY, onset_row_weight=weight)
        generator = torch.Generator().manual_seed(0)
        with torch.no_grad():
            parts = train._loss(model, dataset, torch.arange(4), generator,
                                np.random.default_rng(0), settings)  # fmt: skip
        return parts["audio"].item()

    one, three = audio_loss(1.0), audio_loss(3.0)  # bands + w * row
    row = (three - one) / 2
    bands = one - row
    assert row > 0 and bands > 0
    # by default the row is one of 33 rows
    assert audio_loss(0.0) == pytest.approx((32 * bands + row) / 33, rel=1e-5)


def test_a_sprite_model_trains_on_its_three_parts_and_generates(tmp_path):
    out = tmp_path / "sprite.safetensors"
    lines: list[str] = []
    settings = replace(TOY, latent="sprite", video_prediction="data", steps=2)
    train.train(settings, out, log=lines.append)
    last = next(line for line in reversed(lines) if line.startswith("step 2/2"))
    assert all(f"{part} " in last for part in ("first", "residual", "path", "audio"))
    model = load_model(out)
    assert model.cfg.latent == "sprite" and model.cfg.video_channels == 19
    frames, _ = generate(model, "WIDE. camera dollies in.", None, 1.0, seed=0, size=(32, 32))
    assert frames.shape == (12, 32, 32, 3)


def test_the_sounds_loss_weighs_its_onsets_and_the_frame_before():
    audio = torch.zeros(2, 32, 10)
    audio[0, :, 4:] = 2.0  # a sound starts in frame 4 of the first clip; the second is silent
    weights = train.onset_weights(audio, 8.0)
    assert weights.shape == (2, 1, 10)
    assert weights[0, 0].tolist() == [1, 1, 1, 9, 9, 1, 1, 1, 1, 1]
    assert (weights[1] == 1).all() and (train.onset_weights(audio, 0.0) == 1).all()


@pytest.mark.parametrize("kind, onsets", [("sprite", False), ("contacts", True)])
def test_a_sprite_model_with_number_tokens_trains_and_generates(tmp_path, kind, onsets):
    out = tmp_path / "numbers.safetensors"
    settings = replace(
        TOY, latent=kind, video_prediction="data", number_tokens=True, onset_weight=8.0,
        audio_onsets=onsets,
    )  # fmt: skip
    train.train(replace(settings, steps=2), out, log=lambda line: None)
    model = load_model(out)
    assert model.cfg.number_tokens and hasattr(model, "numbers_out")
    assert model.cfg.video_channels == (21 if kind == "contacts" else 19)
    assert model.cfg.audio_channels == (33 if onsets else 32)
    frames, sound = generate(model, "WIDE. camera dollies in.", None, 1.0, seed=0, size=(32, 32))
    assert frames.shape == (12, 32, 32, 3) and sound.shape == (16000,)


def test_the_training_clips_audio_carries_their_onsets_as_pulses():
    settings = replace(TOY, clips=6, audio_onsets=True)
    dataset, _ = train.render_dataset(settings, log=lambda line: None)
    assert dataset.audio.shape[1] == latent.ONSET_ROWS
    clips = list(data.clips(6, settings.seed, split="train"))
    assert sum(len(clip.events) for clip in clips) >= 2
    for clip, audio in zip(clips, dataset.audio, strict=True):
        pulses = audio[latent.MEL_BANDS].float().numpy() / latent.ONSET_SCALE
        found = [k * latent.HOP / 16000 for k in latent.onset_frames(pulses)]
        assert found == pytest.approx(data.sound_onsets(clip), abs=2e-3)


def test_flags_read_yes_and_no_from_the_command_line():
    read = train._parser(False)
    assert read("yes") is True and read("False") is False and read("1") is True
    with pytest.raises(Exception, match="not yes or no"):
        read("maybe")


def test_the_command_line_explains_every_setting_and_refuses_an_unknown_latent(capsys):
    with pytest.raises(SystemExit) as done:
        train.main(["--help"])
    assert done.value.code == 0
    shown = " ".join(capsys.readouterr().out.split())
    for setting in fields(train.Settings):
        flag = f"--{setting.name.replace('_', '-')}"
        assert f"{setting.metadata['help']} (default: {setting.default!r})" in shown, flag
    with pytest.raises(SystemExit) as done:
        train.main(["--latent", "pixels"])
    assert done.value.code == 2
    assert "invalid choice: 'pixels'" in capsys.readouterr().err
