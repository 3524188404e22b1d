"""Writer's habits in a shot's action lines: near-misses that would lose content silently.

The grammar reads each of these as free action text, so nothing is lost to the
parser, but the writer meant something else and the film would not do it:

- dialogue written flush under the speaker's name (it becomes action: the
  line is neither spoken nor subtitled);
- screenplay-chat dialogue, `NELL: You'll take me?`;
- a cue with a word the language does not know, `sound HORN from 1s` (the
  sound never plays);
- a declared name in lower case, `nell steps aboard` (the character is not in
  the shot).

Each becomes a located warning whose `help:` is the line as it should be
written, valid as it stands.  One entry function, `check_habits`, called by the
checker once per shot body.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from . import codes
from . import syntax as ast
from .names import WRITTEN_PATTERN, written_key
from .source import Span, split_lines

CUE_KINDS = ("music", "sfx", "ambience")
# A cue's options, as the grammar reads them after the asset's name.
_CUE_REST = re.compile(r"(?:\s+(?:from|for|in|loop|fade|gain|duck)\b.*)?$")
# A name, or a written form (MRS. O'BRIEN), then a colon and words.
_CHAT = re.compile(rf"({WRITTEN_PATTERN})\s*:\s*(\S.*)$")

Emit = Callable[..., object]  # Diagnostics.add(code, span, message, help=...)


@dataclass(frozen=True)
class Declared:
    """The film's names that the habits are read against; made once per check."""

    characters: frozenset[str]
    audio_assets: frozenset[str]
    # A character's written form (`display:`), as names.written_key folds it → the name.
    written: dict[str, str] = field(default_factory=dict)
    # A character's name in lower case → the name (names of three letters or more).
    lowered: dict[str, str] = field(default_factory=dict)
    # Finds any of them, in any case, as a word: one search at C speed per action line.
    any_lowered: re.Pattern[str] | None = None

    @classmethod
    def of(cls, characters, audio_assets, written: dict[str, str] | None = None) -> Declared:
        lowered = {n.lower(): n for n in characters if len(n) > 2 and n.lower() != n}
        words = "|".join(re.escape(n) for n in sorted(lowered, key=len, reverse=True))
        finder = re.compile(rf"(?<![\w'])(?:{words})(?![\w'])", re.I) if words else None
        return cls(
            frozenset(characters), frozenset(audio_assets), dict(written or {}), lowered, finder
        )

    def speaks(self, name: str) -> bool:
        """Is `name` a character, by its name or its written form?"""
        return name in self.characters or written_key(name) in self.written


def check_habits(items: Sequence[object], declared: Declared, emit: Emit) -> None:
    """Warn, with a fix that checks, about the habits above in one shot's body."""
    previous: ast.Action | None = None
    for item in items:
        if isinstance(item, ast.Action):
            _flush_dialogue(previous, item, declared, emit)
            _chat(item, declared, emit)
            _cue_word(item, declared.audio_assets, emit)
            _lower_case_names(item, declared, emit)
            previous = item
        else:
            previous = None


def _speaker(text: str, declared: Declared) -> str | None:
    """The character a line names, as written, when it holds only their name or written
    form (and cue tags)."""
    if "(" in text:
        text = text.split("(", 1)[0]
    name = text.strip()
    return name if declared.speaks(name) else None


def _flush_dialogue(
    previous: ast.Action | None, line: ast.Action, declared: Declared, emit: Emit
) -> None:
    if previous is None or previous.span.line != line.span.line - 1:
        return
    speaker = _speaker(previous.text, declared)
    if speaker is None or _speaker(line.text, declared):
        return
    emit(
        codes.DIALOGUE_NOT_INDENTED,
        line.span,
        f"this line is action, not {speaker}'s dialogue: it is not indented under the name",
        help=f"indent it {previous.span.column + 1} spaces, two more than {speaker}",
    )


def _chat(line: ast.Action, declared: Declared, emit: Emit) -> None:
    found = _CHAT.match(line.text)
    if not found or not declared.speaks(found[1]):
        return
    emit(
        codes.CHAT_DIALOGUE,
        _part(line, 0, len(found[1]) + 1),
        f'"{found[1]}:" starts an action line; the words after it are not spoken',
        help=f'write dialogue as the name on its own line, "{found[1]}", '
        f'and the words on the next, indented two spaces more: "{found[2]}"',
    )


def _cue_word(line: ast.Action, audio_assets: frozenset[str], emit: Emit) -> None:
    words = line.text.split(maxsplit=2)
    if len(words) < 2 or words[0] in CUE_KINDS or words[1] not in audio_assets:
        return
    rest = words[2] if len(words) > 2 else ""
    if not _CUE_REST.fullmatch(" " + rest if rest else ""):
        return
    kind = (difflib.get_close_matches(words[0].lower(), CUE_KINDS, n=1, cutoff=0.5) or ["sfx"])[0]
    fixed = " ".join([kind, words[1], *([rest] if rest else [])])
    emit(
        codes.UNKNOWN_CUE_WORD,
        _part(line, 0, len(words[0])),
        f'"{words[0]}" is not a cue word, so this line is action and {words[1]} never plays',
        help=f"a cue starts with music, sfx or ambience: {fixed}",
    )


def _lower_case_names(line: ast.Action, declared: Declared, emit: Emit) -> None:
    if declared.any_lowered is None:
        return
    seen: set[str] = set()
    for found in declared.any_lowered.finditer(line.text):
        word = found[0]
        name = declared.lowered[word.lower()]
        if word == name or name in seen:
            continue
        seen.add(name)
        emit(
            codes.LOWER_CASE_NAME,
            _part(line, found.start(), found.end()),
            f'"{word}" is written like {name} but not in capitals, so {name} is not in the shot',
            help=f"write the name in capitals: {line.text[: found.start()]}{name}"
            f"{line.text[found.end() :]}",
        )


def _part(line: ast.Action, start: int, end: int) -> Span:
    column = line.span.column + start
    return Span(
        file=line.span.file,
        line=line.span.line,
        column=column,
        end_line=line.span.line,
        end_column=line.span.column + end,
    )


def check_comments(text: str, file: str, emit: Emit) -> None:
    """Warn where a `#` inside a line's text starts a comment and cuts the rest of the
    line (`pier #4 before dark`): a comment after code is `#` after a space, then a
    space, as in `text  # note`."""
    if "#" not in text:
        return
    for number, line in enumerate(split_lines(text), 1):  # lines as the grammar counts them
        if "#" not in line:
            continue
        at = _comment_start(line)
        if at is None or not line[:at].strip():
            continue
        spaced = line[at - 1] in " \t" and (at + 1 == len(line) or line[at + 1] in " \t")
        if spaced:
            continue
        cut = line[at:].rstrip()
        span = Span(
            file=file, line=number, column=at + 1, end_line=number, end_column=len(line) + 1
        )
        emit(
            codes.COMMENT_IN_TEXT,
            span,
            f"this # starts a comment, so {cut!r} is not part of the line",
            help=f'to keep it, put it in quotes: "{cut}"',
        )


def _comment_start(line: str) -> int | None:
    """Where the line's comment starts: its first `#` outside "quotes"."""
    inside = False
    for position, char in enumerate(line):
        if char == '"':
            inside = not inside
        elif char == "#" and not inside:
            return position
    return None
