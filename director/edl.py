"""The cut as a CMX 3600 edit decision list, in the format's strict columns.

Written here rather than through OpenTimelineIO's adapter, which puts markers
at the clip's own timecode (so Avid and Resolve bunch them in the first
second), has no FCM line and no audio events.  The layout, per event line:

    001  REEL1    V     D    024 00:00:05:00 00:00:09:00 01:00:04:00 01:00:08:00

event number (3), two spaces, reel (8), channel (4) and two spaces,
transition (4: `C`, `D`, `W001`), its length in frames (3), then source in,
source out, record in and record out.  A dissolve or wipe is the outgoing
source as a zero-length cut at the frame the transition starts, then the
incoming source with `D` (or `W001`) and the length, both under one event
number; a fade uses black (`BL`) as the other side, and a fade that opens the
track has black, zero frames long, as an event of its own before it.  docs/ecosystem.md says
how each of the plan's transitions is written.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from .plan import Plan
from .plan_nodes import TimelineShot, TimelineTransition
from .timecode import Timecode

BLACK = "BL"
_CHANNELS = {"music": "A", "sfx": "A2", "ambience": "A2"}
_WIPE = "W001"  # SMPTE wipe 001: the left-to-right edge the picture uses
_OVERLAPS = ("dissolve", "wipe")


@dataclass(frozen=True)
class _Source:
    reel: str
    clip: str  # the clip's name, for `* FROM CLIP NAME:`
    frames: int  # its length; black has any


def write_edl(plan: Plan, record: Timecode) -> str:
    """The plan's cut as CMX 3600 text; record timecode starts at `record`."""
    source_clock = Timecode(fps=record.fps, start=0, drop_frame=record.drop_frame)
    writer = _Writer(record, source_clock)
    fcm = "DROP FRAME" if record.drop_frame else "NON-DROP FRAME"
    lines = [f"TITLE: {_title(plan.title)}", f"FCM: {fcm}"]
    lines += _picture(plan, writer)
    lines += _sound(plan, writer)
    return "\n".join(lines) + "\n"


class _Writer:
    def __init__(self, record: Timecode, source: Timecode):
        self.record, self.source = record, source
        self.number = 0

    def next_number(self) -> int:
        self.number += 1
        return self.number

    def line(
        self, number: int, reel: str, channel: str, kind: str, length: int | None,
        source: tuple[int, int], record: tuple[int, int],
    ) -> str:  # fmt: skip
        duration = f"{length:03d}" if length is not None else ""
        return (
            f"{number:03d}  {reel:<8} {channel:<4}  {kind:<4} {duration:>3} "
            f"{self.source.label(source[0])} {self.source.label(source[1])} "
            f"{self.record.label(record[0])} {self.record.label(record[1])}"
        )


def _picture(plan: Plan, writer: _Writer) -> list[str]:
    timeline = plan.timeline
    incoming = {t.after: t for t in timeline.transitions}
    outgoing = {t.before: t for t in timeline.transitions}
    lines: list[str] = []
    for shot in timeline.shots:
        into, out = incoming.get(shot.shot), outgoing.get(shot.shot)
        source = _Source(reel(shot.shot), f"SHOT {shot.shot}", shot.frames)
        first, last = _record_range(shot, out)
        span = (0, last - shot.start)  # the shot plays from its first frame
        blended = into is not None and into.kind not in ("cut", "smash cut", "match cut")
        if blended and not lines:  # nothing on the track yet to come from
            lines += _black_leader(first, writer)
        number = writer.next_number()
        if into is not None and blended:
            before = _outgoing_side(into, timeline.shots)
            lines.append(writer.line(number, before.reel, "V", "C", None, (before.frames,) * 2,
                                     (first, first)))  # fmt: skip
            kind = _WIPE if into.kind == "wipe" else "D"
            length = into.frames
            lines.append(writer.line(number, source.reel, "V", kind, length, span, (first, last)))
            if before.reel != BLACK:
                lines.append(f"* FROM CLIP NAME: {before.clip}")
            lines.append(f"* TO CLIP NAME: {source.clip}")
        else:
            lines.append(writer.line(number, source.reel, "V", "C", None, span, (first, last)))
            lines.append(f"* FROM CLIP NAME: {source.clip}")
        lines.append(f"* LOC: {writer.record.label(shot.start)} RED     SHOT {shot.shot}")
        if out is not None and out.kind == "fade out":
            lines += _to_black(shot, out, source, writer)
    return lines


def _black_leader(at: int, writer: _Writer) -> list[str]:
    """Black as an event of its own, zero frames long, before a fade that opens the
    track.  The fade's event still dissolves from `BL`; this event gives readers
    that hang a transition between two clips of the track (OpenTimelineIO's, which
    otherwise refuses "a transition at the very beginning of a track") the clip
    the fade comes from, as OTIO's writer puts the A side in an event of its own."""
    number = writer.next_number()
    return [
        writer.line(number, BLACK, "V", "C", None, (0, 0), (at, at)),
        "* FROM CLIP NAME: BLACK",
    ]


def _record_range(shot: TimelineShot, out: TimelineTransition | None) -> tuple[int, int]:
    """The record frames the shot's own event covers: from its start to where the
    transition out of it begins (a dissolve, wipe or fade plays that one)."""
    last = shot.end
    if out is not None and (out.kind in _OVERLAPS or out.kind == "fade out"):
        last = out.start
    return shot.start, last


def _outgoing_side(t: TimelineTransition, shots: list[TimelineShot]) -> _Source:
    """What a transition comes from, at the frame where it starts: the shot before
    for a dissolve or wipe, black for a fade (in, or up after a fade out)."""
    if t.kind in _OVERLAPS and t.before is not None:
        before = next(s for s in shots if s.shot == t.before)
        return _Source(reel(before.shot), f"SHOT {before.shot}", before.frames - before.tail)
    return _Source(BLACK, "black", 0)


def _to_black(
    shot: TimelineShot, out: TimelineTransition, source: _Source, writer: _Writer
) -> list[str]:
    """A fade out: the shot dissolving to black over its last frames."""
    number = writer.next_number()
    start = out.start
    fade = min(out.frames, shot.end - start)
    at = shot.frames - fade
    return [
        writer.line(number, source.reel, "V", "C", None, (at, at), (start, start)),
        writer.line(number, BLACK, "V", "D", fade, (0, fade), (start, start + fade)),
        f"* FROM CLIP NAME: {source.clip}",
        "* TO CLIP NAME: BLACK",
    ]


def _sound(plan: Plan, writer: _Writer) -> list[str]:
    """An audio event per cue, on A (music) or A2 (sound effects, ambience), or a
    channel of its own from A3 up where it overlaps a cue already there."""
    lines: list[str] = []
    busy: dict[str, list[tuple[int, int]]] = {}
    # A cue from its in-point; a looped one as an event per pass through its file.
    passes = [(cue, p) for cue in plan.timeline.cues if cue.frames > 0 for p in cue.passes()]
    for cue, (start, source, frames) in passes:
        number = writer.next_number()
        record = (start, start + frames)
        channel = _free_channel(_CHANNELS.get(cue.kind, "A2"), record, busy)
        lines.append(writer.line(number, reel(cue.asset), channel, "C", None,
                                 (source, source + frames), record))  # fmt: skip
        lines.append(f"* FROM CLIP NAME: {cue.kind} {cue.asset}")
        if cue.gain_db:
            lines.append(f"* GAIN: {cue.gain_db:+.1f} dB")
    return lines


def _free_channel(
    preferred: str, record: tuple[int, int], busy: dict[str, list[tuple[int, int]]]
) -> str:
    """The cue's own channel, or the first of A3, A4, ... free over its record frames:
    an event on a channel already playing records over the earlier cue's sound, and
    OTIO's reader refuses the overlap.  Channels past A2 are written as Avid does
    (`A3`), so pycmx reads them as audio channels and OTIO gives each a track."""
    candidates = itertools.chain([preferred], (f"A{n}" for n in itertools.count(3)))
    for channel in candidates:
        taken = busy.setdefault(channel, [])
        if all(record[1] <= start or end <= record[0] for start, end in taken):
            taken.append(record)
            return channel
    raise AssertionError("unreachable: the channels never run out")


def reel(name: str) -> str:
    """A CMX 3600 reel name: at most 8 letters and digits, never black's."""
    cleaned = (re.sub(r"[^0-9A-Za-z]", "", name).upper() or "AX")[:8]
    return "AX" if cleaned in (BLACK, "BLACK", "BARS") else cleaned


def _title(title: str) -> str:
    return re.sub(r"[\r\n]+", " ", title)[:70]


__all__ = ["BLACK", "reel", "write_edl"]
