"""The content-addressed cache: one folder per node output, named by the node's hash.

An entry is written into a temporary folder and renamed into place in one
step, so a crash or a kill never leaves a half-written entry where a later
run would trust it.  A manifest inside each entry lists its files with their
sizes; an entry whose files do not match it is treated as absent.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

MANIFEST = "entry.json"


@dataclass(frozen=True)
class Entry:
    """A finished cache entry: its folder and what its manifest says."""

    folder: Path
    meta: dict

    def file(self, name: str) -> Path:
        return self.folder / name


class Cache:
    def __init__(self, root: Path):
        self.root = root
        self.entries = root / "entries"
        self.staging = root / "staging"
        self.entries.mkdir(parents=True, exist_ok=True)
        self.staging.mkdir(parents=True, exist_ok=True)

    def folder(self, digest: str) -> Path:
        return self.entries / digest[:2] / digest

    def get(self, digest: str) -> Entry | None:
        """The entry for `digest`, or None if there is none or it is incomplete."""
        folder = self.folder(digest)
        try:
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        for name, size in manifest.get("files", {}).items():
            path = folder / name
            if not path.exists() or (path.is_file() and path.stat().st_size != size):
                return None
        return Entry(folder, manifest.get("meta", {}))

    def has(self, digest: str) -> bool:
        return self.get(digest) is not None

    def stage(self, digest: str) -> Path:
        """A fresh private folder to write an entry's files into."""
        folder = self.staging / f"{digest}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        folder.mkdir(parents=True)
        return folder

    def commit(self, digest: str, staged: Path, op: str, meta: dict | None = None) -> Entry:
        """Seal a staged folder and move it into place atomically."""
        files = {
            str(p.relative_to(staged)): p.stat().st_size
            for p in sorted(staged.rglob("*"))
            if p.is_file()
        }
        manifest = {"op": op, "hash": digest, "files": files, "meta": meta or {}}
        (staged / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        _fsync_tree(staged)
        target = self.folder(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():  # a broken entry, or another process won the race
            if self.get(digest) is not None:
                shutil.rmtree(staged, ignore_errors=True)
                return self.get(digest)
            shutil.rmtree(target, ignore_errors=True)
        os.replace(staged, target)
        return Entry(target, manifest["meta"])

    def discard(self, staged: Path) -> None:
        shutil.rmtree(staged, ignore_errors=True)

    def clean_staging(self, older_than_s: float = 0.0) -> None:
        """Remove what killed runs left half-written."""
        now = time.time()
        for folder in self.staging.iterdir():
            pid = _pid_of(folder.name)
            if pid == os.getpid() or (pid is not None and _alive(pid)):
                continue
            if now - folder.stat().st_mtime >= older_than_s:
                shutil.rmtree(folder, ignore_errors=True)


def _pid_of(name: str) -> int | None:
    parts = name.split(".")
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
