"""Parsing: `.shot` text to the syntax tree of `syntax.py`.

The only module that imports lark.  lark's exceptions never leave it: every
way the grammar can fail becomes a located `Diagnostic`.
"""

from __future__ import annotations

import re
import threading
from functools import cache
from importlib import resources
from typing import cast

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
)
from lark.indenter import DedentError, Indenter

from . import codes
from . import syntax as ast
from .diagnostics import Diagnostic, did_you_mean, make
from .gcpause import paused_gc
from .names import identifier, is_name
from .source import SourceFile, Span, split_lines

SHOT_SIZES = {
    "EXTREME WIDE": "EXTREME WIDE", "EWS": "EXTREME WIDE",
    "WIDE": "WIDE", "WS": "WIDE",
    "FULL": "FULL", "FS": "FULL",
    "MEDIUM WIDE": "MEDIUM WIDE", "MWS": "MEDIUM WIDE",
    "MEDIUM": "MEDIUM", "MS": "MEDIUM",
    "MEDIUM CLOSE-UP": "MEDIUM CLOSE-UP", "MCU": "MEDIUM CLOSE-UP",
    "CLOSE-UP": "CLOSE-UP", "CU": "CLOSE-UP",
    "EXTREME CLOSE-UP": "EXTREME CLOSE-UP", "ECU": "EXTREME CLOSE-UP",
    "OVER-THE-SHOULDER": "OVER-THE-SHOULDER", "OTS": "OVER-THE-SHOULDER",
    "POV": "POV", "INSERT": "INSERT", "TWO-SHOT": "TWO-SHOT",
}  # fmt: skip

CAMERA_MOVES = (
    "static", "pan", "tilt", "zoom", "dolly", "truck", "pedestal", "crane", "orbit", "track",
    "handheld",
)  # fmt: skip
# The directions each camera move takes (the checker holds a script to them).
MOVE_DIRECTIONS = {
    "pan": ("left", "right"), "truck": ("left", "right"), "orbit": ("left", "right"),
    "tilt": ("up", "down"), "pedestal": ("up", "down"), "crane": ("up", "down"),
    "zoom": ("in", "out"), "dolly": ("in", "out"),
}  # fmt: skip
# Lines whose last word is a path: a path with a space or comma must be quoted.
_PATH_LINE = re.compile(
    r"([ \t]*(?:ref:|keyframe[ \t]+(?:first|last):|import:"
    r"|(?:audio|image|video)[ \t]+[A-Z][A-Z0-9_]*[ \t]*:))[ \t]*([^\"#\n]*?)[ \t]*(?:#.*)?$"
)
_FADE_WITHOUT_LENGTH = re.compile(r"(FADE[ \t]+(?:OUT|IN|TO[ \t]+BLACK))[ \t]*[.:]?[ \t]*$", re.I)
# A heading whose time of day follows a period, a comma or a dash without spaces
# (`EXT. DOCK. DUSK`, `EXT. DOCK-DUSK`): the location, then the time of day.
_HEADING_OTHER_SEPARATOR = re.compile(
    r"((?:INT\.?/EXT\.?|I/E\.?|INT\.?|EXT\.?))[ \t]+([^#]*?\S)[ \t]*(?:[.,]|-|\u2013|\u2014)"
    r"[ \t]*([^\s.,#-][^#.]*?)[ \t]*\.?[ \t]*(?:#.*)?$"
)


MAX_DIGITS = 20  # in one run of digits: far past any real value, far short of overflow
# Terminals whose text becomes a number; each run of digits in them is bounded.
_NUMERIC = {"INT", "NUMBER", "TIME", "DEGREES", "FACTOR", "GAIN", "FOCAL_LENGTH", "RESOLUTION",
            "FPS", "METER"}  # fmt: skip
_LONG_DIGITS = re.compile(rf"\d{{{MAX_DIGITS + 1}}}")
_SHOT_LINE = re.compile(r"^SHOT[ \t]", re.MULTILINE)


class _TooManyShots(Exception):
    def __init__(self, token: Token):
        self.token = token


class _NumberTooLong(Exception):
    def __init__(self, token: Token):
        self.token = token


class _BadDedent(Exception):
    """A line dedented to `column`, which no enclosing block starts at."""

    def __init__(self, column: int):
        super().__init__(column)
        self.column = column


class ShotIndenter(Indenter):
    NL_type = "_NL"
    OPEN_PAREN_types: list[str] = []
    CLOSE_PAREN_types: list[str] = []
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 8
    max_shots: int | None = None  # for the file being parsed (under _LOCK)

    def process(self, stream):
        return super().process(self._bounded(stream))

    def handle_NL(self, token):
        try:
            yield from super().handle_NL(token)
        except DedentError:
            # lark says the column only in its message; it is the new line's
            # indentation, measured as lark measures it
            indent = token.rsplit("\n", 1)[1]
            raise _BadDedent(indent.count(" ") + indent.count("\t") * self.tab_len) from None

    def _bounded(self, stream):
        """The lexer's tokens, stopped at the first number too long to be one and at
        the first shot past the limit: a huge script is refused as it is read."""
        shots = 0
        for token in stream:
            if token.type in _NUMERIC and _LONG_DIGITS.search(token):
                raise _NumberTooLong(token)
            if token.type == "SHOT":
                shots += 1
                if self.max_shots is not None and shots > self.max_shots:
                    raise _TooManyShots(token)
            yield token


@cache
def _parser() -> Lark:
    # The transformer runs inside the LALR parser, so no parse tree is built:
    # each rule becomes its model as soon as it is reduced.  Tokens carry
    # their own positions, so propagate_positions is not needed.
    grammar = resources.files("grammar").joinpath("shot.lark").read_text(encoding="utf-8")
    return Lark(
        grammar,
        parser="lalr",
        lexer="contextual",
        postlex=_INDENTER,
        transformer=_TRANSFORMER,
        maybe_placeholders=False,
    )


_LOCK = threading.Lock()  # the one transformer and indenter hold the file being parsed


# ------------------------------------------------------------ tree → models


# A cue tag's meaning, by its letters alone (case, spaces and periods do not count).
_VOICE_OVER = {"VO", "VOICEOVER"}
_OFF_SCREEN = {"OS", "OC", "OFF", "OFFSCREEN", "OFFCAMERA", "PRELAP"}
_CONTINUED = {"CONTD", "CONT", "CONTINUED", "CONTINUING", "MORE"}
_SLUG_PREFIXES = {"INT": "INT.", "EXT": "EXT.", "INT/EXT": "INT./EXT.", "I/E": "I/E."}


def _cue_tags(tags: list[str]) -> tuple[str | None, list[str]]:
    """A cue's tags: its extension (V.O. or O.S.), and the stage directions written in
    it.  (CONT'D) and (MORE) mean only that the speech goes on: nothing to keep."""
    extension: str | None = None
    directions: list[str] = []
    for group in tags:
        kept = []
        for tag in group.split(","):
            letters = re.sub(r"[^A-Z]", "", tag.upper())
            if letters in _VOICE_OVER:
                extension = extension or "V.O."
            elif letters in _OFF_SCREEN:
                extension = extension or "O.S."
            elif letters not in _CONTINUED and tag.strip():
                kept.append(" ".join(tag.split()))
        if kept:
            directions.append(", ".join(kept))
    return extension, directions


def _inside(parenthetical: str) -> str:
    """A parenthetical's words, without its brackets."""
    return parenthetical.strip()[1:-1].strip()


def _unquote(text: str) -> str:
    text = text.strip()
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


_TIME = re.compile(r"(\d+(?:\.\d+)?)(ms|s|f|b)$")


@v_args(inline=True, meta=False)
class _ToSyntax(Transformer):
    """Builds `syntax` models bottom-up; each method is one grammar rule."""

    file = ""  # the display name of the file being parsed

    # -- helpers
    def _span_of_token(self, token: Token) -> Span:
        return Span(
            file=self.file,
            line=token.line,
            column=token.column,
            end_line=token.end_line,
            end_column=token.end_column,
        )

    def _span_of_children(self, first, last) -> Span:
        a = first if isinstance(first, Span) else getattr(first, "span", None) or first
        b = last if isinstance(last, Span) else getattr(last, "span", None) or last
        a = a if isinstance(a, Span) else self._span_of_token(a)
        b = b if isinstance(b, Span) else self._span_of_token(b)
        return Span(
            file=self.file,
            line=a.line,
            column=a.column,
            end_line=b.end_line,
            end_column=b.end_column,
        )

    def _word(self, token: Token, text: str | None = None) -> ast.Word:
        return ast.Word(span=self._span_of_token(token), text=text if text is not None else token)

    def _time(self, token: Token) -> ast.Time:
        text = str(token)
        span = self._span_of_token(token)
        if ":" in text:
            return ast.Time(span=span, text=text, value=0.0, unit="tc")
        match = _TIME.match(text)
        assert match, text  # guaranteed by the TIME terminal
        return ast.Time(span=span, text=text, value=float(match[1]), unit=match[2])

    # -- header
    def title(self, text):
        return ast.TextSetting(span=self._span_of_token(text), key="title", value=text.strip())

    def style(self, text):
        return ast.TextSetting(span=self._span_of_token(text), key="style", value=text.strip())

    def negative(self, text):
        return ast.TextSetting(span=self._span_of_token(text), key="negative", value=text.strip())

    def seed(self, number):
        return ast.IntSetting(span=self._span_of_token(number), key="seed", value=int(number))

    def takes(self, number):
        return ast.IntSetting(span=self._span_of_token(number), key="takes", value=int(number))

    def consistency(self, number):
        span = self._span_of_token(number)
        return ast.NumberSetting(span=span, key="consistency", value=float(number))

    def keyframes(self, name):
        return ast.TextSetting(span=self._span_of_token(name), key="keyframes", value=str(name))

    def tempo(self, bpm, meter=None):
        span = self._span_of_children(bpm, meter or bpm)
        beats, _, note = str(meter or "4/4").partition("/")
        word = self._word(meter) if meter else None
        return ast.TempoSetting(span=span, key="tempo", bpm=float(bpm), beats_per_bar=int(beats),
                                note=int(note), meter=word)  # fmt: skip

    def backend(self, name):
        return ast.TextSetting(span=self._span_of_token(name), key="backend", value=str(name))

    def import_(self, path):
        word = self._word(path, _unquote(path))
        return ast.PathSetting(span=word.span, key="import", path=word)

    def format(self, resolution, fps=None):
        width, height = (int(v) for v in resolution.split("x"))
        span = self._span_of_children(resolution, fps or resolution)
        fps_text = fps[: -len("fps")] if fps else None
        return ast.FormatSetting(span=span, key="format", width=width, height=height, fps=fps_text)

    # -- declarations
    def _fields(self, items) -> dict:
        fields: dict = {"refs": []}
        for kind, value in items:
            if kind == "ref":
                fields["refs"].append(value)
            else:
                fields[kind] = value
        return fields

    def character(self, name, *items):
        word = self._word(name)
        return ast.Character(span=word.span, name=word, **self._fields(items))

    def location(self, name, *items):
        word = self._word(name)
        return ast.Location(span=word.span, name=word, **self._fields(items))

    def description(self, text):
        return ("description", text.strip())

    def voice(self, text):
        return ("voice", text.strip())

    def display(self, text):
        return ("display", text.strip())

    def ref(self, path):
        return ("ref", self._word(path, _unquote(path)))

    def asset(self, kind, name, path):
        word = self._word(name)
        span = self._span_of_children(kind, path)
        return ast.Asset(
            span=span, name=word, kind=str(kind), path=self._word(path, _unquote(path))
        )

    # -- scenes
    def slugline(self, prefix, location, time_of_day):
        return ast.Slugline(
            span=self._span_of_children(prefix, time_of_day),
            prefix=_SLUG_PREFIXES[str(prefix).replace(".", "")],
            location=self._word(location, location.strip()),
            time_of_day=time_of_day.strip(),
        )

    def subjects(self, *names):
        return [self._word(n) for n in names]

    def shot(self, keyword, _id, size, *rest):
        subjects: list[ast.Word] = []
        rest = list(rest)
        if isinstance(rest[0], list):
            subjects = rest.pop(0)
        duration = self._time(rest.pop(0))
        flags = [r for r in rest if isinstance(r, Token) and r.type == "FLAG"]
        items = [r for r in rest if not isinstance(r, Token)]
        return ast.Shot(
            span=self._span_of_children(keyword, duration.span),
            id=self._word(_id),
            size=self._word(size, SHOT_SIZES[str(size)]),
            subjects=subjects,
            duration=duration,
            continuous=bool(flags),
            items=[self._as_shot_item(i) for i in items],
        )

    def _as_shot_item(self, item):
        if isinstance(item, tuple) and item[0] == "ref":
            return ast.Reference(span=item[1].span, target=item[1])
        return item

    def camera(self, *moves):
        return ast.Camera(span=self._span_of_children(moves[0], moves[-1]), moves=list(moves))

    def camera_move(self, move, *rest):
        fields: dict = {}
        last = move
        for part in rest:
            if isinstance(part, Token):
                last = part
                if part.type in ("DIRECTION", "NAME"):
                    fields["direction"] = self._word(part)
                else:
                    fields["amount"] = self._word(part)
            else:
                key, value, end = part
                last = end
                fields[key] = value
        return ast.CameraMove(span=self._span_of_children(move, last), move=str(move), **fields)

    def slow(self, keyword):
        return ("speed", "slow", keyword)

    def fast(self, keyword):
        return ("speed", "fast", keyword)

    def ease(self, kind):
        return ("ease", str(kind), kind)

    def over(self, time):
        return ("over", self._time(time), time)

    def angle(self, kind, degrees=None):
        value = float(degrees[: -len("deg")]) if degrees else None
        span = self._span_of_children(kind, degrees or kind)
        return ast.Angle(span=span, kind=str(kind), degrees=value)

    def lens(self, focal):
        return ast.Lens(span=self._span_of_token(focal), focal_mm=float(focal[: -len("mm")]))

    def action(self, text):
        return ast.Action(span=self._span_of_token(text), text=text.strip())

    def dialogue(self, speaker, *lines):
        name, _, tags = speaker.partition("(")
        extension, cue_directions = _cue_tags(re.findall(r"\(([^()]*)\)", "(" + tags))
        word = ast.Word(
            span=Span(
                file=self.file,
                line=speaker.line,
                column=speaker.column,
                end_line=speaker.line,
                end_column=speaker.column + len(name.strip()),
            ),
            text=name.strip(),
        )
        spoken: list[ast.DialogueLine] = []
        # Parentheticals waiting for the words they direct, with where they are; a stage
        # direction written in the cue, `NELL (ON PHONE)`, directs the first words.
        pending: list[tuple[str, Span]] = [(d, word.span) for d in cue_directions]
        for kind, token in lines:
            if kind == "parenthetical":  # two in a row direct the same words
                pending.append((_inside(token), self._span_of_token(token)))
                continue
            directions = "; ".join(text for text, _ in pending if text) or None
            spoken.append(
                ast.DialogueLine(
                    span=self._span_of_token(token), parenthetical=directions, text=token.strip()
                )
            )
            pending = []
        # Directions with no words after them (or a block of only a direction):
        # kept, for the checker to place as action.
        after = [ast.Direction(span=span, text=text) for text, span in pending if text]
        return ast.Dialogue(
            span=self._span_of_children(speaker, lines[-1][1]),
            speaker=word,
            extension=extension,
            lines=spoken,
            after=after,
        )

    def parenthetical(self, token):
        return ("parenthetical", token)

    def speech(self, token):
        return ("speech", token)

    def cue(self, kind, name, *options):
        fields: dict = {}
        last = name
        for key, value, token in options:
            fields[key] = value
            last = token
        return ast.Cue(
            span=self._span_of_children(kind, last),
            kind=str(kind),
            asset=self._word(name),
            **fields,
        )

    def cue_from(self, position):
        return ("start", self._position(position), position)

    def cue_in(self, position):
        return ("in_point", self._position(position), position)

    def _position(self, position) -> ast.Time:
        return position if isinstance(position, ast.Time) else self._time(position)

    def bar(self, keyword, number):
        span = self._span_of_children(keyword, number)
        return ast.Time(span=span, text=f"bar {number}", value=float(number), unit="bar")

    def loop(self, word):
        return ("loop", True, word)

    def cue_for(self, time):
        return ("length", self._time(time), time)

    def fade_in(self, time):
        return ("fade_in", self._time(time), time)

    def fade_out(self, time):
        return ("fade_out", self._time(time), time)

    def gain(self, value):
        return ("gain_db", float(value[: -len("dB")]), value)

    def duck(self, _duck, _under, dialogue):
        return ("duck", True, dialogue)

    def keyframe(self, end, path):
        word = self._word(path, _unquote(path))
        # Only the bare word asks for a generated keyframe: a file called generate
        # is pinned by quoting its name.
        return ast.Keyframe(span=self._span_of_children(end, path), end=str(end), target=word,
                            generate=str(path) == ast.GENERATE)  # fmt: skip

    # -- transitions
    def transition(self, kind, length=None):
        name = str(kind).rstrip(":").lower().replace(" to", "").strip()
        return ast.Transition(
            span=self._span_of_children(kind, length or kind),
            kind=name,
            length=self._time(length) if length else None,
        )

    # -- the file
    def start(self, *items):
        script = ast.ScriptFile(path=self.file)
        for item in items:
            if isinstance(item, ast.Setting):
                script.settings.append(item)
            elif isinstance(item, ast.Declaration):
                script.declarations.append(item)
            else:
                script.body.append(item)
        return script


_TRANSFORMER = _ToSyntax(visit_tokens=False)
_INDENTER = ShotIndenter()


# ---------------------------------------------------------------- the entry


def parse_source(
    source: SourceFile, max_shots: int | None = None
) -> tuple[ast.ScriptFile | None, list[Diagnostic]]:
    """Parse one file, stopping at shot `max_shots` + 1 when given.  Returns the
    tree, or None and the diagnostics explaining why."""
    tabs = _tab_indentation(source)
    if tabs:
        return None, tabs
    text = source.text if source.text.endswith("\n") else source.text + "\n"
    parser = _parser()
    try:
        with _LOCK, paused_gc():
            _TRANSFORMER.file = source.display
            _INDENTER.max_shots = max_shots
            # the transformer runs inside the parser, so what comes back is the syntax tree
            return cast(ast.ScriptFile, parser.parse(text)), []
    except _BadDedent as error:
        return None, [_dedent_diagnostic(source, error.column)]
    except UnexpectedInput as error:
        return None, [_syntax_diagnostic(source, error)]
    except _NumberTooLong as error:
        return None, [_number_too_long(source, error.token)]
    except _TooManyShots as error:
        return None, [_too_many_shots(source, error.token, max_shots or 0)]


def _number_too_long(source: SourceFile, token: Token) -> Diagnostic:
    span = Span(
        file=source.display,
        line=token.line,
        column=token.column,
        end_line=token.end_line,
        end_column=token.end_column,
    )
    return make(
        codes.INVALID_VALUE,
        span,
        f"a number of more than {MAX_DIGITS} digits ({len(token):,} characters)",
        label="too long to be a number",
        help="write a number of at most 20 digits",
    )


def _too_many_shots(source: SourceFile, token: Token, limit: int) -> Diagnostic:
    # Parsing stopped here; the shots after it are counted by their lines alone.
    count = max(len(_SHOT_LINE.findall(source.text)), limit + 1)
    return make(
        codes.LIMIT_EXCEEDED,
        source.span(token.line or 1, token.column or 1, token.end_column or 1),
        f"the script has {count} shots, more than the limit of {limit}",
        help=f"if this is intended, raise the limit with --max-shots {count}",
    )


def _tab_indentation(source: SourceFile) -> list[Diagnostic]:
    found = []
    for number, line in enumerate(split_lines(source.text), start=1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent:
            column = indent.index("\t") + 1
            found.append(
                make(
                    codes.TAB_INDENTATION,
                    source.span(number, column),
                    "a tab in the indentation",
                    label="tab here",
                    help="indent with spaces only: blocks nest by spaces, as in Python",
                )
            )
    return found


def _dedent_diagnostic(source: SourceFile, column: int) -> Diagnostic:
    line = _line_with_indent(source, column)
    return make(
        codes.BAD_INDENTATION,
        source.whole_line(line),
        "this line's indentation matches no outer block",
        help="indent it exactly as far as the line it belongs with",
    )


def _line_with_indent(source: SourceFile, width: int) -> int:
    for number, line in enumerate(split_lines(source.text), start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            indent = len(line) - len(line.lstrip(" "))
            if indent == width and number > 1:
                previous = [
                    len(p) - len(p.lstrip(" "))
                    for p in split_lines(source.text)[: number - 1]
                    if p.strip() and not p.lstrip().startswith("#")
                ]
                if previous and previous[-1] > width:
                    return number
    return 1


# Friendly names for terminals, used in "expected …" messages.
_EXPECTED_NAMES = {
    "NAME": "a NAME in capitals",
    "TEXT": "text",
    "PATH": "a file path",
    "SHOT_ID": "a shot id such as 1A",
    "SIZE": "a shot size (WIDE, MEDIUM, CLOSE-UP, …)",
    "TIME": "a time such as 4s, 250ms, 12f, 4b (beats) or 00:00:04:00",
    "DEGREES": "an angle such as 90deg",
    "FACTOR": "a factor such as 1.5x",
    "GAIN": "a gain such as -6dB",
    "FOCAL_LENGTH": "a focal length such as 35mm",
    "RESOLUTION": "a resolution such as 1280x720",
    "FPS": "a frame rate such as 24fps",
    "INT": "a whole number",
    "NUMBER": "a number",
    "BACKEND_NAME": "a backend name in lower case",
    "MOVE": "a camera move (" + ", ".join(CAMERA_MOVES) + ")",
    "DIRECTION": "a direction (left, right, up, down, in, out)",
    "EASE": "in, out or in-out",
    "CAMERA_ANGLE": "an angle (eye level, low, high, overhead, dutch)",
    "KEYFRAME_END": "first or last",
    "SLUG_LOCATION": "a location",
    "TIME_OF_DAY": "a time of day such as NIGHT",
    "_SLUG_DASH": '" - " and a time of day',
    "_NL": "the end of the line",
    "_INDENT": "an indented block",
    "_DEDENT": "the end of the block",
    "_THEN": '"then"',
    "SPEAKER": "a character name",
    "PARENTHETICAL": "a (parenthetical)",
    "CUE_KIND": "music, sfx or ambience",
    "ASSET_KIND": "audio, image or video",
    "SLUG_PREFIX": "a scene heading (INT. / EXT.)",
    "CUT_TRANSITION": "a transition",
    "TIMED_TRANSITION": "a transition",
    "FLAG": "continuous",
    "COMMA": '","',
    "COLON": '":"',
    "$END": "the end of the file",
}


def _describe_expected(expected: set[str]) -> str:
    words = []
    for name in sorted(expected):
        if name.startswith("__ANON") or name in ("COMMENT",):
            continue
        words.append(_EXPECTED_NAMES.get(name, _keyword_text(name)))
    unique = sorted(set(words))
    if len(unique) > 6:
        unique = unique[:6] + ["…"]
    return ", ".join(unique)


def _keyword_text(terminal: str) -> str:
    pattern = _parser().get_terminal(terminal).pattern if _has_terminal(terminal) else None
    if pattern is not None and pattern.type == "str":
        return f'"{pattern.value}"'
    return terminal.lower()


def _has_terminal(name: str) -> bool:
    try:
        _parser().get_terminal(name)
    except KeyError:
        return False
    return True


_TOP_LEVEL = ("SHOT", "title:", "character", "INT./EXT.")


def _syntax_diagnostic(source: SourceFile, error: UnexpectedInput) -> Diagnostic:
    line, column = max(error.line, 1), max(error.column, 1)
    text = source.line(line)
    found_word = re.match(r"\S+", text[column - 1 :]) if column <= len(text) else None
    found = found_word[0] if found_word else "end of line"
    expected = set(getattr(error, "expected", None) or getattr(error, "allowed", None) or ())
    if isinstance(error, UnexpectedToken) and error.token.type == "_NL":
        found = "end of line"
    if isinstance(error, UnexpectedToken) and error.token.type in ("_INDENT", "_DEDENT"):
        return _indent_diagnostic(source, error, expected)
    if isinstance(error, UnexpectedEOF):
        line = len(split_lines(source.text)) or 1
        return make(
            codes.SYNTAX_ERROR,
            source.whole_line(line),
            "the file ends in the middle of a line or block",
            help=f"expected {_describe_expected(expected)}",
        )
    span = source.span(line, column, column + (len(found) if found_word else 1))
    special = _special_case(source, span, found, expected)
    if special:
        return special
    return make(
        codes.SYNTAX_ERROR,
        span,
        f"unexpected {found!r}" if found_word else "unexpected end of line",
        label="not understood here",
        help=f"expected {_describe_expected(expected)}" if expected else None,
    )


def _indent_diagnostic(source: SourceFile, error: UnexpectedToken, expected) -> Diagnostic:
    # The indenter reports the token at the start of the indented line.
    line = error.token.end_line or error.line
    span = source.whole_line(line)
    if error.token.type == "_INDENT":
        return make(
            codes.BAD_INDENTATION,
            span,
            "this line is indented but nothing above it opens a block",
            help="only the lines of a character, location, shot or dialogue are indented; "
            "remove the indentation or indent it under its SHOT",
        )
    return make(
        codes.SYNTAX_ERROR,
        span,
        "the block above ends too early",
        help=f"expected {_describe_expected(expected)}",
    )


def _special_case(source: SourceFile, span: Span, found: str, expected: set[str]):
    """Labels for the mistakes writers make most, with a fix for each; every fix is
    itself valid syntax."""
    line = source.line(span.line)
    cases = (_camera_word, _unquoted_path, _fade_without_length, _heading_separator, _name_shape)
    for case in cases:
        found_case = case(line, span, found, expected)
        if found_case is not None:
            return found_case
    return _common_case(span, found, expected)


def _camera_word(line: str, span: Span, found: str, expected: set[str]):
    """`camera: dolly zoom`, `camera: track the runner`: the word after a move."""
    if not re.match(r"[ \t]*camera:", line) or "MOVE" in expected and "DIRECTION" not in expected:
        return None
    before = re.findall(r"[a-z]+", line[: span.column - 1])
    move = before[-1] if before else ""
    word = found.rstrip(",:")
    if move == "track":
        rest = re.findall(r"[A-Za-z][A-Za-z0-9_]*", line[span.column - 1 :])
        name = (rest[-1] if rest else word).upper()
        return make(
            codes.BAD_CAMERA_MOVE,
            span,
            f"track follows a declared character, written in capitals; {word!r} is not one",
            label="expected a character's NAME",
            help=f"declare the character (character {name}) and write: track {name}",
        )
    if move in MOVE_DIRECTIONS:
        ways = MOVE_DIRECTIONS[move]
        also = " (a dolly zoom is two moves: dolly in, then zoom out)" if word == "zoom" else ""
        return make(
            codes.BAD_CAMERA_MOVE,
            span,
            f"a {move} goes {' or '.join(ways)}, not {word!r}",
            label=f"expected {' or '.join(ways)}",
            help=f"write: {move} {ways[0]}{also}",
        )
    return None


def _unquoted_path(line: str, span: Span, found: str, expected: set[str]):
    """`ref: refs/my photo.png`: a path with a space or a comma, not in quotes."""
    matched = _PATH_LINE.fullmatch(line)
    if matched is None or not re.search(r"[ \t,]", matched[2]):
        return None
    return make(
        codes.SYNTAX_ERROR,
        span,
        "a path with a space or a comma must be in quotes",
        label="the path goes on here",
        help=f'write it as: {matched[1].strip()} "{matched[2]}"',
    )


def _fade_without_length(line: str, span: Span, found: str, expected: set[str]):
    """`FADE OUT.`, `FADE TO BLACK.`: a screenplay's fade, which here needs a length."""
    matched = _FADE_WITHOUT_LENGTH.fullmatch(line)
    if matched is None:
        return None
    kind = "FADE IN" if "IN" in matched[1].upper().split() else "FADE OUT"
    return make(
        codes.SYNTAX_ERROR,
        span,
        f"a fade needs its length: {matched[1].strip()!r} gives none",
        label="a fade with no length",
        help=f"write it as: {kind}: 1s",
    )


_DECLARED = re.compile(r"(character|location)[ \t]+([^#]*?)[ \t]*(?:#.*)?")


def _name_shape(line: str, span: Span, found: str, expected: set[str]):
    """`character O'BRIEN`, `character MARA-JANE`: a declared name holding what names
    may not; the help gives the name it can be, and a character its written form."""
    matched = _DECLARED.fullmatch(line)
    # Only letters, in the wrong case (`Zoë`), are the lower-case message's (_common_case).
    odd = re.search(r"\W", matched[2]) if matched else None  # the first a name may not hold
    if matched is None or odd is None:
        return None
    kind, written = matched.groups()
    name = identifier(written)
    if not is_name(name):
        return None
    fix = f"write it as: {kind} {name}"
    if kind == "character":
        fix += f", with the line display: {written} indented under it"
    return make(
        codes.SYNTAX_ERROR,
        span,
        f"a name holds capital letters (of any script), digits and _, not {odd[0]!r}",
        label="not part of a name",
        help=fix,
    )


def _heading_separator(line: str, span: Span, found: str, expected: set[str]):
    """`EXT. DOCK. DUSK`: a heading whose time of day follows another separator than
    a spaced dash; the help writes this heading the way it reads."""
    if not expected & {"_SLUG_DASH", "SLUG_LOCATION"}:
        return None
    matched = _HEADING_OTHER_SEPARATOR.fullmatch(line.strip())
    if matched is None:
        return None
    prefix, place, time = matched.groups()
    return make(
        codes.SYNTAX_ERROR,
        span,
        'a scene heading separates its location and time of day with " - "',
        label='expected the location, then " - "',
        help=f"write it as: {prefix} {place} - {time}",
    )


def _common_case(span: Span, found: str, expected: set[str]):
    word = found.rstrip(",:")
    if "SIZE" in expected:
        sizes = sorted(set(SHOT_SIZES))
        guess = did_you_mean(word, sizes)
        return make(
            codes.UNKNOWN_SHOT_SIZE,
            span,
            f"{word!r} is not a shot size",
            label="expected a shot size",
            help=guess or "write one of: " + ", ".join(sorted(set(SHOT_SIZES.values()))),
        )
    if "MOVE" in expected and "DIRECTION" not in expected:
        return make(
            codes.BAD_CAMERA_MOVE,
            span,
            f"{word!r} is not a camera move",
            label="expected a camera move",
            help=did_you_mean(word, CAMERA_MOVES) or "moves: " + ", ".join(CAMERA_MOVES),
        )
    if "NAME" in expected and re.fullmatch(r"[^\W\d_]\w*", word) and word != word.upper():
        return make(
            codes.SYNTAX_ERROR,
            span,
            f"names are written in capitals (of any script): {word!r}",
            label="expected a NAME",
            help=f"write {word.upper()}",
        )
    if "TIME" in expected and re.fullmatch(r"\d+(\.\d+)?", word):
        return make(
            codes.SYNTAX_ERROR,
            span,
            f"{word!r} has no unit",
            label="expected a time",
            help=f"write {word}s for seconds, {word}f for frames or {word}ms for milliseconds",
        )
    if "_SLUG_DASH" in expected or "SLUG_LOCATION" in expected:
        return make(
            codes.SYNTAX_ERROR,
            span,
            'a scene heading needs a location, " - " and a time of day',
            help="write it as: INT. LAMP_ROOM - NIGHT",
        )
    if "SHOT" in {_expected_keyword(e) for e in expected} and span.column > 1:
        return make(
            codes.BAD_INDENTATION,
            span,
            "this line is indented but nothing above it opens a block",
            help="indent shot lines under their SHOT line, and nothing else",
        )
    if "SHOT" in {_expected_keyword(e) for e in expected}:
        return make(
            codes.SYNTAX_ERROR,
            span,
            f"a line at the top level cannot start with {word!r}",
            label="not a header, declaration, scene heading, SHOT or transition",
            help="action, dialogue and camera lines belong indented under a SHOT line",
        )
    return None


def _expected_keyword(terminal: str) -> str:
    if _has_terminal(terminal):
        pattern = _parser().get_terminal(terminal).pattern
        if pattern.type == "str":
            return pattern.value
    return terminal


__all__ = ["parse_source", "SHOT_SIZES", "CAMERA_MOVES", "UnexpectedCharacters"]
