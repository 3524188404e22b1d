"""How long delivery's loudness pass takes and how much memory it holds, by film length.

Prints, for mixes of 2 and 10 minutes (stereo float32 at 48 kHz, music-like
noise with loud bursts), the seconds `loudness.normalise` takes (measure, gain,
true-peak limit, measure again) and its peak traced memory.

    PYTHONPATH=. python bench/loudness.py
"""

from __future__ import annotations

import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import soundfile

from director.loudness import normalise

RATE = 48000


def write_mix(path: Path, minutes: int) -> None:
    rng = np.random.default_rng(0)
    with soundfile.SoundFile(str(path), "w", RATE, 2, subtype="FLOAT") as sound:
        for _ in range(minutes * 6):  # ten seconds at a time
            block = rng.normal(0, 0.05, (RATE * 10, 2))
            block[:: RATE // 2] += 0.9  # a click every half second: peaks to limit
            sound.write(block.astype(np.float32))


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        for minutes in (2, 10):
            mix = Path(folder) / f"mix{minutes}.wav"
            write_mix(mix, minutes)
            tracemalloc.start()
            began = time.perf_counter()
            result = normalise([mix], -14.0, Path(folder) / "out.wav")
            took = time.perf_counter() - began
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            print(
                f"{minutes:>2} min: {took:6.1f} s ({took / minutes / 60 * 1000:.0f} ms per "
                f"second of film), peak traced memory {peak / 1e6:.0f} MB; "
                f"{result.delivered.integrated:.2f} LUFS, {result.delivered.true_peak:.2f} dBTP"
            )


if __name__ == "__main__":
    main()
