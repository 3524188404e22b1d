"""Safety limits (E038): each refuses a script before any work, at a place; its flag raises it."""

from __future__ import annotations

import json

import pytest

from director.cli import main


def six_shots(project):
    lines = ["title: Limits", "format: 640x360 @ 12fps", ""]
    for n in range(1, 7):
        lines += [f"SHOT {n} WIDE 2s", "  A beat.", ""]
    return project.write("\n".join(lines))


@pytest.mark.parametrize(
    ("flag", "low", "high", "where", "words"),
    [
        ("--max-shots", "5", "6", (19, 1), "the script has 6 shots, more than the limit of 5"),
        ("--max-minutes", "0.1", "0.2", (1, 8), "the film runs 0.2 minutes"),
        ("--max-shot-seconds", "1.5", "2", (4, 13), "shot 1 lasts 2s, more than the limit"),
        ("--max-side", "600", "640", (2, 9), "larger than the limit"),
    ],
)
def test_each_limit_is_located_and_its_flag_raises_it(project, capsys, flag, low, high, where,
                                                      words):  # fmt: skip
    path = six_shots(project)
    assert main(["check", str(path), "--format", "json", flag, low]) == 1
    found = [d for d in json.loads(capsys.readouterr().out) if d["code"] == "E038"]
    assert found, f"{flag} {low} refused nothing"
    first = found[0]
    assert (first["span"]["line"], first["span"]["column"]) == where, first
    assert words in first["message"], first["message"]
    assert f"{flag} " in first["help"]
    assert main(["check", str(path), flag, high]) == 0
