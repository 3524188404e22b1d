"""The assembler on real files: PyAV encoding and decoding, soundfile wavs.

Clips are tiny (64x36, 24 fps, solid colours) so the whole file runs in
seconds; the one long test mixes a 20-minute timeline to show memory does
not grow with the film.
"""

from __future__ import annotations

import tracemalloc
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile

from director import assemble
from director.assemble import (
    CEILING,
    _parameters,
    concat,
    encode_sound,
    frame_to_sample,
    mix,
    mux,
    render_segment,
    render_transition,
    write_srt,
    write_stems,
    write_vtt,
)
from director.clips import DELIVERY, INTERMEDIATE, count_frames, read_frames, write_clip
from director.plan import Timeline, TimelineCue, TimelineLine, TimelineShot

FPS = Fraction(24)
RATE = 48000
RED, BLUE, GREEN = (200, 30, 30), (30, 30, 200), (30, 180, 30)
DUCK = -12.0  # dB, as the plan asks
TOL = 8  # yuv420p round trips move solid colours by a few levels


def solid(path: Path, colour, frames: int, codec=INTERMEDIATE) -> Path:
    picture = np.empty((36, 64, 3), np.uint8)
    picture[:] = colour
    write_clip(path, (picture for _ in range(frames)), FPS, codec)
    return path


def ramp(path: Path, frames: int, codec=INTERMEDIATE, step: int = 10) -> Path:
    """Frame i is grey level step * i: each frame is recognisable after decoding."""
    greys = (np.full((36, 64, 3), step * i, np.uint8) for i in range(frames))
    write_clip(path, greys, FPS, codec)
    return path


def centre(frame: np.ndarray) -> np.ndarray:
    return frame[18, 32].astype(int)


def close(pixel, colour, tol=TOL) -> bool:
    return bool(np.all(np.abs(np.asarray(pixel, int) - np.asarray(colour, int)) <= tol))


def timeline(frames: int, cues=(), dialogue=(), shots=()) -> Timeline:
    return Timeline(
        fps_num=24, fps_den=1, frames=frames, shots=list(shots), transitions=[],
        cues=list(cues), dialogue=list(dialogue),
    )  # fmt: skip


def cue(path: str, start: int, frames: int, kind="music", **kw) -> TimelineCue:
    fields = {"fade_in": 0, "fade_out": 0, "gain_db": 0.0, "duck": False} | kw
    return TimelineCue(
        kind=kind, asset="A", path=path, shot="1", start=start, frames=frames, **fields
    )


def line(start: int, end: int, speaker="MARA", text="Another night, old friend.") -> TimelineLine:
    return TimelineLine(shot="1", speaker=speaker, text=text, start=start, end=end)


def wav(path: Path, samples: np.ndarray, rate: int = RATE) -> Path:
    soundfile.write(path, samples.astype(np.float32), rate, subtype="FLOAT")
    return path


def click_file(path: Path, rate: int = RATE) -> Path:
    """Silence with one full-scale-ish click at its first sample."""
    samples = np.zeros(rate // 4, np.float32)
    samples[0] = 0.9
    return wav(path, samples, rate)


def read_mix(path: Path) -> np.ndarray:
    data, rate = soundfile.read(path, dtype="float32", always_2d=True)
    assert rate == RATE
    return data


def onset(samples: np.ndarray, threshold=0.1) -> int:
    return int(np.argmax(np.abs(samples) > threshold))


# ------------------------------------------------------------------ picture


def test_segment_is_the_asked_frames(tmp_path):
    clip = ramp(tmp_path / "shot.mp4", 20)
    out = tmp_path / "seg.mp4"
    assert render_segment(clip, 5, 15, out, FPS, DELIVERY["h264"]) == 10
    frames = list(read_frames(out))
    assert len(frames) == 10
    assert [round(centre(f)[0] / 10) for f in frames] == list(range(5, 15))


def test_empty_segment_is_an_empty_file(tmp_path):
    out = tmp_path / "seg.mp4"
    assert render_segment(ramp(tmp_path / "s.mp4", 4), 2, 2, out, FPS, DELIVERY["h264"]) == 0
    assert out.stat().st_size == 0


def test_segment_past_the_clip_fails(tmp_path):
    with pytest.raises(ValueError):
        render_segment(ramp(tmp_path / "s.mp4", 4), 0, 8, tmp_path / "o.mp4", FPS, INTERMEDIATE)


def test_dissolve_blends_linearly(tmp_path):
    before = solid(tmp_path / "a.mp4", RED, 20)
    after = solid(tmp_path / "b.mp4", BLUE, 20)
    out = tmp_path / "t.mp4"
    assert render_transition("dissolve", 7, before, after, out, FPS, INTERMEDIATE) == 7
    frames = [centre(f) for f in read_frames(out)]
    assert len(frames) == 7
    for i, pixel in enumerate(frames):
        alpha = (i + 1) / 8
        expected = np.array(RED) * (1 - alpha) + np.array(BLUE) * alpha
        assert close(pixel, expected), (i, pixel, expected)
    assert close(frames[3], (np.array(RED) + np.array(BLUE)) / 2)  # the middle: the average
    assert frames[0][0] > frames[-1][0] and frames[0][2] < frames[-1][2]


def test_dissolve_uses_the_tail_and_head(tmp_path):
    before = ramp(tmp_path / "a.mp4", 12)  # grey 0..110
    after = solid(tmp_path / "b.mp4", (0, 0, 0), 12)
    out = tmp_path / "t.mp4"
    render_transition("dissolve", 3, before, after, out, FPS, INTERMEDIATE)
    greys = [centre(f)[1] for f in read_frames(out)]
    # before's frames 9, 10, 11 (90, 100, 110) weighted 3/4, 2/4, 1/4
    assert greys == pytest.approx([67.5, 50, 27.5], abs=4)


def test_wipe_moves_left_to_right(tmp_path):
    before = solid(tmp_path / "a.mp4", RED, 10)
    after = solid(tmp_path / "b.mp4", BLUE, 10)
    out = tmp_path / "t.mp4"
    assert render_transition("wipe", 6, before, after, out, FPS, INTERMEDIATE) == 6
    revealed = []
    for frame in read_frames(out):
        row = frame[18].astype(int)
        is_after = row[:, 2] > row[:, 0]
        revealed.append(int(is_after.sum()))
        # after on the left, before on the right, one edge between
        assert is_after[0] and not is_after[-1]
        assert np.all(np.diff(is_after.astype(int)) <= 0)
    assert revealed == sorted(revealed) and revealed[0] < revealed[-1]
    assert revealed[0] == pytest.approx(64 / 7, abs=3)
    assert revealed[-1] == pytest.approx(64 * 6 / 7, abs=3)


def test_fade_between_shots_dips_to_black_at_the_cut(tmp_path):
    before = solid(tmp_path / "a.mp4", (200, 200, 200), 12)
    after = solid(tmp_path / "b.mp4", (120, 120, 120), 12)
    out = tmp_path / "t.mp4"
    assert render_transition("fade out", 4, before, after, out, FPS, INTERMEDIATE) == 8
    greys = [centre(f)[1] for f in read_frames(out)]
    assert greys == pytest.approx([150, 100, 50, 0, 0, 30, 60, 90], abs=4)


def test_fade_in_starts_black(tmp_path):
    after = solid(tmp_path / "b.mp4", (200, 200, 200), 12)
    out = tmp_path / "t.mp4"
    assert render_transition("fade in", 4, None, after, out, FPS, INTERMEDIATE) == 4
    greys = [centre(f)[1] for f in read_frames(out)]
    assert greys == pytest.approx([0, 50, 100, 150], abs=4)


def test_final_fade_out_ends_black(tmp_path):
    before = solid(tmp_path / "a.mp4", (200, 200, 200), 12)
    out = tmp_path / "t.mp4"
    assert render_transition("fade out", 5, before, None, out, FPS, INTERMEDIATE) == 5
    greys = [centre(f)[1] for f in read_frames(out)]
    assert greys == pytest.approx([160, 120, 80, 40, 0], abs=4)


@pytest.mark.parametrize("kind", ["cut", "smash cut", "match cut"])
def test_cuts_have_no_frames(tmp_path, kind):
    out = tmp_path / "t.mp4"
    a, b = solid(tmp_path / "a.mp4", RED, 4), solid(tmp_path / "b.mp4", BLUE, 4)
    assert render_transition(kind, 0, a, b, out, FPS, INTERMEDIATE) == 0
    assert out.stat().st_size == 0


def test_transition_longer_than_its_shot_fails(tmp_path):
    a, b = solid(tmp_path / "a.mp4", RED, 3), solid(tmp_path / "b.mp4", BLUE, 10)
    with pytest.raises(ValueError, match="shorter"):
        render_transition("dissolve", 5, a, b, tmp_path / "t.mp4", FPS, INTERMEDIATE)


def _cut(tmp_path: Path, codec) -> tuple[list[Path], list]:
    """A red shot, a 4-frame dissolve, a blue shot, an empty segment, a green shot."""
    red, blue = solid(tmp_path / "red.mp4", RED, 12), solid(tmp_path / "blue.mp4", BLUE, 12)
    green = solid(tmp_path / "green.mp4", GREEN, 6)
    suffix = codec.suffix
    pieces = [tmp_path / f"p{i}{suffix}" for i in range(5)]
    render_segment(red, 0, 8, pieces[0], FPS, codec)
    render_transition("dissolve", 4, red, blue, pieces[1], FPS, codec)
    render_segment(blue, 4, 12, pieces[2], FPS, codec)
    render_segment(green, 0, 0, pieces[3], FPS, codec)
    render_segment(green, 0, 6, pieces[4], FPS, codec)
    expected = [RED] * 8 + [None] * 4 + [BLUE] * 8 + [GREEN] * 6
    return pieces, expected


@pytest.mark.parametrize("name", ["h264", "vp9", "prores", "png"])
def test_concat_copies_packets(tmp_path, name):
    codec = DELIVERY[name]
    pieces, expected = _cut(tmp_path, codec)
    out = tmp_path / f"cut{codec.suffix}"
    assert concat(pieces, out, verify=True) == 26  # rate and codec from the pieces
    frames = list(read_frames(out))
    assert len(frames) == 26 == count_frames(out)
    for index, colour in enumerate(expected):
        if colour is not None:
            assert close(centre(frames[index]), colour, 12), (index, centre(frames[index]))
    assert close(centre(frames[7]), RED, 12) and close(centre(frames[8]), RED, 80)
    assert close(centre(frames[11]), BLUE, 80) and close(centre(frames[12]), BLUE, 12)
    # no re-encoding: the packets are the pieces' packets, in order
    copied = _packets(out)
    assert copied == [p for piece in pieces if piece.stat().st_size for p in _packets(piece)]


def _packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [bytes(p) for p in container.demux(stream) if p.size]


def test_concat_is_deterministic(tmp_path):
    pieces, _ = _cut(tmp_path, DELIVERY["h264"])
    concat(pieces, tmp_path / "one.mp4", FPS, DELIVERY["h264"])
    concat(pieces, tmp_path / "two.mp4", FPS, DELIVERY["h264"])
    assert (tmp_path / "one.mp4").read_bytes() == (tmp_path / "two.mp4").read_bytes()


def test_concat_reencodes_pieces_that_cannot_share_a_stream(tmp_path):
    # ultrafast x264 has other stream headers (no CABAC) than veryfast
    a = solid(tmp_path / "a.mp4", RED, 5, INTERMEDIATE)
    b = solid(tmp_path / "b.mp4", BLUE, 7, DELIVERY["h264"])
    out = tmp_path / "cut.mp4"
    assert concat([a, b], out, verify=True) == 12
    frames = list(read_frames(out))
    assert close(centre(frames[4]), RED, 12) and close(centre(frames[5]), BLUE, 12)
    assert _parameters(out) == _parameters(b)  # in the delivery codec


def test_concat_refuses_pieces_of_other_sizes(tmp_path):
    a = solid(tmp_path / "a.mp4", RED, 5)
    b = tmp_path / "b.mp4"
    write_clip(b, [np.zeros((72, 128, 3), np.uint8)] * 3, FPS, INTERMEDIATE)
    with pytest.raises(ValueError, match="size"):
        concat([a, b], tmp_path / "o.mp4")


def test_concat_of_nothing_fails(tmp_path):
    empty = tmp_path / "e.mp4"
    empty.write_bytes(b"")
    with pytest.raises(ValueError):
        concat([empty], tmp_path / "o.mp4", FPS, INTERMEDIATE)


# ------------------------------------------------------------------ sound


def test_frame_to_sample():
    assert frame_to_sample(24, 24, 1) == 48000
    assert frame_to_sample(1, 24000, 1001) == 2002
    assert frame_to_sample(1, 30000, 1001) == 1602  # 1601.6 rounds up


def test_mix_length_is_the_film(tmp_path):
    result = mix(timeline(37), {}, [], [], DUCK, tmp_path / "m.wav")
    assert result.samples == frame_to_sample(37, 24, 1) == len(read_mix(result.master))
    assert not read_mix(result.master).any()


@pytest.mark.parametrize("rate", [48000, 44100])
def test_click_lands_on_its_frame(tmp_path, rate):
    click = click_file(tmp_path / "click.wav", rate)
    t = timeline(72, [cue("click.wav", 24, 12, kind="sfx")])
    result = mix(t, {"click.wav": click}, [], [], DUCK, tmp_path / "m.wav")
    samples = read_mix(result.master)
    assert abs(onset(samples[:, 0]) - 48000) <= 48
    assert abs(int(np.argmax(np.abs(samples[:, 1]))) - 48000) <= 48


def test_mp3_cue_is_decoded_with_pyav(tmp_path):
    path = tmp_path / "click.mp3"
    samples = np.zeros((1, 44100), np.float32)
    samples[0, 4410:4420] = 0.8  # a click 0.1 s into the file
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libmp3lame", rate=44100)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(samples.astype(np.float32), format="flt", layout="mono")
        frame.sample_rate = 44100
        frame.pts = 0
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    t = timeline(72, [cue("click.mp3", 24, 24, kind="sfx")])
    mixed = read_mix(mix(t, {"click.mp3": path}, [], [], DUCK, tmp_path / "m.wav").master)
    assert abs(int(np.argmax(np.abs(mixed[:, 0]))) - (48000 + 4800)) <= 48
    assert np.allclose(mixed[:, 0], mixed[:, 1])  # mono on both sides


def test_fades_are_linear_ramps(tmp_path):
    tone = wav(tmp_path / "dc.wav", np.full(RATE * 4, 0.5))
    t = timeline(96, [cue("dc.wav", 0, 72, fade_in=24, fade_out=12)])
    samples = read_mix(mix(t, {"dc.wav": tone}, [], [], DUCK, tmp_path / "m.wav").master)[:, 0]
    assert samples[0] == 0
    assert samples[12000] == pytest.approx(0.125, abs=1e-3)
    assert samples[24000] == pytest.approx(0.25, abs=1e-3)
    assert samples[48000] == pytest.approx(0.5, abs=1e-4)
    fade_out = 144000 - 24000  # the last half second of the cue
    assert samples[fade_out - 1] == pytest.approx(0.5, abs=1e-4)
    assert samples[fade_out + 12000] == pytest.approx(0.25, abs=1e-3)
    assert abs(samples[143999]) < 1e-3 and not samples[144000:].any()


def test_gain_minus_6_db_halves_the_amplitude(tmp_path):
    tone = wav(tmp_path / "dc.wav", np.full(RATE, 0.5))
    t = timeline(24, [cue("dc.wav", 0, 24, gain_db=-6.0)])
    samples = read_mix(mix(t, {"dc.wav": tone}, [], [], DUCK, tmp_path / "m.wav").master)
    assert samples[1000, 0] == pytest.approx(0.25, rel=0.01)


def test_music_ducks_under_dialogue_only(tmp_path):
    tone = wav(tmp_path / "dc.wav", np.full(RATE * 6, 0.5))
    t = timeline(
        144,
        [cue("dc.wav", 0, 144, duck=True), cue("dc.wav", 0, 144, kind="ambience")],
        [line(48, 96)],
    )
    result = mix(t, {"dc.wav": tone}, [], [], -12.0, tmp_path / "m.wav", stems=tmp_path)
    music = read_mix(result.stems["music"])[:, 0]
    ambience = read_mix(result.stems["ambience"])[:, 0]
    ducked = 0.5 * 10 ** (-12 / 20)
    assert music[RATE * 2] == pytest.approx(ducked, rel=1e-3)  # the line: 2 s to 4 s
    assert music[RATE * 4 - 1] == pytest.approx(ducked, rel=1e-3)
    assert music[RATE * 2 - 2400 - 1] == pytest.approx(0.5)  # outside it, and its 50 ms ramps
    assert music[RATE * 4 + 2400 + 1] == pytest.approx(0.5)
    assert ducked < music[RATE * 2 - 1200] < 0.5  # in the ramp
    assert 20 * np.log10(music[RATE * 3] / music[RATE]) == pytest.approx(-12.0, abs=0.01)
    assert np.allclose(ambience, 0.5)  # not asked to duck


def test_limiter_never_clips_and_leaves_quiet_sound_alone(tmp_path):
    t_ = np.arange(RATE * 2) / RATE
    loud = wav(tmp_path / "loud.wav", 0.9 * np.sin(2 * np.pi * 110 * t_))
    quiet = wav(tmp_path / "quiet.wav", 0.3 * np.sin(2 * np.pi * 110 * t_))
    cues = [cue("loud.wav", 0, 24, kind=k) for k in ("music", "sfx", "ambience")]
    cues.append(cue("quiet.wav", 48, 24))
    result = mix(
        timeline(96, cues), {"loud.wav": loud, "quiet.wav": quiet}, [], [], DUCK, tmp_path / "m.wav"
    )
    samples = read_mix(result.master)
    assert result.peak == pytest.approx(2.7, rel=0.01)
    assert np.abs(samples).max() <= CEILING + 1e-6
    assert np.abs(samples[:RATE]).max() > 0.95  # limited, not scaled down wholesale
    expected = 0.3 * np.sin(2 * np.pi * 110 * t_[: RATE // 2])
    assert np.allclose(samples[2 * RATE + 10 : 2 * RATE + RATE // 2, 0], expected[10:], atol=1e-4)


def test_voices_and_shot_sound_are_dialogue(tmp_path):
    voice = wav(tmp_path / "voice.wav", np.full(RATE // 2, 0.2))
    shot = wav(tmp_path / "shot.wav", np.full(RATE * 3, 0.1))
    placed = TimelineShot(shot="1", scene=0, start=24, end=72, frames=48, head=12, tail=0)
    t = timeline(96, shots=[placed])
    result = mix(
        t, {}, [(48, voice)], [(24, shot)], DUCK, tmp_path / "m.wav", stems=tmp_path / "st"
    )
    dialogue = read_mix(result.stems["dialogue"])[:, 0]
    master = read_mix(result.master)[:, 0]
    assert np.array_equal(dialogue, master)
    assert not dialogue[:RATE].any()
    assert dialogue[RATE + 12000] == pytest.approx(
        0.05, abs=1e-3
    )  # the shot fades in over its head
    assert dialogue[RATE + RATE // 2 + 10] == pytest.approx(0.1, abs=1e-4)
    assert dialogue[2 * RATE + 100] == pytest.approx(0.3, abs=1e-4)  # voice over the shot
    assert dialogue[int(2.6 * RATE)] == pytest.approx(0.1, abs=1e-4)
    assert not dialogue[3 * RATE :].any()  # trimmed to the shot
    written = write_stems(result, tmp_path / "out", "lamp")
    assert sorted(p.name for p in written) == [
        "lamp.ambience.wav", "lamp.dialogue.wav", "lamp.music.wav", "lamp.sfx.wav",
    ]  # fmt: skip


def test_write_stems_needs_stems(tmp_path):
    result = mix(timeline(24), {}, [], [], DUCK, tmp_path / "m.wav")
    with pytest.raises(ValueError):
        write_stems(result, tmp_path)


def test_mix_is_deterministic(tmp_path):
    click = click_file(tmp_path / "click.wav", 44100)
    t = timeline(48, [cue("click.wav", 5, 20, fade_in=3)], [line(0, 12)])
    a = mix(t, {"click.wav": click}, [], [], DUCK, tmp_path / "a.wav")
    b = mix(t, {"click.wav": click}, [], [], DUCK, tmp_path / "b.wav")
    assert a.master.read_bytes() == b.master.read_bytes()


def _long_timeline(minutes: int) -> Timeline:
    frames = minutes * 60 * 24
    kinds = ("music", "sfx", "ambience")
    cues = [
        cue(("tone.wav", "tone.flac")[i % 2], start, 120, kind=kinds[i % 3], fade_in=12,
            fade_out=12, gain_db=-3.0, duck=True)
        for i, start in enumerate(range(0, frames - 120, 480))
    ]  # fmt: skip
    lines = [line(start, start + 48) for start in range(30, frames - 60, 360)]
    return timeline(frames, cues, lines)


def test_mix_memory_does_not_grow_with_the_film(tmp_path):
    t_ = np.arange(RATE * 5) / RATE
    files = {
        "tone.wav": wav(tmp_path / "tone.wav", 0.3 * np.sin(2 * np.pi * 220 * t_)),
        "tone.flac": tmp_path / "tone.flac",
    }
    soundfile.write(files["tone.flac"], 0.3 * np.sin(2 * np.pi * 220 * t_[: 44100 * 5]), 44100)
    peaks = {}
    for minutes in (2, 20):
        tracemalloc.start()
        try:
            result = mix(_long_timeline(minutes), files, [], [], DUCK, tmp_path / f"{minutes}.wav")
            peaks[minutes] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert result.samples == minutes * 60 * RATE
        (tmp_path / f"{minutes}.wav").unlink()
    assert peaks[20] / peaks[2] <= 1.25, peaks
    assert peaks[20] < 100e6  # 20 minutes of stereo float would be 460 MB


# ------------------------------------------------------------------ the film file


@pytest.fixture(scope="module")
def film_parts(tmp_path_factory):
    """A 2-second picture (48 frames) and its mix: a click at 1.000 s."""
    folder = tmp_path_factory.mktemp("film")
    click = click_file(folder / "click.wav")
    t = timeline(48, [cue("click.wav", 24, 12, kind="sfx")])
    master = mix(t, {"click.wav": click}, [], [], DUCK, folder / "mix.wav").master
    return folder, master


def _video(folder: Path, name: str) -> Path:
    codec = DELIVERY[name]
    path = folder / f"cut-{name}{codec.suffix}"
    if not path.exists():
        ramp(path, 48, codec, step=5)
    return path


def _decode_audio(path: Path) -> tuple[np.ndarray, int]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        chunks = [_planar(frame) for frame in container.decode(stream)]
        return np.concatenate(chunks, axis=1), stream.codec_context.sample_rate


def _planar(frame: av.AudioFrame) -> np.ndarray:
    """(channels, samples) floats of a decoded frame, whatever its sample format."""
    array = frame.to_ndarray()
    if not frame.format.is_planar:
        array = array.reshape(-1, len(frame.layout.channels)).T
    if array.dtype == np.int16:
        array = array / 32768
    return array


def test_mux_h264_mp4_aligns_picture_and_sound(film_parts):
    folder, master = film_parts
    out = folder / "film.mp4"
    assert mux(_video(folder, "h264"), master, None, out, "h264") == 48
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.streams.video[0].codec_context.format.name == "yuv420p"
        assert container.streams.audio[0].codec_context.name == "aac"
        times = [frame.time for frame in container.decode(video=0)]
    assert len(times) == 48 and times[0] == 0 and times[24] == pytest.approx(1.0)
    audio, rate = _decode_audio(out)
    assert rate == RATE
    assert abs(audio.shape[1] - 2 * RATE) <= RATE / 24  # within one frame of the picture
    # AAC's priming samples are trimmed by the mp4 edit list: the click is on time.
    assert abs(onset(audio[0]) - RATE) <= RATE / 1000
    data = out.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # +faststart
    again = folder / "again.mp4"
    mux(_video(folder, "h264"), master, None, again, "h264")
    assert again.read_bytes() == data


@pytest.mark.parametrize("name", ["h264", "prores", "vp9"])
def test_sound_coded_ahead_is_copied_into_the_same_film(film_parts, name):
    """The mix node codes the film's sound (`encode_sound`) and the mux copies it:
    the same sound, sample for sample, as coding it at the mux."""
    folder, master = film_parts
    suffix = DELIVERY[name].suffix
    coded = folder / f"sound-{name}{suffix}"
    encode_sound(master, coded, name)
    copied, direct = folder / f"copied-{name}{suffix}", folder / f"direct-{name}{suffix}"
    assert mux(_video(folder, name), master, coded, copied, name) == 48
    mux(_video(folder, name), master, None, direct, name)
    (heard, rate), (expected, _) = _decode_audio(copied), _decode_audio(direct)
    assert rate == RATE and heard.shape == expected.shape
    assert np.array_equal(heard, expected)
    assert abs(onset(heard[0]) - RATE) <= RATE / 1000
    with av.open(str(copied)) as container:
        assert len([f for f in container.decode(video=0)]) == 48


@pytest.mark.parametrize(
    ("name", "suffix", "video_codec", "audio_codec"),
    [("prores", ".mov", "prores", "pcm_s16le"), ("vp9", ".webm", "vp9", "opus")],
)
def test_mux_other_codecs_play(film_parts, name, suffix, video_codec, audio_codec):
    folder, master = film_parts
    out = folder / f"film{suffix}"
    assert mux(_video(folder, name), master, None, out, name) == 48
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.name == video_codec
        assert container.streams.audio[0].codec_context.name == audio_codec
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 48
    assert close(centre(frames[20]), [100] * 3, 12)
    audio, _ = _decode_audio(out)
    assert abs(audio.shape[1] - 2 * RATE) <= RATE / 24
    assert abs(onset(audio[0]) - RATE) <= RATE / 1000


def test_mux_png_writes_a_numbered_sequence(film_parts):
    folder, master = film_parts
    out = folder / "film-png"
    out.mkdir()
    (out / "000099.png").write_bytes(b"stale")  # from a longer cut before
    assert mux(_video(folder, "png"), master, None, out, "png") == 48
    names = sorted(p.name for p in out.glob("*.png"))
    assert names == [f"{i:06d}.png" for i in range(48)]
    from PIL import Image

    with Image.open(out / "000007.png") as picture:
        assert picture.size == (64, 36) and picture.getpixel((32, 18)) == (35, 35, 35)
    sound, rate = soundfile.read(out / "audio.wav", always_2d=True)
    assert (
        rate == RATE
        and len(sound) == 2 * RATE
        and soundfile.info(out / "audio.wav").subtype == "PCM_24"
    )
    assert abs(onset(sound[:, 0]) - RATE) <= 1


# ------------------------------------------------------------------ subtitles


def _dialogue_timeline() -> Timeline:
    return Timeline(
        fps_num=24000, fps_den=1001, frames=100000, shots=[], transitions=[], cues=[],
        dialogue=[
            line(24, 60, text="Another night, old friend."),
            line(86400, 86500, speaker="TOM", text="Who's <there>?\n\n--> you"),
        ],
    )  # fmt: skip


def test_srt_times_are_exact(tmp_path):
    write_srt(_dialogue_timeline(), tmp_path / "film.srt")
    assert (tmp_path / "film.srt").read_text() == (
        "1\n00:00:01,001 --> 00:00:02,503\nAnother night, old friend.\n\n"
        "2\n01:00:03,600 --> 01:00:07,771\nWho's <there>?\n-> you\n"
    )
    write_srt(_dialogue_timeline(), tmp_path / "named.srt", speakers=True)
    assert "MARA: Another night" in (tmp_path / "named.srt").read_text()


def test_vtt(tmp_path):
    write_vtt(_dialogue_timeline(), tmp_path / "film.vtt", speakers=True)
    assert (tmp_path / "film.vtt").read_text() == (
        "WEBVTT\n\n00:00:01.001 --> 00:00:02.503\n<v MARA>Another night, old friend.\n\n"
        "01:00:03.600 --> 01:00:07.771\n<v TOM>Who's &lt;there&gt;?\n-&gt; you\n"
    )


def test_subtitles_stop_at_the_film_end(tmp_path):
    t = timeline(48, dialogue=[line(40, 80), line(60, 70)])
    write_srt(t, tmp_path / "f.srt")
    assert (
        tmp_path / "f.srt"
    ).read_text() == "1\n00:00:01,667 --> 00:00:02,000\nAnother night, old friend.\n"


def test_public_names():
    assert set(assemble.__all__) <= set(dir(assemble))


# ------------------------------------------------------------------ from a plan

CUT_SCRIPT = """
title: Cut
format: 64x36 @ 24fps
audio MUSIC: refs/music.wav
audio HIT: refs/hit.wav
character HERO
  description: a courier in a red coat

FADE IN: 6f

SHOT 1 WIDE 1s
  HERO waits.
  music MUSIC from 0s for 3s fade in 6f duck under dialogue

DISSOLVE TO: 6f

SHOT 2 MEDIUM on HERO 1s
  HERO
    Late again.

WIPE TO: 4f

SHOT 3 WIDE 1s
  sfx HIT from 0s

FADE OUT: 4f

SHOT 4 WIDE 1s

SMASH CUT TO:

SHOT 5 WIDE 1s

FADE OUT: 6f
"""

COLOURS = {"1": RED, "2": BLUE, "3": GREEN, "4": (200, 200, 200), "5": (120, 60, 160)}


def test_a_planned_cut_assembles_to_the_timeline(project, tmp_path):
    """Segments and transitions in the plan's order make exactly the timeline's frames."""
    plan = project.plan(CUT_SCRIPT)
    t = plan.timeline
    codec, fps = DELIVERY["h264"], Fraction(t.fps_num, t.fps_den)
    clips = {
        s.shot: solid(tmp_path / f"shot{s.shot}.mp4", COLOURS[s.shot], s.frames) for s in t.shots
    }
    nodes = {n.id: n for n in plan.nodes}
    transitions = {f"transition/{x.before or 'start'}-{x.after or 'end'}": x for x in t.transitions}
    pieces = []
    for index, node_id in enumerate(nodes["film/assemble"].inputs):
        node, out = nodes[node_id], tmp_path / f"piece{index}.mp4"
        if node.op == "segment":
            shot = node_id.split("/")[1]
            render_segment(clips[shot], node.params.start, node.params.end, out, fps, codec)
        else:
            x = transitions[node_id]
            before, after = clips.get(x.before), clips.get(x.after)
            assert render_transition(x.kind, x.frames, before, after, out, fps, codec) == x.covers
        pieces.append(out)
    film = tmp_path / "cut.mp4"
    assert concat(pieces, film, fps, codec, verify=True) == t.frames
    frames = [centre(f) for f in read_frames(film)]
    assert len(frames) == t.frames
    starts = {s.shot: s for s in t.shots}
    assert max(frames[0]) <= TOL  # from black
    for shot, placed in starts.items():
        middle = (placed.start + placed.head + placed.end - placed.tail) // 2
        assert close(frames[middle], COLOURS[shot], 12), (shot, frames[middle])
    dissolve, wipe, fade = (x for x in t.transitions if x.before and x.after)
    alpha = (dissolve.cut - dissolve.start + 1) / (dissolve.frames + 1)  # at the edit point
    assert close(frames[dissolve.cut], np.array(RED) * (1 - alpha) + np.array(BLUE) * alpha, 12)
    assert close(frames[wipe.start], COLOURS["2"], 12)  # the edge starts at the left
    assert close(frames[wipe.start + wipe.frames - 1], COLOURS["3"], 12)  # and ends at the right
    assert max(frames[fade.cut]) <= TOL  # the dip to black
    assert close(frames[starts["5"].start], COLOURS["5"], 12)  # a smash cut is a cut
    assert max(frames[-1]) <= TOL  # to black

    cue_files = {c.path: project.root / c.path for c in t.cues}
    result = mix(t, cue_files, [], [], DUCK, tmp_path / "mix.wav", stems=tmp_path / "stems")
    film_file = tmp_path / "film.mp4"
    assert mux(film, result.master, None, film_file, "h264") == t.frames
    write_srt(t, tmp_path / "film.srt")
    line_ = t.dialogue[0]
    assert (
        (tmp_path / "film.srt")
        .read_text()
        .startswith(f"1\n00:00:00,{line_.start * 1000 // 24:03d} --> ")
    )
    music = read_mix(result.stems["music"])[:, 0]
    speaking = frame_to_sample(line_.start + 6, 24, 1)
    quiet = frame_to_sample(line_.start - 6, 24, 1)
    assert (
        np.abs(music[speaking : speaking + 4800]).max()
        < 0.5 * np.abs(music[quiet - 4800 : quiet]).max()
    )
