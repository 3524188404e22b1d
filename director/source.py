"""Source files, spans and the project's path rules.

Every later stage points back into the script through a `Span`; every path a
script names is resolved here, so the confinement rule lives in one place.
"""

from __future__ import annotations

import os
import re
import unicodedata
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


class UnusablePath(Exception):
    """A script path no file system should be asked about: control or look-alike
    characters, Windows separators, names too long.  `offset` is the index of the
    offending character in the path as written, when there is one."""

    def __init__(self, reason: str, offset: int | None = None):
        super().__init__(reason)
        self.offset = offset


NAME_MAX = 255  # bytes in one file or folder name (ext4, APFS, NTFS, tmpfs)
PATH_MAX = 4096  # bytes in a whole path (Linux)
# Characters drawn like '/', '\\' or '.' that are none of them, so that `refs∕..∕x`
# reads as a path out of the folder but names a file in it (or the reverse).
# NFKC catches the compatibility forms (fullwidth, small, leaders); these have none.
LOOK_ALIKES = {
    "\u2215": "/",  # DIVISION SLASH
    "\u2044": "/",  # FRACTION SLASH
    "\u2571": "/",  # BOX DRAWINGS LIGHT DIAGONAL UPPER RIGHT TO LOWER LEFT
    "\u29f8": "/",  # BIG SOLIDUS
    "\u1735": "/",  # PHILIPPINE SINGLE PUNCTUATION
    "\u0338": "/",  # COMBINING LONG SOLIDUS OVERLAY
    "\u2216": "\\",  # SET MINUS
    "\u29f5": "\\",  # REVERSE SOLIDUS OPERATOR
    "\u29f9": "\\",  # BIG REVERSE SOLIDUS
    "\u3002": ".",  # IDEOGRAPHIC FULL STOP
    "\uff61": ".",  # HALFWIDTH IDEOGRAPHIC FULL STOP
}
URL_SCHEMES = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*://|(?:file|data|https?|ftp|s3|gs|hf):)")
WINDOWS_DRIVE = re.compile(r"^[a-zA-Z]:")


def check_path_text(raw: str) -> None:
    """Reject a path by its text alone, before the file system sees it.

    Raises PathEscape for URLs (even with --allow-outside: an asset is a file),
    UnusablePath for what no portable project
    should name: NUL and other control or invisible characters, look-alikes of
    '/', '\\' and '.', backslashes, and names or paths longer than file systems
    hold.
    """
    for index, char in enumerate(raw):
        if char == "\0":
            raise UnusablePath("the path contains a NUL byte", index)
        category = unicodedata.category(char)
        if category in ("Cc", "Cf", "Zl", "Zp"):
            name = unicodedata.name(char, f"U+{ord(char):04X}")
            raise UnusablePath(f"the path contains an invisible character ({name})", index)
        like = LOOK_ALIKES.get(char) or _nfkc_separator(char)
        if like is not None:
            name = unicodedata.name(char, f"U+{ord(char):04X}")
            raise UnusablePath(
                f"{char!r} (U+{ord(char):04X} {name}) looks like {like!r} but is not; "
                f"write a plain {like!r}",
                index,
            )
    if URL_SCHEMES.match(raw):
        raise PathEscape("URLs are not files; download the asset into the project")
    if "\\" in raw:
        raise UnusablePath(
            "'\\' separates folders only on Windows; write '/' between folders",
            raw.index("\\"),
        )
    size = len(raw.encode("utf-8", "surrogatepass"))
    if size > PATH_MAX:
        raise UnusablePath(f"the path is {size} bytes long; file systems allow {PATH_MAX}")
    offset = 0
    for part in raw.split("/"):
        length = len(part.encode("utf-8", "surrogatepass"))
        if length > NAME_MAX:
            raise UnusablePath(
                f"a name in the path is {length} bytes long; file systems allow {NAME_MAX}",
                offset,
            )
        offset += len(part) + 1


def _nfkc_separator(char: str) -> str | None:
    """The separator or dot a compatibility character stands for ('．' → '.'), if any."""
    if char.isascii():
        return None
    normal = unicodedata.normalize("NFKC", char)
    if normal != char and any(c in normal for c in "/\\."):
        return normal
    return None


def resolve_path(raw: str, relative_to: Path, root: Path, allow_outside: bool = False) -> Path:
    """Resolve a path written in a script against the folder of the file naming it.

    The text is checked first (`check_path_text`).  Symlinks are resolved before
    the containment test, so a link that points out of the project counts as
    leaving it.  Raises PathEscape or UnusablePath with the reason.
    """
    check_path_text(raw)
    candidate = Path(raw)
    if not allow_outside:
        if candidate.is_absolute() or WINDOWS_DRIVE.match(raw):
            raise PathEscape("absolute paths are not allowed; write it relative to the script")
        if raw == "~" or raw.startswith("~/"):
            raise PathEscape("'~' would be a home folder; write the path relative to the script")
    try:
        resolved = (relative_to / candidate).resolve()
    except RuntimeError:  # Python 3.11 and 3.12 report a symlink loop so
        raise UnusablePath("it is a loop of symbolic links") from None
    except OSError as error:  # a symlink loop (3.13), a name the file system rejects
        raise UnusablePath(f"it cannot be resolved: {error.strerror or error}") from None
    if len(bytes(resolved)) > PATH_MAX:
        raise UnusablePath(f"it resolves to a path longer than {PATH_MAX} bytes")
    if not allow_outside and not _is_under(resolved, root):
        raise PathEscape(f"it resolves to {resolved}, outside the project root {root}")
    return resolved
