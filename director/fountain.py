"""Fountain import: a screenplay to a `.shot` skeleton that `director check` accepts.

Parsing is screenplain's (a maintained Fountain parser: title page, scene
headings, action, character cues, parentheticals, dialogue, dual dialogue,
transitions, centered text, sections and synopses; notes and boneyard are
dropped).  This module only maps its paragraphs onto the language
(docs/ecosystem.md has the table):

- scene headings become sluglines, their locations declared;
- each action paragraph becomes a WIDE shot, each run of dialogue (an
  exchange) a shot on its speakers; a shot lasts as long as its words take
  at 2.5 words a second, at least 2 s; an exchange longer than 20 s is
  split between speeches, an action paragraph at sentence ends;
- every speaker is declared as a character, with a TODO description;
- transitions map to the nearest the language has, with a default length;
- sections, synopses, centered text and unmapped transitions become
  comments or action, so nothing the writer wrote is silently lost.
"""

from __future__ import annotations

import io
import math
import re
import unicodedata
from dataclasses import dataclass, field

from screenplain.parsers import fountain as screenplain
from screenplain.richstring import parse_emphasis
from screenplain.types import Action, Dialog, DualDialog, PageBreak, Section, Slug, Transition

from .fmt import format_text

WORDS_PER_SECOND = 2.5
MIN_SECONDS = 2.0
MAX_SECONDS = 20.0  # a longer exchange or action paragraph is split into several shots
MAX_WORDS = int(MAX_SECONDS * WORDS_PER_SECOND)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
TRANSITION_LENGTH = "12f"
FORMAT = "1280x720 @ 24fps"

_EXTENSIONS = {"V.O.": "V.O.", "VO": "V.O.", "O.S.": "O.S.", "OS": "O.S.", "O.C.": "O.S."}
_PREFIXES = [
    (
        re.compile(r"(?:INT\.?\s*/\s*EXT\.?|EXT\.?\s*/\s*INT\.?|I\s*/\s*E\.?)(?=[\s.])\.?", re.I),
        "INT./EXT.",
    ),
    (re.compile(r"INT\.?(?=[\s.])", re.I), "INT."),
    (re.compile(r"(?:EXT|EST)\.?(?=[\s.])", re.I), "EXT."),
]
# Lower-case words that the grammar reads as keywords at the start of a shot's line.
_KEYWORD_START = re.compile(
    r"(camera:|angle:|lens:|ref:|keyframe|seed:|takes:|backend:|negative:|consistency:"
    r"|(?:music|sfx|ambience)[ \t]+[A-Z])"
)


@dataclass
class _Shot:
    size: str
    subjects: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # body lines, relative indentation
    words: int = 0
    comment: str = ""


@dataclass
class _Film:
    characters: dict[str, str] = field(default_factory=dict)  # NAME → as written
    locations: dict[str, str] = field(default_factory=dict)
    body: list[str] = field(default_factory=list)  # output lines of scenes, shots, transitions
    scene: int = 0
    letter: int = 0
    shots: int = 0
    pending_transition: str | None = None  # waits for the next shot
    pending_comments: list[str] = field(default_factory=list)
    exchange: _Shot | None = None
    dangling: int | None = None  # a transition placed with no shot after it yet


def import_fountain(text: str, *, title: str = "Untitled") -> str:
    """The `.shot` skeleton of a Fountain screenplay; `title` is used when its title page
    has none."""
    screenplay = screenplain.parse(io.StringIO(text.removeprefix("\ufeff")))
    film = _Film()
    for paragraph in screenplay:
        _paragraph(film, paragraph)
    _flush(film)
    if film.pending_transition and film.pending_transition.startswith("FADE OUT"):
        film.body += ["", film.pending_transition]
    elif film.dangling is not None and not film.body[film.dangling].startswith("FADE OUT"):
        film.body[film.dangling] = "# " + film.body[film.dangling]  # no shot follows it
    film.body += [f"# {c}" for c in film.pending_comments]
    _separate_names(film)
    return format_text(_header(screenplay.title_page, title, film) + _tidy(film.body))


# --------------------------------------------------------------- paragraphs


def _paragraph(film: _Film, paragraph) -> None:
    if isinstance(paragraph, Slug):
        _flush(film)
        _scene(film, _plain(paragraph.line))
    elif isinstance(paragraph, Dialog):
        _dialogue(film, [paragraph])
    elif isinstance(paragraph, DualDialog):
        _dialogue(film, [paragraph.left, paragraph.right], dual=True)
    elif isinstance(paragraph, Action):
        lines = [_plain(line) for line in paragraph.lines]
        lines = [line for line in lines if line.strip()]
        if not lines:
            return
        if len(lines) == 1 and _transition_words(lines[0]):
            _flush(film)
            _transition(film, lines[0])
            return
        _flush(film)
        _action(film, lines, comment="centered" if paragraph.centered else "")
    elif isinstance(paragraph, Transition):
        _flush(film)
        _transition(film, _plain(paragraph.line))
    elif isinstance(paragraph, Section):
        _flush(film)
        film.body += ["", f"# {'#' * paragraph.level} {_plain(paragraph.text)}"]
        if paragraph.synopsis:
            film.body.append(f"# = {_plain(paragraph.synopsis)}")
    elif isinstance(paragraph, PageBreak):
        return


def _action(film: _Film, lines: list[str], comment: str) -> None:
    """An action paragraph as WIDE shots of at most MAX_SECONDS each: one shot unless
    its words run longer, then a new shot at a sentence's end (or, for a sentence
    that alone runs longer, between words)."""
    shot: _Shot | None = None
    for piece in (piece for line in lines for piece in _cut(line)):
        words = _count(piece)
        if shot is not None and shot.words + words > MAX_WORDS:
            _emit(film, shot)
            shot = None
        shot = shot or _Shot("WIDE", comment=comment)
        shot.lines.append(_text(piece.lstrip("~")))
        shot.words += words
    if shot is not None:
        _emit(film, shot)


def _cut(line: str) -> list[str]:
    """`line`, or pieces of it of at most MAX_WORDS words, cut at sentence ends."""
    if _count(line) <= MAX_WORDS:
        return [line]
    pieces: list[list[str]] = []
    current: list[str] = []
    for sentence in _SENTENCE_END.split(line.strip()):
        words = sentence.split()
        if current and len(current) + len(words) > MAX_WORDS:
            pieces.append(current)
            current = []
        current += words
        while len(current) > MAX_WORDS:
            pieces.append(current[:MAX_WORDS])
            current = current[MAX_WORDS:]
    if current:
        pieces.append(current)
    return [" ".join(piece) for piece in pieces]


def _scene(film: _Film, heading: str) -> None:
    heading = re.sub(r"\s*#[^#]*#\s*$", "", heading).strip()  # a scene number
    prefix, rest = "INT./EXT.", heading
    for pattern, name in _PREFIXES:
        found = pattern.search(heading)
        if found and (found.start() == 0 or heading[: found.start()].rstrip().endswith("-")):
            prefix, rest = name, heading[found.end() :]
            break
    else:
        film.pending_comments.append(f"scene heading as written: {heading}")
    rest = rest.strip(" .")
    # "LIGHTHOUSE - BEACH - NIGHT", "APARTMENT, DAY": the time of day comes last
    cut = max(rest.rfind(" - "), rest.rfind("--"), rest.rfind(","))
    place, time_of_day = (rest[:cut], rest[cut:].lstrip(" -,")) if cut > 0 else (rest, "")
    place = place.strip(" -,") or "SOMEWHERE"
    time_of_day = _text(time_of_day) if time_of_day.strip() else "DAY"
    name = _name(place, "PLACE")
    film.locations.setdefault(name, place)
    film.scene += 1
    film.letter = 0
    _place_transition(film)  # between the last shot and the next scene
    film.body += ["", f"{prefix} {name} - {time_of_day}"]
    _comments(film)


def _dialogue(film: _Film, dialogues: list[Dialog], dual: bool = False) -> None:
    speeches = []
    for dialogue in dialogues:
        name, extension = _speaker(_plain(dialogue.character))
        lines = []
        for parenthetical, line in dialogue.blocks:
            text = _plain(line).strip()
            if not text:
                continue
            if parenthetical:
                inner = text.removeprefix("(").removesuffix(")").strip()
                if inner:
                    lines.append(("paren", _text(inner).replace("(", "[").replace(")", "]")))
            else:
                lines.append(("speech", _text(text.lstrip("~"))))
        if not any(kind == "speech" for kind, _ in lines):
            continue
        speeches.append((name, extension, lines))
    if not speeches:
        return
    words = sum(
        _count(text) for _, _, lines in speeches for kind, text in lines if kind == "speech"
    )
    shot = film.exchange
    if dual or shot is None or (shot.words + words) / WORDS_PER_SECOND > MAX_SECONDS:
        _flush(film)
        size = "TWO-SHOT" if dual else "MEDIUM"
        shot = film.exchange = _Shot(size, comment="dual dialogue" if dual else "")
    for name, extension, lines in speeches:
        film.characters.setdefault(name, name)
        if name not in shot.subjects and extension is None:  # a voice over is not seen
            shot.subjects.append(name)
        shot.lines.append(name + (f" ({extension})" if extension else ""))
        shot.lines += [f"  ({text})" if kind == "paren" else f"  {text}" for kind, text in lines]
    shot.words += words
    if dual:
        _flush(film)


def _transition(film: _Film, words: str) -> None:
    kind = _transition_words(words)
    if kind is None:
        film.pending_comments.append(f"transition as written: {words}")
        return
    if kind == "FADE IN:":
        if film.shots == 0:
            film.body += ["", f"FADE IN: {TRANSITION_LENGTH}"]
        return
    if film.shots == 0:
        return  # nothing to come from
    timed = kind in ("DISSOLVE TO:", "WIPE TO:", "FADE OUT:")
    if film.pending_transition is None:
        film.pending_transition = kind + (f" {TRANSITION_LENGTH}" if timed else "")
    if _plain_words(words) != _plain_words(kind):
        film.body.append(f"# transition as written: {words}")


def _plain_words(words: str) -> str:
    return " ".join(re.findall(r"[A-Z]+", words.upper()))


def _transition_words(words: str) -> str | None:
    upper = words.strip().upper().rstrip()
    for pattern, kind in (
        (r"FADE IN:?", "FADE IN:"),
        (r"FADE (OUT|TO BLACK)\.?:?", "FADE OUT:"),
        (r"(SMASH CUT|SMASH TO)( TO)?:?", "SMASH CUT TO:"),
        (r"MATCH CUT( TO)?:?", "MATCH CUT TO:"),
        (r"(DISSOLVE|CROSSFADE|CROSS DISSOLVE)( TO)?:?", "DISSOLVE TO:"),
        (r"WIPE( TO)?:?", "WIPE TO:"),
        (r".*\bTO:|.*CUT:?|CUT TO BLACK\.?", "CUT TO:"),
    ):
        if re.fullmatch(pattern, upper):
            return kind
    return None


# -------------------------------------------------------------------- shots


def _emit(film: _Film, shot: _Shot) -> None:
    _place_transition(film)
    film.dangling = None
    film.letter += 1
    film.shots += 1
    shot_id = f"{film.scene}{_letters(film.letter)}"
    seconds = max(MIN_SECONDS, math.ceil(shot.words / WORDS_PER_SECOND * 2) / 2)
    on = f" on {', '.join(shot.subjects)}" if shot.subjects else ""
    size = "CLOSE-UP" if len(shot.subjects) == 1 else shot.size
    comment = f"  # {shot.comment}" if shot.comment else ""
    film.body += ["", f"SHOT {shot_id} {size}{on} {seconds:g}s{comment}"]
    film.body += [f"  {line}" for line in shot.lines]
    _comments(film)


def _place_transition(film: _Film) -> None:
    if film.pending_transition is not None and film.shots > 0:
        film.body += ["", film.pending_transition]
        film.dangling = len(film.body) - 1
    film.pending_transition = None


def _flush(film: _Film) -> None:
    if film.exchange is not None:
        shot, film.exchange = film.exchange, None
        _emit(film, shot)


def _comments(film: _Film) -> None:
    film.body += [f"# {c}" for c in film.pending_comments]
    film.pending_comments = []


def _letters(number: int) -> str:
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


# -------------------------------------------------------------------- words


def _header(title_page: dict, default_title: str, film: _Film) -> str:
    lines = []
    title = " ".join(_plain(parse_emphasis(t)) for t in title_page.get("Title", [])).strip()
    lines.append(f"title: {_text(title or default_title)}")
    lines.append(f"format: {FORMAT}")
    for key, values in title_page.items():
        if key != "Title":
            joined = "; ".join(_plain(parse_emphasis(v)).strip() for v in values)
            lines.append(f"# {key}: {joined}")
    for name, written in film.characters.items():
        lines += ["", f"character {name}", f"  description: TODO describe {_text(written)}"]
    for name, written in film.locations.items():
        lines += ["", f"location {name}", f"  description: TODO describe {_text(written)}"]
    return "\n".join(lines) + "\n"


def _separate_names(film: _Film) -> None:
    """A place named like a character (a scene in MARA's house called MARA) is renamed."""
    renamed = {}
    for name in list(film.locations):
        if name in film.characters:
            new = f"{name}_PLACE"
            renamed[name] = new
            film.locations[new] = film.locations.pop(name)
    for index, line in enumerate(film.body):
        match = re.match(r"(INT\./EXT\.|INT\.|EXT\.) (\S+) - ", line)
        if match and match[2] in renamed:
            film.body[index] = line.replace(f" {match[2]} - ", f" {renamed[match[2]]} - ", 1)


def _tidy(body: list[str]) -> str:
    out: list[str] = []
    for line in body:
        if line == "" and (not out or out[-1] == ""):
            continue
        out.append(line)
    while out and out[-1] == "":
        out.pop()
    return "\n" + "\n".join(out) + "\n" if out else ""


def _speaker(cue: str) -> tuple[str, str | None]:
    cue = cue.strip().rstrip("^").strip()
    extension = None
    for found in re.findall(r"\(([^)]*)\)", cue):
        key = found.strip().upper()
        extension = extension or _EXTENSIONS.get(key) or _EXTENSIONS.get(key.replace(".", ""))
    name = re.sub(r"\([^)]*\)", "", cue)
    return _name(name, "SPEAKER"), extension


def _name(text: str, fallback: str) -> str:
    """An UPPER_SNAKE name for free text: `Lamp Room` → `LAMP_ROOM`."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    name = re.sub(r"[^A-Z0-9]+", "_", ascii_text.upper()).strip("_")
    if not name:
        return fallback
    return name if name[0].isalpha() else f"{fallback}_{name}"


def _text(line: str) -> str:
    """Free text the grammar reads back as written: no `#` (a comment), quotes paired,
    no lower-case keyword at the start of a shot's line."""
    line = " ".join(line.replace("#", "No.").split())
    if line.count('"') % 2:
        line = line.replace('"', "\u201d")
    if _KEYWORD_START.match(line):
        line = line[0].upper() + line[1:]
    return line or "…"


def _plain(rich) -> str:
    return str(rich)


def _count(line: str) -> int:
    """Words as the checker counts them for its speech-rate warning."""
    return max(1, len(line.split()))


__all__ = ["import_fountain", "WORDS_PER_SECOND", "MIN_SECONDS"]
