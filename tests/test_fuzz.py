"""Fuzzing the front end: whatever the bytes, the compiler answers with its own diagnostics.

Valid scripts are mutated the way editors and people break them (a token
deleted, a line duplicated, two lines swapped, stray bytes, tabs and NULs,
absurdly deep indentation, a truncated file, two lines joined, a token
replaced by another keyword) and the way an attacker would (numbers widened
to thousands of digits or past a float, lines lengthened to 100 kB, imports
nested hundreds of files deep, terminal escapes and other control characters
injected, line endings turned to CR) and checked; when the check passes they
are planned too.  No exception may escape, every diagnostic must carry a
registered code and point inside the file it names, and what the renderers
print must hold no raw control character and no line GitHub would read as a
command of its own.

Examples are derandomized, so CI runs the same 5,500 cases every time.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from case_refs import write_refs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from director.check import check_file
from director.diagnostics import REGISTRY, Diagnostic, render_github, render_human, render_json
from director.plan import plan_film

# 5,500 cases in all.  FUZZ_SCALE=10 runs ten times as many; FUZZ_RANDOM=1 draws
# new ones each run instead of CI's fixed sequence (for hunting, not for CI).
SCALE = float(os.environ.get("FUZZ_SCALE", "1"))
EXAMPLES = {
    name: max(1, round(count * SCALE))
    for name, count in {
        "mutations": 3000,
        "hostile": 1500,
        "nesting": 500,
        "noise": 500,
    }.items()
}

FUZZ = settings(
    deadline=None,
    derandomize=os.environ.get("FUZZ_RANDOM") != "1",
    database=None,
    print_blob=True,
    suppress_health_check=list(HealthCheck),
)

# ---------------------------------------------------------------- valid scripts

LIGHTHOUSE = """\
title: The Lighthouse
format: 1280x720 @ 24fps
style: 35mm film, muted teal and orange grade, soft haze
negative: text, watermark, extra fingers
seed: 1234
backend: auto
import: shared_cast.shot

character MARA
  description: a weathered lighthouse keeper in her sixties, grey braid
  ref: refs/mara_front.png
  ref: refs/mara_profile.png
  voice: low and calm, slight Scottish lilt

character TOM
  description: a boy of ten in a red knitted jumper
  ref: refs/tom.png

location LAMP_ROOM
  description: cramped lamp room at the top of a lighthouse, brass lens
  ref: refs/lamp_room.png

audio STORM: refs/storm_loop.wav
audio THEME: refs/theme.ogg
image BOARD_3: refs/storyboard_03.png
video WAVES_PLATE: refs/waves.mp4

INT. LAMP_ROOM - NIGHT

SHOT 1A WIDE 4s
  camera: dolly in slow, then tilt up 10deg
  MARA polishes the great brass lens while rain hammers the windows.
  ambience STORM from 0s fade in 1s gain -12dB

CUT TO:

SHOT 1B CLOSE-UP on MARA 3s
  camera: static
  MARA
    (under her breath)
    Another night, old friend.

DISSOLVE TO: 12f

EXT. LIGHTHOUSE - NIGHT

SHOT 2 EXTREME WIDE 5s continuous
  camera: orbit left 90deg
  The beam sweeps across a black, heaving sea.
  music THEME from 1s fade in 2s duck under dialogue
  ref: WAVES_PLATE
  keyframe last: BOARD_3

SHOT 3 TWO-SHOT on MARA, TOM 00:00:03:12
  camera: pan right 30deg over 1s then zoom in 1.5x ease in-out
  angle: dutch 15deg
  lens: 35mm
  TOM runs up the stairs to MARA.
  TOM (O.S.)
    Grandma!
  takes: 3
  consistency: 0.8
  seed: 7
  negative: blur

FADE OUT: 1s
"""

PIER = """\
title: Pier
format: 1920x1080 @ 23.976fps
backend: preview

character KEEPER
  description: an old man with a lantern
  ref: refs/face.png

location PIER
  description: a wooden pier in fog
  ref: refs/room.png

audio GULLS: refs/tone_2s.wav
image FIRST: refs/still_1.png

FADE IN: 12f

EXT. PIER - DAWN

SHOT 1 EWS 3s
  camera: crane down fast over 2s then static
  KEEPER walks into the fog.
  sfx GULLS for 2s fade out 500ms gain -3dB
  keyframe first: FIRST

SMASH CUT TO:

SHOT 1-b MCU on KEEPER 2.5s
  camera: track KEEPER
  KEEPER (V.O.)
    Every morning.
  ref: refs/clip.mp4
  ref: refs/sound_1.wav
  backend: preview

WIPE TO: 250ms

INT./EXT. A VAN BY THE SEA - DAY

SHOT 2 INSERT 48f
  camera: handheld
  A lantern swings.
"""

TINY = """\
title: One shot
SHOT 1 WIDE 4s
"""

BASES = [LIGHTHOUSE, PIER, TINY]
EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "scripts_examples"
if EXAMPLES_DIR.is_dir():  # other scripts, if the project has them (errors are fine)
    BASES += [
        p.read_text(encoding="utf-8", errors="replace")
        for p in sorted(EXAMPLES_DIR.rglob("*.shot"))
    ][:12]

# Words worth putting where they do not belong.
VOCABULARY = [
    "SHOT", "1", "1A", "WIDE", "CLOSE-UP", "on", "MARA", "TOM", "KEEPER", "NOBODY", "4s", "0s",
    "12f", "1.5f", "250ms", "00:00:01:00", "99:99:99:99", "continuous", "camera:", "pan", "left",
    "up", "track", "over", "then", ",", "CUT TO:", "DISSOLVE TO: 1s", "FADE IN: 1s",
    "FADE OUT: 100s", "INT.", "EXT.", "LAMP_ROOM", "-", "NIGHT", "music", "STORM", "GULLS",
    "from", "for", "fade", "in", "out", "gain", "-6dB", "duck under dialogue", "ref:",
    "refs/face.png", "refs/tone_2s.wav", "refs/garbage.png", "../outside.png", "keyframe first:",
    "takes: 0", "consistency: 1.5", "backend: ltx2", "backend: nope", "import: main.shot",
    "import: shared_cast.shot", "title:", "character", "location", "audio", "image", "video",
    "(V.O.)", "(quietly)", "#", '"', "\t", "\0", "\ufeff", "\r", "\r\n", "\x0c", "\u2028",
    "é", "’", "x" * 300, "9" * 40, "format: 99999x1 @ 0fps",
]  # fmt: skip

ODD_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(list(' \t\n\r\0\x0b\x0c\u2028\u2029\x85\ufeff:#"(),-')),
    ),
    max_size=12,
)


# ---------------------------------------------------------------- mutations


def _lines(text: str) -> list[str]:
    return text.split("\n")


CLUMSY = [
    "delete-token", "duplicate-line", "swap-lines", "insert-text", "insert-bytes",
    "indent-line", "nest", "truncate", "join-lines", "replace-token", "insert-word",
    "duplicate-block", "delete-line",
]  # fmt: skip
HOSTILE = ["widen-number", "lengthen-line", "nest-imports", "inject-control", "cr-endings"]

# Numbers past every sane range: thousands of digits (Python refuses to parse
# over 4,300), past a float (1e400 is inf), a frame count past any clock.
WIDE_NUMBERS = [
    "9" * 5000, "1" + "0" * 400, "1e400", "-1e400", "1e-400", "9" * 20 + "." + "9" * 20,
    "0" * 300 + "1", "nan", "inf", "-0", "18446744073709551617", "2147483648",
]  # fmt: skip
NUMBER = re.compile(r"\d+(?:\.\d+)?")
# Terminal escapes (title, clear, colour, OSC 8 link), C1 controls, bidi
# overrides, and the odd C0 bytes.
CONTROLS = [
    "\x1b]0;pwned\x07", "\x1b[2J", "\x1b[31m", "\x1b]8;;http://x\x1b\\", "\x9b2J", "\x85",
    "\u202e", "\u2066", "\x07", "\x08", "\x00", "\x7f", "\x1b", "\r", "\x0b",
]  # fmt: skip
CHAIN_DEPTH = 1000  # nest/n0000.shot imports n0001.shot … down to n0999.shot


@st.composite
def mutated(draw, bases=BASES, kinds=CLUMSY + HOSTILE) -> bytes:
    """A valid script after one to four mutations, as the bytes of a file."""
    text = draw(st.sampled_from(bases))
    raw: bytes | None = None
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(kinds))
        lines = _lines(text)
        at = draw(st.integers(0, len(lines) - 1))
        if kind in HOSTILE:
            text = _hostile(draw, kind, lines, at)
            continue
        if kind == "delete-token":
            tokens = re.split(r"( +)", lines[at])
            if len(tokens) > 1:
                index = draw(st.integers(0, len(tokens) - 1))
                del tokens[index]
                lines[at] = "".join(tokens)
        elif kind == "duplicate-line":
            lines.insert(at, lines[at])
        elif kind == "delete-line":
            del lines[at]
        elif kind == "swap-lines":
            other = draw(st.integers(0, len(lines) - 1))
            lines[at], lines[other] = lines[other], lines[at]
        elif kind == "insert-text":
            column = draw(st.integers(0, len(lines[at])))
            lines[at] = lines[at][:column] + draw(ODD_TEXT) + lines[at][column:]
        elif kind == "insert-bytes":
            raw = text.encode("utf-8")
            where = draw(st.integers(0, len(raw)))
            raw = raw[:where] + draw(st.binary(min_size=1, max_size=6)) + raw[where:]
            break  # the text may no longer decode: stop mutating here
        elif kind == "indent-line":
            depth = draw(st.sampled_from([1, 2, 3, 4, 8, 200]))
            lines[at] = " " * depth + lines[at]
        elif kind == "nest":
            lines[at + 1 : at + 1] = _staircase(draw)
        elif kind == "truncate":
            text = text[: draw(st.integers(0, len(text)))]
            continue
        elif kind == "join-lines" and at + 1 < len(lines):
            lines[at : at + 2] = [lines[at] + draw(st.sampled_from(["", " "])) + lines[at + 1]]
        elif kind in ("replace-token", "insert-word"):
            tokens = lines[at].split(" ")
            index = draw(st.integers(0, len(tokens) - 1))
            word = draw(st.sampled_from(VOCABULARY))
            if kind == "replace-token":
                tokens[index] = word
            else:
                tokens.insert(index, word)
            lines[at] = " ".join(tokens)
        elif kind == "duplicate-block":
            end = draw(st.integers(at, min(len(lines), at + 12)))
            lines[end:end] = lines[at:end]
        text = "\n".join(lines)
    return raw if raw is not None else text.encode("utf-8")


def _hostile(draw, kind: str, lines: list[str], at: int) -> str:
    """One of an attacker's mutations, on the lines of a script; the new text."""
    if kind == "widen-number":
        numbered = [i for i, line in enumerate(lines) if NUMBER.search(line)] or [at]
        at = draw(st.sampled_from(numbered))
        found = list(NUMBER.finditer(lines[at]))
        wide = draw(st.sampled_from(WIDE_NUMBERS))
        if found:
            match = draw(st.sampled_from(found))
            lines[at] = lines[at][: match.start()] + wide + lines[at][match.end() :]
        else:
            lines[at] += " " + wide
    elif kind == "lengthen-line":
        size = draw(st.sampled_from([5_000, 20_000, 100_000]))
        filler = lines[at] or draw(st.sampled_from(["  MARA runs. ", "MRA ", "x"]))
        lines[at] = (filler * (size // len(filler) + 1))[:size]
    elif kind == "nest-imports":
        start = draw(st.sampled_from([0, 0, 400, CHAIN_DEPTH - 20, CHAIN_DEPTH - 1]))
        lines.insert(min(at, 3), f"import: nest/n{start:04d}.shot")
    elif kind == "inject-control":
        column = draw(st.integers(0, len(lines[at])))
        injected = "".join(draw(st.lists(st.sampled_from(CONTROLS), min_size=1, max_size=4)))
        lines[at] = lines[at][:column] + injected + lines[at][column:]
    elif kind == "cr-endings":
        return "\r".join(lines)  # old Mac line endings
    return "\n".join(lines)


def _staircase(draw) -> list[str]:
    """Many lines, each indented deeper than the one before (or shallower, on the way out)."""
    depth = draw(st.integers(2, 200))
    step = draw(st.sampled_from([1, 2, 4]))
    word = draw(st.sampled_from(["MARA", "The sea.", "SHOT 9 WIDE 1s", "(beat)", "camera: static"]))
    down = [" " * (step * level) + word for level in range(1, depth + 1)]
    back = draw(st.sampled_from(["none", "all", "odd"]))
    if back == "all":
        down += down[-2::-1]
    elif back == "odd":
        down.append(" " * (step * depth // 2 + 1) + word)
    return down


# ---------------------------------------------------------------- the property


@pytest.fixture(scope="module")
def fuzz_project(tmp_path_factory) -> Path:
    return make_fuzz_project(tmp_path_factory.mktemp("fuzz") / "project")


def make_fuzz_project(root: Path) -> Path:
    """One project for every example: the refs, an importable cast, and the script."""
    root.mkdir()
    write_refs(root)
    (root / "shared_cast.shot").write_text(
        "location HARBOUR\n  description: a stone harbour\n", encoding="utf-8"
    )
    (root.parent / "outside.png").write_bytes((root / "refs" / "face.png").read_bytes())
    nest = root / "nest"
    nest.mkdir()
    for depth in range(CHAIN_DEPTH):  # each imports the next, hundreds of files deep
        following = f"import: n{depth + 1:04d}.shot\n" if depth + 1 < CHAIN_DEPTH else ""
        body = f"{following}location PLACE_{depth}\n  description: a room\n"
        (nest / f"n{depth:04d}.shot").write_text(body, encoding="utf-8")
    if EXAMPLES_DIR.is_dir():  # the examples' media, and the files they import
        for path in sorted(EXAMPLES_DIR.rglob("*")):
            if not path.is_file() or path.suffix == ".py":
                continue
            if path.parent.name == "refs":
                shutil.copy(path, root / "refs" / path.name)
            elif path.suffix == ".shot" and not (root / path.name).exists():
                shutil.copy(path, root / path.name)  # for the examples' imports
    return root


CODES = {entry.code: entry for entry in REGISTRY.values()}


def _assert_located(diagnostics: list[Diagnostic], sources: dict[str, str]) -> None:
    for d in diagnostics:
        entry = CODES.get(d.code)
        assert entry is not None, f"unregistered code {d.code}"
        assert (entry.name, entry.severity) == (d.name, d.severity), d
        assert d.message.strip(), d
        span = d.span
        assert span.file in sources, f"{d.code} names {span.file!r}, not a read file"
        lines = sources[span.file].split("\n")
        assert 1 <= span.line <= len(lines), f"{d.code} at line {span.line} of {len(lines)}: {d}"
        width = len(lines[span.line - 1])
        assert 1 <= span.column <= width + 1, f"{d.code} column: {d}"
        assert (span.end_line, span.end_column) >= (span.line, span.column), d
    # every renderer copes with every diagnostic, and prints nothing a terminal
    # or a CI runner would obey
    human = render_human(diagnostics, sources, per_file=0)
    raw = RAW_CONTROL.search(human)
    assert raw is None, f"raw {raw[0]!r} in human output"
    json.loads(render_json(diagnostics))
    github = render_github(diagnostics, per_file=0).splitlines()
    assert len(github) == len(diagnostics) and all(line.startswith("::") for line in github)


# Any C0 or C1 control (but the line breaks the renderer writes itself), DEL,
# line and paragraph separators, bidi controls.
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


# Line breaks other than \n that str.splitlines() would honour: the compiler
# must count lines as the grammar does, so these stay inside their line.
OTHER_LINE_BREAKS = [
    b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e",
    "\x85".encode(), "\u2028".encode(), "\u2029".encode(),
]  # fmt: skip


def compile_bytes(project: Path, data: bytes) -> None:
    """Check (and plan, when the check passes) a script; nothing may escape but diagnostics."""
    script = project / "main.shot"
    script.write_bytes(data)
    checked = check_file(script)
    _assert_located(checked.diagnostics, checked.sources)
    has_errors = any(d.severity == "error" for d in checked.diagnostics)
    assert (checked.film is None) == has_errors, checked.diagnostics
    if checked.film is None:
        return
    planned = plan_film(checked.film)
    _assert_located(planned.diagnostics, checked.sources)
    if planned.plan is not None:
        planned.plan.to_json()


def test_bases_are_valid(fuzz_project) -> None:
    for text in (LIGHTHOUSE, PIER, TINY):
        script = fuzz_project / "main.shot"
        script.write_text(text, encoding="utf-8")
        checked = check_file(script)
        errors = [d for d in checked.diagnostics if d.severity == "error"]
        assert not errors, errors
        assert plan_film(checked.film).plan is not None


@settings(FUZZ, max_examples=EXAMPLES["mutations"])
@given(data=mutated())
def test_mutated_scripts_get_only_diagnostics(fuzz_project, data: bytes) -> None:
    compile_bytes(fuzz_project, data)


@settings(FUZZ, max_examples=EXAMPLES["hostile"])
@given(data=mutated(kinds=HOSTILE + ["insert-bytes", "duplicate-line", "join-lines"]))
def test_hostile_scripts_get_only_diagnostics(fuzz_project, data: bytes) -> None:
    compile_bytes(fuzz_project, data)


@settings(FUZZ, max_examples=EXAMPLES["nesting"])
@given(base=st.sampled_from(BASES), at=st.integers(0, 10_000), data=st.data())
def test_deep_nesting(fuzz_project, base: str, at: int, data) -> None:
    lines = _lines(base)
    at %= len(lines)
    lines[at + 1 : at + 1] = _staircase(data.draw)
    compile_bytes(fuzz_project, "\n".join(lines).encode("utf-8"))


@settings(FUZZ, max_examples=EXAMPLES["noise"])
@given(
    data=st.one_of(
        st.binary(max_size=300),
        st.text(max_size=300).map(lambda t: t.encode("utf-8")),
        st.lists(st.sampled_from(VOCABULARY), max_size=40).map(lambda w: " ".join(w).encode()),
        st.lists(st.sampled_from(VOCABULARY + ["\n", "\n  ", "\n    "]), max_size=60).map(
            lambda w: ("title: Noise\n" + " ".join(w)).encode()
        ),
    )
)
def test_noise(fuzz_project, data: bytes) -> None:
    compile_bytes(fuzz_project, data)


@pytest.mark.parametrize("separator", ["\x0b", "\x0c", "\x85", "\u2028", "\u2029", "\r"])
def test_other_line_breaks(fuzz_project, separator: str) -> None:
    """A tab after an action line holding another line break: located on the fourth line."""
    text = f"title: T\nSHOT 1 WIDE 4s\n  The sea{separator}heaves.\n\tThe lamp.\n"
    script = fuzz_project / "main.shot"
    script.write_bytes(text.encode("utf-8"))
    checked = check_file(script)
    (tab,) = [d for d in checked.diagnostics if d.code == "E002"]
    assert (tab.span.line, tab.span.column) == (4, 1)
    rendered = render_human([tab], checked.sources)
    assert "4 |  The lamp." in rendered


@pytest.mark.parametrize("separator", ["\x0b", "\x0c", "\x85", "\u2028", "\u2029"])
def test_a_glued_comment_is_found_on_its_own_line(fuzz_project, separator: str) -> None:
    """Found by bench/fuzz.py: W115 counted lines with str.splitlines, so after a
    NEL (U+0085) on an earlier line it pointed one line too far."""
    text = f"# a note{separator}more\ntitle: Pier#4\nSHOT 1 WIDE 4s\n"
    script = fuzz_project / "main.shot"
    script.write_bytes(text.encode("utf-8"))
    checked = check_file(script)
    _assert_located(checked.diagnostics, checked.sources)
    (glued,) = [d for d in checked.diagnostics if d.code == "W115"]
    assert (glued.span.line, glued.span.column) == (2, 12)
