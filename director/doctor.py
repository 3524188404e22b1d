"""`director doctor`: what is installed here, which backends can run, and why not.

One entry function, `report`, gathers the facts into records; `render` puts
them in plain words.  Nothing here changes anything: it imports torch to ask
about the GPU and reads the settings files, nothing more.
"""

from __future__ import annotations

import importlib.metadata
import platform
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from backends import registry
from backends.diffusers_base import REQUIRED_PACKAGES, DiffusersBackend, ModelError, model_index

from . import __version__, models

PACKAGES = (*REQUIRED_PACKAGES, "tokenizers", "ftfy", "av")
WIDTH = 88  # the summary's paragraphs are wrapped at this width
_TAKES = {
    "text": "the prompt",
    "first_frame": "a first frame",
    "last_frame": "a last frame",
    "reference_images": "reference images",
    "reference_video": "reference video",
    "reference_audio": "reference audio",
}


@dataclass
class BackendReport:
    name: str
    description: str
    problems: list[str] = field(default_factory=list)
    folder: Path | None = None
    folder_from: str = ""  # where the folder was configured
    kind: str = ""  # what the model folder holds
    takes: list[str] = field(default_factory=list)

    @property
    def can_run(self) -> bool:
        return not self.problems


@dataclass
class Report:
    python: str
    system: str
    packages: dict[str, str | None]  # name -> version, None when not installed
    torch_build: str  # e.g. "CPU only" or "CUDA 12.8"
    gpus: list[str]  # one line per GPU torch can use
    gpu_note: str  # why there is none, when there is none
    config_files: list[Path]
    config_looked: list[Path]
    config_error: str | None
    backends: list[BackendReport]
    auto: str  # what `backend: auto` resolves to here


def report(folder: Path, models_given: dict[str | None, str] | None = None) -> Report:
    """The facts for a project in `folder`, with `--model` folders taken into account."""
    packages = {name: _version(name) for name in PACKAGES}
    torch_build, gpus, note = _torch_facts(packages["torch"] is not None)
    looked = [models.user_config(), folder.resolve() / models.CONFIG_NAME]
    try:
        settings, error = models.load_settings(folder), None
    except models.ConfigError as problem:
        settings, error = {}, str(problem)
    given = _given_models(models_given or {})
    backends = [
        _backend_report(backend, settings, given) for backend in registry.backends().values()
    ]
    return Report(
        python=platform.python_version(),
        system=f"{platform.system()} {platform.machine()}",
        packages=packages,
        torch_build=torch_build,
        gpus=gpus,
        gpu_note=note,
        config_files=models.config_files(folder) if error is None else [],
        config_looked=looked,
        config_error=error,
        backends=backends,
        auto=max(
            (b for b in backends if b.can_run),
            key=lambda b: (registry.backends()[b.name].auto_rank, b.name),
        ).name,
    )


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _torch_facts(installed: bool) -> tuple[str, list[str], str]:
    if not installed:
        return "not installed", [], "torch is not installed"
    import torch

    build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU only"
    gpus = []
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            gpus.append(f"cuda:{index} {props.name}, {props.total_memory / 2**30:.0f} GiB")
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        gpus.append("mps (Apple GPU)")
    if gpus:
        return build, gpus, ""
    if not torch.version.cuda:
        return build, gpus, "this torch is a CPU-only build, and there is no Apple GPU"
    return build, gpus, "this torch was built for CUDA, but it finds no GPU (driver? device?)"


def _given_models(given: dict[str | None, str]) -> dict[str, str]:
    """`--model` folders by backend; a bare folder goes to the backend its model_index names."""
    named: dict[str, str] = {}
    for name, path in given.items():
        if name is None:
            name = _backend_of(Path(path))
        named[name] = path
    return named


def _backend_of(folder: Path) -> str:
    try:
        class_name = model_index(folder).get("_class_name", "")
    except ModelError as error:
        raise models.ConfigError(f"--model {folder}: {error}") from None
    if class_name.startswith("LTX2"):
        return "ltx2"
    if class_name.startswith("Wan"):
        return "wan"
    raise models.ConfigError(f"--model {folder}: holds a {class_name}, which no backend loads")


def _backend_report(backend, settings: dict, given: dict[str, str]) -> BackendReport:
    entry = BackendReport(backend.name, backend.description)
    if not (isinstance(backend, type) and issubclass(backend, DiffusersBackend)):
        if reason := backend.unavailable_reason():
            entry.problems.append(reason)
        return entry
    model = given.get(backend.name) or settings.get(backend.name, {}).get("model")
    entry.folder_from = "--model" if backend.name in given else "director.toml"
    entry.folder = Path(model).expanduser() if model else None
    entry.problems = models.problems(backend, entry.folder)
    if entry.folder is not None and entry.folder.is_dir():
        try:
            entry.kind = backend.model_kind(entry.folder)
            entry.takes = sorted(backend.conditioning_for(entry.folder))
        except ModelError:
            pass  # already among the problems
    return entry


# ----------------------------------------------------------------- render


def render(facts: Report) -> str:
    lines = [
        f"shot-director {__version__}, Python {facts.python} on {facts.system}",
        "",
        "Software:",
    ]
    for name, version in facts.packages.items():
        lines.append(f"  {name:<13}{version or 'not installed'}")
    lines += ["", "GPU:"]
    if facts.gpus:
        lines += [f"  {gpu}" for gpu in facts.gpus]
    else:
        lines.append(f"  none: {facts.gpu_note}")
    lines += [f"  torch build: {facts.torch_build}", "", "Settings (director.toml):"]
    if facts.config_error:
        lines.append(f"  error: {facts.config_error}")
    elif facts.config_files:
        lines += [f"  read {path}" for path in facts.config_files]
    else:
        looked = " or ".join(str(path) for path in facts.config_looked)
        lines.append(f"  none found (looked for {looked} and the folders above)")
    lines += ["", "Backends:"]
    for entry in facts.backends:
        verdict = "can run here" if entry.can_run else "cannot run here"
        lines.append(f"  {entry.name:<8} {verdict}: {entry.description}")
        if entry.folder is not None:
            exists = "" if entry.folder.is_dir() else " (missing)"
            lines.append(f"           model: {entry.folder}{exists}, from {entry.folder_from}")
        if entry.kind:
            takes = ", ".join(_TAKES[c] for c in _TAKES if c in entry.takes)
            lines.append(f"           holds: {entry.kind}, which takes {takes}")
        lines += [f"           - {problem}" for problem in entry.problems]
    from .hosted import doctor_lines

    lines += ["", *doctor_lines()]
    lines.append("")
    lines += [wrapped for said in _summary(facts) for wrapped in textwrap.wrap(said, WIDTH)]
    return "\n".join(lines) + "\n"


def _summary(facts: Report) -> list[str]:
    ready = [b.name for b in facts.backends if b.can_run]
    diffusion = [b for b in facts.backends if b.name in models.diffusers_backends()]
    no_weights = all(b.folder is None or not b.folder.is_dir() for b in diffusion)
    said = []
    if not facts.gpus and no_weights:
        said.append("In short: there is no GPU and there are no model weights on this machine.")
    elif not facts.gpus:
        said.append("In short: there is no GPU on this machine.")
    elif no_weights:
        said.append("In short: there is a GPU, but no model weights are configured.")
    said.append(f"What can run here: {', '.join(ready)}. `backend: auto` picks {facts.auto}.")
    if not facts.gpus:
        names = " and ".join(b.name for b in diffusion)
        said.append(
            f"{names} still run on the CPU when named (--backend) and given a model folder "
            "(--model), which is practical only for tiny test models: a real one would take "
            "hours a shot."
        )
    if no_weights and diffusion:
        said.append(
            "To use a real model, download its diffusers folder yourself and name it with "
            "--model PATH or in director.toml (see docs/backends.md); nothing is downloaded "
            "for you."
        )
    return said
