"""Timeline export: the cut read back with OpenTimelineIO matches the plan frame for frame."""

from __future__ import annotations

import json
from pathlib import Path

import opentimelineio as otio
import pytest

from director.cli import main
from director.clips import count_frames
from director.plan import Plan
from director.timeline_export import Media, build_timeline, write_timeline

# Every kind of edit: a fade in, a dissolve, a wipe, a fade through black, a
# final fade out; overlapping music cues, an sfx, and dialogue across a dissolve.
FILM = """
title: Export
format: 160x90 @ 24fps
backend: preview
character HERO
  description: a courier
  ref: refs/hero.png
audio MUSIC: refs/music.wav
audio HIT: refs/hit.wav

FADE IN: 6f

SHOT 1 WIDE 1s
  HERO waits.
  music MUSIC from 0s for 3s fade out 6f
  HERO
    Late.

DISSOLVE TO: 8f

SHOT 2A MEDIUM on HERO 1s
  HERO
    Again.
  sfx HIT from 6f
  music MUSIC from 12f for 1s

WIPE TO: 6f

SHOT 3 CLOSE-UP 1s
  The door.

FADE OUT: 4f

SHOT 4 WIDE 1s
  Night.

FADE OUT: 6f
"""


def shots_read_back(track: otio.schema.Track) -> dict[str, tuple[int, int, int]]:
    """Each clip's shot (start, end) in the cut, with the overlaps of dissolves and wipes
    restored from the transitions' offsets, and the clip's first source frame."""
    items = list(track)
    found = {}
    for index, item in enumerate(items):
        if not isinstance(item, otio.schema.Clip):
            continue
        visible = item.range_in_parent()
        start = round(visible.start_time.value)
        end = round(visible.end_time_exclusive().value)
        before = items[index - 1] if index else None
        after = items[index + 1] if index + 1 < len(items) else None
        if _overlap(before):
            start -= round(before.in_offset.value)
        if _overlap(after):
            end += round(after.out_offset.value)
        shot = item.metadata["shot_director"]["shot"]
        found[shot] = (start, end, round(item.source_range.start_time.value))
    return found


def _overlap(item) -> bool:
    return isinstance(item, otio.schema.Transition) and item.name in ("dissolve", "wipe")


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    from conftest import Project

    project = Project(tmp_path_factory.mktemp("export"))
    script = project.write(FILM)
    out = project.root / "out" / "film.mp4"
    assert (
        main(
            [
                "compile",
                str(script),
                "-o",
                str(out),
                "-q",
                "--otio",
                str(project.root / "out" / "film.otio"),
                "--edl",
                str(project.root / "out" / "film.edl"),
                "--fcpxml",
                str(project.root / "out" / "film.xml"),
            ]
        )  # fmt: skip
        == 0
    )
    plan = Plan.model_validate_json((project.root / "out" / "film.plan.json").read_text())
    return project.root, plan


def test_otio_clips_match_the_plan_frame_for_frame(compiled):
    root, plan = compiled
    timeline = otio.adapters.read_from_file(str(root / "out" / "film.otio"))
    video = timeline.video_tracks()
    assert len(video) == 1
    assert round(timeline.duration().value) == plan.timeline.frames
    assert timeline.duration().rate == 24
    found = shots_read_back(video[0])
    assert found == {s.shot: (s.start, s.end, _first(plan, s)) for s in plan.timeline.shots}
    for clip in video[0].find_clips():
        shot = next(s for s in plan.timeline.shots if f"SHOT {s.shot}" == clip.name)
        reference = clip.media_reference
        assert round(reference.available_range.duration.value) == shot.frames
        media = (root / "out" / reference.target_url).resolve()
        assert media.parent == (root / "out" / "film.media").resolve()
        assert count_frames(media) == shot.frames  # the shot's own frames, handles included
        [marker] = clip.markers
        assert marker.name == f"SHOT {shot.shot}"
        assert marker.metadata["shot_director"]["shot"] == shot.shot
        prompt = next(n for n in plan.nodes if n.id == f"shot/{shot.shot}/prompt")
        assert marker.metadata["shot_director"]["prompt"] == prompt.params.text


def _first(plan: Plan, shot) -> int:
    """The first frame of a shot seen outside a dissolve or wipe into it."""
    into = next((t for t in plan.timeline.transitions if t.after == shot.shot), None)
    return into.cut - shot.start if into and into.kind in ("dissolve", "wipe") else 0


def test_otio_transitions_sit_where_the_plan_puts_them(compiled):
    root, plan = compiled
    timeline = otio.adapters.read_from_file(str(root / "out" / "film.otio"))
    track = timeline.video_tracks()[0]
    transitions = [item for item in track if isinstance(item, otio.schema.Transition)]
    by_kind = [(t.name, round(t.in_offset.value), round(t.out_offset.value)) for t in transitions]
    assert by_kind == [
        ("fade in", 0, 6),
        ("dissolve", 4, 4),
        ("wipe", 3, 3),
        ("fade out", 4, 0),  # to black …
        ("fade out", 0, 4),  # … and back
        ("fade out", 6, 0),
    ]
    for transition in transitions:
        planned = transition.metadata["shot_director"]
        edit = round(transition.range_in_parent().start_time.value + transition.in_offset.value)
        assert edit == planned["cut"]
    assert transitions[2].transition_type == otio.schema.TransitionTypes.Custom


def test_otio_cues_and_dialogue_are_on_their_own_tracks_at_their_times(compiled):
    root, plan = compiled
    timeline = otio.adapters.read_from_file(str(root / "out" / "film.otio"))
    audio = {t.name: t for t in timeline.audio_tracks()}
    assert set(audio) == {"Music 1", "Music 2", "SFX 1", "Dialogue 1", "Dialogue 2"}
    placed = sorted(
        (
            clip.metadata["shot_director"]["asset"],
            round(clip.range_in_parent().start_time.value),
            round(clip.range_in_parent().duration.value),
        )
        for name, track in audio.items()
        if not name.startswith("Dialogue")
        for clip in track.find_clips()
    )
    assert placed == sorted((c.asset, c.start, c.frames) for c in plan.timeline.cues)
    for track in audio.values():
        for clip in track.find_clips():
            assert (root / "out" / clip.media_reference.target_url).is_file()
    spoken = [c for name in ("Dialogue 1", "Dialogue 2") for c in audio[name].find_clips()]
    assert sorted(round(c.range_in_parent().start_time.value) for c in spoken) == [
        s.start for s in plan.timeline.shots if s.shot in ("1", "2A")
    ]


def test_fcp7_xml_keeps_the_cut_transitions_and_markers(compiled):
    root, plan = compiled
    timeline = otio.adapters.read_from_file(str(root / "out" / "film.xml"))
    track = timeline.video_tracks()[0]
    clips = track.find_clips()
    assert [c.name for c in clips] == [f"SHOT {s.shot}" for s in plan.timeline.shots]
    assert round(timeline.duration().value) == plan.timeline.frames
    assert sum(isinstance(i, otio.schema.Transition) for i in track) == 6
    assert [m.name for c in clips for m in c.markers] == [c.name for c in clips]
    for clip in clips:
        assert clip.media_reference.target_url.startswith("file://")
    assert len(timeline.audio_tracks()) == 5


def edl_events(text: str) -> list[tuple[str, str, int, int, int]]:
    """(reel, C or D, transition frames, record in, record out) of each picture event
    line, record frames counted from the default start, 01:00:00:00; a wipe (W001)
    counts as a D here."""
    events = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 8 and parts[0].isdigit() and parts[2] == "V":
            kind = "D" if parts[3] == "D" or parts[3].startswith("W") else "C"
            length = int(parts[4]) if kind == "D" else 0
            rec_in, rec_out = (_frames(tc) - _frames("01:00:00:00") for tc in parts[-2:])
            events.append((parts[1], kind, length, rec_in, rec_out))
    return events


def _frames(timecode: str) -> int:
    hours, minutes, seconds, frames = (int(p) for p in timecode.split(":"))
    return ((hours * 60 + minutes) * 60 + seconds) * 24 + frames


def test_edl_record_times_are_the_plans(compiled):
    """Each dissolve (a wipe too: CMX events here are dissolves) or fade starts at its
    planned frame with its planned length, and the last event ends with the film."""
    root, plan = compiled
    text = (root / "out" / "film.edl").read_text()
    assert text.startswith("TITLE: Export")
    for shot in plan.timeline.shots:
        assert (
            f"FROM CLIP NAME: SHOT {shot.shot}" in text or f"TO CLIP NAME: SHOT {shot.shot}" in text
        )
    events = edl_events(text)
    dissolves = [(length, rec_in) for _, kind, length, rec_in, _ in events if kind == "D"]
    planned = []
    for t in plan.timeline.transitions:
        if t.kind == "fade out" and t.after is not None:
            planned += [(t.frames, t.start), (t.frames, t.start + t.frames)]
        else:
            planned.append((t.frames, t.start))
    assert dissolves == planned
    assert events[-1][4] == plan.timeline.frames
    assert events[0] == ("BL", "C", 0, 0, 0)  # the opening fade comes from black


def test_edl_reads_back_with_the_films_length(compiled):
    """OTIO's own EDL reader takes the film's EDL, opening fade, wipe and fade through
    black included; it reads back as long as planned, a shot's clip once per event."""
    root, plan = compiled
    back = otio.adapters.read_from_file(str(root / "out" / "film.edl"), rate=24)
    video = back.video_tracks()[0]
    assert round(video.duration().value) == plan.timeline.frames
    names = [c.name for c in video.find_clips() if c.name.startswith("SHOT")]
    assert list(dict.fromkeys(names)) == [f"SHOT {s.shot}" for s in plan.timeline.shots]
    transitions = [t for t in video if isinstance(t, otio.schema.Transition)]
    assert [t.metadata["cmx_3600"]["transition"] for t in transitions] == [
        "D", "D", "W001", "D", "D", "D",
    ]  # fmt: skip


def test_fcpx_xml_keeps_the_clips(tmp_path, project):
    plan = project.plan(FILM)
    write_timeline(build_timeline(plan, Media()), tmp_path / "film.fcpxml")
    back = otio.adapters.read_from_file(str(tmp_path / "film.fcpxml"))
    assert [c.name for c in back.video_tracks()[0].find_clips()] == [
        f"SHOT {s.shot}" for s in plan.timeline.shots
    ]


def test_export_from_a_plan_file_uses_the_cache_and_marks_unrendered_shots_offline(
    compiled, tmp_path, capsys
):
    root, plan = compiled
    plan_file = root / "out" / "film.plan.json"
    cache = root / ".director" / "cache"
    target = tmp_path / "again.otio"
    assert main(["export", str(plan_file), "--otio", str(target), "--cache", str(cache)]) == 0
    timeline = otio.adapters.read_from_file(str(target))
    clips = timeline.video_tracks()[0].find_clips()
    assert all(isinstance(c.media_reference, otio.schema.ExternalReference) for c in clips)
    assert (tmp_path / "again.media" / "shot_2A.mp4").is_file()

    capsys.readouterr()
    empty = tmp_path / "nothing"
    empty.mkdir()
    lonely = tmp_path / "lonely" / "film.plan.json"
    lonely.parent.mkdir()
    lonely.write_text(plan_file.read_text())
    # Written, with its clips offline, and said to have failed: no cut to conform.
    assert main(["export", str(lonely), "--otio", str(tmp_path / "offline.otio")]) == 1
    err = capsys.readouterr().err
    assert "shot 1 has no rendered picture" in err and "4 of 4 shots" in err
    timeline = otio.adapters.read_from_file(str(tmp_path / "offline.otio"))
    clips = timeline.video_tracks()[0].find_clips()
    assert all(isinstance(c.media_reference, otio.schema.MissingReference) for c in clips)
    assert shots_read_back(timeline.video_tracks()[0]) == shots_read_back(
        otio.adapters.read_from_file(str(target)).video_tracks()[0]
    )


def test_export_usage_errors(tmp_path, capsys):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"not": "a plan"}))
    assert main(["export", str(plan)]) == 2
    assert main(["export", str(plan), "--otio", str(tmp_path / "x.edl")]) == 2
    assert "--otio needs a file ending in .otio" in capsys.readouterr().err
    assert main(["export", str(plan), "--otio", str(tmp_path / "x.otio")]) == 2
    assert "is not a plan" in capsys.readouterr().err
    assert not Path(tmp_path / "x.otio").exists()


EXAMPLES = Path(__file__).resolve().parents[1] / "scripts_examples"


@pytest.mark.parametrize("suffix", [".otio", ".xml"])
@pytest.mark.parametrize(
    "script",
    sorted(p for p in EXAMPLES.rglob("*.shot") if "title:" in p.read_text(encoding="utf-8")),
    ids=lambda p: p.stem,
)
def test_every_example_reads_back_with_its_transitions(script, suffix, tmp_path):
    """OTIO and FCP 7 XML hold a transition at the track's start (FADE IN:) as they
    are; every example reads back with its shots, length and transitions."""
    from test_edl import planned

    plan = planned(script)
    write_timeline(build_timeline(plan, Media()), tmp_path / f"cut{suffix}")
    back = otio.adapters.read_from_file(str(tmp_path / f"cut{suffix}"))
    track = back.video_tracks()[0]
    assert [c.name for c in track.find_clips()] == [f"SHOT {s.shot}" for s in plan.timeline.shots]
    assert round(track.duration().value) == plan.timeline.frames
    read = [t.name for t in track if isinstance(t, otio.schema.Transition)]
    planned_kinds = []
    for t in plan.timeline.transitions:
        if t.kind not in ("cut", "smash cut", "match cut"):
            planned_kinds += [t.kind] * (2 if t.kind == "fade out" and t.after else 1)
    assert read == planned_kinds
