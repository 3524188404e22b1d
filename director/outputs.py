"""Where commands write, and the one rule that keeps every output off the user's files.

Each command that writes (compile's film and the files beside it, `plan -o`,
`import -o`, `export`) names its outputs as `Target`s and asks `refusal` before
it writes anything.  An output may not be the script, nor any file the script
names, nor a folder that holds one; a folder output may not replace a folder
of the user's (one that has files and no `MARKER`); a file output may not be a
folder; its folder must be one it can write in.  Then it writes through
`write_text`, `copy_file` or `copy_folder`: each writes beside the target under
a temporary name and renames it into place, so a target is whole or absent,
and every folder written carries `MARKER`, so the next run may replace it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from . import spec

# Written into every folder director delivers: only a folder with it (or an empty
# one) may be replaced by a later run.
MARKER = ".made-by-director"
_MARKER_TEXT = "Written by director; a later run may replace this folder and all in it.\n"


@dataclass(frozen=True)
class Target:
    """One path a command is about to write, and what it is (for messages)."""

    path: Path
    what: str  # "the film", "the plan", …
    folder: bool = False  # a folder of files (a PNG sequence, stems, timeline media)


class OutputError(Exception):
    """An output that cannot be written; the message says which and why."""


def script_inputs(film: spec.Film, script: Path) -> dict[Path, str]:
    """The script, every script it imports and every file it names, each with how
    to say what it is: the files no output may replace."""
    root = Path(film.root)
    inputs = {root / name: f"{name}, a script it imports" for name in film.files}
    for media in _media_files(film):
        inputs.setdefault(root / media.path, f"{media.path}, a file the script names")
    inputs[script] = "the script itself"
    return inputs


def _media_files(value) -> Iterable[spec.MediaFile]:
    """Every MediaFile anywhere in a spec model: refs, keyframes, cues, assets."""
    if isinstance(value, spec.MediaFile):
        yield value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _media_files(getattr(value, name))
    elif isinstance(value, dict):
        for item in value.values():
            yield from _media_files(item)
    elif isinstance(value, list):
        for item in value:
            yield from _media_files(item)


def refusal(targets: Iterable[Target], inputs: Mapping[Path, str]) -> str | None:
    """Why one of `targets` must not be written, or None when all may be (nor may two
    of them be one path).  `inputs` are the files no output may replace, each with
    what it is."""
    protected = {}
    for path, role in inputs.items():
        try:
            protected[path.resolve()] = role
        except (OSError, RuntimeError):  # a symlink loop cannot be written over either
            continue
    written: dict[Path, Target] = {}
    for target in targets:
        problem = _problem(target, protected)
        if problem is not None:
            return problem
        first = written.setdefault(target.path.resolve(), target)
        if first is not target:
            return f"{first.what} and {target.what} would both be written to {target.path}"
    return None


def _problem(target: Target, protected: Mapping[Path, str]) -> str | None:
    path = target.path
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError) as error:
        return f"cannot write {target.what} to {path}: {error}"
    same = protected.get(resolved) or _same_file(path, protected)
    if same is not None:
        return f"refusing to write {target.what} to {path}: it is {same}"
    if target.folder:
        for source, role in protected.items():
            if resolved in source.parents:
                return f"refusing to write {target.what} into {path}: it holds {role}"
    if path.is_dir():
        if not target.folder:
            return f"cannot write {target.what} to {path}: it is a folder; name a file to write"
        if not _replaceable(path):
            return (
                f"refusing to write {target.what} into {path}: that folder holds files "
                "director did not write; name a new or empty folder"
            )
    elif target.folder and path.exists():
        return f"cannot write {target.what} to {path}: it is a file, not a folder"
    return _parent_problem(target)


def _same_file(path: Path, protected: Mapping[Path, str]) -> str | None:
    """The role of an input that `path` is a hard link of, if any."""
    if not path.is_file():
        return None
    for source, role in protected.items():
        try:
            if os.path.samefile(path, source):
                return role
        except OSError:
            continue
    return None


def _replaceable(folder: Path) -> bool:
    """May a run replace `folder`: is it empty, or did director write it?"""
    try:
        return (folder / MARKER).is_file() or not any(folder.iterdir())
    except OSError:
        return False


def _parent_problem(target: Target) -> str | None:
    """Why the folder `target` goes into cannot be made or written in, or None."""
    existing = target.path.absolute().parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"cannot write {target.what} to {target.path}: {existing} is not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"cannot write {target.what} to {target.path}: {existing} is read-only"
    return None


# ------------------------------------------------------------------ writing


def write_text(path: Path, text: str) -> None:
    """Write `text` through a temporary name beside `path` and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _beside(path, "tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def copy_file(source: Path, target: Path) -> None:
    """Copy `source` to `target` through a temporary name, so it is whole or absent."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = _beside(target, "tmp")
    try:
        shutil.copyfile(source, temporary)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def copy_folder(source: Path, target: Path) -> None:
    """Copy the folder `source` to `target`, marked as director's: the copy is made
    beside the target and renamed into place, and a folder already there (empty,
    or director's own: `refusal` said so) is moved aside first and removed after."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary, old = _beside(target, "tmp"), _beside(target, "old")
    try:
        shutil.copytree(source, temporary)
        (temporary / MARKER).write_text(_MARKER_TEXT, encoding="utf-8")
        if target.is_dir():
            os.replace(target, old)
        try:
            os.replace(temporary, target)
        except BaseException:  # the earlier output stays where it was
            if old.is_dir():
                os.replace(old, target)
            raise
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def mark_folder(folder: Path) -> None:
    """Make `folder` (and mark it director's) for outputs written into it file by file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text(_MARKER_TEXT, encoding="utf-8")


def _beside(path: Path, purpose: str) -> Path:
    return path.with_name(f".{path.name}.{purpose}-{os.getpid()}")
