"""The docs list what the code has: every diagnostic code, every command."""

import re
from pathlib import Path

from director.cli import _parser
from director.diagnostics import REGISTRY

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_diagnostic_code_is_documented():
    text = (DOCS / "diagnostics.md").read_text(encoding="utf-8")
    missing = [f"{c.code} {c.name}" for c in REGISTRY.values() if f"`{c.name}`" not in text]
    assert missing == []


def test_the_diagnostics_table_is_the_registry():
    """Row for row: no retired or misspelt code is documented as live."""
    text = (DOCS / "diagnostics.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| ([EW]\d{3}) \| `([a-z-]+)` \| (error|warning) \| (.+) \|$", text, re.M)
    registered = [(c.code, c.name, c.severity.value, c.summary) for c in REGISTRY.values()]
    assert sorted(rows) == sorted(registered)


def test_every_command_is_in_the_cli_reference():
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    commands = _parser()._subparsers._group_actions[0].choices
    assert [name for name in commands if f"`director {name}" not in text] == []
