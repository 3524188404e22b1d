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

# A cue's tags, by their letters alone (case, spaces and periods do not count): heard
# over the picture (V.O.) or from outside it (O.S.).  A writer's own stage direction in
# a cue, `(into the radio)`, is none of these: it becomes the first line's parenthetical.
_EXTENSIONS = {
    "VO": "V.O.", "VOICEOVER": "V.O.", "ENOFF": "V.O.", "VOIXOFF": "V.O.",
    "OS": "O.S.", "OC": "O.S.", "OFF": "O.S.", "OFFSCREEN": "O.S.", "OFFCAMERA": "O.S.",
    "PRELAP": "O.S.",
}  # fmt: skip
_CONTINUED = {"CONTD", "CONT", "CONTINUING", "MORE"}  # a page-layout mark: no meaning
# Scene headings separate the time of day with a dash (hyphen, en or em dash), a double
# hyphen or a comma; a period only before a time of day, as "INT. OFFICE. NIGHT".
_TIME_SEPARATOR = re.compile(r"\s+[-\u2013\u2014]+\s+|--|\u2013|\u2014|,")
_TIMES_OF_DAY = {
    "DAY", "NIGHT", "DUSK", "DAWN", "MORNING", "EVENING", "AFTERNOON", "NOON", "MIDNIGHT",
    "SUNSET", "SUNRISE", "LATER", "CONTINUOUS", "MOMENTS LATER", "SAME TIME", "TWILIGHT",
}  # fmt: skip
# Names in Cyrillic and Greek, spelt in Latin letters for their identifiers.
_CYRILLIC = {
    "А": "A", "Б": "B", "В": "V", "Г": "G", "Д": "D", "Е": "E", "Ё": "YO", "Ж": "ZH",
    "З": "Z", "И": "I", "Й": "Y", "К": "K", "Л": "L", "М": "M", "Н": "N", "О": "O",
    "П": "P", "Р": "R", "С": "S", "Т": "T", "У": "U", "Ф": "F", "Х": "KH", "Ц": "TS",
    "Ч": "CH", "Ш": "SH", "Щ": "SHCH", "Ъ": "", "Ы": "Y", "Ь": "", "Э": "E", "Ю": "YU",
    "Я": "YA", "І": "I", "Ї": "YI", "Є": "YE", "Ґ": "G",
}  # fmt: skip
# (The written form stays in the character's description.)
_GREEK = {
    "Α": "A", "Β": "V", "Γ": "G", "Δ": "D", "Ε": "E", "Ζ": "Z", "Η": "I", "Θ": "TH",
    "Ι": "I", "Κ": "K", "Λ": "L", "Μ": "M", "Ν": "N", "Ξ": "X", "Ο": "O", "Π": "P",
    "Ρ": "R", "Σ": "S", "Τ": "T", "Υ": "Y", "Φ": "F", "Χ": "CH", "Ψ": "PS", "Ω": "O",
}  # fmt: skip
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
    written: dict[str, str] = field(default_factory=dict)  # as written → NAME
    actions: list[int] = field(default_factory=list)  # body lines that are action text
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
    _rewrite_references(film)
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
        if len(lines) == 1 and _plain_words(lines[0]) == "THE END":
            _flush(film)
            film.pending_comments.append(lines[0].strip())  # an ending, not a shot
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
    place, time_of_day = _place_and_time(rest)
    place = place.strip(" -,.\u2013\u2014") or "SOMEWHERE"
    time_of_day = _text(time_of_day) if time_of_day.strip() else "DAY"
    name = _name(place, "PLACE")
    film.locations.setdefault(name, place)
    film.scene += 1
    film.letter = 0
    _place_transition(film)  # between the last shot and the next scene
    film.body += ["", f"{prefix} {name} - {time_of_day}"]
    _comments(film)


def _place_and_time(rest: str) -> tuple[str, str]:
    """ "LIGHTHOUSE - BEACH - NIGHT", "APARTMENT, DAY", "HARBOUR – DUSK", "OFFICE. NIGHT":
    the place, and the time of day that comes last ("" when there is none)."""
    cuts = list(_TIME_SEPARATOR.finditer(rest))
    if cuts and cuts[-1].start() > 0:
        last = cuts[-1]
        return rest[: last.start()], rest[last.end() :].strip(" -,")
    place, dot, time_of_day = rest.rpartition(". ")
    if dot and place and time_of_day.strip().upper() in _TIMES_OF_DAY:
        return place, time_of_day.strip()
    return rest, ""


def _blocks(dialogue: Dialog) -> list[tuple[str, str]]:
    """A cue's lines as ("paren" | "speech", text): a parenthetical written over several
    lines is one."""
    lines: list[tuple[str, str]] = []
    open_paren = False
    for parenthetical, line in dialogue.blocks:
        text = _plain(line).strip()
        if not text:
            continue
        if parenthetical and open_paren:
            lines[-1] = ("paren", f"{lines[-1][1]} {text}")
        elif parenthetical:
            lines.append(("paren", text))
        else:
            lines.append(("speech", _text(text.lstrip("~"))))
        open_paren = parenthetical and not text.endswith(")")
    return [
        (kind, _paren(text) if kind == "paren" else text)
        for kind, text in lines
        if kind == "speech" or _paren(text)
    ]


def _paren(text: str) -> str:
    """A parenthetical's words, without its outer brackets; inner ones become [ ]."""
    inner = text.strip().removeprefix("(").removesuffix(")").strip()
    return _text(inner).replace("(", "[").replace(")", "]") if inner else ""


def _dialogue(film: _Film, dialogues: list[Dialog], dual: bool = False) -> None:
    speeches = []
    for dialogue in dialogues:
        name, extension, directions = _speaker(film, _plain(dialogue.character))
        lines = [("paren", d) for d in directions] + _blocks(dialogue)
        # directions with no words after them: kept as the action they describe
        after: list[str] = []
        while lines and lines[-1][0] == "paren":
            after.insert(0, lines.pop()[1])
        speeches.append((name, extension, lines, after))
    if not speeches:
        return
    words = sum(
        _count(text) for _, _, lines, _ in speeches for kind, text in lines if kind == "speech"
    )
    shot = film.exchange
    if dual or shot is None or (shot.words + words) / WORDS_PER_SECOND > MAX_SECONDS:
        _flush(film)
        size = "TWO-SHOT" if dual else "MEDIUM"
        shot = film.exchange = _Shot(size, comment="dual dialogue" if dual else "")
    for name, extension, lines, after in speeches:
        if name not in shot.subjects and extension is None:  # a voice over is not seen
            shot.subjects.append(name)
        if lines:
            shot.lines.append(name + (f" ({extension})" if extension else ""))
            shot.lines += [f"  ({t})" if kind == "paren" else f"  {t}" for kind, t in lines]
        shot.lines += [f"{name} ({text})" for text in after]
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
    for line in shot.lines:
        if not line.startswith(" ") and shot.size == "WIDE":
            film.actions.append(len(film.body))  # an action shot's line
        film.body.append(f"  {line}")
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
        if " ".join(written.split()) != name:  # shown as written: MR. HUGHES, ÉMILE
            lines.append(f"  display: {_text(written)}")
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


def _speaker(film: _Film, cue: str) -> tuple[str, str | None, list[str]]:
    """A cue's declared name, its extension (V.O. or O.S.) and the stage directions
    written in it: `MR. HUGHES (CONT'D) (into the radio)`, `МАША (O.S., PRELAP)`."""
    cue = cue.strip().rstrip("^").strip()
    extension = None
    directions = []
    for group in re.findall(r"\(([^)]*)\)", cue):
        kept = []
        for tag in group.split(","):
            letters = re.sub(r"[^A-Z]", "", tag.upper())
            if letters in _EXTENSIONS:
                extension = extension or _EXTENSIONS[letters]
            elif letters not in _CONTINUED and tag.strip():
                kept.append(tag.strip())
        if kept:
            directions.append(_text(", ".join(kept)))
    written = " ".join(re.sub(r"\([^)]*\)", "", cue).split())
    return _character(film, written), extension, directions


def _character(film: _Film, written: str) -> str:
    """The identifier declared for a name as written, the same for every cue that
    writes it so, and different for names written differently (МАША, ЛИ, 李)."""
    if written in film.written:
        return film.written[written]
    name = base = _name(written, "SPEAKER")
    number = 1
    while name in film.characters:
        number += 1
        name = f"{base}_{number}"
    film.written[written] = name
    film.characters[name] = written
    return name


def _rewrite_references(film: _Film) -> None:
    """A character written in action as in its cue (`MR. HUGHES`, `ÉMILE`) is rewritten
    to its identifier (`MR_HUGHES`, `EMILE`), so that the checker sees the reference."""
    renames = {w: n for w, n in film.written.items() if w != n and len(w) > 1}
    if not renames:
        return
    words = sorted(renames, key=len, reverse=True)
    pattern = re.compile(r"(?<![\w.'])(" + "|".join(re.escape(w) for w in words) + r")(?![\w])")
    for index in film.actions:
        film.body[index] = pattern.sub(lambda m: renames[m[1]], film.body[index])


def _name(text: str, fallback: str) -> str:
    """An UPPER_SNAKE name for free text: `Lamp Room` → `LAMP_ROOM`, `ÉMILE` → `EMILE`,
    `МАША` → `MASHA`, `ΖΩΗ` → `ZOI`."""
    text = "".join(_CYRILLIC.get(c, _GREEK.get(c, c)) for c in text.upper())
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
