"""Prompts: one text per shot, rendered from a backend's jinja2 template.

Templates run in jinja2's immutable sandbox because a project may bring its
own (`--template`), and a script from someone else must not reach Python
through one.  The context is plain data built from the checked spec.
"""

from __future__ import annotations

import re
import resource
import sys
import time
from collections.abc import Mapping
from contextlib import contextmanager
from functools import lru_cache, wraps
from importlib import resources
from pathlib import Path
from types import MappingProxyType

from jinja2 import StrictUndefined, TemplateError
from jinja2.filters import FILTERS
from jinja2.sandbox import ImmutableSandboxedEnvironment

from . import spec
from .names import replace_names

SIZE_WORDS = {
    "EXTREME WIDE": "extreme wide shot",
    "WIDE": "wide shot",
    "FULL": "full shot",
    "MEDIUM WIDE": "medium wide shot",
    "MEDIUM": "medium shot",
    "MEDIUM CLOSE-UP": "medium close-up",
    "CLOSE-UP": "close-up",
    "EXTREME CLOSE-UP": "extreme close-up",
    "OVER-THE-SHOULDER": "over-the-shoulder shot",
    "POV": "point-of-view shot",
    "INSERT": "insert shot",
    "TWO-SHOT": "two-shot",
}
MOVE_VERBS = {
    "static": "holds still",
    "pan": "pans",
    "tilt": "tilts",
    "zoom": "zooms",
    "dolly": "dollies",
    "truck": "trucks",
    "pedestal": "pedestals",
    "crane": "cranes",
    "orbit": "orbits",
    "track": "tracks",
    "handheld": "moves handheld",
}
SETTING_WORDS = {"INT.": "inside", "EXT.": "outside", "INT./EXT.": "in and out of"}
_FORMAT_FILTER = FILTERS["format"]


MAX_TEMPLATE_BYTES = 1_000_000
MAX_PROMPT_CHARS = 100_000  # one shot's rendered prompt, beyond 4x the shot's own text
MAX_TEMPLATE_NUMBER = 100_000  # a width, count or repeat a template may ask for
RENDER_SECONDS = 5.0  # one shot's prompt; a template loops, it does not compute
RENDER_MEMORY = 512 << 20  # growth of the process while rendering one prompt


class PromptTemplateError(Exception):
    """A prompt template that cannot be read, compiled or rendered; the message says where.

    Whatever goes wrong inside a user's template (a division by zero, a range
    the sandbox refuses, endless recursion, a type error, a loop that never
    ends) becomes this, and the command line a usage error (exit 2)."""


class _TemplateTooCostly(Exception):
    """Raised inside a render that passes one of the limits above."""


def read_template(path: Path) -> str:
    """A user template's text: a regular UTF-8 file of at most `MAX_TEMPLATE_BYTES`."""
    try:
        if not path.is_file():
            raise PromptTemplateError(f"the prompt template {path} is not a regular file")
        with path.open("rb") as handle:
            data = handle.read(MAX_TEMPLATE_BYTES + 1)
    except OSError as error:
        raise PromptTemplateError(f"cannot read the prompt template {path}: {error}") from None
    if len(data) > MAX_TEMPLATE_BYTES:
        raise PromptTemplateError(
            f"the prompt template {path} is larger than {MAX_TEMPLATE_BYTES:,} bytes"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PromptTemplateError(
            f"the prompt template {path} is not UTF-8 text (byte {error.start})"
        ) from None


def render_prompt(film: spec.Film, shot: spec.Shot, template_source: str,
                  moment: str | None = None) -> str:  # fmt: skip
    """The prompt for one shot, from a template's source text.  `moment` (`first`,
    `last`) asks for a still of that moment: a keyframe's prompt."""
    template = _compile(template_source)
    context = _context(film, shot)
    if moment is not None:
        context["moment"] = moment
    try:
        text = _rendered(template, template_source, context)
    except Exception as error:  # a user's program: anything can fail, RecursionError too
        raise PromptTemplateError(_failure(error, shot)) from None
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _rendered(template, template_source: str, context: dict) -> str:
    """The template's text for one shot.  A user's template renders under a budget of
    time, memory and length.  The shipped templates are ours and write the shot's own
    lists once over, so they render without one: the budget's tracer doubled the
    plan stage's time on the feature-length benchmark, and counting the context's
    text and the written characters cost a tenth of it again (bench/frontend.py)."""
    if template_source in _shipped_sources():
        return template.render(**context)
    # A prompt may quote the shot's own text a few times over, however long it is.
    limit = MAX_PROMPT_CHARS + 4 * _text_size(context)
    with _budget(RENDER_SECONDS, RENDER_MEMORY):
        return _bounded_join(template.generate(**context), limit)


def _bounded_join(chunks, limit: int) -> str:
    parts, size = [], 0
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise _TemplateTooCostly(f"it writes more than {limit:,} characters")
        parts.append(chunk)
    return "".join(parts)


def _text_size(value) -> int:
    """Characters of text in a template context (strings in dicts and lists)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return sum(_text_size(item) for item in value.values())
    if isinstance(value, list | tuple):
        return sum(_text_size(item) for item in value)
    return 0


def _failure(error: BaseException, shot: spec.Shot) -> str:
    """What went wrong, at which template line, for which shot."""
    line = None
    trace = error.__traceback__
    while trace is not None:  # jinja2 rewrites frames to the template's own lines
        if trace.tb_frame.f_code.co_filename == "<template>":
            line = trace.tb_lineno
        trace = trace.tb_next
    if isinstance(error, TemplateError | _TemplateTooCostly):
        what = str(error)
    elif isinstance(error, RecursionError):
        what = "it recurses without end"
    else:
        what = f"{type(error).__name__}: {error}"
    where = f" at line {line}" if line is not None else ""
    return f"the prompt template failed{where} for shot {shot.id}: {what}"


@lru_cache(maxsize=1)
def _shipped_sources() -> frozenset[str]:
    folder = resources.files("backends").joinpath("templates")
    return frozenset(
        _read_builtin(item.name) for item in folder.iterdir() if item.name.endswith(".j2")
    )


@contextmanager
def _budget(seconds: float, memory_bytes: int):
    """Stop a render that runs past `seconds` or grows the process by `memory_bytes`.

    A tracer looks at the clock and the peak memory on each template line;
    only the template's own frames are traced, so Python's and jinja2's work
    runs untraced.  (A loop the sandbox allows can still be endless, and
    `ns.s ~ ns.s` doubles a string each line.)"""
    stop = time.monotonic() + seconds
    ceiling = _peak_memory() + memory_bytes
    previous = sys.gettrace()

    def on_line(frame, event, arg):
        if event == "line":
            if time.monotonic() > stop:
                raise _TemplateTooCostly(f"it ran for more than {seconds:g} s")
            if _peak_memory() > ceiling:
                raise _TemplateTooCostly(f"it used more than {memory_bytes >> 20} MiB")
        return on_line

    def on_call(frame, event, arg):
        return on_line if frame.f_code.co_filename == "<template>" else None

    sys.settrace(on_call)
    try:
        yield
    finally:
        sys.settrace(previous)


def _peak_memory() -> int:
    """The process's peak resident memory in bytes (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def builtin_template(name: str) -> str:
    """The source of a template shipped in backends/templates."""
    return _read_builtin(name)


@lru_cache(maxsize=32)
def _read_builtin(name: str) -> str:
    folder = resources.files("backends").joinpath("templates")
    return folder.joinpath(name).read_text(encoding="utf-8")


class _PromptSandbox(ImmutableSandboxedEnvironment):
    """jinja2's immutable sandbox, with no number large enough to build a huge string.

    The sandbox stops a template reaching Python; these bounds stop it
    exhausting memory in one step (`'x' * 10**9`, `'x' | center(10**9)`),
    which no deadline could interrupt."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self) -> None:
        super().__init__(
            autoescape=False, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True
        )
        self.filters = {name: _bounded(f) for name, f in self.filters.items()}

    def call_binop(self, context, operator: str, left, right):
        if operator == "**":
            _check_number(right)
            if isinstance(left, int | float) and abs(left) > 1 and abs(right) > 64:
                raise _TemplateTooCostly(f"{left} ** {right} is too large a number")
        elif operator == "*":
            _check_repeat(left, right)
            _check_repeat(right, left)
        elif operator == "%" and isinstance(left, str):
            _check_format(left)
        return super().call_binop(context, operator, left, right)

    def wrap_str_format(self, value):  # "{:>999999999}".format(…), found when looked up
        if isinstance(getattr(value, "__self__", None), str):
            _check_format(value.__self__)
        return super().wrap_str_format(value)

    def call(self, context, obj, /, *args, **kwargs):
        for value in (*args, *kwargs.values()):
            _check_number(value)
            if isinstance(value, str):
                _check_format(value)
        return super().call(context, obj, *args, **kwargs)


def _check_number(value) -> None:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number and not abs(value) <= MAX_TEMPLATE_NUMBER:
        raise _TemplateTooCostly(
            f"{value:,} is larger than a template may ask for ({MAX_TEMPLATE_NUMBER:,})"
        )


def _check_repeat(sequence, times) -> None:
    repeated = isinstance(sequence, str | list | tuple) and isinstance(times, int)
    if repeated and len(sequence) * times > MAX_PROMPT_CHARS:
        raise _TemplateTooCostly(f"repeating {len(sequence):,} items {times:,} times")


_WIDTH = re.compile(r"[%{][^%{}]*?(\d{6,})")  # a printf or str.format width of 6+ digits


def _check_format(text: str) -> None:
    if (match := _WIDTH.search(text)) is not None:
        raise _TemplateTooCostly(f"the format width {match[1]} is too large")


def _bounded(function):
    """A filter whose numeric and format arguments (not the value filtered) are bounded."""

    @wraps(function)
    def bounded(*args, **kwargs):
        for value in (*args[1:], *kwargs.values()):
            _check_number(value)
        if function is _FORMAT_FILTER and args and isinstance(args[0], str):
            _check_format(args[0])
        return function(*args, **kwargs)

    return bounded


@lru_cache(maxsize=32)
def _compile(source: str):
    try:
        return _PromptSandbox().from_string(source)
    except TemplateError as error:
        raise PromptTemplateError(f"the prompt template does not compile: {error}") from None
    except Exception as error:  # folding constants runs the template's code
        raise PromptTemplateError(
            f"the prompt template does not compile: {type(error).__name__}: {error}"
        ) from None


# ------------------------------------------------------------------ context


def _context(film: spec.Film, shot: spec.Shot) -> dict:
    scene = film.scenes[shot.scene]
    called = _names_called(film)
    return {
        "shot_id": shot.id,
        "size": shot.size,
        "size_words": SIZE_WORDS[shot.size],
        "style": film.style,
        "scene": {
            "setting": scene.setting,
            "setting_words": SETTING_WORDS.get(scene.setting, ""),
            "location": _words(scene.location, called),
            "time_of_day": scene.time_of_day,
            "description": _location_description(film, scene),
        },
        "characters": [_character(film.characters[name], called) for name in shot.characters],
        "action": [_words(line, called) for line in shot.action],
        "dialogue": [_line(line, called) for line in shot.dialogue],
        "camera": [_move_phrase(move, called) for move in shot.camera],
        "angle": _angle_phrase(shot),
        "lens": f"{shot.lens_mm:g}mm" if shot.lens_mm else "",
        "sounds": [f"{cue.asset.lower().replace('_', ' ')} {cue.kind}" for cue in shot.cues],
    }


def _names_called(film: spec.Film) -> Mapping[str, str]:
    """How prompts call each declared name: in words (MARA → Mara), a character by
    its written form (`display: MRS. O'BRIEN`).  The same for every shot of a film,
    so made once per set of names rather than once per shot."""
    displays = tuple((c.name, c.display) for c in film.characters.values() if c.display)
    return _called((*film.characters, *film.locations, *film.assets), displays)


@lru_cache(maxsize=8)
def _called(names: tuple[str, ...], displays: tuple[tuple[str, str], ...]) -> Mapping[str, str]:
    called = {name: _name_words(name) for name in names}
    called |= {name: display.title() for name, display in displays}
    return MappingProxyType(called)


def _location_description(film: spec.Film, scene: spec.Scene) -> str:
    location = film.locations.get(scene.declared_location or "")
    return location.description if location is not None else ""


def _name_words(name: str) -> str:
    return name.replace("_", " ").title()


def _words(text: str, called: Mapping[str, str]) -> str:
    """Declared names become words (MARA → Mara): models read shouting as text to draw."""
    return replace_names(text, lambda word: called.get(word, word))


def _character(character: spec.Character, called: Mapping[str, str]) -> dict:
    words = called.get(character.name) or _name_words(character.name)
    description = character.description
    return {
        "name": character.name,
        "name_words": words,
        "description": description,
        "label": f"{words} ({description})" if description else words,
    }


def _line(line: spec.DialogueLine, called: Mapping[str, str]) -> dict:
    label = called.get(line.speaker) or _name_words(line.speaker)
    if line.extension == "V.O.":
        label += " in voice-over"
    elif line.extension == "O.S.":
        label += " off screen"
    return {
        "speaker": line.speaker,
        "speaker_label": label,
        "voice": line.voice,
        "parenthetical": line.parenthetical or "",
        "text": line.text,
    }


def _move_phrase(move: spec.CameraMove, called: Mapping[str, str]) -> str:
    words = [MOVE_VERBS[move.move]]
    if move.direction:
        words.append(move.direction)
    if move.target:
        words.append(called.get(move.target) or _name_words(move.target))
    if move.degrees is not None:
        words.append(f"{move.degrees:g} degrees")
    if move.factor is not None:
        words.append(f"{move.factor:g}x")
    if move.speed:
        words.append("slowly" if move.speed == "slow" else "quickly")
    if move.ease:
        words.append(f"easing {move.ease}")
    return " ".join(words)


def _angle_phrase(shot: spec.Shot) -> str:
    if not shot.angle:
        return ""
    if shot.angle == "dutch":
        tilt = f" of {shot.angle_degrees:g} degrees" if shot.angle_degrees is not None else ""
        return f"dutch angle{tilt}"
    return f"{shot.angle.replace('eye level', 'eye-level')} angle"
