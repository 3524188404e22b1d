"""The delivered film read by tools the project did not write: ffprobe and ffmpeg.

Colour tags and a solid colour decoded by FFmpeg's own CLI; the loudness read
by FFmpeg's `ebur128` filter (its own BS.1770 implementation, not the
libebur128 that normalised the mix); the timecode track, chapters and title.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import soundfile
import srt

from director.assemble import write_srt
from director.cli import main
from director.clips import DELIVERY, write_clip
from director.loudness import LIMITER_CEILING_DBTP, TruePeakLimiter

FILM = """
title: Small Hours
format: 160x90 @ 24fps
location ROOM
  description: a bare room
  ref: refs/room.png
location ROOF
  description: a flat roof
character HERO
  description: a courier
  ref: refs/hero.png
audio MUSIC: refs/music.wav

INT. ROOM - DAY

SHOT 1 WIDE 1s
  HERO waits.
  music MUSIC from 0s for 3s

EXT. ROOF - NIGHT

SHOT 2 MEDIUM on HERO 1s
  HERO
    Late again.
"""

SUFFIXES = {"h264": ".mp4", "prores": ".mov", "vp9": ".webm"}


def ffmpeg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is missing in CI (.ci/run installs Debian's ffmpeg)")
        pytest.skip(f"Debian's ffmpeg is not installed (.ci/run installs it): no {name}")
    return found


def probe(path: Path, *entries: str) -> dict:
    command = [ffmpeg_tool("ffprobe"), "-v", "error", "-of", "json", *entries, str(path)]
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def ebur128(path: Path) -> tuple[float, float]:
    """Integrated loudness (LUFS) and true peak (dBTP) as FFmpeg's ebur128 filter reads
    the file's decoded sound."""
    command = [ffmpeg_tool("ffmpeg"), "-nostats", "-v", "info", "-i", str(path), "-map", "0:a",
               "-af", "ebur128=peak=true", "-f", "null", "-"]  # fmt: skip
    log = subprocess.run(command, capture_output=True, text=True, check=True).stderr
    summary = log[log.rindex("Summary:") :]
    integrated = float(re.search(r"I:\s+(-?[\d.]+|-inf) LUFS", summary).group(1))
    peak = float(re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary).group(1))
    return integrated, peak


def write_music(project, amplitude: float) -> None:
    """Music with real dynamics: a tone with bursts of noise, at `amplitude`."""
    rate = 48000
    rng = np.random.default_rng(3)
    t = np.arange(rate * 3) / rate
    tone = np.sin(2 * np.pi * 220 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 1.5 * t))
    bursts = rng.normal(0, 0.4, len(t)) * ((t % 0.5) < 0.05)
    music = np.clip(amplitude * (tone + bursts), -1, 1).astype(np.float32)
    soundfile.write(project.root / "refs" / "music.wav", music, rate)


def compile_film(project, codec: str = "h264", *extra: str) -> Path:
    out = f"film{SUFFIXES.get(codec, '')}"
    return project.compile_film(FILM, "--codec", codec, *extra, out=out)


# ------------------------------------------------------------------ colour


@pytest.mark.parametrize("codec", ["h264", "prores", "vp9"])
def test_hd_pictures_are_bt709_and_an_independent_decoder_reads_the_colour(tmp_path, codec):
    out = tmp_path / f"red{DELIVERY[codec].suffix}"
    red = np.full((720, 1280, 3), (200, 30, 30), np.uint8)
    write_clip(out, [red, red], Fraction(24), DELIVERY[codec])
    stream = probe(out, "-show_streams")["streams"][0]
    assert (stream["color_primaries"], stream["color_transfer"], stream["color_space"]) == (
        "bt709", "bt709", "bt709",
    )  # fmt: skip
    assert stream["color_range"] == "tv"
    command = [ffmpeg_tool("ffmpeg"), "-v", "error", "-i", str(out), "-frames:v", "1",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]  # fmt: skip
    raw = subprocess.run(command, capture_output=True, check=True).stdout
    pixel = np.frombuffer(raw, np.uint8).reshape(720, 1280, 3)[360, 640].astype(int)
    assert np.abs(pixel - (200, 30, 30)).max() <= 2, pixel


def test_sd_pictures_say_bt601(tmp_path):
    out = tmp_path / "sd.mp4"
    write_clip(out, [np.full((90, 160, 3), 128, np.uint8)], Fraction(24), DELIVERY["h264"])
    stream = probe(out, "-show_streams")["streams"][0]
    assert stream["color_space"] == "smpte170m" and stream["color_primaries"] == "smpte170m"


@pytest.mark.parametrize("codec", ["h264", "prores", "vp9"])
def test_films_in_every_container_carry_bt709_tags_when_asked(project, codec):
    out = compile_film(project, codec, "--color-space", "bt709")
    video = probe(out, "-select_streams", "v:0", "-show_streams")["streams"][0]
    tags = (video["color_primaries"], video["color_transfer"], video["color_space"])
    assert tags == ("bt709", "bt709", "bt709")


# ------------------------------------------------------------------ loudness


@pytest.mark.parametrize(
    ("codec", "amplitude", "target"),
    [("h264", 0.9, None), ("vp9", 0.02, None), ("prores", 0.3, "-23"), ("h264", 0.3, "-24")],
)
def test_the_film_is_at_its_loudness_target_under_another_meter(project, codec, amplitude, target):
    write_music(project, amplitude)
    out = compile_film(project, codec, *(["--loudness", target] if target else []))
    integrated, true_peak = ebur128(out)
    assert integrated == pytest.approx(float(target or -14), abs=0.5)
    assert true_peak <= -1.0
    record = json.loads((project.root / "film.run.json").read_text())
    assert record["sound"]["target_lufs"] == float(target or -14)
    assert record["sound"]["delivered"]["integrated_lufs"] == pytest.approx(integrated, abs=0.5)


def test_loudness_off_keeps_the_mix_level_and_stems_say_their_loudness(project):
    write_music(project, 0.02)
    out = compile_film(project, "h264", "--loudness", "off", "--stems")
    integrated, _ = ebur128(out)
    report = json.loads((project.root / "film.stems" / "loudness.json").read_text())
    mixed = report["master"]["mixed"]["integrated_lufs"]
    assert integrated == pytest.approx(mixed, abs=0.5)  # as mixed, not at -14
    assert abs(integrated + 14) > 2
    assert report["master"]["target_lufs"] is None and report["master"]["gain_db"] == 0
    stems = report["stems"]
    assert stems["music"]["integrated_lufs"] < stems["dialogue"]["integrated_lufs"] - 10
    assert stems["sfx"]["integrated_lufs"] is None  # silent


def test_the_true_peak_limiter_holds_its_ceiling_between_samples():
    rate = 48000
    # A tone at a quarter of the rate, sampled 45 degrees off its peaks: the
    # samples read 0.707 of the true peak.
    n = np.arange(rate)
    tone = 1.2 * np.sin(2 * np.pi * n / 4 + np.pi / 4)
    block = np.stack([tone, tone], axis=1)
    limiter = TruePeakLimiter(rate, LIMITER_CEILING_DBTP)
    limited = limiter.process(block, 0, len(block) - 200)
    upsampled = np.fft.irfft(np.fft.rfft(limited[1000:-1000, 0]), n=8 * (len(limited) - 2000))
    true_peak = 20 * np.log10(np.abs(upsampled).max() * 8)
    assert true_peak <= -1.0
    assert np.abs(limited).max() < 10 ** (-1 / 20) / 1.2  # the samples: far below


# ------------------------------------------------------------------ timecode, chapters, title


@pytest.mark.parametrize("codec", ["h264", "prores"])
def test_the_timecode_track_starts_at_the_chosen_timecode(project, codec):
    out = compile_film(project, codec, "--start-timecode", "10:00:00:12")
    streams = probe(out, "-show_streams")["streams"]
    tmcd = [s for s in streams if s.get("codec_tag_string") == "tmcd"]
    assert len(tmcd) == 1 and tmcd[0]["tags"]["timecode"] == "10:00:00:12"


def test_the_default_timecode_is_one_hour_and_chapters_and_title_are_set(project):
    out = compile_film(project, "vp9")
    info = probe(out, "-show_chapters", "-show_format")
    assert info["format"]["tags"]["title"] == "Small Hours"
    titles = [c["tags"]["title"] for c in info["chapters"]]
    assert titles == ["Scene 1", "Scene 2"]
    assert float(info["chapters"][1]["start_time"]) == pytest.approx(1.0, abs=0.01)
    mp4 = compile_film(project, "h264")
    tmcd = [
        s for s in probe(mp4, "-show_streams")["streams"] if s.get("codec_tag_string") == "tmcd"
    ]
    assert tmcd[0]["tags"]["timecode"] == "01:00:00:00"
    assert len(probe(mp4, "-show_chapters")["chapters"]) == 2


def test_a_bad_timecode_is_a_usage_error(project, capsys):
    path = project.write(FILM)
    assert main(["compile", str(path), "-q", "--start-timecode", "01:00:00;00"]) == 2
    assert "drop-frame" in capsys.readouterr().err


def test_the_prores_profile_delivered_is_the_one_the_docs_name(project):
    docs = (Path(__file__).resolve().parents[1] / "docs" / "assembly.md").read_text()
    named = re.search(r"ProRes 422 \(`prores_ks` profile 2, tagged `(\w+)`", docs).group(1)
    out = compile_film(project, "prores")
    video = probe(out, "-select_streams", "v:0", "-show_streams")["streams"][0]
    assert (video["codec_tag_string"], video["profile"]) == (named, "Standard")
    assert named == "apcn"  # ProRes 422 (Standard), as prores_ks profile 2 codes it


def test_mov_films_carry_chapters_and_title(project):
    info = probe(compile_film(project, "prores"), "-show_chapters", "-show_format")
    assert [c["tags"]["title"] for c in info["chapters"]] == ["Scene 1", "Scene 2"]
    assert info["format"]["tags"]["title"] == "Small Hours"


# ------------------------------------------------------------------ subtitles

_SRT_CUE = re.compile(
    r"^(\d+)\n(\d\d):([0-5]\d):([0-5]\d),(\d{3}) --> (\d\d):([0-5]\d):([0-5]\d),(\d{3})\n(.+)$",
    re.S,
)


def strict_srt(text: str) -> list[tuple[int, int, str]]:
    """Parse SubRip as a strict validator does: numbered from 1 in order, each cue
    ending after it starts and before the next one starts."""
    cues, last_end = [], 0
    for number, block in enumerate(text.rstrip("\n").split("\n\n"), start=1):
        match = _SRT_CUE.match(block)
        assert match, f"malformed cue: {block!r}"
        g = [int(x) if x.isdigit() else x for x in match.groups()]
        assert g[0] == number
        start = ((g[1] * 60 + g[2]) * 60 + g[3]) * 1000 + g[4]
        end = ((g[5] * 60 + g[6]) * 60 + g[7]) * 1000 + g[8]
        assert start < end, f"cue {number} ends before it starts"
        assert start >= last_end, f"cue {number} overlaps cue {number - 1}"
        cues.append((start, end, g[9]))
        last_end = end
    return cues


def test_srt_cues_never_overlap_under_a_dissolve(tmp_path, project):
    plan = project.plan(
        FILM.replace("SHOT 2 MEDIUM", "DISSOLVE TO: 12f\n\nSHOT 2 MEDIUM").replace(
            "  HERO waits.\n", "  HERO\n    Wait for me.\n"
        )
    )
    lines = plan.timeline.dialogue
    # The shot before the dissolve speaks into it; the shot after starts in it.
    lines[0].end = plan.timeline.shots[1].start + 8
    lines.append(lines[1].model_copy(update={"text": "Me too."}))  # two lines at once
    write_srt(plan.timeline, tmp_path / "film.srt")
    cues = strict_srt((tmp_path / "film.srt").read_text())
    # The `srt` package, in its strict mode, reads the same cues, none overlapping.
    parsed = list(srt.parse((tmp_path / "film.srt").read_text(), ignore_errors=False))
    assert [c.index for c in parsed] == list(range(1, len(cues) + 1))
    assert all(a.end <= b.start for a, b in itertools.pairwise(parsed))
    assert [round(c.end.total_seconds() * 1000) for c in parsed] == [c[1] for c in cues]
    incoming = round(plan.timeline.shots[1].start * 1000 / 24)
    assert [c[1] for c in cues[:1]] == [incoming]  # ends where the incoming line begins
    assert cues[1][2] == "Late again.\nMe too."


def test_the_delivery_is_cached_apart_from_the_plan(project):
    """Recompiling reuses the loudness pass; another target makes only a new one, and
    the plan JSON stays the same bytes whatever the delivery settings."""

    def deliveries() -> list[Path]:
        manifests = (project.root / ".director" / "cache" / "entries").rglob("entry.json")
        return sorted(m for m in manifests if '"op": "deliver"' in m.read_text())

    compile_film(project)
    plan = (project.root / "film.plan.json").read_bytes()
    first = deliveries()
    assert len(first) == 1
    compile_film(project)
    assert deliveries() == first
    out = compile_film(project, "h264", "--loudness", "-23", "--start-timecode", "02:00:00:00")
    assert len(deliveries()) == 2
    assert ebur128(out)[0] == pytest.approx(-23, abs=0.5)
    assert (project.root / "film.plan.json").read_bytes() == plan


# ------------------------------------------------------------------ burn-in


def grey_frames(path: Path, width: int, height: int) -> np.ndarray:
    """Every frame's luma as FFmpeg's own decoder reads it, (frames, height, width)."""
    command = [ffmpeg_tool("ffmpeg"), "-v", "error", "-i", str(path), "-map", "0:v",
               "-f", "rawvideo", "-pix_fmt", "gray", "-"]  # fmt: skip
    raw = subprocess.run(command, capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width)


def ink(grey: np.ndarray) -> np.ndarray:
    """Where `grey` is bright, cropped to it."""
    bright = grey > 128
    ys, xs = np.nonzero(bright)
    assert xs.size, "no text drawn"
    return bright[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def burnt_figures(burnt: np.ndarray, plain: np.ndarray) -> np.ndarray:
    """The figures burnt into a frame: the bright pixels inside what the burn-in
    changed (its box darkens the picture under it, so only the figures are bright)."""
    ys, xs = np.nonzero(np.abs(burnt.astype(int) - plain.astype(int)) > 60)
    return ink(burnt[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1])


def drawn(label: str, size: int) -> np.ndarray:
    """`label` drawn directly with Pillow and the first face the package ships."""
    from PIL import Image, ImageDraw, ImageFont

    from backends.typeface import face_paths

    font = ImageFont.truetype(str(face_paths()[0]), size)
    canvas = Image.new("L", (size * 12, size * 3), 0)
    ImageDraw.Draw(canvas).text((size, size), label, font=font, fill=255)
    return ink(np.asarray(canvas))


def mismatch(a: np.ndarray, b: np.ndarray) -> float:
    return float((a != b).mean()) if a.shape == b.shape else 1.0


def test_the_record_timecode_burnt_in_reads_as_drop_frame_timecode_counts(project):
    """At 29.97 fps from 00:00:59;28 the third frame is 00:01:00;02 (drop-frame skips
    ;00 and ;01): each frame's figures match the label OpenTimelineIO gives it, drawn
    with the same font, better than the frame before's, the frame after's, or the
    non-drop count's; the plan and the undelivered picture are untouched."""
    import opentimelineio as otio

    from director.burn_in import text_size

    width, height, rate = 320, 180, 30000 / 1001
    path = project.write(FILM.replace("160x90 @ 24fps", f"{width}x{height} @ 29.97fps"))

    def compiled(name: str, *extra: str) -> tuple[Path, bytes]:
        out = project.root / name
        argv = ["compile", str(path), "-o", str(out), "-q", "--no-burn-in", *extra]
        assert main(argv) == 0
        return out, (project.root / f"{out.stem}.plan.json").read_bytes()

    plain, plain_plan = compiled("plain.mp4")
    burnt, burnt_plan = compiled("burnt.mp4", "--burn-in", "timecode",
                                 "--start-timecode", "00:00:59;28")  # fmt: skip
    assert burnt_plan == plain_plan
    before, after = grey_frames(plain, width, height), grey_frames(burnt, width, height)
    assert len(before) == len(after) == 60
    start = otio.opentime.from_timecode("00:00:59;28", rate).value

    def label(frame: int, drop: bool = True) -> str:
        return otio.opentime.to_timecode(otio.opentime.RationalTime(start + frame, rate), rate,
                                         drop)  # fmt: skip

    size = text_size(height)
    for frame in (0, 1, 2, 3, 59):
        figures = burnt_figures(after[frame], before[frame])
        expected = mismatch(figures, drawn(label(frame), size))
        assert expected < 0.05, (frame, label(frame), expected)
        others = [label(frame - 1), label(frame + 1), label(frame, drop=False)]
        # One figure apart is a few hundredths; the codec's edges are under half that.
        assert all(mismatch(figures, drawn(o, size)) > 1.5 * expected for o in others)
    assert label(2) == "00:01:00;02"


def test_burn_in_is_a_delivery_setting_keyed_with_its_timecode():
    from director.delivery import Delivery, key
    from director.timecode import parse

    one, two = parse("01:00:00:00", Fraction(24)), parse("02:00:00:00", Fraction(24))
    keys = {
        name: key("p", "m", "h264", settings)
        for name, settings in {
            "plain": Delivery(one),
            "plain, another timecode": Delivery(two),
            "burnt": Delivery(one, burn_in=("timecode",)),
            "burnt, another timecode": Delivery(two, burn_in=("timecode",)),
        }.items()
    }
    # Without a burn-in the timecode only goes to the mux: one prepared delivery.
    assert keys["plain"] == keys["plain, another timecode"]
    assert len({keys["plain"], keys["burnt"], keys["burnt, another timecode"]}) == 3
