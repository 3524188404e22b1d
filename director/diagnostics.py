"""Diagnostics: the registry of codes, the record, and its renderers.

A diagnostic is recorded first and rendered later, so the human, JSON and
GitHub renderers are separate functions over the same records.  The codes
themselves are typed constants in `codes.py`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from pydantic import BaseModel

from .codes import REGISTRY, Code, Severity
from .source import Span, split_lines

__all__ = ["REGISTRY", "Code", "Diagnostic", "Diagnostics", "Severity", "make"]


class Diagnostic(BaseModel):
    code: str
    name: str
    severity: Severity
    message: str
    span: Span
    label: str = ""
    notes: list[str] = []
    help: str | None = None

    @property
    def sort_key(self) -> tuple:
        return (self.span.file, self.span.line, self.span.column, self.code)


def make(
    code: Code,
    span: Span,
    message: str,
    *,
    label: str = "",
    help: str | None = None,
    notes: Iterable[str] = (),
) -> Diagnostic:
    return Diagnostic(
        code=code.code,
        name=code.name,
        severity=code.severity,
        message=message,
        span=span,
        label=label,
        notes=list(notes),
        help=help,
    )


class Diagnostics:
    """What a stage found, in the order of the source."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def add(self, code: Code, span: Span, message: str, **extra) -> Diagnostic:
        diagnostic = make(code, span, message, **extra)
        self.items.append(diagnostic)
        return diagnostic

    def extend(self, items: Iterable[Diagnostic]) -> None:
        self.items.extend(items)

    def has_errors(self, strict: bool = False) -> bool:
        return any(d.severity is Severity.ERROR or strict for d in self.items)

    def sorted(self) -> list[Diagnostic]:
        return sorted(self.items, key=lambda d: d.sort_key)


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A help line for a misspelt name, or None when nothing is close."""
    import difflib

    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    if not matches and word.upper() != word:
        matches = difflib.get_close_matches(word.upper(), list(candidates), n=1, cutoff=0.6)
    return f'did you mean "{matches[0]}"?' if matches else None


# ------------------------------------------------------------------ renderers

DEFAULT_PER_FILE = 50
"""How many diagnostics of one file are rendered as text; the rest are counted."""

_LINE_WINDOW = 120  # characters of a long source line shown, around the span
_TEXT_LIMIT = 400  # characters of one message, label, note or help shown

_COLOURS = {Severity.ERROR: "\x1b[1;31m", Severity.WARNING: "\x1b[1;33m"}
_BOLD, _BLUE, _RESET = "\x1b[1m", "\x1b[1;34m", "\x1b[0m"

# C0 and C1 controls and DEL (a terminal obeys them: ESC sequences retitle the
# window or clear the screen), line and paragraph separators, and the bidi
# controls that make a line read differently from its bytes.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_SHORT_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match[0]
    code = ord(char)
    return _SHORT_ESCAPES.get(char) or (f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}")


def visible(text: str, limit: int | None = _TEXT_LIMIT) -> str:
    """User text made safe to print: control characters written as escapes (`\\x1b`).

    Longer text is cut at `limit` characters, so no single record can make
    the output grow with the size of the input.
    """
    if limit is not None and len(text) > limit:
        text = text[:limit] + "…"
    return _UNSAFE.sub(_escape, text)


def visible_lines(text: str) -> str:
    """As `visible`, uncut, but line breaks kept: for a message of several lines."""
    return "\n".join(visible(line, limit=None) for line in text.split("\n"))


@dataclass
class Selection:
    """The diagnostics to render, and per file how many were left out, by severity."""

    shown: list[Diagnostic]
    left_out: dict[str, Counter[Severity]]

    def summaries(self) -> list[tuple[str, str]]:
        """(file, "3 more errors and 120 more warnings") for each file with some left out."""
        return [(file, _more(counts)) for file, counts in self.left_out.items()]


def select_per_file(diagnostics: Iterable[Diagnostic], per_file: int) -> Selection:
    """At most `per_file` diagnostics of each file (0: all), errors kept before warnings
    so that a flood of warnings never hides an error; the order is kept."""
    items = list(diagnostics)
    if per_file <= 0:
        return Selection(items, {})
    by_file: dict[str, list[int]] = {}
    for index, d in enumerate(items):
        by_file.setdefault(d.span.file, []).append(index)
    keep: set[int] = set()
    left_out: dict[str, Counter[Severity]] = {}
    for file, indices in by_file.items():
        ranked = sorted(indices, key=lambda i: items[i].severity is not Severity.ERROR)
        keep.update(ranked[:per_file])
        if dropped := ranked[per_file:]:
            left_out[file] = Counter(items[i].severity for i in dropped)
    return Selection([d for i, d in enumerate(items) if i in keep], left_out)


def _more(counts: Counter[Severity]) -> str:
    parts = []
    for severity in (Severity.ERROR, Severity.WARNING):
        if n := counts.get(severity, 0):
            parts.append(f"{n:,} more {severity.value}{'s' * (n != 1)}")
    return " and ".join(parts)


class _Lines:
    """Each source split into lines once, however many diagnostics point into it."""

    def __init__(self, sources: Mapping[str, str]) -> None:
        self.sources = sources
        self.split: dict[str, list[str]] = {}

    def get(self, file: str, number: int) -> str | None:
        if file not in self.split:
            text = self.sources.get(file)
            if text is None:
                return None
            self.split[file] = split_lines(text)
        lines = self.split[file]
        return lines[number - 1] if 1 <= number <= len(lines) else None


def _excerpt(text: str, span: Span) -> tuple[str, int, int]:
    """The part of a source line shown (escaped, at most about `_LINE_WINDOW` characters
    around the span), and the caret's offset and width in it."""
    start = min(max(span.column - 1, 0), len(text))
    stop = span.end_column - 1 if span.end_line == span.line else start + 1
    stop = min(max(stop, start + 1), len(text))
    first, last = 0, len(text)
    if len(text) > _LINE_WINDOW:
        first = max(0, min(start - _LINE_WINDOW // 3, len(text) - _LINE_WINDOW))
        last = first + _LINE_WINDOW
    lead = "…" if first > 0 else ""
    before = _shown_source(text[first:start])
    marked = _shown_source(text[start : min(stop, last)])
    after = _shown_source(text[min(stop, last) : last])
    tail = "…" if last < len(text) else ""
    return lead + before + marked + after + tail, len(lead + before), max(1, len(marked))


def _shown_source(text: str) -> str:
    return visible(text.replace("\t", " "), limit=None)  # a tab is one column, as the parser counts


def render_human(
    diagnostics: Iterable[Diagnostic],
    sources: Mapping[str, str],
    colour: bool = False,
    per_file: int = DEFAULT_PER_FILE,
) -> str:
    """rustc-style text: the header, the location, the line, a caret, notes and help.

    Linear in the number of diagnostics: each source is split once, a long
    line is shown as a window around the span, and past `per_file` a file's
    diagnostics are counted, not shown.
    """
    paint: Callable[[str, str], str] = (
        (lambda s, c: f"{c}{s}{_RESET}") if colour else (lambda s, c: s)
    )
    selection = select_per_file(diagnostics, per_file)
    lines_of = _Lines(sources)
    blocks = [
        _human_block(d, lines_of.get(d.span.file, d.span.line), paint) for d in selection.shown
    ]
    blocks += [
        paint("note", _BOLD) + f": {more} in {visible(file)} not shown "
        f"(at most {per_file} per file; --max-diagnostics 0 shows every one)"
        for file, more in selection.summaries()
    ]
    return "\n\n".join(blocks) + ("\n" if blocks else "")


def _human_block(d: Diagnostic, text: str | None, paint: Callable[[str, str], str]) -> str:
    gutter = str(d.span.line)
    pad = " " * len(gutter)
    lines = [
        paint(f"{d.severity}[{d.code} {d.name}]", _COLOURS[d.severity])
        + paint(f": {visible(d.message)}", _BOLD),
        paint(f"{pad}--> ", _BLUE) + visible(str(d.span)),  # aligned with the gutter, as rustc does
    ]
    if text is not None:
        shown, offset, width = _excerpt(text, d.span)
        caret = " " * offset + "^" * width
        label = f" {visible(d.label)}" if d.label else ""
        lines += [
            paint(f"{pad} |", _BLUE),
            paint(f"{gutter} | ", _BLUE) + shown,
            paint(f"{pad} | ", _BLUE) + paint(caret + label, _COLOURS[d.severity]),
        ]
    lines += [f"  = note: {visible(note)}" for note in d.notes]
    if d.help:
        lines.append(paint("  = help: ", _BOLD) + visible(d.help))
    return "\n".join(lines)


def render_json(diagnostics: Iterable[Diagnostic]) -> str:
    """Every diagnostic, uncapped and unescaped: JSON quotes control characters itself."""
    return json.dumps([d.model_dump(mode="json") for d in diagnostics], indent=2) + "\n"


def _escape_data(text: str) -> str:
    """A workflow command's message: `%`, CR and LF percent-encoded (`%` first)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    """A workflow command's property value: as a message, and `:` and `,` too."""
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(diagnostics: Iterable[Diagnostic], per_file: int = DEFAULT_PER_FILE) -> str:
    """GitHub Actions workflow commands, which annotate the pull request's diff.

    Escaped as the runner unescapes them, so a comma, colon, percent sign or
    newline in a file name or message can neither move the annotation to
    another file nor start a command of its own.
    """
    selection = select_per_file(diagnostics, per_file)
    out = []
    for d in selection.shown:
        kind = "error" if d.severity is Severity.ERROR else "warning"
        message = visible(d.message) + (f" (help: {visible(d.help)})" if d.help else "")
        properties = {
            "file": d.span.file,
            "line": d.span.line,
            "col": d.span.column,
            "endLine": d.span.end_line,
            "endColumn": d.span.end_column,
            "title": f"{d.code} {d.name}",
        }
        out.append(_workflow_command(kind, properties, message))
    for file, more in selection.summaries():
        message = f"{more} not shown (at most {per_file} per file); run director check locally"
        out.append(_workflow_command("notice", {"file": file}, message))
    return "\n".join(out) + ("\n" if out else "")


def _workflow_command(kind: str, properties: Mapping[str, object], message: str) -> str:
    listed = ",".join(f"{key}={_escape_property(str(value))}" for key, value in properties.items())
    return f"::{kind} {listed}::{_escape_data(message)}"
