"""Cues a music video needs: an in-point into the file, `loop`, cues on the film's
timeline, and times in beats and bars from a `tempo:`, through every stage.

The mix is read back from real audio files: clicks and tones put where the
script says, found where the mix writes them.
"""

from __future__ import annotations

import io
import json
import re
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pycmx
import pytest
import soundfile

from director import assemble
from director.check import check_file
from director.cli import main
from director.edl import write_edl
from director.fmt import format_text
from director.lsp import CUE_OPTIONS, _complete
from director.plan import plan_film
from director.timecode import parse as parse_timecode
from director.timeline_export import Media, build_timeline

ROOT = Path(__file__).resolve().parents[1]
RATE = 48000


def wav(path: Path, samples: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, samples.astype(np.float32), RATE, subtype="FLOAT")
    return path


def clicks(path: Path, seconds: float, at: list[float]) -> Path:
    """Silence `seconds` long with a single-sample click at each of `at`."""
    samples = np.zeros(round(seconds * RATE), np.float32)
    for t in at:
        samples[round(t * RATE)] = 0.9
    return wav(path, samples)


def tone(seconds: float, level: float = 0.3) -> np.ndarray:
    return level * np.sin(2 * np.pi * 440 * np.arange(round(seconds * RATE)) / RATE)


def mixed(project, script: str, tmp_path: Path) -> np.ndarray:
    """The script checked, planned and mixed: the master's left channel."""
    plan = project.plan(script)
    cue_files = {c.path: project.root / c.path for c in plan.timeline.cues}
    out = tmp_path / "mix.wav"
    assemble.mix(plan.timeline, cue_files, [], [], -12.0, out)
    data, rate = soundfile.read(out, dtype="float32", always_2d=True)
    assert rate == RATE
    return data[:, 0]


def click_times(samples: np.ndarray) -> list[float]:
    return [round(i / RATE, 4) for i in np.flatnonzero(np.abs(samples) > 0.5)]


def errors(checked) -> list[str]:
    return [f"{d.code} {d.message}" for d in checked.diagnostics if d.severity == "error"]


# ---------------------------------------------------------------- in-point


def test_an_in_point_starts_the_cue_that_far_into_its_file(project, tmp_path):
    clicks(project.root / "refs/marks.wav", 4.0, [2.5, 3.5])
    script = """
        title: In
        audio MARKS: refs/marks.wav
        SHOT 1 WIDE 3s
          music MARKS from 1s in 2s
        """
    (cue,) = project.plan(script).timeline.cues
    assert (cue.start, cue.in_point, cue.frames) == (24, 48, 48)  # 2 s of the file are left
    # file 2.5 s and 3.5 s, played from 2 s at the film's 1 s: 1.5 s and 2.5 s
    assert click_times(mixed(project, script, tmp_path)) == [1.5, 2.5]


def test_an_in_point_in_bars_counts_the_tempos_bars(project, tmp_path):
    clicks(project.root / "refs/marks.wav", 4.0, [3.0])
    script = """
        title: In a bar
        tempo: 90 3/4
        audio MARKS: refs/marks.wav
        SHOT 1 WIDE 2s
          music MARKS in bar 2
        """
    # bar 2 at 90 beats a minute in 3/4 starts after 3 beats: 2 s into the file
    assert click_times(mixed(project, script, tmp_path)) == [1.0]


# ------------------------------------------------------------------- loop


def test_a_loop_plays_its_file_again_from_the_in_point(project, tmp_path):
    clicks(project.root / "refs/beat.wav", 1.0, [0.5])
    script = """
        title: Loop
        audio BEAT: refs/beat.wav
        SHOT 1 WIDE 3s
          music BEAT in 250ms loop for 3s
        """
    (cue,) = project.plan(script).timeline.cues
    assert cue.loop and cue.frames == 72
    # the first pass from 0.25 s (click at 0.25), then the 0.75 s from the in-point again
    assert click_times(mixed(project, script, tmp_path)) == [0.25, 1.0, 1.75, 2.5]


def test_a_loop_without_for_fills_its_shot_and_needs_no_long_file(project, tmp_path):
    clicks(project.root / "refs/beat.wav", 1.0, [0.0])
    checked = project.check(
        "title: L\naudio BEAT: refs/beat.wav\nSHOT 1 WIDE 3s\n  sfx BEAT loop\nSHOT 2 WIDE 1s\n"
    )
    assert errors(checked) == []
    assert checked.film.shots[0].cues[0].frames == 72  # the shot, not the 1 s file
    script = "title: L\naudio BEAT: refs/beat.wav\nSHOT 1 WIDE 3s\n  sfx BEAT loop\n"
    assert click_times(mixed(project, script, tmp_path)) == [0.0, 1.0, 2.0]


def test_without_loop_a_cue_longer_than_its_file_after_the_in_point_is_an_error(project):
    wav(project.root / "refs/song.wav", tone(10.0))
    checked = project.check(
        "title: L\naudio SONG: refs/song.wav\nSHOT 1 WIDE 8s\n  music SONG in 4s for 8s\n"
    )
    assert [d.code for d in checked.diagnostics if d.severity == "error"] == ["E032"]
    assert "for 8s loop" in checked.diagnostics[0].help  # the fix is itself a cue option
    looped = project.check(
        "title: L\naudio SONG: refs/song.wav\nSHOT 1 WIDE 8s\n  music SONG in 4s for 8s loop\n"
    )
    assert errors(looped) == []


# ------------------------------------------------------- the film's timeline


SCORE = """
    title: Across
    audio SCORE: refs/score.wav
    music SCORE from 1s

    INT. HALL - DAY

    SHOT 1 WIDE 2s
      The hall.

    DISSOLVE TO: 12f

    EXT. YARD - DAY

    SHOT 2 WIDE 2s
      The yard.
    """


def test_a_cue_outside_any_shot_runs_across_scenes_from_the_films_start(project, tmp_path):
    wav(project.root / "refs/score.wav", tone(10.0))
    timeline = project.plan(SCORE).timeline
    assert timeline.frames == 84  # the dissolve overlaps the shots by 12 frames
    (cue,) = timeline.cues
    # from the film's 1 s to its end (not the file's): filed under the shot it starts in
    assert (cue.start, cue.frames, cue.shot) == (24, 60, "1")
    left = mixed(project, SCORE, tmp_path)
    assert len(left) == 84 * RATE // 24
    assert np.abs(left[: RATE - 1]).max() == 0  # silent before its start
    played = np.abs(left[RATE:])
    windows = played[: len(played) // 480 * 480].reshape(-1, 480).max(axis=1)
    assert windows.min() > 0.25  # sounding through the cut and the change of scene


def test_the_films_cues_are_placed_after_the_shot_cues_and_plans_without_them_are_unchanged(
    project,
):
    wav(project.root / "refs/score.wav", tone(10.0))
    plain = "title: P\naudio SCORE: refs/score.wav\nSHOT 1 WIDE 2s\n  music SCORE\n"
    text = project.plan(plain).to_json()
    assert '"in_point"' not in text and '"loop"' not in text
    moved = project.plan(plain.replace("  music SCORE\n", "") + "music SCORE\n").to_json()
    assert json.loads(moved)["timeline"]["cues"] == json.loads(text)["timeline"]["cues"]
    looped = project.plan(plain.replace("music SCORE", "music SCORE in 1s loop")).to_json()
    (cue,) = json.loads(looped)["timeline"]["cues"]
    assert (cue["in_point"], cue["loop"]) == (24, True)
    mix = {n["id"]: n for n in json.loads(looped)["nodes"]}["film/mix"]
    assert mix["params"]["cues"][0]["in_point"] == 24


# ------------------------------------------------------------ beats and bars


def test_beats_and_bars_become_frames_at_the_tempo(project):
    wav(project.root / "refs/song.wav", tone(30.0))
    checked = project.check(
        """
        title: Beats
        tempo: 90 3/4
        format: 1280x720 @ 30fps
        audio SONG: refs/song.wav
        music SONG from bar 3 for 6b fade in 1b
        SHOT 1 WIDE 12b
          sfx SONG from 1.5b
        """
    )
    assert errors(checked) == []
    film = checked.film
    beat = 20  # frames: 2/3 s at 30 fps
    assert film.shots[0].frames == 12 * beat  # a shot's length in beats, too
    assert film.shots[0].cues[0].start == 30
    (score,) = film.cues
    assert (score.start, score.frames, score.fade_in) == (6 * beat, 6 * beat, beat)


@pytest.mark.parametrize("tempo", ["120 3/4", "120 bpm 3/4", "120.0   bpm  3/4"])
def test_a_tempo_may_say_bpm(project, tempo):
    wav(project.root / "refs/song.wav", tone(30.0))
    checked = project.check(
        f"title: T\ntempo: {tempo}\naudio SONG: refs/song.wav\nSHOT 1 WIDE 4s\n"
        "  music SONG from bar 2\n"
    )
    assert errors(checked) == []
    assert checked.film.shots[0].cues[0].start == 36  # 3 beats of half a second


# ------------------------------------------------------------ the whole film


def test_the_compiled_films_sound_starts_at_the_in_point_and_loops_across_scenes(tmp_path):
    # 12 s of silence, 2 s of tone, 1 s of silence: played from 12 s in, looping, the
    # film sounds for 2 s, is silent for 1 s, and sounds again (from the in-point).
    wav(tmp_path / "refs/song.wav", np.concatenate([tone(12.0, 0.0), tone(2.0), tone(1.0, 0.0)]))
    (tmp_path / "video.shot").write_text(
        "title: Loop\ntempo: 120\naudio SONG: refs/song.wav\n\nmusic SONG in 12s loop\n\n"
        "INT. CAR - NIGHT\n\nSHOT 1 WIDE 4b\n  A car.\n\nEXT. ROAD - NIGHT\n\n"
        "SHOT 2 WIDE 3s\n  A road.\n",
        encoding="utf-8",
    )
    film = tmp_path / "video.mp4"
    status = main(["compile", str(tmp_path / "video.shot"), "-o", str(film), "-q",
                   "--backend", "preview", "--cache", str(tmp_path / "cache")])  # fmt: skip
    assert status == 0
    with av.open(str(film)) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        sound = np.concatenate(
            [f.to_ndarray().reshape(-1, f.samples)[0] for f in container.decode(stream)]
        )

    def level(a: float, b: float) -> float:
        return float(np.sqrt(np.mean(sound[round(a * rate) : round(b * rate)] ** 2)))

    assert level(0.2, 1.8) > 0.15  # the file's 12th second, at once
    assert level(2.2, 2.8) < 0.01  # its silent last second, across the cut at 2 s
    assert level(3.2, 4.8) > 0.15  # the loop, from the in-point again


# ------------------------------------------------------- the docs, fmt, LSP


def test_the_language_references_music_video_example_checks_as_written(tmp_path):
    doc = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    (example,) = [b for b in re.findall(r"```\n(.*?)```", doc, re.S) if "tempo: 120" in b]
    wav(tmp_path / "refs/song.wav", tone(24.0))
    wav(tmp_path / "refs/rain.wav", tone(2.0))
    (tmp_path / "video.shot").write_text(example, encoding="utf-8")
    checked = check_file(tmp_path / "video.shot")
    assert errors(checked) == []
    assert format_text(example) == example
    timeline = plan_film(checked.film).plan.timeline
    placed = [(c.asset, c.shot, c.start, c.frames, c.in_point, c.loop) for c in timeline.cues]
    assert placed == [
        ("RAIN", "1", 24, 144, 0, True),  # 2 beats into shot 1, 6 s of a 2 s file
        ("SONG", "1", 0, 192, 288, False),  # from 12 s in, for the whole film
        ("SONG", "2", 96, 24, 0, False),  # bar 3 of 4/4 at 120: 4 s into the film
    ]


def test_fmt_lays_out_the_new_syntax_and_keeps_its_meaning(project):
    wav(project.root / "refs/song.wav", tone(30.0))
    messy = (
        "title: F\ntempo:   96    3/4\naudio SONG: refs/song.wav\n"
        "music   SONG  from  bar   2   in 4s   loop  # the score\n"
        "SHOT 1 WIDE 8b\n  sfx SONG   from 2b  in  bar 3  for 4b loop\n"
    )
    tidy = format_text(messy)
    assert tidy == (
        "title: F\ntempo: 96 3/4\naudio SONG: refs/song.wav\n"
        "music SONG from bar 2 in 4s loop  # the score\n\n"
        "SHOT 1 WIDE 8b\n  sfx SONG from 2b in bar 3 for 4b loop\n"
    )
    assert format_text(tidy) == tidy
    before = project.check(messy).film
    after = project.check(tidy).film

    def timing(cues) -> list[tuple]:
        return [(c.start, c.frames, c.in_point, c.loop) for c in cues]

    assert timing(before.cues) == timing(after.cues) == [(45, 75, 96, True)]
    assert timing(before.shots[0].cues) == timing(after.shots[0].cues)
    assert after.cues[0].in_point and after.cues[0].loop


def test_the_language_server_completes_a_cues_options():
    for line in ("  music SCORE ", "music SCORE from 0s lo", "  sfx HORN in 2s "):
        labels = [item.label for item in _complete(None, "", line)]
        assert labels == list(CUE_OPTIONS)
    assert "loop" in CUE_OPTIONS and "in" in CUE_OPTIONS


@pytest.mark.parametrize("option", ["in 2s", "loop", "from bar 2", "for 4b"])
def test_a_misspelt_cue_word_with_the_new_options_still_earns_w112(project, option):
    wav(project.root / "refs/song.wav", tone(30.0))
    checked = project.check(
        f"title: W\ntempo: 120\naudio SONG: refs/song.wav\nSHOT 1 WIDE 4s\n  sound SONG {option}\n"
    )
    assert [d.code for d in checked.diagnostics] == ["W112"]


# ----------------------------------------------------------- editors' timelines


LOOPED = """
    title: Passes
    audio BEAT: refs/beat.wav
    SHOT 1 WIDE 3s
      music BEAT in 250ms loop for 2s fade out 12f
    """


def test_the_edl_plays_a_cue_from_its_in_point_and_a_loop_pass_by_pass(project):
    wav(project.root / "refs/beat.wav", tone(1.0))
    plan = project.plan(LOOPED)
    (cue,) = plan.timeline.cues
    assert cue.pass_frames == 18  # the 0.75 s after the in-point
    record = parse_timecode(None, Fraction(24))
    edl = pycmx.parse_cmx3600(io.StringIO(write_edl(plan, record)))
    audio = [e for event in edl.events for e in event.edits if e.channels.audio]
    found = [(e.source_in, e.source_out, e.record_in, e.record_out) for e in audio]
    assert found == [  # 48 frames: passes of 18, 18 and 12, each from file frame 6
        ("00:00:00:06", "00:00:01:00", "01:00:00:00", "01:00:00:18"),
        ("00:00:00:06", "00:00:01:00", "01:00:00:18", "01:00:01:12"),
        ("00:00:00:06", "00:00:00:18", "01:00:01:12", "01:00:02:00"),
    ]


def test_the_otio_timeline_clips_a_looped_cue_per_pass_from_its_in_point(project):
    beat = wav(project.root / "refs/beat.wav", tone(1.0))
    plan = project.plan(LOOPED)
    timeline = build_timeline(plan, Media(cues={"refs/beat.wav": beat}))
    clips = [c for track in timeline.audio_tracks() for c in track.find_clips()]
    ranges = [(c.source_range.start_time.to_frames(), c.duration().to_frames()) for c in clips]
    assert ranges == [(6, 18), (6, 18), (6, 12)]
    levels = [[list(k) for k in c.metadata["shot_director"]["levels"]] for c in clips]
    # the cue's fade out, over its last 12 frames, falls in the last pass only
    assert levels == [[[0, 1.0], [18, 1.0]], [[0, 1.0], [18, 1.0]], [[0, 1.0], [12, 0.0]]]
