"""Prompts: one text per shot, rendered from a backend's jinja2 template.

Templates run in jinja2's immutable sandbox because a project may bring its
own (`--template`), and a script from someone else must not reach Python
through one.  The context is plain data built from the checked spec.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from . import spec

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
_NAME = re.compile(r"\b[A-Z][A-Z0-9_]+\b")


class PromptTemplateError(Exception):
    """A prompt template that does not compile or render; the message says where."""


def render_prompt(film: spec.Film, shot: spec.Shot, template_source: str) -> str:
    """The prompt for one shot, from a template's source text."""
    try:
        text = _compile(template_source).render(**_context(film, shot))
    except TemplateError as error:
        raise PromptTemplateError(f"the prompt template failed: {error}") from None
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def builtin_template(name: str) -> str:
    """The source of a template shipped in backends/templates."""
    return _read_builtin(name)


@lru_cache(maxsize=32)
def _read_builtin(name: str) -> str:
    folder = resources.files("backends").joinpath("templates")
    return folder.joinpath(name).read_text(encoding="utf-8")


@lru_cache(maxsize=32)
def _compile(source: str):
    environment = ImmutableSandboxedEnvironment(
        autoescape=False, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    try:
        return environment.from_string(source)
    except TemplateError as error:
        raise PromptTemplateError(f"the prompt template does not compile: {error}") from None


# ------------------------------------------------------------------ context


def _context(film: spec.Film, shot: spec.Shot) -> dict:
    scene = film.scenes[shot.scene]
    declared = set(film.characters) | set(film.locations) | set(film.assets)
    return {
        "shot_id": shot.id,
        "size": shot.size,
        "size_words": SIZE_WORDS[shot.size],
        "style": film.style,
        "scene": {
            "setting": scene.setting,
            "setting_words": SETTING_WORDS.get(scene.setting, ""),
            "location": _words(scene.location, declared),
            "time_of_day": scene.time_of_day,
        },
        "characters": [_character(film.characters[name]) for name in shot.characters],
        "action": [_words(line, declared) for line in shot.action],
        "dialogue": [_line(line) for line in shot.dialogue],
        "camera": [_move_phrase(move) for move in shot.camera],
        "angle": _angle_phrase(shot),
        "lens": f"{shot.lens_mm:g}mm" if shot.lens_mm else "",
        "sounds": [f"{cue.asset.lower().replace('_', ' ')} {cue.kind}" for cue in shot.cues],
    }


def _name_words(name: str) -> str:
    return name.replace("_", " ").title()


def _words(text: str, declared: set[str]) -> str:
    """Declared names become words (MARA → Mara): models read shouting as text to draw."""
    return _NAME.sub(lambda m: _name_words(m[0]) if m[0] in declared else m[0], text)


def _character(character: spec.Character) -> dict:
    words = _name_words(character.name)
    description = character.description
    return {
        "name": character.name,
        "name_words": words,
        "description": description,
        "label": f"{words} ({description})" if description else words,
    }


def _line(line: spec.DialogueLine) -> dict:
    label = _name_words(line.speaker)
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


def _move_phrase(move: spec.CameraMove) -> str:
    words = [MOVE_VERBS[move.move]]
    if move.direction:
        words.append(move.direction)
    if move.target:
        words.append(_name_words(move.target))
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
