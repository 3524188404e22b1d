"""Same script, same bytes: in any process, into any cache, whatever was encoded before."""

from __future__ import annotations

from director.cli import main


def test_two_caches_make_the_same_film(project):
    """At 96x54 PyAV's own rgb24 → yuv420p conversion inside encode() left padding
    uninitialised and x264 read it: the first clip a process encoded differed."""
    path = project.write(
        "title: Twice\nformat: 96x54 @ 12fps\n\n"
        + "".join(f"SHOT {n} WIDE 1s\n  Beat {n}.\n\n" for n in range(1, 5))
    )
    films = []
    for name in ("one", "two"):
        out = project.root / f"{name}.mp4"
        cache = project.root / f"cache-{name}"
        assert main(["compile", str(path), "-o", str(out), "-q", "--cache", str(cache)]) == 0
        films.append(out.read_bytes())
    assert films[0] == films[1]
