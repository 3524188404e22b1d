"""Burn-ins of the delivered copy: what an editor's review copy shows over the cut.

`--burn-in timecode` draws each frame's record timecode (from `--start-timecode`,
drop-frame where the timecode is) at the bottom centre of the finished film, white
on a dark box.  It is drawn over the cut, not into the shots, so it counts the
film's frames through dissolves and fades, and the pieces and the plan stay as
they were.  (The animatic's own burn-in, `--no-burn-in` to leave it out, is
shot-relative and drawn into each shot: docs/preview.md.)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
from PIL import Image, ImageDraw

from backends.typeface import Typeface

from .timecode import Timecode

KINDS = ("timecode",)  # what --burn-in can draw
_WIDEST = "00:00:00;00"  # the box fits any label: Noto Sans' digits share one width
_BOX_KEEPS = 0.35  # of the picture under the box, so the figures read on any picture


def text_size(height: int) -> int:
    """The timecode's font size in pixels for a film `height` pixels high."""
    return max(10, round(height / 14))


class RecordTimecode:
    """Frame `n`'s record timecode, `timecode.label(n)`, bottom centre on a dark box."""

    def __init__(self, timecode: Timecode, width: int, height: int):
        self.timecode = timecode
        self.font = Typeface(text_size(height))
        left, top, right, bottom = self.font.getbbox(_WIDEST)
        pad = max(2, round(self.font.size * 0.3))
        self.origin = (pad - left, pad - top)  # where the text is drawn inside the box
        box_w, box_h = right - left + 2 * pad, bottom - top + 2 * pad
        margin = max(2, round(height / 24))
        self.x0 = max(0, (width - box_w) // 2)
        self.y0 = max(0, height - margin - box_h)
        self.size = (min(box_w, width - self.x0), min(box_h, height - self.y0))

    def draw(self, frame: np.ndarray, index: int) -> np.ndarray:
        """`frame` (RGB) with frame `index`'s timecode burnt in, as a new array."""
        label = self.timecode.label(index)
        mask = Image.new("L", self.size, 0)
        x = self.origin[0] + (self.font.getlength(_WIDEST) - self.font.getlength(label)) / 2
        self.font.draw(ImageDraw.Draw(mask), (x, self.origin[1]), label, fill=255)
        ink = np.asarray(mask, np.float32)[..., None] / 255.0
        out = frame.copy()
        w, h = self.size
        region = out[self.y0 : self.y0 + h, self.x0 : self.x0 + w].astype(np.float32)
        region *= _BOX_KEEPS
        region += (255.0 - region) * ink
        out[self.y0 : self.y0 + h, self.x0 : self.x0 + w] = np.rint(region).astype(np.uint8)
        return out


def record_timecode(frames: Iterable[np.ndarray], timecode: Timecode) -> Iterator[np.ndarray]:
    """`frames`, the film's from its first, each with its record timecode burnt in."""
    burn: RecordTimecode | None = None
    for index, frame in enumerate(frames):
        if burn is None:
            burn = RecordTimecode(timecode, frame.shape[1], frame.shape[0])
        yield burn.draw(frame, index)


__all__ = ["KINDS", "RecordTimecode", "record_timecode", "text_size"]
