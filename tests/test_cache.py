"""The cache: entries appear whole or not at all; damaged entries are not trusted."""

import os

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
