"""Timeline export: the plan's edit timeline as an OpenTimelineIO timeline for an editor.

Reads only a `Plan` (its timeline and its prompt nodes) and the paths of
rendered media; writes `.otio`, and through OpenTimelineIO's adapters CMX
3600 EDLs and Final Cut Pro XML.  The media are copied into one folder beside
the timeline so that the folder and the timeline travel together.

How the cut is represented (docs/ecosystem.md has the losses per format):

- Video track `V1`: one clip per shot, pointing at the shot's rendered
  picture (all of the shot's frames).  A clip's `source_range` is the part
  of the shot seen outside any dissolve or wipe, so the clips of a track lie
  end to end and the cut falls on each transition's edit point.
- Dissolves and wipes are transitions centred on their edit point: the
  frames of each shot that the overlap shows are the clip's handles.
- Fades go to and come from black: a transition whose far side is black.
  At the film's ends that is the track's edge; a fade between two shots is
  a transition to an empty (zero-length) gap and another from it.
- Audio: tracks per kind of cue (`Music 1`, `SFX 1`, `Ambience 1`, a second
  when cues of a kind overlap), each cue a clip at its time playing its file
  from the start; `Dialogue 1` (and 2 where a dissolve overlaps two shots'
  lines) holds each shot's dialogue sound from the shot's start.
- Each shot's clip carries a marker named after the shot; the clip's and the
  marker's metadata (`shot_director`) hold the shot id, scene, prompt,
  negative prompt and the plan's frames.
"""

from __future__ import annotations

import math
import os
import re
import shutil
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import soundfile

from . import outputs
from .assemble import DUCK_RAMP_S, to_wav
from .edl import reel, write_edl
from .plan import DUCK_DB, Plan
from .plan_nodes import Prompt, Timeline, TimelineCue, TimelineShot, TimelineTransition
from .timecode import Timecode
from .timecode import parse as parse_timecode

NAMESPACE = "shot_director"

# A timeline file's suffix → the OpenTimelineIO adapter that writes it, and the
# registry package that provides the adapter.
ADAPTERS: dict[str, tuple[str, str | None]] = {
    ".otio": ("otio_json", None),
    ".edl": ("cmx_3600", "otio-cmx3600-adapter"),
    ".xml": ("fcp_xml", "otio-fcp-adapter"),
    ".fcpxml": ("fcpx_xml", "otio-fcpx-xml-adapter"),
}

_CUE_TRACKS = {"music": "Music", "sfx": "SFX", "ambience": "Ambience"}


class ExportError(Exception):
    """A timeline could not be written; the message says why in the user's terms."""


@dataclass(frozen=True)
class Media:
    """Where the rendered media are.  Anything missing becomes an offline clip."""

    pictures: dict[str, Path] = field(default_factory=dict)  # shot id → its rendered picture
    sounds: dict[str, Path] = field(default_factory=dict)  # shot id → its dialogue sound
    cues: dict[str, Path] = field(default_factory=dict)  # a cue's path in the plan → the file


def export_timeline(
    plan: Plan,
    media: Media,
    targets: list[Path],
    media_dir: Path,
    record: Timecode | None = None,
) -> list[str]:
    """Copy the media into `media_dir` and write the cut to each target, its format
    chosen by its suffix (`ADAPTERS`), record timecode from `record` (default one
    hour, `timecode.parse`).  Returns warnings (media that are missing)."""
    for target in targets:
        adapter(target)  # fail before copying anything
    record = record or parse_timecode(None, _fps(plan))
    copied, warnings = collect_media(plan, media, media_dir)
    for target in targets:
        if target.suffix.lower() == ".edl":
            outputs.write_text(target, write_edl(plan, record))
            continue
        timeline = build_timeline(plan, copied, relative_to=_relative_base(target), record=record)
        write_timeline(timeline, target)
    return warnings


def _fps(plan: Plan) -> Fraction:
    return Fraction(plan.timeline.fps_num, plan.timeline.fps_den)


def adapter(target: Path) -> str:
    """The adapter that writes `target`, or ExportError saying what to install."""
    suffix = target.suffix.lower()
    if suffix not in ADAPTERS:
        known = ", ".join(ADAPTERS)
        raise ExportError(f"cannot tell the timeline format of {target}: use one of {known}")
    name, package = ADAPTERS[suffix]
    if name not in {a.name for a in otio.plugins.ActiveManifest().adapters}:
        raise ExportError(
            f"writing {suffix} files needs the {package} package: pip install {package}"
        )
    return name


def collect_media(plan: Plan, media: Media, folder: Path) -> tuple[Media, list[str]]:
    """Copy every available medium into `folder` (marked as director's, so a later
    export may write into it again); returns the copies and what was missing."""
    outputs.mark_folder(folder)
    timeline = plan.timeline
    pictures, sounds, cues, warnings = {}, {}, {}, []
    for shot in timeline.shots:
        source = media.pictures.get(shot.shot)
        if source is None or not source.is_file():
            warnings.append(f"shot {shot.shot} has no rendered picture; its clip is offline")
            continue
        pictures[shot.shot] = _copy(source, folder / f"shot_{_safe(shot.shot)}{source.suffix}")
        sound = media.sounds.get(shot.shot)
        if sound is not None and sound.is_file():
            sounds[shot.shot] = _copy(sound, folder / f"dialogue_{_safe(shot.shot)}{sound.suffix}")
    for cue in timeline.cues:
        source = media.cues.get(cue.path)
        if cue.path in cues:
            continue
        if source is None or not source.is_file():
            warnings.append(f"{cue.kind} {cue.asset} ({cue.path}) is missing; its clip is offline")
            continue
        # As WAV whatever the asset's format: editors import Ogg Vorbis or
        # FLAC unevenly, WAV always.
        cues[cue.path] = _as_wav(source, folder / f"{_safe(cue.asset)}.wav")
    return Media(pictures, sounds, cues), list(dict.fromkeys(warnings))


def build_timeline(
    plan: Plan, media: Media, relative_to: Path | None = None, record: Timecode | None = None
) -> otio.schema.Timeline:
    """The cut as an OpenTimelineIO timeline, starting at the record timecode
    `record` (default one hour).  Media URLs are relative to `relative_to` when
    given, else absolute `file://` URLs."""
    timeline = plan.timeline
    rate = timeline.fps_num / timeline.fps_den
    record = record or parse_timecode(None, _fps(plan))
    result = otio.schema.Timeline(name=plan.title, global_start_time=_time(record.start, rate))
    result.metadata[NAMESPACE] = {
        "fps": [timeline.fps_num, timeline.fps_den],
        "frames": timeline.frames,
        "width": plan.width,
        "height": plan.height,
        "start_timecode": record.label(0),
        "drop_frame": record.drop_frame,
    }
    url = _Urls(relative_to)
    result.tracks.append(_picture_track(plan, media, url, rate))
    result.tracks.extend(_cue_tracks(timeline, media, url, rate))
    result.tracks.extend(_dialogue_tracks(timeline, media, url, rate))
    return result


def write_timeline(timeline: otio.schema.Timeline, target: Path) -> None:
    """Write through the target's adapter, atomically.  The EDL gets the picture only."""
    name = adapter(target)
    timeline = timeline.deepcopy()  # some adapters edit what they are given
    if name == "fcp_xml":
        timeline.metadata["fcp_xml"] = _fcp_sequence(timeline)
        for clip in timeline.find_clips():
            keyframes = clip.metadata.get(NAMESPACE, {}).get("levels")
            if keyframes:
                clip.metadata["fcp_xml"] = _audio_levels(list(keyframes))
    if name == "cmx_3600":
        for track in [t for t in timeline.tracks if t.kind != otio.schema.TrackKind.Video]:
            timeline.tracks.remove(track)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        text = otio.adapters.write_to_string(timeline, adapter_name=name)
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, target)
    except otio.exceptions.OTIOError as error:
        temporary.unlink(missing_ok=True)
        raise ExportError(f"cannot write {target}: {error}") from None


def _fcp_sequence(timeline: otio.schema.Timeline) -> dict:
    """FCP 7 XML for the sequence's own format (frame size, rate, square pixels)
    and its timecode's display, which the adapter otherwise leaves empty, so an
    editor importing it asks for (or guesses) the sequence settings."""
    info = timeline.metadata[NAMESPACE]
    fps = Fraction(*info["fps"])
    ntsc = fps.denominator == 1001
    rate = {"timebase": str(round(fps)), "ntsc": "TRUE" if ntsc else "FALSE"}
    characteristics = {
        "rate": rate,
        "width": str(info["width"]),
        "height": str(info["height"]),
        "anamorphic": "FALSE",
        "pixelaspectratio": "square",
        "fielddominance": "none",
    }
    display = "DF" if info.get("drop_frame") else "NDF"
    return {
        "media": {"video": {"format": {"samplecharacteristics": characteristics}}},
        "timecode": {"displayformat": display},  # its rate is the sequence's
    }


# ------------------------------------------------------------------ picture


def _picture_track(plan: Plan, media: Media, url: _Urls, rate: float) -> otio.schema.Track:
    timeline = plan.timeline
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    incoming = {t.after: t for t in timeline.transitions}
    outgoing = {t.before: t for t in timeline.transitions}
    prompts = _prompts(plan)
    for shot in timeline.shots:
        into = incoming.get(shot.shot)
        if into is not None and into.before is None:  # FADE IN: at the film's start
            track.append(_transition(into, 0, into.frames, rate))
        elif into is not None and into.kind == "fade out":  # back from black
            track.append(otio.schema.Gap(source_range=_range(into.frames, 0, rate)))
            track.append(_transition(into, 0, into.frames, rate))
        elif into is not None:  # a dissolve or wipe, centred on its edit point
            track.append(
                _transition(into, into.cut - into.start, into.start + into.frames - into.cut, rate)
            )
        track.append(_shot_clip(shot, into, outgoing.get(shot.shot), media, url, prompts, rate))
        out = outgoing.get(shot.shot)
        if out is not None and out.kind == "fade out":  # to black
            track.append(_transition(out, out.frames, 0, rate))
    return track


def _shot_clip(
    shot: TimelineShot,
    into: TimelineTransition | None,
    out: TimelineTransition | None,
    media: Media,
    url: _Urls,
    prompts: dict[str, dict],
    rate: float,
) -> otio.schema.Clip:
    first = into.cut if into is not None and _overlaps(into) else shot.start
    last = out.cut if out is not None and _overlaps(out) else shot.end
    available = _range(0, shot.frames, rate)
    picture = media.pictures.get(shot.shot)
    if picture is None:
        reference = otio.schema.MissingReference(
            name=f"shot {shot.shot}", available_range=available
        )
    else:
        reference = otio.schema.ExternalReference(
            target_url=url(picture), available_range=available
        )
    info = {
        "shot": shot.shot,
        "scene": shot.scene,
        "start": shot.start,
        "end": shot.end,
        "frames": shot.frames,
        **prompts.get(shot.shot, {}),
    }
    clip = otio.schema.Clip(
        name=f"SHOT {shot.shot}",
        media_reference=reference,
        source_range=_range(first - shot.start, last - first, rate),
        metadata={NAMESPACE: info, "cmx_3600": {"reel": reel(shot.shot)}},
    )
    clip.markers.append(
        otio.schema.Marker(
            name=f"SHOT {shot.shot}",
            marked_range=_range(first - shot.start, 1, rate),
            color=otio.schema.MarkerColor.RED,
            metadata={NAMESPACE: dict(info)},
        )
    )
    return clip


def _overlaps(transition: TimelineTransition) -> bool:
    return transition.kind in ("dissolve", "wipe")


def _transition(
    t: TimelineTransition, before: int, after: int, rate: float
) -> otio.schema.Transition:
    kind = otio.schema.TransitionTypes.SMPTE_Dissolve
    metadata: dict = {NAMESPACE: {"kind": t.kind, "frames": t.frames, "cut": t.cut}}
    if t.kind == "wipe":
        kind = otio.schema.TransitionTypes.Custom
        metadata["fcp_xml"] = {"effectid": "Edge Wipe"}
    return otio.schema.Transition(
        name=t.kind,
        transition_type=kind,
        in_offset=_time(before, rate),
        out_offset=_time(after, rate),
        metadata=metadata,
    )


def _prompts(plan: Plan) -> dict[str, dict]:
    found = {}
    for node in plan.of_class(Prompt):
        if node.shot is not None:
            found[node.shot] = {"prompt": node.params.text, "negative": node.params.negative}
    return found


# -------------------------------------------------------------------- sound


def _cue_tracks(
    timeline: Timeline, media: Media, url: _Urls, rate: float
) -> list[otio.schema.Track]:
    tracks = []
    for kind, title in _CUE_TRACKS.items():
        cues = [c for c in timeline.cues if c.kind == kind and c.frames > 0]
        placed = []
        for cue in cues:  # a looped cue as a clip per pass through its file
            for start, source, frames in cue.passes():
                clip = _cue_clip(cue, media, url, rate, (source, frames))
                window = (start - cue.start, frames)
                clip.metadata[NAMESPACE]["levels"] = levels(cue, timeline, rate, window)
                placed.append((start, start + frames, clip))
        tracks += _lanes(title, placed, rate)
    return tracks


def levels(
    cue: TimelineCue, timeline: Timeline, rate: float, window: tuple[int, int] | None = None
) -> list[list[float]]:
    """The cue's level as keyframes `[frame in the cue, linear gain]`: its gain, its
    fades (linear, as the mix makes them) and, when it ducks, the dips under each
    line of dialogue (reaching full depth as the line starts, over the mix's ramp).
    With `window` (first frame in the cue, frames), that part's, counted from its start."""
    offset, length = window or (0, cue.frames)
    gain = 10 ** (cue.gain_db / 20)
    ramp = max(1, math.ceil(DUCK_RAMP_S * rate))
    lines = [
        (line.start - cue.start, line.end - cue.start)
        for line in timeline.dialogue
        if cue.duck and line.end > cue.start and line.start < cue.start + cue.frames
    ]
    breaks = {0, cue.fade_in, cue.frames - cue.fade_out, cue.frames, offset, offset + length}
    for begin, end in lines:
        breaks |= {begin - ramp, begin, end, end + ramp}

    def level(frame: int) -> float:
        value = gain
        if cue.fade_in:
            value *= min(1.0, frame / cue.fade_in)
        if cue.fade_out:
            value *= min(1.0, max(0.0, (cue.frames - frame) / cue.fade_out))
        depth = max(
            (min(1.0, max(0.0, min(frame - (b - ramp), (e + ramp) - frame) / ramp))
             for b, e in lines),
            default=0.0,
        )  # fmt: skip
        return value * 10 ** (DUCK_DB * depth / 20)

    return [
        [frame - offset, round(level(frame), 6)]
        for frame in sorted(breaks)
        if offset <= frame <= offset + length
    ]


def _audio_levels(keyframes: list) -> dict:
    """FCP 7 XML's Audio Levels filter with the cue's keyframes (`when` in frames of
    the clip), which Premiere and Resolve read as clip volume automation."""
    parameter = {
        "parameterid": "level",
        "name": "Level",
        "valuemin": "0",
        "valuemax": "3.98109",
        "value": str(keyframes[0][1] if len(keyframes) == 1 else max(k[1] for k in keyframes)),
        "keyframe": [{"when": str(int(when)), "value": str(value)} for when, value in keyframes],
    }
    effect = {
        "name": "Audio Levels",
        "effectid": "audiolevels",
        "effectcategory": "audiolevels",
        "effecttype": "audiolevels",
        "mediatype": "audio",
        "parameter": parameter,
    }
    return {"filter": {"effect": effect}}


def _cue_clip(
    cue: TimelineCue, media: Media, url: _Urls, rate: float, part: tuple[int, int]
) -> otio.schema.Clip:
    """A clip of the cue's file: `part` is (first frame in the file, frames)."""
    file = media.cues.get(cue.path)
    if file is None:
        reference = otio.schema.MissingReference(name=cue.asset)
    else:
        length = _audio_frames(file, rate) or cue.frames
        reference = otio.schema.ExternalReference(
            target_url=url(file), available_range=_range(0, length, rate)
        )
    return otio.schema.Clip(
        name=f"{cue.kind} {cue.asset}",
        media_reference=reference,
        source_range=_range(*part, rate),  # from the cue's in-point
        metadata={NAMESPACE: cue.model_dump()},
    )


def _dialogue_tracks(timeline: Timeline, media: Media, url: _Urls, rate: float):
    """Each shot's dialogue sound from the shot's start to its last spoken frame (the
    whole shot for a backend that makes its own sound)."""
    spoken: dict[str, int] = {}
    for line in timeline.dialogue:
        spoken[line.shot] = max(spoken.get(line.shot, line.end), line.end)
    placed = []
    for shot in timeline.shots:
        if shot.shot not in media.sounds:
            continue
        end = min(spoken.get(shot.shot, shot.end), timeline.frames)
        if end <= shot.start:
            continue
        clip = otio.schema.Clip(
            name=f"dialogue {shot.shot}",
            media_reference=otio.schema.ExternalReference(
                target_url=url(media.sounds[shot.shot]),
                available_range=_range(0, end - shot.start, rate),
            ),
            source_range=_range(0, end - shot.start, rate),
            metadata={NAMESPACE: {"shot": shot.shot}},
        )
        placed.append((shot.start, end, clip))
    return _lanes("Dialogue", placed, rate)


def _lanes(title: str, placed: list[tuple[int, int, otio.schema.Clip]], rate: float):
    """Audio tracks holding the clips at their frames, as few as overlaps allow:
    `Music 1`, `Music 2`, …"""
    lanes: list[list[tuple[int, int, otio.schema.Clip]]] = []
    for item in sorted(placed, key=lambda p: p[:2]):
        lane = next((lane for lane in lanes if lane[-1][1] <= item[0]), None)
        if lane is None:
            lanes.append(lane := [])
        lane.append(item)
    tracks = []
    for number, lane in enumerate(lanes, start=1):
        track = otio.schema.Track(name=f"{title} {number}", kind=otio.schema.TrackKind.Audio)
        position = 0
        for start, end, clip in lane:
            if start > position:
                track.append(otio.schema.Gap(source_range=_range(0, start - position, rate)))
            track.append(clip)
            position = end
        tracks.append(track)
    return tracks


# ------------------------------------------------------------------ helpers


def _audio_frames(path: Path, rate: float) -> int | None:
    """A sound file's length in film frames, if libsndfile can read it."""
    try:
        return int(soundfile.info(str(path)).duration * rate)
    except (RuntimeError, soundfile.LibsndfileError):
        return None


def _time(frames: int, rate: float) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(frames, rate)


def _range(start: int, frames: int, rate: float) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(_time(start, rate), _time(frames, rate))


def _safe(shot_id: str) -> str:
    return re.sub(r"[^0-9A-Za-z_.-]", "_", shot_id).strip(".") or "_"


def _copy(source: Path, target: Path) -> Path:
    temporary = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    shutil.copyfile(source, temporary)
    os.replace(temporary, target)
    return target


def _as_wav(source: Path, target: Path) -> Path:
    temporary = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        to_wav(source, temporary)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return target


def _relative_base(target: Path) -> Path | None:
    """`.otio` files name their media relative to themselves, so the folder travels;
    EDL and XML readers want absolute URLs."""
    return target.resolve().parent if target.suffix.lower() == ".otio" else None


class _Urls:
    def __init__(self, base: Path | None):
        self.base = base

    def __call__(self, path: Path) -> str:
        path = path.resolve()
        if self.base is None:
            return path.as_uri()
        return Path(os.path.relpath(path, self.base)).as_posix()


__all__ = [
    "ADAPTERS",
    "ExportError",
    "Media",
    "build_timeline",
    "collect_media",
    "export_timeline",
    "write_timeline",
]
