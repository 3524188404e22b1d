"""`director fmt`: the canonical layout of a `.shot` file, comments kept.

The syntax tree drops comments and blank lines, so the formatter works on
lines, guided by the grammar's structure: it recomputes each line's block
depth exactly as the parser's indenter does, knows what each line is from
its depth, its first words and the line that opened its block, and rewrites
only the spacing the grammar ignores.  Free text (titles, descriptions,
action, dialogue, sluglines' location and time of day) is kept as written
apart from its ends, because the parser keeps it so too.  The input must
parse; `format_text` of a file that does not is undefined (the CLI refuses).

What is canonical (docs/cli.md lists it too):

- two spaces of indentation per block level; comment lines at the level of
  the block they sit in; no tabs, no trailing spaces; `\\n` line ends; one
  newline at the end of the file; no byte-order mark;
- one blank line before and after each character and location declaration,
  scene heading, SHOT and transition; header settings and asset lines keep
  their grouping (at most one blank line between them); inside a block at
  most one blank line, none straight after the line that opens it;
- one space between tokens: `SHOT 1A WIDE on MARA, TOM 4s continuous`,
  `format: 1280x720 @ 24fps`, `camera: dolly in slow, then tilt up 10deg`,
  `audio STORM: refs/storm.wav`, `keyframe first: BOARD_3`,
  `INT. LAMP_ROOM - NIGHT`, `DISSOLVE TO: 12f`, `MARA (V.O.)`,
  `(under her breath)`; one space after every `key:`;
- a comment after code is separated from it by two spaces;
- words are never changed: shot sizes stay as written (`CU` and `CLOSE-UP`
  are both canonical: the abbreviation is the writer's choice), and so do
  times (`12f`, `0.5s`), names and paths.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .names import PATTERN as NAME_PATTERN
from .names import WRITTEN_PATTERN
from .reader import old_mac_lines

INDENT = "  "
_SPACE = " \t\f"  # the grammar's spaces; other Unicode spaces are text

_SETTING = re.compile(
    r"(title|format|style|negative|seed|backend|consistency|keyframes|import|tempo):"
)
_DECLARATION = re.compile(rf"(character|location)[ \t]+({NAME_PATTERN})$")
_ASSET = re.compile(rf"(audio|image|video)[ \t]+({NAME_PATTERN})[ \t]*:[ \t]*(.+)$")
_SLUG_PREFIXES = {"INT": "INT.", "EXT": "EXT.", "INT/EXT": "INT./EXT.", "I/E": "I/E."}
_SLUG = re.compile(
    r"(INT\.?/EXT\.?|I/E\.?|INT\.?|EXT\.?)[ \t]+(.*?)[ \t]+[-\u2013\u2014][ \t]+(.*)$"
)
_SIZE = (
    r"EXTREME WIDE|EXTREME CLOSE-UP|MEDIUM CLOSE-UP|MEDIUM WIDE|OVER-THE-SHOULDER|CLOSE-UP|"
    r"TWO-SHOT|MEDIUM|WIDE|FULL|POV|INSERT|EWS|ECU|MCU|MWS|OTS|WS|FS|MS|CU"
)
_NAME = NAME_PATTERN
_SHOT = re.compile(
    rf"SHOT[ \t]+(\S+)[ \t]+({_SIZE})"
    rf"(?:[ \t]+on[ \t]+({_NAME}(?:[ \t]*,[ \t]*{_NAME})*))?"
    r"[ \t]+(\S+)((?:[ \t]+continuous)*)$"
)
_CUT = re.compile(r"(SMASH CUT TO|MATCH CUT TO|CUT TO):$")
_TIMED = re.compile(r"(DISSOLVE TO|WIPE TO|FADE OUT|FADE IN):[ \t]*(\S+)$")
_FORMAT = re.compile(r"format:[ \t]*(\d+x\d+)[ \t]*(?:@[ \t]*(\S+))?$")
_KEYFRAME = re.compile(r"keyframe[ \t]+(first|last)[ \t]*:[ \t]*(.+)$")
_CUE = re.compile(r"(music|sfx|ambience)[ \t]+[A-Z]")
_SPEAKER = re.compile(rf"({WRITTEN_PATTERN})((?:[ \t]*\([^()\n#]*\))*)$")
_PARENTHETICAL = re.compile(r"\(([^#]*)\)$")
_THEN = re.compile(r"[ \t]*(?:,[ \t]*)?\bthen(?![A-Za-z0-9_-])[ \t]*")
_KEYED = re.compile(
    r"(description|voice|ref|camera|angle|lens|seed|takes|backend|negative|consistency"
    r"|title|style|import|tempo):[ \t]*(.*)$"
)

# Kinds of top-level line that stand apart, with one blank line around each.
_SECTIONS = {"declaration", "slugline", "shot", "transition"}


@dataclass
class _Line:
    text: str  # without the line end
    kind: str = "blank"  # blank, comment, or the code line's kind
    depth: int = 0
    opens: bool = False  # the next code line is nested under this one
    inside: bool = False  # a comment line followed by a nested line: it is in that block
    code: str = ""  # canonical code, without the comment
    comment: str = ""  # "# …", or ""


def format_text(text: str) -> str:
    """The canonical layout of `text`, a `.shot` file that parses."""
    # Lines are broken where the checker breaks them, so a CR-only file is laid out in LF.
    text = old_mac_lines(text.removeprefix("\ufeff"))
    lines = [_Line(raw.removesuffix("\r")) for raw in text.split("\n")]
    _find_depths(lines)
    _classify(lines)
    return _lay_out(lines)


def is_formatted(text: str) -> bool:
    return format_text(text) == text


# ------------------------------------------------------------ block depths


def _find_depths(lines: list[_Line]) -> None:
    """Depths of code lines as the parser's indenter sees them; comment lines take the
    level of the open block their own indentation reaches."""
    code = [i for i, line in enumerate(lines) if _is_code(line.text)]
    stack = [0]
    for index in code:
        line = lines[index]
        width = _indent(line.text)
        if width > stack[-1]:
            stack.append(width)
        else:
            while width < stack[-1]:
                stack.pop()
            if width != stack[-1]:
                raise ValueError(f"line {index + 1}: indentation matches no outer block")
        line.depth = len(stack) - 1
        line.kind = "code"
    for position, index in enumerate(code[:-1]):
        lines[index].opens = lines[code[position + 1]].depth > lines[index].depth
    # comments: snap to the levels open around them
    previous_depth, widths = 0, [0]
    next_code = iter(code)
    upcoming = next(next_code, None)
    for index, line in enumerate(lines):
        if upcoming is not None and index == upcoming:
            widths = widths[: line.depth] + [_indent(line.text)]
            previous_depth = line.depth
            upcoming = next(next_code, None)
            continue
        if not line.text.strip(_SPACE):
            continue
        line.kind = "comment"
        levels = list(widths)
        if upcoming is not None and lines[upcoming].depth > previous_depth:
            levels.append(_indent(lines[upcoming].text))
        width = _indent(line.text)
        line.depth = max([d for d, w in enumerate(levels) if w <= width], default=0)
        line.inside = upcoming is not None and lines[upcoming].depth > 0
        line.code, line.comment = "", line.text.strip(_SPACE)


def _is_code(text: str) -> bool:
    stripped = text.strip(_SPACE)
    return bool(stripped) and not stripped.startswith("#")


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip(" \t"))


# ----------------------------------------------------------- what each line is


def _classify(lines: list[_Line]) -> None:
    parents: list[str] = []  # kind of the line that opened each open block
    for line in lines:
        if line.kind != "code":
            continue
        parents = parents[: line.depth]
        parent = parents[-1] if parents else None
        line.kind = _kind(line.text.strip(_SPACE), line.depth, parent, line.opens)
        line.code, line.comment = _canonical(line.text.strip(_SPACE), line.kind)
        if line.opens:
            parents.append(line.kind)


def _kind(text: str, depth: int, parent: str | None, opens: bool) -> str:
    if depth == 0:
        if _SETTING.match(text):
            return "setting"
        if re.match(r"(character|location)(?![A-Za-z0-9_])", text):
            return "declaration"
        if re.match(r"(audio|image|video)(?![A-Za-z0-9_])", text):
            return "asset"
        if re.match(r"(INT\.?/EXT\.?|I/E\.?|INT\.?|EXT\.?)[ \t]", text):
            return "slugline"
        if text.startswith("SHOT"):
            return "shot"
        if _CUE.match(text):
            return "cue"  # on the film's timeline
        return "transition"
    if parent == "speaker":
        return "parenthetical" if _PARENTHETICAL.match(_split_comment(text, False)[0]) else "text"
    if parent == "shot":
        if _KEYED.match(text) or text.startswith("keyframe"):
            return "keyed"
        if _CUE.match(text):
            return "cue"
        if opens and _SPEAKER.match(_split_comment(text, False)[0]):
            return "speaker"
        return "text"
    return "keyed"


def _canonical(text: str, kind: str) -> tuple[str, str]:
    """The line's code with canonical spacing, and its comment."""
    code, comment = _split_comment(text, quotes=kind not in ("slugline", "parenthetical"))
    return _CANONICAL.get(kind, _as_written)(code), comment


def _split_comment(text: str, quotes: bool) -> tuple[str, str]:
    """Code and comment: `#` starts a comment, except inside "quotes" where the grammar
    allows them (free text and paths)."""
    inside = False
    for position, char in enumerate(text):
        if char == '"' and quotes:
            inside = not inside
        elif char == "#" and not inside:
            return text[:position].rstrip(_SPACE), text[position:].rstrip(_SPACE)
    return text.rstrip(_SPACE), ""


def _as_written(code: str) -> str:
    return code.strip(_SPACE)


def _tokens(code: str) -> str:
    """One space between the tokens of a line that holds no free text."""
    return " ".join(token for token in re.split(r"[ \t\f]+", code) if token)


def _setting(code: str) -> str:
    match = _FORMAT.match(code)
    if match:
        resolution, fps = match.groups()
        return f"format: {resolution}" + (f" @ {fps}" if fps else "")
    return _keyed(code)


def _keyed(code: str) -> str:
    match = _KEYFRAME.match(code)
    if match:
        return f"keyframe {match[1]}: {match[2].strip(_SPACE)}"
    match = _KEYED.match(code)
    if match is None:
        return code
    key, value = match.groups()
    if key == "camera":
        moves = [_tokens(move) for move in _THEN.split(value.strip(_SPACE))]
        return "camera: " + ", then ".join(moves)
    if key in ("angle", "tempo"):
        return f"{key}: {_tokens(value)}"
    return f"{key}: {value.strip(_SPACE)}"


def _declaration(code: str) -> str:
    match = _DECLARATION.match(code)
    return f"{match[1]} {match[2]}" if match else code


def _asset(code: str) -> str:
    match = _ASSET.match(code)
    return f"{match[1]} {match[2]}: {match[3].strip(_SPACE)}" if match else code


def _slugline(code: str) -> str:
    match = _SLUG.match(code)
    if match is None:
        return code
    prefix, location, time_of_day = match.groups()
    prefix = _SLUG_PREFIXES[prefix.replace(".", "")]  # `EXT DOCK – DUSK`: EXT. DOCK - DUSK
    return f"{prefix} {location.strip(_SPACE)} - {time_of_day.strip(_SPACE)}"


def _shot(code: str) -> str:
    match = _SHOT.match(code)
    if match is None:
        return code
    shot_id, size, subjects, duration, flags = match.groups()
    words = ["SHOT", shot_id, size]
    if subjects:
        words += ["on", ", ".join(name.strip(_SPACE) for name in subjects.split(","))]
    return " ".join(words + [duration] + ["continuous"] * flags.count("continuous"))


def _transition(code: str) -> str:
    match = _TIMED.match(code)
    if match:
        return f"{match[1]}: {match[2]}"
    match = _CUT.match(code)
    return match[0] if match else code


def _speaker(code: str) -> str:
    match = _SPEAKER.match(code)
    if match is None:
        return code
    tags = re.findall(r"\([^()]*\)", match[2])
    return " ".join([match[1], *tags])


def _parenthetical(code: str) -> str:
    match = _PARENTHETICAL.match(code)
    return f"({match[1].strip(_SPACE)})" if match else code


_CANONICAL = {
    "setting": _setting,
    "keyed": _keyed,
    "declaration": _declaration,
    "asset": _asset,
    "slugline": _slugline,
    "shot": _shot,
    "transition": _transition,
    "cue": _tokens,
    "speaker": _speaker,
    "parenthetical": _parenthetical,
}


# ----------------------------------------------------------------- layout


def _lay_out(lines: list[_Line]) -> str:
    """Join the lines with canonical indentation and blank lines."""
    units = _units(lines)
    out: list[str] = []
    previous_kind: str | None = None
    for blank_before, unit in units:
        kind = next((line.kind for line in unit if line.depth == 0 and line.code), "comment")
        if previous_kind is not None:
            apart = kind in _SECTIONS or previous_kind in _SECTIONS
            if apart or blank_before:
                out.append("")
        out += _block(unit)
        previous_kind = kind
    return "\n".join(out) + "\n" if out else ""


def _units(lines: list[_Line]) -> list[tuple[bool, list[_Line]]]:
    """Top-level units: a top-level code line with the lines nested under it, led by
    the comment lines right above it; and runs of top-level comments standing alone.
    Each with whether a blank line came before it."""
    units: list[tuple[bool, list[_Line]]] = []
    current: list[_Line] = []
    current_blank = blank = False
    pending: list[_Line] = []  # top-level comment lines not yet attached
    pending_blank = False

    def close() -> None:
        nonlocal current
        if current:
            units.append((current_blank, current))
        current = []

    for line in lines:
        if line.kind == "blank":
            if pending:  # comments standing alone
                close()
                units.append((pending_blank, pending))
                pending = []
            blank = True
        elif line.kind == "comment" and line.depth == 0 and not line.inside:
            if not pending:
                pending_blank = blank
            pending.append(line)
            blank = False
        elif line.kind == "comment" or line.depth > 0:
            if pending:  # top-level comments inside a block stay there
                current += pending
                pending = []
            if blank and current:
                current.append(_Line(""))
            current.append(line)
            blank = False
        else:
            close()
            current_blank = pending_blank if pending else blank
            current = pending + [line]
            pending, blank = [], False
    close()
    if pending:
        units.append((pending_blank, pending))
    return units


def _block(unit: list[_Line]) -> list[str]:
    out: list[str] = []
    opened = False
    for line in unit:
        if line.kind == "blank":
            if out and out[-1] != "" and not opened:
                out.append("")
            continue
        code = line.code
        text = code + ("  " + line.comment if code and line.comment else line.comment)
        out.append(INDENT * line.depth + text)
        opened = line.opens
    while out and out[-1] == "":
        out.pop()
    return out


__all__ = ["format_text", "is_formatted"]
