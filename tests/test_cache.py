"""The cache: entries appear whole or not at all; damaged entries are not trusted."""

import json
import os

from director import cache as cache_module
from director.cache import Cache


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
