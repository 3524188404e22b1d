"""Source files, spans and the project's path rules.

Every later stage points back into the script through a `Span`; every path a
script names is resolved here, so the confinement rule lives in one place.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict


class Span(BaseModel):
    """A region of a source file; lines and columns count from 1."""

    model_config = ConfigDict(frozen=True)

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass
class SourceFile:
    """A script's text, with the name it is shown under in messages."""

    path: Path
    display: str
    text: str
    _lines: list[str] | None = field(default=None, repr=False)

    def line(self, number: int) -> str:
        if self._lines is None:
            self._lines = split_lines(self.text)
        if 1 <= number <= len(self._lines):
            return self._lines[number - 1]
        return ""

    def span(self, line: int, column: int, end_column: int | None = None) -> Span:
        end = end_column if end_column is not None else column + 1
        return Span(file=self.display, line=line, column=column, end_line=line, end_column=end)

    def whole_line(self, line: int) -> Span:
        text = self.line(line)
        start = len(text) - len(text.lstrip()) + 1
        return self.span(line, start, max(len(text) + 1, start + 1))


def split_lines(text: str) -> list[str]:
    """Lines as the grammar counts them: broken at \n only (a \r before it is dropped).

    str.splitlines also breaks at \v, \f, U+2028 and others, which the parser
    treats as text; counting them would put carets on the wrong line.
    """
    return [line.removesuffix("\r") for line in text.split("\n")]


def display_name(path: Path) -> str:
    """The shortest honest name for a file: relative to the working directory if inside it."""
    try:
        return (
            os.path.relpath(path).replace(os.sep, "/") if _is_under(path, Path.cwd()) else str(path)
        )
    except ValueError:  # a different drive on Windows
        return str(path)


def _is_under(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


class PathEscape(Exception):
    """A script path that leaves the project root."""


def resolve_path(raw: str, relative_to: Path, root: Path, allow_outside: bool = False) -> Path:
    """Resolve a path written in a script against the folder of the file naming it.

    Symlinks are resolved before the containment test, so a link that points out
    of the project counts as leaving it.  Raises PathEscape with the reason.
    """
    if "\0" in raw:
        raise PathEscape("the path contains a NUL byte")
    if "://" in raw:
        raise PathEscape("URLs are not files; download the asset into the project")
    candidate = Path(raw)
    if candidate.is_absolute() and not allow_outside:
        raise PathEscape("absolute paths are not allowed; write it relative to the script")
    resolved = (relative_to / candidate).resolve()
    if not allow_outside and not _is_under(resolved, root):
        raise PathEscape(f"it resolves to {resolved}, outside the project root {root}")
    return resolved
