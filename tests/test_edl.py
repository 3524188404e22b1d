"""Every example's EDL read by parsers the project did not write: pycmx (strict CMX
3600 columns) and OpenTimelineIO's own CMX reader."""

from __future__ import annotations

import io
import itertools
import re
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pycmx
import pytest

from director.check import check_file
from director.edl import write_edl
from director.plan import plan_film
from director.timecode import parse

EXAMPLES = Path(__file__).resolve().parents[1] / "scripts_examples"
SCRIPTS = sorted(p for p in EXAMPLES.rglob("*.shot") if "title:" in p.read_text(encoding="utf-8"))


def planned(script: Path):
    checked = check_file(script)
    assert checked.film is not None
    plan = plan_film(checked.film).plan
    assert plan is not None
    return plan


def expected_transitions(plan) -> list[tuple[str, int]]:
    """What each of the plan's transitions should read as: (pycmx kind, frames)."""
    found = []
    for t in plan.timeline.transitions:
        if t.kind in ("cut", "smash cut", "match cut"):
            continue
        kind = "W" if t.kind == "wipe" else "D"
        # A fade out between two shots is down to black, then up from it.
        found += [(kind, t.frames)] * (2 if t.kind == "fade out" and t.after else 1)
    return found


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_pycmx_reads_every_transition_of_every_example(script):
    plan = planned(script)
    record = parse(None, Fraction(plan.timeline.fps_num, plan.timeline.fps_den))
    text = write_edl(plan, record)
    edl = pycmx.parse_cmx3600(io.StringIO(text))
    edits = [edit for event in edl.events for edit in event.edits]
    unread = [s for event in edl.events for s in event.unrecognized_statements]
    assert unread == []
    read = [
        (edit.transition.kind, edit.transition.effect_duration)
        for edit in edits
        if edit.channels.video and not edit.transition.cut
    ]
    assert read == expected_transitions(plan)
    assert edl.format == "3600"
    assert text.splitlines()[1] == "FCM: NON-DROP FRAME"
    audio = [edit for edit in edits if edit.channels.audio]
    # an event per cue, and per pass through its file for a looped one
    assert len(audio) == sum(len(c.passes()) for c in plan.timeline.cues if c.frames > 0)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_markers_land_on_the_record_frames_of_the_plan(script):
    plan = planned(script)
    rate = plan.timeline.fps_num / plan.timeline.fps_den
    record = parse("10:00:00:00", Fraction(plan.timeline.fps_num, plan.timeline.fps_den))
    text = write_edl(plan, record)
    start = otio.opentime.from_timecode("10:00:00:00", rate).to_frames()
    markers = re.findall(r"^\* LOC: (\S+) RED\s+SHOT (\S+)$", text, re.M)
    at = {shot: otio.opentime.from_timecode(tc, rate).to_frames() - start for tc, shot in markers}
    assert at == {shot.shot: shot.start for shot in plan.timeline.shots}


OTIO_KINDS = {"SMPTE_Dissolve": "D", "SMPTE_Wipe": "W"}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_opentimelineio_reads_the_edl_back(script):
    """Every example, those opening with FADE IN: included: OTIO's reader hangs a
    transition between two clips of a track, so the opening fade's black is an event
    of its own; overlapping cues are on channels of their own."""
    plan = planned(script)
    rate = plan.timeline.fps_num / plan.timeline.fps_den
    text = write_edl(plan, parse(None, Fraction(plan.timeline.fps_num, plan.timeline.fps_den)))
    timeline = otio.adapters.read_from_string(text, adapter_name="cmx_3600", rate=rate)
    video = timeline.video_tracks()[0]
    shots = [c for c in video.find_clips() if c.name.startswith("SHOT")]
    assert [c.name for c in shots] == [f"SHOT {s.shot}" for s in plan.timeline.shots]
    items = list(video)
    transitions = [t for t in items if isinstance(t, otio.schema.Transition)]
    read = [(OTIO_KINDS[t.transition_type], t.out_offset.to_frames()) for t in transitions]
    assert read == expected_transitions(plan)
    if plan.timeline.transitions and plan.timeline.transitions[0].kind == "fade in":
        black = items[0]
        assert black.media_reference.generator_kind == "black"
        assert black.duration().to_frames() == 0 and items[1] is transitions[0]
    assert video.duration().to_frames() == plan.timeline.frames
    cues = [c for track in timeline.audio_tracks() for c in track.find_clips()]
    assert sorted(c.duration().to_frames() for c in cues) == sorted(
        frames for c in plan.timeline.cues if c.frames > 0 for _, _, frames in c.passes()
    )


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_no_two_cues_share_an_audio_channel_at_once(script):
    """A later event on a busy channel records over the earlier cue's sound."""
    plan = planned(script)
    text = write_edl(plan, parse(None, Fraction(plan.timeline.fps_num, plan.timeline.fps_den)))
    edl = pycmx.parse_cmx3600(io.StringIO(text))
    playing: dict[int, list[tuple[str, str]]] = {}
    for event in edl.events:
        for edit in event.edits:
            for channel in edit.channels.channels:
                playing.setdefault(channel, []).append((edit.record_in, edit.record_out))
    for spans in playing.values():
        spans.sort()
        assert all(end <= start for (_, end), (start, _) in itertools.pairwise(spans))
    assert sum(len(spans) for spans in playing.values()) == sum(
        len(c.passes()) for c in plan.timeline.cues if c.frames > 0
    )


def test_drop_frame_films_say_so():
    plan = planned(SCRIPTS[0])
    plan.timeline.fps_num, plan.timeline.fps_den = 30000, 1001
    text = write_edl(plan, parse(None, Fraction(30000, 1001)))
    assert text.splitlines()[1] == "FCM: DROP FRAME"
    assert "01:00:00;00" in text


def test_fcp_xml_sequences_carry_their_format_and_record_timecode(tmp_path):
    import xml.etree.ElementTree as ElementTree

    from director.timeline_export import Media, build_timeline, write_timeline

    plan = planned(EXAMPLES / "lighthouse.shot")
    record = parse("10:00:00:00", Fraction(plan.timeline.fps_num, plan.timeline.fps_den))
    write_timeline(build_timeline(plan, Media(), record=record), tmp_path / "cut.xml")
    sequence = ElementTree.parse(tmp_path / "cut.xml").getroot().find(".//sequence")
    sample = sequence.find("media/video/format/samplecharacteristics")
    assert (sample.findtext("width"), sample.findtext("height")) == (
        str(plan.width), str(plan.height),
    )  # fmt: skip
    assert sample.findtext("rate/timebase") == str(plan.timeline.fps_num)
    assert sequence.findtext("timecode/string") == "10:00:00:00"
    back = otio.adapters.read_from_file(str(tmp_path / "cut.xml"))
    rate = plan.timeline.fps_num / plan.timeline.fps_den
    assert (
        back.global_start_time.to_frames()
        == otio.opentime.from_timecode("10:00:00:00", rate).to_frames()
    )


def test_export_finds_the_cache_and_project_of_the_compile_that_wrote_the_plan(project):
    from test_delivery import FILM

    from director.cli import main

    script = project.write(FILM)
    out = project.root / "delivered" / "film.mp4"
    assert main(["compile", str(script), "-o", str(out), "-q"]) == 0
    target = project.root / "elsewhere" / "cut.otio"
    assert main(["export", str(out.with_name("film.plan.json")), "--otio", str(target)]) == 0
    timeline = otio.adapters.read_from_file(str(target))
    clips = timeline.video_tracks()[0].find_clips()
    online = [isinstance(c.media_reference, otio.schema.ExternalReference) for c in clips]
    assert clips and all(online)
    cues = [c for track in timeline.audio_tracks() for c in track.find_clips()]
    assert cues and all(c.media_reference.target_url.endswith(".wav") for c in cues)


def test_fcp_xml_cue_levels_carry_gain_fades_and_ducking(tmp_path):
    import xml.etree.ElementTree as ElementTree

    from director.timeline_export import Media, build_timeline, write_timeline

    plan = planned(EXAMPLES / "lighthouse.shot")
    theme = next(c for c in plan.timeline.cues if c.asset == "THEME")
    assert theme.duck and theme.fade_in and theme.gain_db == -6
    write_timeline(build_timeline(plan, Media()), tmp_path / "cut.xml")
    root = ElementTree.parse(tmp_path / "cut.xml").getroot()
    clip = next(c for c in root.iter("clipitem") if c.findtext("name") == "music THEME")
    effect = clip.find("filter/effect")
    assert effect.findtext("effectid") == "audiolevels"
    keys = [(int(k.findtext("when")), float(k.findtext("value"))) for k in effect.iter("keyframe")]
    gain, ducked = 10 ** (-6 / 20), 10 ** (-18 / 20)
    assert keys[0] == (0, 0.0)  # faded in from silence
    assert keys[-1] == (theme.frames, 0.0)  # and out to it
    assert max(v for _, v in keys) == pytest.approx(gain, abs=1e-6)
    assert any(v == pytest.approx(ducked, abs=1e-6) for _, v in keys)  # under dialogue
    back = otio.adapters.read_from_file(str(tmp_path / "cut.xml"))
    assert len(back.audio_tracks()) == len(build_timeline(plan, Media()).audio_tracks())
