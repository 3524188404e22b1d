"""The docs list what the code has: every diagnostic code, every command."""

from pathlib import Path

from director.cli import _parser
from director.diagnostics import REGISTRY

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_diagnostic_code_is_documented():
    text = (DOCS / "diagnostics.md").read_text(encoding="utf-8")
    missing = [f"{c.code} {c.name}" for c in REGISTRY.values() if f"`{c.name}`" not in text]
    assert missing == []


def test_every_command_is_in_the_cli_reference():
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    commands = _parser()._subparsers._group_actions[0].choices
    assert [name for name in commands if f"`director {name}" not in text] == []
