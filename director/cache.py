"""The content-addressed cache: one folder per node output, named by the node's hash.

An entry is written into a temporary folder and renamed into place in one
step, so a crash or a kill never leaves a half-written entry where a later
run would trust it.  A manifest inside each entry lists its files with their
sizes and SHA-256 digests, checked on every read: an entry whose files do not
match it (truncated, bit-flipped, edited) is treated as absent, recorded in
`Cache.damaged`, and made again.  Files up to `WHOLE_HASH_BYTES` are hashed
whole; bigger ones (long clips) by a fixed sample of blocks spread over the
file, so that checking a feature film's cache stays cheap (docs/reliability.md
has the figures).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG

MANIFEST = "entry.json"
WHOLE_HASH_BYTES = 64 * 2**20  # files up to this size are hashed whole on every read
SAMPLE_BLOCKS, SAMPLE_BLOCK = 32, 256 * 2**10  # bigger files: 8 MiB read, head to tail


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
        self.damaged: dict[str, str] = {}  # digest → what was wrong with its entry
        self._verified: dict[tuple, str] = {}  # (device, inode, size, times) → digest

    def folder(self, digest: str) -> Path:
        return self.entries / digest[:2] / digest

    def get(self, digest: str) -> Entry | None:
        """The entry for `digest`, or None if there is none, it is incomplete or its
        files no longer match their digests (then `damaged[digest]` says why)."""
        folder = self.folder(digest)
        try:
            text = (folder / MANIFEST).read_text(encoding="utf-8")
        except OSError:
            return None
        try:
            manifest = json.loads(text)
            sealed = manifest.pop("sealed", None)
            intact = manifest["hash"] == digest and sealed in (None, _seal(manifest))
        except (ValueError, TypeError, KeyError, AttributeError):
            intact = False
        if not intact:
            self.damaged[digest] = f"{MANIFEST}: it does not match its own digest"
            return None
        for name, record in manifest.get("files", {}).items():
            problem = self._check_file(folder / name, record)
            if problem is not None:
                self.damaged[digest] = f"{name}: {problem}"
                return None
        return Entry(folder, manifest.get("meta", {}))

    def _check_file(self, path: Path, record) -> str | None:
        """Why `path` does not match its manifest record, or None when it does."""
        if isinstance(record, int):  # written before digests were recorded: size only
            record = {"size": record}
        try:
            stat = path.stat()
        except OSError:
            return "missing"
        if not S_ISREG(stat.st_mode):
            return "not a file"
        if stat.st_size != record["size"]:
            return f"{stat.st_size} bytes instead of {record['size']}"
        wanted = record.get("sha256") if stat.st_size <= WHOLE_HASH_BYTES else record.get("sample")
        if wanted is None:
            return None
        # A file is hashed once per process while it stays the same inode, unwritten
        # (hard links between entries share one).
        seen = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
        if self._verified.get(seen) == wanted:
            return None
        try:
            actual = file_digest(path, stat.st_size)
        except OSError as error:
            return f"unreadable: {error.strerror or error}"
        if actual != wanted:
            return "its SHA-256 does not match the manifest"
        self._verified[seen] = wanted
        return None

    def has_manifest(self, digest: str) -> bool:
        """Is there an entry for `digest`, unchecked?  Cheap: for estimates, not for reuse."""
        return (self.folder(digest) / MANIFEST).is_file()

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
            str(p.relative_to(staged)): file_record(p)
            for p in sorted(staged.rglob("*"))
            if p.is_file()
        }
        manifest = {"op": op, "hash": digest, "files": files, "meta": meta or {}}
        manifest["sealed"] = _seal(manifest)
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
        self.damaged.pop(digest, None)
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


def _seal(manifest: dict) -> str:
    """The manifest's own digest, over its canonical JSON, so a flipped byte in it shows."""
    canonical = json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def file_record(path: Path) -> dict:
    """A file's manifest record: its size, its SHA-256 and, when it is too big to hash
    on every read, the digest of its sample as well."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        record = {"size": size, "sha256": hashlib.file_digest(handle, "sha256").hexdigest()}
    if size > WHOLE_HASH_BYTES:
        record["sample"] = file_digest(path, size)
    return record


def file_digest(path: Path, size: int) -> str:
    """SHA-256 of the whole file up to WHOLE_HASH_BYTES, else of SAMPLE_BLOCKS blocks
    at evenly spaced offsets from its first byte to its last (and its size)."""
    with path.open("rb") as handle:
        if size <= WHOLE_HASH_BYTES:
            return hashlib.file_digest(handle, "sha256").hexdigest()
        digest = hashlib.sha256(str(size).encode())
        step = (size - SAMPLE_BLOCK) / (SAMPLE_BLOCKS - 1)
        for index in range(SAMPLE_BLOCKS):
            handle.seek(round(index * step))
            digest.update(handle.read(SAMPLE_BLOCK))
        return "sample:" + digest.hexdigest()


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
