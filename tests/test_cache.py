"""The cache: entries appear whole or not at all; damaged entries are not trusted."""

import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from director import cache as cache_module
from director.cache import Cache, CacheError


def test_an_entry_is_invisible_until_committed(tmp_path):
    cache = Cache(tmp_path / "cache")
    staged = cache.stage("ab" * 32)
    (staged / "clip.mp4").write_bytes(b"x" * 100)
    assert cache.get("ab" * 32) is None
    entry = cache.commit("ab" * 32, staged, "generate", {"frames": 3})
    assert entry.meta == {"frames": 3}
    assert cache.get("ab" * 32).file("clip.mp4").read_bytes() == b"x" * 100
    assert not staged.exists()


def test_a_truncated_file_invalidates_the_entry(tmp_path):
    cache = Cache(tmp_path / "cache")
    staged = cache.stage("cd" * 32)
    (staged / "clip.mp4").write_bytes(b"x" * 100)
    entry = cache.commit("cd" * 32, staged, "generate")
    entry.file("clip.mp4").write_bytes(b"x" * 10)
    assert cache.get("cd" * 32) is None


def test_staging_left_by_a_dead_process_is_cleaned(tmp_path):
    cache = Cache(tmp_path / "cache")
    dead = cache.staging / f"{'ef' * 32}.999999.deadbeef"
    dead.mkdir()
    mine = cache.stage("12" * 32)
    cache.clean_staging()
    assert not dead.exists()
    assert mine.exists()  # this process's own work is left alone
    assert os.getpid() == int(mine.name.split(".")[1])


def test_committing_over_a_broken_entry_replaces_it(tmp_path):
    cache = Cache(tmp_path / "cache")
    broken = cache.folder("34" * 32)
    broken.mkdir(parents=True)
    (broken / "clip.mp4").write_bytes(b"half")
    staged = cache.stage("34" * 32)
    (staged / "clip.mp4").write_bytes(b"whole")
    cache.commit("34" * 32, staged, "generate")
    assert cache.get("34" * 32).file("clip.mp4").read_bytes() == b"whole"


def _entry(cache: Cache, digest: str, data: bytes):
    staged = cache.stage(digest)
    (staged / "clip.mp4").write_bytes(data)
    return cache.commit(digest, staged, "generate", {"frames": 3})


def test_a_flipped_byte_is_found_by_its_digest(tmp_path):
    cache = Cache(tmp_path / "cache")
    entry = _entry(cache, "56" * 32, bytes(range(256)) * 4)
    data = bytearray(entry.file("clip.mp4").read_bytes())
    data[500] ^= 0x10
    entry.file("clip.mp4").write_bytes(bytes(data))  # same size: only the digest can tell
    fresh = Cache(tmp_path / "cache")
    assert fresh.get("56" * 32) is None
    assert fresh.damaged["56" * 32] == "clip.mp4: its SHA-256 does not match the manifest"


def test_a_manifest_is_sealed_by_its_own_digest(tmp_path):
    cache = Cache(tmp_path / "cache")
    entry = _entry(cache, "78" * 32, b"x" * 100)
    manifest = entry.folder / "entry.json"
    manifest.write_text(manifest.read_text().replace('"frames": 3', '"frames": 4'))
    assert Cache(tmp_path / "cache").get("78" * 32) is None


def test_big_files_are_checked_by_a_sample_of_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(cache_module, "WHOLE_HASH_BYTES", 4096)
    monkeypatch.setattr(cache_module, "SAMPLE_BLOCKS", 4)
    monkeypatch.setattr(cache_module, "SAMPLE_BLOCK", 256)
    cache = Cache(tmp_path / "cache")
    entry = _entry(cache, "9a" * 32, os.urandom(64 * 1024))
    clip = entry.file("clip.mp4")
    assert json.loads((entry.folder / "entry.json").read_text())["files"]["clip.mp4"][
        "sample"
    ].startswith("sample:")

    def flipped_at(offset: int) -> bool:
        original = clip.read_bytes()
        data = bytearray(original)
        data[offset] ^= 0xFF
        clip.write_bytes(bytes(data))
        found = Cache(tmp_path / "cache").get("9a" * 32) is None
        clip.write_bytes(original)
        return found

    assert flipped_at(0) and flipped_at(64 * 1024 - 1)  # head and tail are always sampled
    assert not flipped_at(10_000)  # between the blocks: the sample's known blind spot
    assert Cache(tmp_path / "cache").get("9a" * 32) is not None


def test_an_entry_from_before_digests_is_still_trusted_by_size(tmp_path):
    cache = Cache(tmp_path / "cache")
    folder = cache.folder("bc" * 32)
    folder.mkdir(parents=True)
    (folder / "clip.mp4").write_bytes(b"old")
    manifest = {"op": "generate", "hash": "bc" * 32, "files": {"clip.mp4": 3}, "meta": {}}
    (folder / "entry.json").write_text(json.dumps(manifest))
    assert cache.get("bc" * 32) is not None
    (folder / "clip.mp4").write_bytes(b"older")
    assert Cache(tmp_path / "cache").get("bc" * 32) is None


# ------------------------------------------------------------------ shared and damaged caches


def _commit_in_lockstep(root: str, barrier, rounds: int, results) -> None:
    """One of several processes: stage each digest, wait for the others, commit at once."""
    cache = Cache(Path(root))
    problems = 0
    for number in range(rounds):
        digest = f"{number:064x}"
        staged = cache.stage(digest)
        (staged / "clip.mp4").write_bytes(b"x" * 1000)
        barrier.wait()
        try:
            entry = cache.commit(digest, staged, "generate")
            problems += entry.file("clip.mp4").read_bytes() != b"x" * 1000
        except OSError:  # before the commit lock: [Errno 39] Directory not empty
            problems += 1
    results.put(problems)


def test_processes_committing_the_same_nodes_at_once_all_succeed(tmp_path):
    """Defect 14: two compiles on one cache raced to rename the same entry into place."""
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("needs fork")
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(4), context.Queue()
    workers = [
        context.Process(target=_commit_in_lockstep, args=(str(tmp_path), barrier, 150, results))
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [results.get(timeout=5) for _ in workers] == [0, 0, 0, 0]
    cache = Cache(tmp_path)
    assert all(cache.get(f"{n:064x}") is not None for n in range(150))
    assert list(cache.staging.iterdir()) == []  # every loser's staging was discarded


# Another process's commit, step by step: take the commit lock, say so, wait for a
# line on stdin, rename its staged entry into place, let go.
_OTHER_COMMIT = """
import fcntl, os, sys
lock = open(sys.argv[1], "a")
fcntl.flock(lock, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.readline()
os.makedirs(os.path.dirname(sys.argv[3]), exist_ok=True)
os.replace(sys.argv[2], sys.argv[3])
"""


def test_a_commit_waits_for_another_process_placing_the_same_entry(tmp_path):
    """The protocol behind defect 14, step by step: while another process holds the
    commit lock, a commit waits; then it takes that process's entry as its own."""
    cache = Cache(tmp_path / "cache")
    digest = "7a" * 32
    theirs = cache.stage(digest)
    (theirs / "clip.mp4").write_bytes(b"theirs")
    cache.commit(digest, theirs, "generate")  # sealed, then moved back to be placed
    os.replace(cache.folder(digest), theirs)
    other = subprocess.Popen(
        [sys.executable, "-c", _OTHER_COMMIT, str(cache.root / cache_module.LOCK),
         str(theirs), str(cache.folder(digest))],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert other.stdout.readline() == "locked\n"
    ours = cache.stage(digest)
    (ours / "clip.mp4").write_bytes(b"ours")
    made = []
    committing = threading.Thread(
        target=lambda: made.append(Cache(cache.root).commit(digest, ours, "generate"))
    )
    committing.start()
    committing.join(timeout=0.5)
    assert committing.is_alive()  # waiting for the lock, not renaming over the other
    other.communicate("go\n", timeout=30)
    committing.join(timeout=30)
    assert other.returncode == 0
    assert made[0].file("clip.mp4").read_bytes() == b"theirs" and not ours.exists()


@pytest.mark.parametrize("part", ["entries", "staging"])
def test_a_cache_folder_that_is_a_file_is_reported_with_its_repair(tmp_path, part):
    """Defect 12: `entries/` or `staging/` replaced by a file tracebacked."""
    root = tmp_path / "cache"
    root.mkdir()
    (root / part).write_text("oops")
    with pytest.raises(CacheError) as raised:
        Cache(root)
    assert f"rm '{root / part}'" in str(raised.value)
    (root / part).unlink()  # the repair it names
    assert Cache(root).get("ab" * 32) is None


def test_a_cache_path_that_is_a_file_is_said_plainly(tmp_path):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("mine")
    with pytest.raises(CacheError, match="name a folder with --cache"):
        Cache(blocker / "cache")
    assert blocker.read_text() == "mine"


def test_a_staging_folder_named_with_a_huge_pid_is_cleaned(tmp_path):
    """Defect 12: `os.kill` of a pid past C's int raised OverflowError on every run."""
    cache = Cache(tmp_path / "cache")
    for pid in ("9" * 30, "99999999999", "0"):
        (cache.staging / f"{'ef' * 32}.{pid}.deadbeef").mkdir()
    (cache.staging / "stray-file").write_text("x")
    cache.clean_staging()
    assert list(cache.staging.iterdir()) == []


@pytest.mark.parametrize("damage", ["entry", "shard"])
def test_an_entry_or_its_shard_replaced_by_a_file_is_made_again(tmp_path, damage):
    """Defect 12: a file where an entry or its shard folder belongs failed that node on
    every rerun until removed by hand."""
    cache = Cache(tmp_path / "cache")
    digest = "5e" * 32
    where = cache.folder(digest) if damage == "entry" else cache.folder(digest).parent
    where.parent.mkdir(parents=True, exist_ok=True)
    where.write_text("not a folder")
    assert cache.get(digest) is None
    entry = _entry(cache, digest, b"whole")
    assert entry.file("clip.mp4").read_bytes() == b"whole"
    assert Cache(tmp_path / "cache").get(digest) is not None


@pytest.mark.parametrize(
    "manifest",
    [
        b'{"op": "generate", "hash": "HASH", "files": {"clip.mp4": "five"}, "meta": {}}',
        b'{"op": "generate", "hash": "HASH", "files": {"clip.mp4": {"size": "5"}}}',
        b'{"op": "generate", "hash": "HASH", "files": ["clip.mp4"], "meta": {}}',
        b'{"op": "generate", "hash": "HASH", "files": {}, "meta": ["frames"]}',
        b'{"op": "generate", "hash": "HASH", "files": {"../../x": 5}, "meta": {}}',
        b'["HASH"]',
        b"\xff\xfe not text",
        b"[" * 100_000,
    ],
)
def test_an_edited_manifest_is_damage_not_a_crash(tmp_path, manifest):
    """Defect 12: an edited manifest (unsealed, of the wrong shape) raised TypeError."""
    cache = Cache(tmp_path / "cache")
    digest = "6f" * 32
    entry = _entry(cache, digest, b"whole")
    (entry.folder / "entry.json").write_bytes(manifest.replace(b"HASH", digest.encode()))
    fresh = Cache(tmp_path / "cache")
    assert fresh.get(digest) is None and digest in fresh.damaged
    assert _entry(fresh, digest, b"whole").file("clip.mp4").read_bytes() == b"whole"


def test_compile_on_a_damaged_cache_repairs_or_reports_it(project, capsys):
    """End to end: each damage gives a made-again film or a message, never a traceback."""
    from director.cli import main

    script = project.write(TINY)
    cache = project.root / "cache"
    film = project.root / "film.mp4"
    argv = ["compile", str(script), "-q", "-o", str(film), "--cache", str(cache)]
    assert main(argv) == 0
    first = film.read_bytes()
    shards = sorted(p for p in (cache / "entries").iterdir() if p.is_dir())
    shutil.rmtree(shards[0])
    shards[0].write_text("a file where a shard was")
    entry = next(shards[1].iterdir())
    shutil.rmtree(entry)
    entry.write_text("a file where an entry was")
    (cache / "staging" / f"{'ab' * 32}.{'9' * 40}.cafe0000").mkdir()
    assert main(argv) == 0 and film.read_bytes() == first
    shutil.rmtree(cache / "staging")
    (cache / "staging").write_text("oops")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"rm '{cache / 'staging'}'" in err and "Traceback" not in err


TINY = """
title: Tiny
format: 64x36 @ 12fps

SHOT 1 WIDE 1s
  A door opens.

SHOT 2 CLOSE-UP 1s
  A hand on the latch.
"""


def test_two_compiles_of_one_script_on_one_cache_at_once(tmp_path):
    """Defect 14, end to end: pairs of compiles started together on a fresh cache both
    exit 0 with the same film (bench/concurrent_compiles.py runs twenty pairs)."""
    script = tmp_path / "film.shot"
    script.write_text(TINY.lstrip())
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    for attempt in range(3):
        cache = tmp_path / f"cache{attempt}"
        films = [tmp_path / f"{attempt}{side}.mp4" for side in "ab"]
        running = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "director",
                    "compile",
                    str(script),
                    "-q",
                    "-o",
                    str(film),
                    "--cache",
                    str(cache),
                ],
                stderr=subprocess.PIPE,
                text=True,
                env=environment,
            )  # fmt: skip
            for film in films
        ]
        errors = [process.communicate(timeout=120)[1] for process in running]
        assert [p.returncode for p in running] == [0, 0], errors
        assert films[0].read_bytes() == films[1].read_bytes()
