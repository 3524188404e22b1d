"""Diagnostics: the registry of codes, the record, and its renderers.

A diagnostic is recorded first and rendered later, so the human, JSON and
GitHub renderers are separate functions over the same records.  Codes are
stable: tests and docs refer to them by name.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel

from .source import Span, split_lines


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Code:
    code: str
    name: str
    severity: Severity
    summary: str


REGISTRY: dict[str, Code] = {}


def _register(code: str, name: str, severity: Severity, summary: str) -> None:
    assert name not in REGISTRY, name
    REGISTRY[name] = Code(code, name, severity, summary)


_E, _W = Severity.ERROR, Severity.WARNING
for _entry in [
    # reading the text
    ("E001", "syntax-error", _E, "the grammar cannot read the line"),
    ("E002", "tab-indentation", _E, "a tab in indentation; indent with spaces"),
    ("E003", "bad-indentation", _E, "an indent that matches no outer level or opens no block"),
    ("E004", "invalid-encoding", _E, "the file is not UTF-8 text"),
    ("E005", "unknown-shot-size", _E, "a shot size the language does not know"),
    ("E006", "bad-camera-move", _E, "a camera move with the wrong direction or argument"),
    ("E007", "control-character", _E, "a control character (NUL, ESC, …) in a script"),
    # names
    ("E010", "unknown-name", _E, "a name that is declared nowhere"),
    ("E011", "unknown-location", _E, "a name used as a location that is not one"),
    ("E012", "unknown-character", _E, "a character name that is declared nowhere"),
    ("E013", "unknown-asset", _E, "an asset name that is declared nowhere"),
    ("E014", "duplicate-declaration", _E, "a name declared twice"),
    ("E015", "duplicate-shot-id", _E, "two shots with the same id"),
    ("E016", "duplicate-setting", _E, "a header line given twice"),
    ("E017", "missing-title", _E, "the top script has no title"),
    ("E018", "unknown-backend", _E, "a backend name that is not registered"),
    ("E019", "wrong-kind", _E, "a name or file of the wrong kind for its place"),
    # files
    ("E020", "missing-file", _E, "a file the script names does not exist"),
    ("E021", "unreadable-file", _E, "a file exists but cannot be read as its kind"),
    ("E022", "path-outside-project", _E, "a path that leaves the project root"),
    ("E023", "import-cycle", _E, "files that import each other"),
    ("E024", "unusable-path", _E, "a path with control or look-alike characters, or too long"),
    # shots, time and references
    ("E030", "shot-too-long", _E, "a shot longer than its backend can generate"),
    ("E031", "transition-too-long", _E, "a transition longer than a shot beside it can spare"),
    ("E032", "cue-outside-asset", _E, "a cue that reads past the end of its audio"),
    ("E033", "too-many-references", _E, "more reference assets than one shot may take"),
    ("E034", "continuous-first-shot", _E, "the first shot cannot continue a previous one"),
    ("E035", "invalid-value", _E, "a number, time or size out of range"),
    ("E036", "misplaced-transition", _E, "a transition where none can stand"),
    ("E037", "unsupported-format", _E, "a resolution or frame rate the backend cannot make"),
    ("E038", "limit-exceeded", _E, "a film, shot, frame size, file or line past a safety limit"),
    # warnings a script editor wants
    ("W101", "free-text-location", _W, "a scene location that is not a declared location"),
    ("W102", "unused-declaration", _W, "a declaration no shot uses"),
    ("W103", "subject-not-in-shot", _W, "a character framed with `on` who never appears"),
    ("W104", "dialogue-too-long", _W, "more dialogue than the shot can hold"),
    ("W105", "cue-after-shot", _W, "a cue that starts after its shot ends"),
    ("W106", "small-reference", _W, "a reference image smaller than half the output"),
    ("W107", "unknown-capitalised-name", _W, "a capitalised word close to a declared name"),
    ("W108", "no-shots", _W, "a script with nothing to film"),
    ("W109", "unsupported-conditioning", _W, "an input the backend cannot take"),
]:
    _register(*_entry)


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
    name: str,
    span: Span,
    message: str,
    *,
    label: str = "",
    help: str | None = None,
    notes: Iterable[str] = (),
) -> Diagnostic:
    entry = REGISTRY[name]
    return Diagnostic(
        code=entry.code,
        name=entry.name,
        severity=entry.severity,
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

    def add(self, name: str, span: Span, message: str, **extra) -> Diagnostic:
        diagnostic = make(name, span, message, **extra)
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

_COLOURS = {Severity.ERROR: "\x1b[1;31m", Severity.WARNING: "\x1b[1;33m"}
_BOLD, _BLUE, _RESET = "\x1b[1m", "\x1b[1;34m", "\x1b[0m"


def render_human(
    diagnostics: Iterable[Diagnostic], sources: Mapping[str, str], colour: bool = False
) -> str:
    """rustc-style text: the header, the location, the line, a caret, notes and help."""
    paint: Callable[[str, str], str] = (
        (lambda s, c: f"{c}{s}{_RESET}") if colour else (lambda s, c: s)
    )
    blocks = []
    for d in diagnostics:
        text = _source_line(sources.get(d.span.file), d.span.line)
        gutter = str(d.span.line)
        pad = " " * len(gutter)
        lines = [
            paint(f"{d.severity}[{d.code} {d.name}]", _COLOURS[d.severity])
            + paint(f": {d.message}", _BOLD),
            paint(f"{pad}--> ", _BLUE) + str(d.span),  # aligned with the gutter, as rustc does
        ]
        if text is not None:
            width = (
                max(1, d.span.end_column - d.span.column) if d.span.end_line == d.span.line else 1
            )
            width = min(width, max(1, len(text) - d.span.column + 1))
            caret = " " * (d.span.column - 1) + "^" * width
            lines += [
                paint(f"{pad} |", _BLUE),
                paint(f"{gutter} | ", _BLUE) + text.replace("\t", " "),
                paint(f"{pad} | ", _BLUE)
                + paint(caret + (f" {d.label}" if d.label else ""), _COLOURS[d.severity]),
            ]
        lines += [f"  = note: {note}" for note in d.notes]
        if d.help:
            lines.append(paint("  = help: ", _BOLD) + d.help)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + ("\n" if blocks else "")


def _source_line(text: str | None, number: int) -> str | None:
    if text is None:
        return None
    lines = split_lines(text)
    return lines[number - 1] if 1 <= number <= len(lines) else None


def render_json(diagnostics: Iterable[Diagnostic]) -> str:
    return json.dumps([d.model_dump(mode="json") for d in diagnostics], indent=2) + "\n"


def render_github(diagnostics: Iterable[Diagnostic]) -> str:
    """GitHub Actions workflow commands, which annotate the pull request's diff."""
    out = []
    for d in diagnostics:
        kind = "error" if d.severity is Severity.ERROR else "warning"
        message = d.message + (f" (help: {d.help})" if d.help else "")
        message = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        out.append(
            f"::{kind} file={d.span.file},line={d.span.line},col={d.span.column},"
            f"endLine={d.span.end_line},endColumn={d.span.end_column},"
            f"title={d.code} {d.name}::{message}"
        )
    return "\n".join(out) + ("\n" if out else "")
