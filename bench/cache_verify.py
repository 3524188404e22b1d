"""What checking the cache costs: every entry's files against their SHA-256 on each read.

Compiles an example film into a fresh cache, then times reading every entry
back (`Cache.get`, which hashes each file up to WHOLE_HASH_BYTES whole and
samples bigger ones) in a new `Cache` — as a recompile that reuses everything
does — and once more in the same one (files already verified in this process
are not hashed again).  It also times hashing one big file whole and by its
sample, the two ways a clip is checked.

    .venv/bin/python bench/cache_verify.py [--script scripts_examples/lighthouse.shot]
        [--big-mib 1024] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--script", type=Path, default=ROOT / "scripts_examples/lighthouse.shot")
    parser.add_argument("--big-mib", type=int, default=1024, help="size of the big-file case")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from director.cache import WHOLE_HASH_BYTES, Cache, file_digest
    from director.cli import main as director

    figures = {}
    with tempfile.TemporaryDirectory() as folder:
        cache_dir = Path(folder) / "cache"
        out = Path(folder) / "film.mp4"
        started = time.monotonic()
        code = director(
            ["compile", str(args.script), "-o", str(out), "-q", "--cache", str(cache_dir)]
        )
        assert code == 0, code
        figures["compile_seconds"] = time.monotonic() - started
        digests = [m.parent.name for m in cache_dir.rglob("entry.json")]
        files = [p for p in cache_dir.joinpath("entries").rglob("*") if p.is_file()]
        figures["entries"] = len(digests)
        figures["cache_bytes"] = sum(p.stat().st_size for p in files)
        cache = Cache(cache_dir)
        started = time.perf_counter()
        assert all(cache.get(d) is not None for d in digests)
        figures["verify_all_seconds"] = time.perf_counter() - started
        started = time.perf_counter()
        assert all(cache.get(d) is not None for d in digests)
        figures["verify_again_seconds"] = time.perf_counter() - started

        big = Path(folder) / "big.bin"
        with big.open("wb") as handle:
            for _ in range(args.big_mib):
                handle.write(os.urandom(2**20))
        size = big.stat().st_size
        started = time.perf_counter()
        with big.open("rb") as handle:
            hashlib.file_digest(handle, "sha256")
        figures["big_file_mib"] = args.big_mib
        figures["big_whole_seconds"] = time.perf_counter() - started
        started = time.perf_counter()
        file_digest(big, size)
        figures["big_sample_seconds"] = time.perf_counter() - started
        figures["whole_hash_limit_mib"] = WHOLE_HASH_BYTES / 2**20
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    mib = figures["cache_bytes"] / 2**20
    print(
        f"{args.script.name}: compiled in {figures['compile_seconds']:.1f} s; "
        f"{figures['entries']} entries, {mib:.1f} MiB\n"
        f"  every entry checked: {figures['verify_all_seconds'] * 1000:.0f} ms "
        f"({mib / max(figures['verify_all_seconds'], 1e-9):.0f} MiB/s); "
        f"again in the same process: {figures['verify_again_seconds'] * 1000:.1f} ms\n"
        f"  a {args.big_mib} MiB file: SHA-256 whole {figures['big_whole_seconds']:.2f} s, "
        f"by its sample {figures['big_sample_seconds'] * 1000:.1f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
