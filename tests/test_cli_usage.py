"""Usage errors: raised as one UsageError wherever found, said and turned into exit 2
by `main` alone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from director import cli
from director.cli import EXIT_USAGE, main

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["check", "no-such.shot"], "no such script: no-such.shot"),
        (["plan", "no-such.shot"], "no such script: no-such.shot"),
        (["compile", "no-such.shot", "--workers", "2"], "no such script: no-such.shot"),
        (["export", "no-such.json", "--otio", "x.otio"], "no such plan: no-such.json"),
    ],
)
def test_a_usage_error_is_said_once_and_exits_2(argv, said, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err == f"director: error: {said}\n"


def test_only_main_turns_a_usage_error_into_its_exit_status():
    text = (ROOT / "director" / "cli.py").read_text(encoding="utf-8")
    body = text[text.index("def main(") : text.index("\ndef ", text.index("def main("))]
    assert text.count("return EXIT_USAGE") == body.count("return EXIT_USAGE")
    assert not re.search(r"print\([^)]*director: error", text)
    assert issubclass(cli.UsageError, Exception)
