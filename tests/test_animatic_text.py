"""The animatic draws every script a screenwriter types: its burned-in text, read on
pixels against the same string drawn directly with the fonts the package ships."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from backends.animatic import Subtitles, wrap
from backends.base import ShotRequest
from backends.preview import PreviewBackend
from backends.typeface import NOT_A_CHARACTER, Typeface, face_paths

W, H = 640, 360
LINES = [
    "Très bien — ¿vamos? Ça coûte 5 €",
    "Привет",
    "こんにちは",
    "Γειά σου, ΜΑΡΑ",
    "李 МАША ZOË",
]


def subtitled_frame(text: str) -> np.ndarray:
    """One frame of a shot on a black plate whose dialogue is `text`."""
    black = np.zeros((H, W, 3), np.uint8)
    request = ShotRequest(
        shot_id="1A", size="WIDE", prompt="1A", negative="", seed=1, width=W, height=H,
        fps=24.0, frames=1, previous_frame=black,
        dialogue=({"speaker": "", "text": text, "start": 0, "frames": 1},),
    )  # fmt: skip
    return next(iter(PreviewBackend(burn_in=False).generate(request).frames))


def direct(text: str, draw_with) -> np.ndarray:
    """`text` drawn white on black by `draw_with(draw, xy, text)`, as grey levels."""
    canvas = Image.new("L", (W, 80), 0)
    draw_with(ImageDraw.Draw(canvas), (10, 10), text)
    return np.asarray(canvas)


def ink(grey: np.ndarray) -> np.ndarray:
    """Where `grey` is bright (the text, not the subtitle box), cropped to it."""
    bright = grey > 128
    ys, xs = np.nonzero(bright)
    assert xs.size, "no text drawn"
    return bright[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def mismatch(a: np.ndarray, b: np.ndarray) -> float:
    """The share of pixels where two ink masks differ (1 when their sizes differ)."""
    return float((a != b).mean()) if a.shape == b.shape else 1.0


def subtitle_size() -> int:
    return Subtitles([], W, H).font_size


def test_the_fonts_are_installed():
    assert len(face_paths()) == 2, "pip install fontpkg-noto-sans noto-cjk-sans-jp-regular"


@pytest.mark.parametrize("text", LINES)
def test_subtitles_burn_in_the_string_as_the_fonts_draw_it(text):
    frame = subtitled_frame(text)
    burnt = ink(frame.max(axis=2))
    font = Typeface(subtitle_size())
    expected = ink(direct(text, lambda d, xy, t: font.draw(d, xy, t, fill=255)))
    # The same glyphs: only anti-aliased edges, blended over the subtitle's box, differ.
    assert mismatch(burnt, expected) < 0.03
    # Pillow's own font (what the animatic drew before) does not pass the same reading.
    default = ImageFont.load_default(size=subtitle_size())
    before = ink(direct(text, lambda d, xy, t: d.text(xy, t, font=default, fill=255)))
    assert mismatch(burnt, before) > 0.2


@pytest.mark.parametrize("text", LINES)
def test_no_character_is_drawn_as_a_missing_glyph_box(text):
    fonts = [ImageFont.truetype(str(path), 32) for path in face_paths()]
    typeface = Typeface(32)
    for run, face in typeface.runs(text.replace(" ", "")):
        index = typeface.faces.index(face)
        for character in run:
            drawn = fonts[index].getmask(character)
            box = fonts[index].getmask(NOT_A_CHARACTER)
            assert (drawn.size, bytes(drawn)) != (box.size, bytes(box)), character


def test_each_script_is_drawn_with_a_face_that_has_it():
    typeface = Typeface(20)
    latin, cjk = typeface.faces
    assert [face for _, face in typeface.runs("Привет")] == [latin]
    assert typeface.runs("MARA: こんにちは!") == [
        ("MARA: ", latin),
        ("こんにちは", cjk),
        ("!", latin),
    ]


def test_text_without_spaces_wraps_between_characters():
    font = Typeface(20)
    text = "こんにちは" * 12
    rows = wrap(text, font, 200)
    assert "".join(rows) == text and len(rows) > 1
    assert all(font.getlength(row) <= 200 for row in rows)
    assert wrap("Très bien — ¿vamos?", font, 2000) == ["Très bien — ¿vamos?"]
