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

Several processes may share one cache (two compiles at once, Ray workers): an
entry is checked and renamed into place under a short exclusive lock on
`LOCK`, so exactly one of two processes that made the same node commits it and
the other takes that entry.  A damaged layout inside the cache (a shard or an
entry that is a file, a broken entry, leftovers in `staging/`) is cleared when
the entry is made again; a cache folder that cannot be one raises `CacheError`,
whose message names the command that repairs it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG

if sys.platform == "win32":  # not POSIX: no lock, and a lost race is retried instead
    fcntl = None
else:
    import fcntl

MANIFEST = "entry.json"
LOCK = "commit.lock"  # in the cache's root; held only while an entry is renamed into place
WHOLE_HASH_BYTES = 64 * 2**20  # files up to this size are hashed whole on every read
SAMPLE_BLOCKS, SAMPLE_BLOCK = 32, 256 * 2**10  # bigger files: 8 MiB read, head to tail


@dataclass(frozen=True)
class Entry:
    """A finished cache entry: its folder and what its manifest says."""

    folder: Path
    meta: dict

    def file(self, name: str) -> Path:
        return self.folder / name


class CacheError(Exception):
    """A cache folder that cannot be used; the message says how to repair it."""


class Cache:
    def __init__(self, root: Path):
        self.root = root
        self.entries = root / "entries"
        self.staging = root / "staging"
        for folder in (self.entries, self.staging):
            _make_folder(root, folder)
        self.damaged: dict[str, str] = {}  # digest → what was wrong with its entry
        self._verified: dict[tuple, str] = {}  # (device, inode, size, times) → digest

    def folder(self, digest: str) -> Path:
        return self.entries / digest[:2] / digest

    def get(self, digest: str) -> Entry | None:
        """The entry for `digest`, or None if there is none, it is incomplete or its
        files no longer match their digests (then `damaged[digest]` says why)."""
        folder = self.folder(digest)
        try:
            data = (folder / MANIFEST).read_bytes()
        except OSError:
            return None
        manifest = _manifest(data, digest)
        if manifest is None:
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
        meta = meta or {}
        manifest = {"op": op, "hash": digest, "files": files, "meta": meta}
        manifest["sealed"] = _seal(manifest)
        (staged / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        _fsync_tree(staged)
        target = self.folder(digest)
        for attempt in range(3):
            with self._lock() as locked:
                existing = self.get(digest)
                if existing is not None:  # another process made it first: theirs is used
                    self.discard(staged)
                    return existing
                _clear_way(target)
                try:
                    os.replace(staged, target)
                except OSError:
                    # Unlocked, a race lost to another process fails the rename: look again.
                    if locked or attempt == 2 or not target.exists():
                        raise
                    continue
            break
        self.damaged.pop(digest, None)
        return Entry(target, meta)

    @contextmanager
    def _lock(self) -> Iterator[bool]:
        """Exclusive among processes while held; says whether it could be had (not
        without fcntl, nor in a cache it cannot write a lock file in)."""
        try:
            handle = open(self.root / LOCK, "a")  # noqa: SIM115 (closed below)
        except OSError:
            handle = None
        try:
            locked = handle is not None and fcntl is not None
            if handle is not None and fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_EX)
            yield locked
        finally:
            if handle is not None:
                handle.close()  # which releases the lock

    def discard(self, staged: Path) -> None:
        shutil.rmtree(staged, ignore_errors=True)

    def clean_staging(self, older_than_s: float = 0.0) -> None:
        """Remove what killed runs left half-written."""
        now = time.time()
        for folder in self.staging.iterdir():
            pid = _pid_of(folder.name)
            if pid == os.getpid() or (pid is not None and _alive(pid)):
                continue
            try:
                age = now - folder.lstat().st_mtime
            except OSError:  # another run removed it first
                continue
            if age >= older_than_s:
                _remove(folder)


def _make_folder(root: Path, folder: Path) -> None:
    """Make one of the cache's own folders, or raise CacheError saying how to repair it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if folder.is_dir():
            return
    except OSError as error:
        if not isinstance(error, (FileExistsError, NotADirectoryError)):
            raise CacheError(
                f"cannot use {root} as the cache: {error.strerror}; "
                "name a folder you can write with --cache"
            ) from None
    places = (*reversed(folder.parents), folder)
    blocker = next((p for p in places if p.exists() and not p.is_dir()), folder)
    if blocker == folder:
        raise CacheError(
            f"the cache at {root} is damaged: {blocker} is a file, not a folder. "
            f"Remove it (rm '{blocker}'; it holds no finished work) and run again"
        )
    raise CacheError(
        f"cannot use {root} as the cache: {blocker} is a file, not a folder; "
        "name a folder with --cache"
    )


def _clear_way(target: Path) -> None:
    """Remove what stands where an entry goes: a broken entry, a file in its place, a
    file where its shard folder should be.  Called under the commit lock."""
    shard = target.parent
    if shard.is_symlink() or (shard.exists() and not shard.is_dir()):
        _remove(shard)
    shard.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or target.exists():
        _remove(target)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _manifest(data: bytes, digest: str) -> dict | None:
    """The manifest in `data` if it is whole and is `digest`'s, else None: sealed by its
    own digest (or from before seals), with a files table and a meta table."""
    try:
        manifest = json.loads(data)
    except (ValueError, RecursionError):
        return None
    if not isinstance(manifest, dict):
        return None
    sealed = manifest.pop("sealed", None)
    if manifest.get("hash") != digest or sealed not in (None, _seal(manifest)):
        return None
    files, meta = manifest.get("files", {}), manifest.get("meta", {})
    if not isinstance(files, dict) or not isinstance(meta, dict):
        return None
    if not all(_valid_record(name, record) for name, record in files.items()):
        return None
    return manifest


def _valid_record(name: str, record) -> bool:
    """A file record as `file_record` writes it (or a bare size, from before digests),
    for a file inside the entry."""
    parts = Path(name).parts
    if not parts or Path(name).is_absolute() or ".." in parts:
        return False
    if isinstance(record, int):
        return record >= 0
    return (
        isinstance(record, dict)
        and isinstance(record.get("size"), int)
        and all(isinstance(record.get(key, ""), str) for key in ("sha256", "sample"))
    )


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
    if len(parts) != 3 or not parts[1].isdigit() or len(parts[1]) > 12:
        return None  # not a staging folder's name (or no process's id: removed)
    return int(parts[1]) or None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OverflowError, OSError):  # an id no process can have
        return False
    return True


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
