"""Diagnostics: the registry of codes, the record, and its renderers.

A diagnostic is recorded first and rendered later, so the human, JSON and
GitHub renderers are separate functions over the same records.  The codes
themselves are typed constants in `codes.py`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping

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
