"""SMPTE timecode: the record timecode a film starts at, and film frames as timecode.

`HH:MM:SS:FF` counts frames at the nominal (rounded) rate; at 29.97 and
59.94 fps drop-frame timecode (`HH:MM:SS;FF`) skips the labels 00 and 01
(00-03 at 59.94) at the start of every minute except each tenth, so the
label stays within a few frames of the clock.  Used by the EDL, FCP XML and
OTIO exports and the film's `tmcd` track (docs/assembly.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

DEFAULT_START = "01:00:00:00"  # the editorial convention: reel 1 starts at one hour
_DROP_RATES = {Fraction(30000, 1001): 2, Fraction(60000, 1001): 4}  # rate → labels dropped
_PATTERN = re.compile(r"^(\d{2}):([0-5]\d):([0-5]\d)([:;.,])(\d{2,3})$")


class TimecodeError(ValueError):
    """A timecode that cannot be used at the film's rate; the message says why."""


@dataclass(frozen=True)
class Timecode:
    """The record timecode of a film: its rate and the frame count of its first label."""

    fps: Fraction
    start: int  # frames from 00:00:00:00 to the film's first frame
    drop_frame: bool

    @property
    def nominal(self) -> int:
        """Frames per timecode second (30 for 29.97)."""
        return round(self.fps)

    def label(self, frame: int = 0) -> str:
        """The timecode of film frame `frame` (0 is the film's first)."""
        count = self.start + frame
        if self.drop_frame:
            count = _drop_frame_label(count, self.nominal, _DROP_RATES[self.fps])
        fps = self.nominal
        frames = count % fps
        seconds = count // fps
        separator = ";" if self.drop_frame else ":"
        hours = (seconds // 3600) % 24
        return f"{hours:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}{separator}{frames:02d}"


def parse(text: str | None, fps: Fraction) -> Timecode:
    """`text` (HH:MM:SS:FF, or HH:MM:SS;FF for drop-frame) at `fps`; None: one hour,
    drop-frame at 29.97 and 59.94 fps."""
    drop_rate = fps in _DROP_RATES
    if text is None:
        text = DEFAULT_START[:-3] + (";" if drop_rate else ":") + DEFAULT_START[-2:]
    match = _PATTERN.match(text.strip())
    if match is None:
        raise TimecodeError(f"{text!r} is not a timecode: write HH:MM:SS:FF (01:00:00:00)")
    hours, minutes, seconds, separator, frames = match.groups()
    drop = separator in ";,"
    if drop and not drop_rate:
        raise TimecodeError(
            f"drop-frame timecode ({text}) is for 29.97 and 59.94 fps; this film runs at "
            f"{float(fps):g} fps: write {text[:8]}:{frames}"
        )
    nominal = round(fps)
    if int(frames) >= nominal:
        raise TimecodeError(f"{text}: frame {frames} does not exist at {nominal} frames a second")
    label = (int(hours) * 3600 + int(minutes) * 60 + int(seconds)) * nominal + int(frames)
    if drop:
        dropped = _DROP_RATES[fps]
        minute = int(minutes)
        if int(seconds) == 0 and int(frames) < dropped and minute % 10:
            raise TimecodeError(f"{text} is skipped by drop-frame timecode")
        total_minutes = int(hours) * 60 + minute
        label -= dropped * (total_minutes - total_minutes // 10)
    return Timecode(fps=fps, start=label, drop_frame=drop)


def _drop_frame_label(count: int, nominal: int, dropped: int) -> int:
    """The label number (frames at the nominal rate) of the `count`th real frame."""
    per_ten_minutes = nominal * 600 - dropped * 9
    per_minute = nominal * 60 - dropped
    tens, rest = divmod(count, per_ten_minutes)
    skipped = dropped * 9 * tens
    if rest > dropped:
        skipped += dropped * ((rest - dropped) // per_minute)
    return count + skipped


__all__ = ["DEFAULT_START", "Timecode", "TimecodeError", "parse"]
