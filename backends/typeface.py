"""The animatic's text face: every script a screenwriter types, drawn as glyphs.

Pillow's built-in font draws only ASCII; anything else (é, —, €, Cyrillic,
kana) comes out as empty boxes.  The animatic draws with two faces from
registry packages instead:

- Noto Sans (`fontpkg-noto-sans`): Latin with its extensions, Greek and
  Cyrillic (Ukrainian, Serbian, …), punctuation, currency signs;
- Noto Sans CJK JP (`noto-cjk-sans-jp-regular`): kana, Han ideographs, Hangul
  and full-width forms, for whatever Noto Sans lacks.

A string is split into runs, each drawn with the first face that has its
characters, on one shared baseline.  Without the packages (a bare install),
Pillow's default font is used and a warning says what is missing.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

from PIL import ImageDraw, ImageFont

log = logging.getLogger(__name__)

PROBE_SIZE = 24  # coverage is read once per character, at this size
NOT_A_CHARACTER = "\U000f0000"  # private use: no face maps it, so it draws .notdef


def face_paths() -> tuple[Path, ...]:
    """The installed faces, in the order they are tried."""
    paths: list[Path] = []
    try:
        import fontpkg_noto_sans

        paths.append(Path(fontpkg_noto_sans.ROOT) / "files" / "NotoSans[wdth,wght].ttf")
    except ImportError:
        pass
    try:
        import noto_cjk_sans_jp_regular

        paths.append(Path(str(noto_cjk_sans_jp_regular.FONT_PATH)))
    except ImportError:
        pass
    found = tuple(p for p in paths if p.is_file())
    if len(found) < 2:
        log.warning(
            "the animatic's fonts are not installed (pip install fontpkg-noto-sans "
            "noto-cjk-sans-jp-regular); letters outside ASCII may draw as boxes"
        )
    return found


@lru_cache(maxsize=1)
def _faces() -> tuple[Path, ...]:
    return face_paths()


@lru_cache(maxsize=64)
def _face(index: int, size: int) -> ImageFont.FreeTypeFont:
    paths = _faces()
    if index >= len(paths):
        face = ImageFont.load_default(size=size)
        # Pillow's own face is a bitmap only where Pillow lacks FreeType, and then
        # the installed faces could not be opened either.
        if not isinstance(face, ImageFont.FreeTypeFont):
            raise RuntimeError("Pillow was built without FreeType, which text needs")
        return face
    return ImageFont.truetype(str(paths[index]), size)


@lru_cache(maxsize=4096)
def _has(index: int, character: str) -> bool:
    """Does face `index` draw `character` as itself (not as its .notdef box)?"""
    if character.isspace() or not character.isprintable():
        return True
    face = _face(index, PROBE_SIZE)
    mask = face.getmask(character)
    notdef = face.getmask(NOT_A_CHARACTER)
    return (mask.size, bytes(mask)) != (notdef.size, bytes(notdef))


def _face_for(character: str) -> int:
    count = max(1, len(_faces()))
    for index in range(count):
        if _has(index, character):
            return index
    return 0


class Typeface:
    """Text at one size: measured and drawn run by run, each run in a face that has it.

    Positions follow Pillow's default anchor: `xy` is the left edge and the
    top of the first face's ascent; every run sits on that face's baseline.
    """

    def __init__(self, size: int):
        self.size = max(6, int(size))
        count = max(1, len(_faces()))
        self.faces = [_face(i, self.size) for i in range(count)]
        self.ascent = self.faces[0].getmetrics()[0]  # Pillow's default anchor is the ascent

    def runs(self, text: str) -> list[tuple[str, ImageFont.FreeTypeFont]]:
        """`text` as (run, face) pieces, in order."""
        pieces: list[tuple[str, int]] = []
        for character in text:
            index = _face_for(character) if len(self.faces) > 1 else 0
            if pieces and pieces[-1][1] == index:
                pieces[-1] = (pieces[-1][0] + character, index)
            else:
                pieces.append((character, index))
        return [(run, self.faces[index]) for run, index in pieces]

    def getlength(self, text: str) -> float:
        return sum(face.getlength(run) for run, face in self.runs(text))

    def getbbox(self, text: str) -> tuple[int, int, int, int]:
        """The ink box of `text` drawn at (0, 0), as `ImageFont.getbbox` gives it."""
        boxes = []
        x = 0.0
        for run, face in self.runs(text):
            x0, y0, x1, y1 = face.getbbox(run, anchor="ls")
            boxes.append((x + x0, self.ascent + y0, x + x1, self.ascent + y1))
            x += face.getlength(run)
        if not boxes:
            return (0, 0, 0, 0)
        left, top, right, bottom = zip(*boxes, strict=True)
        return (int(min(left)), int(min(top)), round(max(right)), round(max(bottom)))

    def draw(self, draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, fill) -> None:
        """`text` drawn from `xy`, rounded to whole pixels: the same string looks the
        same wherever it is drawn."""
        x: float = round(xy[0])
        y = round(xy[1])
        for run, face in self.runs(text):
            draw.text((x, y + self.ascent), run, font=face, fill=fill, anchor="ls")
            x += face.getlength(run)
