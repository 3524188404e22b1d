"""Where the models are: `director.toml` files and the command line, resolved per backend.

A `director.toml` gives each diffusers backend a local model folder and its
settings, one table per backend:

    [ltx2]
    model = "/models/LTX-2"            # relative paths are relative to the file
    steps = 40
    offload = "model"

    [wan]
    model = "models/Wan2.1-VACE-1.3B-diffusers"

Two files are read, the later winning key by key: the user's
(`$XDG_CONFIG_HOME/director/director.toml`, by default
`~/.config/director/director.toml`), then the project's (the nearest
`director.toml` in the script's folder or a folder above it); then the
command line (`--model`, `--steps`, `--device`, ...) wins over both.

Settings come in two kinds (see `backends.diffusers_base`): those that change
the pictures (`steps`, `guidance`, ...; and the model folder's identity) go
into the plan and its cache keys; those that say how and where to run
(`model` itself, `device`, `dtype`, `offload`, `vae_tiling`) reach the
backend through the runtime and never change a hash.
"""

from __future__ import annotations

import os
import time
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from backends import image_names, registry
from backends.base import Backend
from backends.diffusers_base import (
    DTYPES,
    INSTALL_HINT,
    OFFLOADS,
    DiffusersBackend,
    ModelError,
    accelerator,
    check_folder,
    missing_packages,
    model_index,
)

from . import codes, spec
from .diagnostics import Diagnostic, did_you_mean, make
from .plan_nodes import Generate, GenerateParams

if TYPE_CHECKING:
    from backends.image_diffusers import DiffusersImages

    from .plan import Plan

CONFIG_NAME = "director.toml"
_TYPES: dict[str, tuple[type, ...]] = {
    "model": (str,),
    "steps": (int,),
    "guidance": (int, float),
    "guidance_2": (int, float),
    "flow_shift": (int, float),
    "negative": (str,),
    "colour_match": (bool,),
    "distilled": (bool,),
    "two_stage": (bool,),
    "device": (str,),
    "dtype": (str,),
    "offload": (str,),
    "vae_tiling": (bool,),
}
_CHOICES = {"dtype": DTYPES, "offload": OFFLOADS}
_WORDS = {  # what, and how the rest of the message speaks of it
    "first_frame": ("a first frame", "one, and it"),
    "last_frame": ("a last frame", "one, and it"),
    "reference_images": ("reference images", "some, and they"),
}


NO_MODEL = "no model folder configured (--model PATH, or [{name}] model = … in director.toml)"


class ConfigError(Exception):
    """A settings file or a command-line setting is wrong; the message says where and why."""


@dataclass
class Overrides:
    """Settings from the command line.  `models` maps a backend name, or None for a
    bare `--model PATH`, to a folder; the rest apply to every diffusers backend."""

    models: dict[str | None, str] = field(default_factory=dict)
    steps: int | None = None
    guidance: float | None = None
    guidance_2: float | None = None
    flow_shift: float | None = None
    negative: str | None = None
    two_stage: bool | None = None
    device: str | None = None
    dtype: str | None = None
    offload: str | None = None

    @classmethod
    def parse_models(cls, values: Iterable[str]) -> dict[str | None, str]:
        """`--model PATH` or `--model NAME=PATH`, as given on the command line."""
        models: dict[str | None, str] = {}
        for value in values:
            name, _, path = value.partition("=")
            known = name in registry.names() or name in image_names.names()
            key = name if path and known else None
            models[key] = path if key else value
        return models

    def settings(self) -> dict:
        given = {
            "steps": self.steps,
            "guidance": self.guidance,
            "guidance_2": self.guidance_2,
            "flow_shift": self.flow_shift,
            "negative": self.negative,
            "two_stage": self.two_stage,
            "device": self.device,
            "dtype": self.dtype,
            "offload": self.offload,
        }
        return {key: value for key, value in given.items() if value is not None}


@dataclass
class Resolved:
    """What each diffusers backend a film uses gets: plan options, runtime settings."""

    plan_options: dict[str, dict] = field(default_factory=dict)
    runtime: dict[str, dict] = field(default_factory=dict)
    folders: dict[str, Path | None] = field(default_factory=dict)
    # Each backend bound to its folder's model (its frame rates, sides, frames), for the planner.
    bound: dict[str, type[Backend]] = field(default_factory=dict)
    # Which model each folder holds, and why: one line a backend for `director plan`.
    recognised: dict[str, str] = field(default_factory=dict)

    # The keyframes' image model, when it loads a folder: its name → the folder or None.
    image_folders: dict[str, Path | None] = field(default_factory=dict)

    def missing_model(self) -> str | None:
        """The message for the first backend with no model folder, or None."""
        for name, folder in self.folders.items():
            if folder is None:
                try:
                    check_folder(name, None)
                except ModelError as error:
                    return str(error)
        for name, folder in self.image_folders.items():
            if folder is None:
                return (
                    f"no model folder is configured for the {name} image backend that makes "
                    f"the keyframes: pass --model {name}=PATH, or add to director.toml:\n"
                    f'  [{name}]\n  model = "/path/to/the/model/folder"'
                )
        return None


# ------------------------------------------------------------------- files


def user_config() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "director" / CONFIG_NAME


def project_config(start: Path) -> Path | None:
    """The nearest `director.toml` in `start` or a folder above it."""
    folder = start.resolve()
    for candidate in (folder, *folder.parents):
        path = candidate / CONFIG_NAME
        if path.is_file():
            return path
    return None


def config_files(start: Path) -> list[Path]:
    """The settings files that apply to a project folder, the weakest first."""
    files = [user_config(), project_config(start)]
    return [path for path in files if path is not None and path.is_file()]


def read_config(path: Path) -> dict[str, dict]:
    """One settings file, checked: known backends, known keys, values of the right type."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: {error}") from None
    names: dict[str, type[DiffusersBackend] | type[DiffusersImages]] = {
        **diffusers_backends(),
        **image_model_backends(),
    }
    tables: dict[str, dict] = {}
    for name, table in data.items():
        if name in hosted_backends() and isinstance(table, dict):
            tables[name] = _hosted_table(path, name, table)
            continue
        if name not in names or not isinstance(table, dict):
            hint = did_you_mean(name, names) or "tables: " + ", ".join(f"[{n}]" for n in names)
            raise ConfigError(f"{path}: [{name}] is not a backend with settings; {hint}")
        allowed = (*names[name].runtime_settings, *names[name].plan_settings)
        for key, value in table.items():
            _check_setting(f"{path}: [{name}] {key}", key, value, allowed)
        tables[name] = dict(table)
        if "model" in table:
            tables[name]["model"] = str(path.parent / Path(table["model"]).expanduser())
    return tables


def hosted_backends() -> frozenset[str]:
    from .hosted import HOSTED

    return HOSTED


def _hosted_table(path: Path, name: str, table: dict) -> dict:
    """A hosted model's table: `via` (a provider that serves it), `price_per_second`."""
    from backends.hosted import PROVIDERS

    from .hosted import SETTINGS

    for key, value in table.items():
        where = f"{path}: [{name}] {key}"
        if key not in SETTINGS:
            hint = did_you_mean(key, list(SETTINGS)) or "settings: " + ", ".join(SETTINGS)
            raise ConfigError(f"{where}: no such setting; {hint}")
        if not isinstance(value, SETTINGS[key]) or isinstance(value, bool):
            raise ConfigError(f"{where}: expected {' or '.join(t.__name__ for t in SETTINGS[key])}")
        if key == "via" and value not in PROVIDERS:
            raise ConfigError(f"{where}: expected one of {', '.join(PROVIDERS)}")
        if key == "price_per_second" and isinstance(value, int | float) and value < 0:
            raise ConfigError(f"{where}: a price is not negative")
    return dict(table)


def _check_setting(where: str, key: str, value, allowed: tuple[str, ...]) -> None:
    if key not in allowed:
        hint = did_you_mean(key, allowed) or "settings: " + ", ".join(allowed)
        raise ConfigError(f"{where}: no such setting; {hint}")
    types = _TYPES[key]
    if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
        raise ConfigError(f"{where}: expected {' or '.join(t.__name__ for t in types)}")
    if key in _CHOICES and value not in _CHOICES[key]:
        raise ConfigError(f"{where}: expected one of {', '.join(_CHOICES[key])}")
    if key == "steps" and isinstance(value, int) and value < 1:
        raise ConfigError(f"{where}: at least 1")


def load_settings(start: Path) -> dict[str, dict]:
    """Each backend's settings from the files that apply to `start`, merged."""
    merged: dict[str, dict] = {}
    for path in config_files(start):
        for name, table in read_config(path).items():
            merged.setdefault(name, {}).update(table)
    return merged


def image_model_backends() -> dict[str, type[DiffusersImages]]:
    """The image backends that load a model folder (backends/image_diffusers.py), by
    name; a table in director.toml gives each its folder and settings."""
    from backends import image
    from backends.image_diffusers import DiffusersImages

    found = {name: image.get(name) for name in image.names()}
    return {n: b for n, b in found.items() if issubclass(b, DiffusersImages)}


def diffusers_backends() -> dict[str, type[DiffusersBackend]]:
    return {
        name: backend
        for name, backend in registry.backends().items()
        if isinstance(backend, type) and issubclass(backend, DiffusersBackend)
    }


# --------------------------------------------------------------- resolving


def used_backends(film: spec.Film, override: str | None) -> list[type[Backend]]:
    """The backends a film will be planned with, as the planner will choose them."""
    if override is not None:
        names = [override]
    else:
        names = [film.backend, *(shot.backend for shot in film.shots if shot.backend)]
    found = {choose(name) for name in names}
    return sorted(found, key=lambda backend: backend.name)


def choose(name: str) -> type[Backend]:
    """The backend called `name`; `auto` is the best one that can run here, by the
    settings that apply to the working folder (`unavailable_reason`)."""
    if name == registry.AUTO:
        return registry.best_available(unavailable_reason)
    return registry.get(name)


def resolve(
    backends: Iterable[type[Backend]], start: Path, overrides: Overrides | None = None
) -> Resolved:
    """Plan options and runtime settings for each diffusers backend among `backends`,
    from the settings files that apply to the project folder `start` and the command line."""
    overrides = overrides or Overrides()
    chosen = [b for b in backends if issubclass(b, DiffusersBackend)]
    models = dict(overrides.models)
    if None in models:
        if len(chosen) != 1:
            raise ConfigError(_which_model(chosen))
        models[chosen[0].name] = models.pop(None)
    for name in models:
        if name not in {b.name for b in chosen} and name not in image_names.names():
            raise ConfigError(f"--model {name}=…: the script is not rendered with {name}")
    files = load_settings(start)
    resolved = Resolved()
    for backend in chosen:
        settings = {**files.get(backend.name, {}), **overrides.settings()}
        if backend.name in models:
            settings["model"] = models[backend.name]
        for key, value in overrides.settings().items():
            where = f"--{key.replace('_', '-')} ({backend.name})"
            _check_setting(where, key, value, (*backend.runtime_settings, *backend.plan_settings))
        folder = check_folder(backend.name, settings["model"]) if "model" in settings else None
        if folder is not None:
            model_index(folder)  # a clear message now for a folder that holds no diffusers model
        plan_keys = {k: v for k, v in settings.items() if k in backend.plan_settings}
        options = backend.plan_options(folder, plan_keys)
        resolved.plan_options[backend.name] = options
        if folder is not None:
            resolved.bound[backend.name] = backend.bound_to(folder, options)
            recognition = backend.recognise(folder)
            notes = [recognition.profile.notes, *backend.plan_notes(folder, options)]
            said = "".join(f"; {note}" for note in notes if note)
            line = f"{backend.name}: {recognition.describe(folder)}{said}"
            resolved.recognised[backend.name] = line
        resolved.runtime[backend.name] = {
            k: v for k, v in settings.items() if k in backend.runtime_settings and k != "model"
        } | ({"model": str(folder)} if folder is not None else {})
        resolved.folders[backend.name] = folder
    return resolved


def resolve_image(choice: str | None, start: Path, overrides: Overrides | None = None) -> Resolved:
    """Plan options, runtime settings and folder of the image backend `choice` (a
    `keyframes:` value) when it loads a model folder, by its name, as `resolve` gives
    the video backends': from director.toml's [NAME] table, `--model NAME=PATH`, and
    the command line's device, dtype and offload.  Empty for the built-in maker."""
    resolved = Resolved()
    name = image_names.maker_name(choice or image_names.GENERATE)
    backend = image_model_backends().get(name)
    if backend is None:
        return resolved
    overrides = overrides or Overrides()
    settings = dict(load_settings(start).get(name, {}))
    settings |= {k: v for k, v in overrides.settings().items() if k in backend.runtime_settings}
    if name in overrides.models:
        settings["model"] = overrides.models[name]
    folder = check_folder(name, settings["model"]) if "model" in settings else None
    plan_keys = {k: v for k, v in settings.items() if k in backend.plan_settings}
    runtime = {k: v for k, v in settings.items() if k in backend.runtime_settings}
    if folder is not None:
        runtime["model"] = str(folder)
    resolved.plan_options[name] = backend.plan_options(folder, plan_keys)
    resolved.runtime[name] = runtime
    resolved.image_folders[name] = folder
    return resolved


def _which_model(chosen: Sequence[type[Backend]]) -> str:
    if not chosen:
        return (
            "--model: the script is rendered with the preview animatic, which loads no model; "
            "choose a backend that does with --backend ltx2 or --backend wan"
        )
    names = [b.name for b in chosen]
    pairs = " ".join(f"--model {n}=PATH" for n in names)
    return f"--model: the script uses {' and '.join(names)}; say which folder is which: {pairs}"


# ------------------------------------------------------------ availability


def problems(backend: type[DiffusersBackend], folder: Path | None) -> list[str]:
    """Everything that keeps `backend` from running well here with `folder`, in plain words."""
    found = []
    if missing := missing_packages():
        found.append(f"{', '.join(missing)} not installed ({INSTALL_HINT})")
    if folder is None:
        found.append(NO_MODEL.format(name=backend.name))
    else:
        try:
            backend.model_kind(check_folder(backend.name, folder))
        except ModelError as error:
            found.append(str(error))
    if "torch" not in missing and accelerator() is None:
        found.append("no GPU that torch can use (CUDA or Apple MPS)")
    return found


def configured_folder(backend: type[DiffusersBackend], start: Path) -> Path | None:
    model = load_settings(start).get(backend.name, {}).get("model")
    return Path(model) if model else None


def unavailable_reason(backend: type[Backend]) -> str | None:
    """Why `backend: auto` must not choose `backend` here, or None: the backend's own
    answer, and for a diffusers backend whether a model folder is configured and
    usable.  Settings come from the files that apply to the working folder.  The
    planner asks once a plan, so an answer is kept for a second (`forget` drops
    it), and a machine with no model configured never imports torch to answer."""
    if not issubclass(backend, DiffusersBackend):
        return backend.unavailable_reason()
    if missing := missing_packages():
        return f"{', '.join(missing)} not installed ({INSTALL_HINT})"
    key = (backend.name, os.getcwd())
    now = time.monotonic()
    if key in _ANSWERS and now - _ANSWERS[key][0] < ANSWER_SECONDS:
        return _ANSWERS[key][1]
    answer: str | None
    try:
        folder = configured_folder(backend, Path(key[1]))
    except ConfigError as error:
        answer = str(error)
    else:
        found = [NO_MODEL.format(name=backend.name)] if folder is None else []
        answer = next(iter(found or problems(backend, folder)), None)
    _ANSWERS[key] = (now, answer)
    return answer


ANSWER_SECONDS = 1.0
_ANSWERS: dict[tuple[str, str], tuple[float, str | None]] = {}


def forget() -> None:
    """Drop the kept availability answers (after changing a settings file in-process)."""
    _ANSWERS.clear()


# --------------------------------------------------------------- diagnostics


def model_diagnostics(plan: Plan, resolved: Resolved) -> list[Diagnostic]:
    """W109 at each shot that gives an input its backend's model folder cannot take,
    E039 at each shot that lacks one the model needs.

    The planner warns about what a backend can never take; this adds what the
    particular model cannot (a Wan text-to-video folder takes no first frame)."""
    takes: dict[str, frozenset] = {}
    needs: dict[str, frozenset] = {}
    folders = {name: folder for name, folder in resolved.folders.items() if folder is not None}
    for name, folder in folders.items():
        takes[name] = _diffusers(name).conditioning_for(folder)
        needs[name] = _diffusers(name).conditioning_needed(folder)
    found: dict[tuple[str, str], Diagnostic] = {}
    for node in plan.of_class(Generate):
        name = node.params.backend
        if name not in takes or node.source is None:
            continue
        backend, shot = _diffusers(name), node.params.shot
        wanted = _wanted(node.params)
        if "first_frame" in needs[name] and "first_frame" not in wanted:
            folder = folders[name]
            found[(shot.id, "needs")] = make(
                codes.MISSING_CONDITIONING,
                node.source,
                f"the {name} model in {folder.name} ({backend.model_kind(folder)}) makes video "
                f"from a first frame, and shot {shot.id} has none",
                help="give the shot `keyframe first: FILE` or make it `continuous`, or use a "
                f"{name} model folder that makes video from text",
            )
        for conditioning in wanted:
            known = conditioning in backend.capabilities.conditioning  # else the planner warned
            key = (shot.id, conditioning)
            if known and conditioning not in takes[name] and key not in found:
                folder = folders[name]
                what, rest = _WORDS[conditioning]
                found[key] = make(
                    codes.UNSUPPORTED_CONDITIONING,
                    node.source,
                    f"the {name} model in {folder.name} ({backend.model_kind(folder)}) cannot "
                    f"be conditioned on {what}; shot {shot.id} gives {rest} will be left out",
                    help=f"use a {name} model folder that takes them, or remove them from the shot",
                )
    return list(found.values()) + size_diagnostics(plan, resolved)


def size_diagnostics(plan: Plan, resolved: Resolved) -> list[Diagnostic]:
    """W122 where the side rule of a backend's model folder changes the film's
    size, W121 where the size made is not one its model was trained at: once a
    backend, at its first shot (every shot of the backend is made at that size)."""
    found: list[Diagnostic] = []
    firsts: dict[str, Generate] = {}
    for node in plan.of_class(Generate):
        if node.source is not None and resolved.folders.get(node.params.backend) is not None:
            firsts.setdefault(node.params.backend, node)
    fps = f"{plan.fps_num / plan.fps_den:g}fps"
    for name, node in firsts.items():
        folder = resolved.folders[name]
        assert folder is not None and node.source is not None  # chosen so above
        profile = _diffusers(name).recognise(folder).profile
        model = f"the {name} model in {folder.name} ({profile.name})"
        made = (node.params.width, node.params.height)
        size = f"{made[0]}x{made[1]}"
        if made != (plan.width, plan.height):
            multiple = resolved.bound[name].capabilities.size_multiple
            found.append(make(
                codes.ROUNDED_SIZE, node.source,
                f"{model} makes sides divisible by {multiple}: the film's "
                f"{plan.width}x{plan.height} is made at {size} and scaled to it",
                help=f"format: {size} @ {fps}",
            ))  # fmt: skip
        if profile.sizes and made not in profile.sizes:
            trained = " or ".join(f"{w}x{h}" for w, h in profile.sizes)
            found.append(make(
                codes.UNTRAINED_SIZE, node.source,
                f"{model} was trained at {trained}; shot {node.params.shot.id} and every "
                f"other {name} shot are made at {size}",
                help=f"format: {profile.sizes[0][0]}x{profile.sizes[0][1]} @ {fps}",
            ))  # fmt: skip
    return found


def _diffusers(name: str) -> type[DiffusersBackend]:
    """The diffusers backend called `name` (the backends settings are resolved for)."""
    backend = registry.get(name)
    if not issubclass(backend, DiffusersBackend):
        raise TypeError(f"{name} is not a diffusers backend")
    return backend


def _wanted(params: GenerateParams) -> list[str]:
    shot, window = params.shot, params.window
    wanted = []
    first = shot.keyframe_first is not None or params.continues is not None
    if (first and window.index == 0) or window.index > 0:
        wanted.append("first_frame")
    if shot.keyframe_last is not None and window.last:
        wanted.append("last_frame")
    images = [p for c in shot.characters for p in c.refs] + shot.refs
    images += [shot.plate] if shot.plate else []
    from .media import kind_of

    if any(kind_of(p) == "image" for p in images):
        wanted.append("reference_images")
    return wanted
