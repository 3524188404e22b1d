"""What was asked of a provider, kept on disk so that no request is paid for twice.

Each request has one record, named by the hash of its provider, endpoint and
body: the request id, written (through a temporary file and a rename) as soon
as the provider accepts the job and before the first poll.  A compile killed
mid-render finds the record on its next run and polls the same job instead of
submitting it again.  A downloaded result is kept once, by its SHA-256, and
the record names it, so an expired link never costs a new render either.

Nothing secret is written: records hold the endpoint, the request id, times
and the result's digest, never the request's headers.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_key(provider: str, endpoint: str, body: dict) -> str:
    """The identity of a request: same provider, endpoint and body, same job."""
    payload = _CANONICAL.encode([provider, endpoint, body])
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass
class Record:
    key: str
    provider: str
    endpoint: str
    request_id: str
    submitted: float  # time.time() when the provider accepted it
    shot: str = ""
    result_sha256: str | None = None  # the downloaded video, in results/
    failure: str | None = None  # why the provider refused it, once it said so
    events: list[str] = field(default_factory=list)


class Journal:
    """Records under `folder`/requests, results under `folder`/results."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.requests = self.folder / "requests"
        self.results = self.folder / "results"
        self._lock = threading.Lock()

    def get(self, key: str) -> Record | None:
        path = self.requests / f"{key}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return Record(**data)

    def put(self, record: Record) -> None:
        """Write the record in one step: a reader sees the old one or the new one."""
        self.requests.mkdir(parents=True, exist_ok=True)
        path = self.requests / f"{record.key}.json"
        _write_atomically(path, json.dumps(asdict(record), indent=1, sort_keys=True) + "\n")

    def result(self, record: Record) -> Path | None:
        if record.result_sha256 is None:
            return None
        path = self.results / f"{record.result_sha256}.mp4"
        return path if path.is_file() else None

    def keep_result(self, record: Record, downloaded: Path) -> Path:
        """Move a downloaded video into results/ under its digest and note it."""
        digest = _sha256(downloaded)
        self.results.mkdir(parents=True, exist_ok=True)
        target = self.results / f"{digest}.mp4"
        if target.is_file():
            downloaded.unlink()
        else:
            os.replace(downloaded, target)
        record.result_sha256 = digest
        record.events.append(f"downloaded {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}")
        self.put(record)
        return target

    def scratch(self) -> Path:
        """A fresh path in the journal's folder for a download in progress."""
        folder = self.folder / "downloads"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{os.getpid()}.{uuid.uuid4().hex[:8]}.part"


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:6]}")
    try:
        with temporary.open("w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())  # on disk before the name points at it
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
