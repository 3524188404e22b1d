"""Model profiles: which published model a folder holds, and how its authors run it.

A diffusers backend loads many models: LTX-2 dev and distilled, a dozen Wan
checkpoints.  They share pipeline classes but not recipes (steps, guidance,
flow shift, frame rate, legal sizes, what they can be conditioned on), and a
folder's name says nothing reliable about which one it is.  Each backend lists
its models as `Profile` entries, declarative like sqlglot's dialects: a
signature over the folder's configs (`model_index.json`, each component's
`config.json`, the scheduler's `scheduler_config.json`) and the authors'
recipe.  `recognise` returns the first entry whose signature the folder
matches, and the facts that matched, so that `director plan` can say why.

A signature key is `component.setting`: `model_index._class_name`,
`transformer.in_channels`, `scheduler.flow_shift`.  `PRESENT` matches a
component the folder holds (its entry in model_index is not null) or a setting
that is set; `None` matches a setting that is null or absent.  Signatures read only what
survives cutting a model down for tests: class names, channel counts, head
counts, scheduler settings; never depths or widths.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .base import Conditioning


class _Present:
    """Matches a component the folder holds, or a setting that is not null."""

    def __repr__(self) -> str:
        return "present"


PRESENT: Any = _Present()


@dataclass(frozen=True)
class Profile:
    """One published model and its authors' recipe.  `shifts` gives the flow
    shift by frame area: the first `(pixels, shift)` whose pixels the frame does
    not exceed, else the last; empty when the scheduler shifts by itself."""

    name: str
    signature: Mapping[str, Any]
    steps: int
    guidance: float
    takes: frozenset[Conditioning]
    needs: frozenset[Conditioning] = frozenset()  # what every shot must give
    guidance_2: float | None = None  # the low-noise expert's (Wan 2.2 A14B)
    shifts: tuple[tuple[int, float], ...] = ()
    negative: str = ""
    capabilities: Mapping[str, Any] = field(default_factory=dict)  # over the backend's table
    sizes: tuple[tuple[int, int], ...] = ()  # the sizes it was trained at (width, height)
    # Made in two stages where the folder holds what they need: half size, the
    # latent upsampler, a few refinement steps at full size (LTX-2).
    two_stage: bool = False
    folders: tuple[str, ...] = ()  # the published folders it matches
    published: bool = True  # False: a fallback for folders that match no published model
    notes: str = ""  # what the recipe leaves out, or where it comes from

    def shift_for(self, width: int, height: int) -> float | None:
        if not self.shifts:
            return None
        pixels = width * height
        return next((shift for most, shift in self.shifts if pixels <= most), self.shifts[-1][1])


@dataclass(frozen=True)
class Recognition:
    """The profile a folder matched, and the config facts that matched it."""

    profile: Profile
    facts: tuple[str, ...]

    def describe(self, folder: Path) -> str:
        kind = "is" if self.profile.published else "matches no published model; run as"
        return f"{folder.name} {kind} {self.profile.name} ({'; '.join(self.facts)})"


@dataclass(frozen=True)
class OneOf:
    """Matches any of the values: a setting older conversions leave out (None)."""

    values: tuple[Any, ...]

    def __repr__(self) -> str:
        return " or ".join(json.dumps(v) for v in self.values)


class FolderConfigs:
    """The configs of a model folder, read on first use: `value("transformer.in_channels")`."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._read: dict[str, dict] = {}

    def component(self, name: str) -> dict:
        if name not in self._read:
            file = "scheduler_config.json" if name == "scheduler" else "config.json"
            path = self.folder / (f"{name}/{file}" if name != "model_index" else "model_index.json")
            self._read[name] = _read(path)
        return self._read[name]

    def value(self, key: str) -> Any:
        component, _, setting = key.partition(".")
        if setting == "":  # a component: held when model_index names a class for it
            entry = self.component("model_index").get(component)
            return PRESENT if isinstance(entry, list) and entry[-1] else None
        return self.component(component).get(setting)


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _matches(expected: Any, found: Any) -> bool:
    if expected is PRESENT:
        return found is not None
    if isinstance(expected, OneOf):
        return any(_matches(value, found) for value in expected.values)
    if isinstance(expected, float) and isinstance(found, int | float):
        return abs(expected - found) < 1e-9
    return expected == found


def recognise(folder: Path, profiles: tuple[Profile, ...]) -> Recognition | None:
    """The first profile whose signature the folder's configs match, or None."""
    configs = FolderConfigs(folder)
    for profile in profiles:
        found = {key: configs.value(key) for key in profile.signature}
        if all(_matches(profile.signature[key], found[key]) for key in profile.signature):
            return Recognition(profile, tuple(_fact(k, v) for k, v in found.items()))
    return None


def _fact(key: str, value: Any) -> str:
    if "." not in key:  # a component
        return f"with {key}" if value is PRESENT else f"no {key}"
    return f"{key} {json.dumps(value)}"


def by_name(profiles: tuple[Profile, ...], name: str) -> Profile:
    return next(profile for profile in profiles if profile.name == name)
