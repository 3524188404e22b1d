"""Reading project files: the one confined, bounded reader every command uses.

The checker (and with it `check`, `plan`, `compile`), the language server,
`import`, `fmt`, `score` and `export` read what a user points them at through
here, under one rule:

- where a script names the file, the path stays inside the project root unless
  `--allow-outside` (`source.resolve_path` is the path half of the rule);
- only regular files are read: a folder, a FIFO, a device or a socket is
  refused before a single byte is read (a FIFO is opened without blocking, so
  nothing waits on a writer that never comes; `/dev/zero` is never read);
- a plan (`export`) is read up to `MAX_PLAN_BYTES` and no further;
- a script is read up to `Limits.max_bytes` and no further, and its text is
  held to `Limits.max_line_length` and cleared of control characters before
  the lexer sees it.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from . import codes
from .diagnostics import Diagnostic, make
from .source import SourceFile, Span


@dataclass(frozen=True)
class Limits:
    """Ceilings that stop a hostile or mistaken script from exhausting the machine
    before a single frame is made.  Each has a command-line flag to raise it."""

    max_minutes: float = 240.0  # the whole film; --max-minutes
    max_shots: int = 5000  # --max-shots, counted while parsing
    max_shot_seconds: float = 600.0  # one shot; --max-shot-seconds
    max_side: int = 4096  # width or height in pixels; --max-side
    max_bytes: int = 8_000_000  # one script file, read no further; --max-bytes
    max_line_length: int = 10_000  # characters in one line, before lexing; --max-line-length
    max_import_depth: int = 64  # files importing files; --max-import-depth


DEFAULT_LIMITS = Limits()

# A plan file (`director export PLAN`) is read no further than this.  The
# examples' plans run 5.4 to 6.7 KB a shot, so the longest script the limits
# let through (5000 shots) plans to about 35 MB; the ceiling leaves room for
# long prompts and still refuses a file that is no plan before it fills memory.
MAX_PLAN_BYTES = 256_000_000


class Unreadable(Exception):
    """A path that is not a regular file this process may read; the message says why."""


class TooLarge(Exception):
    """A file longer than the limit it is read under."""

    def __init__(self, size: int, limit: int):
        super().__init__(f"it is over {limit:,} bytes")
        self.size = size
        self.limit = limit


_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def not_a_regular_file(path: Path) -> str | None:
    """Why `path` (symlinks followed) cannot be read as a file, or None when it can.

    For paths handed to libraries that open them themselves (PyAV, Pillow): a
    FIFO would block them for good and a device would stream forever."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "there is no file there"
    except OSError as error:
        return error.strerror or str(error)
    if stat.S_ISREG(mode):
        return None
    return f"it is {_kind(mode)}, not a file"


def read_bytes(path: Path, max_bytes: int) -> bytes:
    """The bytes of the regular file at `path`, if there are at most `max_bytes`.

    Raises Unreadable for anything but a regular file one may read, TooLarge past
    the limit (a file that reports no size, as under /proc, is read only as far as
    the limit and one byte)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        descriptor = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except IsADirectoryError:
        raise Unreadable("it is a folder, not a file") from None
    except FileNotFoundError:
        raise Unreadable("there is no file there") from None
    except OSError as error:
        raise Unreadable(error.strerror or str(error)) from None
    with os.fdopen(descriptor, "rb", buffering=0) as handle:
        mode = os.fstat(descriptor)
        if not stat.S_ISREG(mode.st_mode):
            raise Unreadable(f"it is {_kind(mode.st_mode)}, not a file")
        if mode.st_size > max_bytes:
            raise TooLarge(mode.st_size, max_bytes)
        data = _read_at_most(handle, max_bytes + 1)
    if len(data) > max_bytes:
        raise TooLarge(len(data), max_bytes)
    return data


def _read_at_most(handle, count: int) -> bytes:
    chunks = []
    while count > 0 and (chunk := handle.read(min(count, 1 << 20))):
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


# ------------------------------------------------------------- script text

# C0 and C1 control characters, but tab, line feed, form feed and carriage return:
# nothing a script means, and NUL or ESC would be copied into subtitles and prompts.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")


@dataclass
class ScriptText:
    """A script as read: its source for the parser (None when it may not be parsed),
    the text to quote in messages, and what reading it found."""

    source: SourceFile | None
    shown: str
    problems: list[Diagnostic] = field(default_factory=list)


def read_script(path: Path, display: str, limits: Limits, site: Span | None = None) -> ScriptText:
    """Read the script at `path` from disk under `limits`.  Problems with the file as
    a whole are reported at `site` (the line that imports it) or at its first line."""
    where = site or Span(file=display, line=1, column=1, end_line=1, end_column=2)
    try:
        data = read_bytes(path, limits.max_bytes)
    except TooLarge as error:
        return ScriptText(None, "", [_too_large(where, display, error)])
    except Unreadable as error:
        problem = make(codes.UNREADABLE_FILE, where, f"{display} cannot be read: {error}")
        return ScriptText(None, "", [problem])
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark, as Notepad writes, is not text
    except UnicodeDecodeError as error:
        return ScriptText(None, data.decode("utf-8", "replace"), [_not_utf8(data, error, display)])
    return script_text(path, display, text, limits)


def old_mac_lines(text: str) -> str:
    """Text whose lines end in CR alone (old Mac OS) with those lines ended by LF; the
    offsets stay the same. Any other text is returned as it is."""
    if "\r" in text and "\n" not in text:
        return text.replace("\r", "\n")
    return text


def script_text(path: Path, display: str, text: str, limits: Limits) -> ScriptText:
    """Hold text (read from disk or an editor's buffer) to the limits before lexing."""
    text = old_mac_lines(text)
    # An editor's buffer is held to the byte limit as a file is (for a file read from
    # disk this costs one encoding of text already under the limit).
    if (size := _utf8_size(text)) > limits.max_bytes:
        where = Span(file=display, line=1, column=1, end_line=1, end_column=2)
        return ScriptText(None, "", [_too_large(where, display, TooLarge(size, limits.max_bytes))])
    lines = text.split("\n")
    longest = max(lines, key=len)
    if len(longest) > limits.max_line_length:
        return _long_lines(display, lines, limits.max_line_length)
    return ScriptText(SourceFile(path, display, text), text, _control_characters(display, text))


def _utf8_size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _too_large(where: Span, display: str, error: TooLarge) -> Diagnostic:
    return make(
        codes.LIMIT_EXCEEDED,
        where,
        f"{display} is larger than the limit of {error.limit:,} bytes",
        help="split it into files that import each other, or raise the limit with "
        f"--max-bytes {error.size}",
    )


def _long_lines(display: str, lines: list[str], limit: int) -> ScriptText:
    """The first line over the limit, reported; the text to quote is cut at the limit
    so that no message repeats megabytes of it."""
    number = next(n for n, line in enumerate(lines, start=1) if len(line) > limit)
    length = len(lines[number - 1])
    span = Span(file=display, line=number, column=limit + 1, end_line=number, end_column=limit + 2)
    problem = make(
        codes.LIMIT_EXCEEDED,
        span,
        f"line {number} is {length:,} characters long, more than the limit of {limit:,}",
        label="the limit ends here",
        help="break it into several lines or shots, or raise the limit with "
        f"--max-line-length {length}",
    )
    shown = "\n".join(line[:limit] + "…" if len(line) > limit else line for line in lines)
    return ScriptText(None, shown, [problem])


MAX_CONTROL_REPORTS = 10  # lines reported one by one; the last counts the rest


def _control_characters(display: str, text: str) -> list[Diagnostic]:
    """An error at the first control character of each line that holds one (the
    first ten such lines; the tenth counts the rest)."""
    found: list[Diagnostic] = []
    lines_with = 0
    line, counted_to, last_line = 1, 0, 0
    for match in _CONTROL.finditer(text):
        line += text.count("\n", counted_to, match.start())
        counted_to = match.start()
        if line == last_line:
            continue
        last_line = line
        lines_with += 1
        if len(found) < MAX_CONTROL_REPORTS:
            column = match.start() - (text.rfind("\n", 0, match.start()) + 1) + 1
            found.append(_control_character(display, line, column, match[0]))
    if lines_with > len(found):
        more = f" (and control characters on {lines_with - len(found):,} more lines)"
        found[-1] = found[-1].model_copy(update={"message": found[-1].message + more})
    return found


def _control_character(display: str, line: int, column: int, char: str) -> Diagnostic:
    return make(
        codes.CONTROL_CHARACTER,
        Span(file=display, line=line, column=column, end_line=line, end_column=column + 1),
        f"the control character {char!r} is not text",
        label="here",
        help="delete it: a script holds text, tabs and line breaks only",
    )


def _not_utf8(data: bytes, error: UnicodeDecodeError, display: str) -> Diagnostic:
    line = data[: error.start].count(b"\n") + 1
    line_start = data.rfind(b"\n", 0, error.start) + 1
    column = len(data[line_start : error.start].decode("utf-8", errors="replace")) + 1
    return make(
        codes.INVALID_ENCODING,
        Span(file=display, line=line, column=column, end_line=line, end_column=column + 1),
        f"byte 0x{data[error.start]:02x} is not UTF-8",
        help="save the file as UTF-8",
    )
