"""The registry of diagnostic codes: one typed constant per code.

Emit sites name a constant (`codes.UNKNOWN_CHARACTER`), never a string, so a
misspelt code is an AttributeError the first time the module is imported or
the line is type-checked, and tests and docs refer to codes by name, as
mypy's `ErrorCode` constants do.  Codes are stable: a retired code's number
is never reused (E010 `unknown-name` and E011 `unknown-location` were
retired because no path could raise them).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Code:
    """A code, its kebab-case name, its severity and the one-line summary the docs show."""

    code: str
    name: str
    severity: Severity
    summary: str


_E, _W = Severity.ERROR, Severity.WARNING


# reading the text
SYNTAX_ERROR: Final = Code("E001", "syntax-error", _E, "the grammar cannot read the line")
TAB_INDENTATION: Final = Code(
    "E002", "tab-indentation", _E, "a tab in indentation; indent with spaces"
)
BAD_INDENTATION: Final = Code(
    "E003", "bad-indentation", _E, "an indent that matches no outer level or opens no block"
)
INVALID_ENCODING: Final = Code("E004", "invalid-encoding", _E, "the file is not UTF-8 text")
UNKNOWN_SHOT_SIZE: Final = Code(
    "E005", "unknown-shot-size", _E, "a shot size the language does not know"
)
BAD_CAMERA_MOVE: Final = Code(
    "E006", "bad-camera-move", _E, "a camera move with the wrong direction or argument"
)
CONTROL_CHARACTER: Final = Code(
    "E007", "control-character", _E, "a control character (NUL, ESC, …) in a script"
)

# names
UNKNOWN_CHARACTER: Final = Code(
    "E012", "unknown-character", _E, "a character name that is declared nowhere"
)
UNKNOWN_ASSET: Final = Code("E013", "unknown-asset", _E, "an asset name that is declared nowhere")
DUPLICATE_DECLARATION: Final = Code("E014", "duplicate-declaration", _E, "a name declared twice")
DUPLICATE_SHOT_ID: Final = Code("E015", "duplicate-shot-id", _E, "two shots with the same id")
DUPLICATE_SETTING: Final = Code("E016", "duplicate-setting", _E, "a header line given twice")
MISSING_TITLE: Final = Code("E017", "missing-title", _E, "the top script has no title")
UNKNOWN_BACKEND: Final = Code(
    "E018", "unknown-backend", _E, "a backend name that is not registered"
)
WRONG_KIND: Final = Code("E019", "wrong-kind", _E, "a name or file of the wrong kind for its place")

# files
MISSING_FILE: Final = Code("E020", "missing-file", _E, "a file the script names does not exist")
UNREADABLE_FILE: Final = Code(
    "E021", "unreadable-file", _E, "a file exists but cannot be read as its kind"
)
PATH_OUTSIDE_PROJECT: Final = Code(
    "E022", "path-outside-project", _E, "a path that leaves the project root"
)
IMPORT_CYCLE: Final = Code("E023", "import-cycle", _E, "files that import each other")
UNUSABLE_PATH: Final = Code(
    "E024", "unusable-path", _E, "a path with control or look-alike characters, or too long"
)

# shots, time and references
SHOT_TOO_LONG: Final = Code(
    "E030", "shot-too-long", _E, "a shot longer than its backend can generate"
)
TRANSITION_TOO_LONG: Final = Code(
    "E031", "transition-too-long", _E, "a transition longer than a shot beside it can spare"
)
CUE_OUTSIDE_ASSET: Final = Code(
    "E032", "cue-outside-asset", _E, "a cue that reads past the end of its audio"
)
TOO_MANY_REFERENCES: Final = Code(
    "E033", "too-many-references", _E, "more reference assets than one shot may take"
)
CONTINUOUS_FIRST_SHOT: Final = Code(
    "E034", "continuous-first-shot", _E, "the first shot cannot continue a previous one"
)
INVALID_VALUE: Final = Code("E035", "invalid-value", _E, "a number, time or size out of range")
MISPLACED_TRANSITION: Final = Code(
    "E036", "misplaced-transition", _E, "a transition where none can stand"
)
UNSUPPORTED_FORMAT: Final = Code(
    "E037", "unsupported-format", _E, "a resolution or frame rate the backend cannot make"
)
LIMIT_EXCEEDED: Final = Code(
    "E038",
    "limit-exceeded",
    _E,
    "a film, shot, frame or image size, file, line or import chain past a safety limit",
)
MISSING_CONDITIONING: Final = Code(
    "E039", "missing-conditioning", _E, "a shot without an input its model needs"
)
BEATS_WITHOUT_TEMPO: Final = Code(
    "E045", "beats-without-tempo", _E, "a time in beats or bars in a script with no `tempo:`"
)

# warnings a script editor wants
FREE_TEXT_LOCATION: Final = Code(
    "W101", "free-text-location", _W, "a scene location that is not a declared location"
)
UNUSED_DECLARATION: Final = Code("W102", "unused-declaration", _W, "a declaration no shot uses")
SUBJECT_NOT_IN_SHOT: Final = Code(
    "W103", "subject-not-in-shot", _W, "a character framed with `on` who never appears"
)
DIALOGUE_TOO_LONG: Final = Code(
    "W104", "dialogue-too-long", _W, "more dialogue than the shot can hold"
)
CUE_AFTER_SHOT: Final = Code("W105", "cue-after-shot", _W, "a cue that starts after its shot ends")
SMALL_REFERENCE: Final = Code(
    "W106", "small-reference", _W, "a reference image smaller than half the output"
)
UNKNOWN_CAPITALISED_NAME: Final = Code(
    "W107", "unknown-capitalised-name", _W, "a capitalised word close to a declared name"
)
NO_SHOTS: Final = Code("W108", "no-shots", _W, "a script with nothing to film")
UNSUPPORTED_CONDITIONING: Final = Code(
    "W109", "unsupported-conditioning", _W, "an input the backend cannot take"
)
DIALOGUE_NOT_INDENTED: Final = Code(
    "W110", "dialogue-not-indented", _W, "a line under a speaker's name that is not indented"
)
CHAT_DIALOGUE: Final = Code(
    "W111", "chat-dialogue", _W, "`NAME: words` in an action line, which is not dialogue"
)
UNKNOWN_CUE_WORD: Final = Code(
    "W112", "unknown-cue-word", _W, "a cue with a word other than music, sfx or ambience"
)
CUE_PAST_FILM_END: Final = Code(
    "W114", "cue-past-film-end", _W, "a cue that would play past the film's last frame"
)
CUE_AFTER_FILM: Final = Code(
    "W125", "cue-after-film", _W, "a cue on the film's timeline that starts after the film ends"
)
COMMENT_IN_TEXT: Final = Code(
    "W115", "comment-in-text", _W, "a `#` inside a line's text that cuts the rest as a comment"
)
GENERATED_KEYFRAME_ON_CONTINUOUS_SHOT: Final = Code(
    "W120", "generated-keyframe-on-continuous-shot", _W,
    "`keyframe first: generate` on a continuous shot, which starts from the previous shot",
)  # fmt: skip
UNTRAINED_SIZE: Final = Code(
    "W121", "untrained-size", _W, "a frame size the model folder's model was not trained at"
)
ROUNDED_SIZE: Final = Code(
    "W122", "rounded-size", _W, "a frame size rounded to the sides the model folder's model makes"
)
LOWER_CASE_NAME: Final = Code(
    "W113", "lower-case-name", _W, "a declared name written in lower case in an action line"
)


def _collect() -> dict[str, Code]:
    """Every constant above, by name; two codes sharing a number or a name fail here."""
    found = [value for value in globals().values() if isinstance(value, Code)]
    by_name = {code.name: code for code in found}
    assert len(by_name) == len({code.code for code in found}) == len(found), "a code twice"
    return by_name


REGISTRY: Final[dict[str, Code]] = _collect()
