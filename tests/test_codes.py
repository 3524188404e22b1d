"""Diagnostic codes are typed constants, and every emit site names one."""

import ast
import re
from pathlib import Path

import pytest

from director import codes
from director.diagnostics import Diagnostics, make
from director.source import Span

ROOT = Path(__file__).resolve().parents[1]
SPAN = Span(file="a.shot", line=2, column=3, end_line=2, end_column=6)
SOURCES = sorted((ROOT / "director").glob("*.py")) + sorted((ROOT / "backends").rglob("*.py"))


def _imports_codes(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.ImportFrom)
        and node.module in (None, "director")
        and any(alias.name == "codes" and alias.asname is None for alias in node.names)
        for node in ast.walk(tree)
    )


def _code_references(path: Path) -> list[tuple[int, str]]:
    """Every `codes.NAME` in a module that imports the registry as `codes`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    if not _imports_codes(tree):
        return []
    return [
        (node.lineno, node.attr)
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "codes"
    ]


def test_every_code_named_in_the_sources_exists():
    """A misspelt `codes.NAME` anywhere, even in a branch no test runs, fails here."""
    missing = [
        f"{path.relative_to(ROOT)}:{line} codes.{name}"
        for path in SOURCES
        for line, name in _code_references(path)
        if not isinstance(getattr(codes, name, None), codes.Code)
    ]
    assert missing == []
    assert sum(len(_code_references(path)) for path in SOURCES) >= 60


def test_no_emit_site_passes_a_string():
    """`make("unknown-character", …)` is the old, stringly shape."""
    stringly = re.compile(r"""(?:\bmake|diagnostics\.add)\(\s*["']""")
    found = [
        f"{path.relative_to(ROOT)}:{text[: m.start()].count(chr(10)) + 1}"
        for path in SOURCES
        for text in [path.read_text(encoding="utf-8")]
        for m in stringly.finditer(text)
    ]
    assert found == []


def test_a_string_is_refused_where_a_code_belongs():
    with pytest.raises(AttributeError):
        make("unknown-character", SPAN, "x")  # type: ignore[arg-type]


def test_the_registry_holds_each_constant_once_by_name():
    constants = {v for v in vars(codes).values() if isinstance(v, codes.Code)}
    assert set(codes.REGISTRY.values()) == constants
    assert all(codes.REGISTRY[c.name] is c for c in constants)
    assert len({c.code for c in constants}) == len(constants)
    for c in constants:
        assert re.fullmatch(r"[EW]\d{3}", c.code) and c.code[0] == c.severity.value[0].upper()
        assert getattr(codes, c.name.upper().replace("-", "_")) is c


def test_retired_codes_stay_retired():
    """E010 and E011 could never be raised; their numbers are not reused."""
    assert {c.code for c in codes.REGISTRY.values()} & {"E010", "E011"} == set()


def test_a_recorded_diagnostic_carries_its_constant():
    found = Diagnostics()
    d = found.add(codes.UNKNOWN_CHARACTER, SPAN, "no MRA")
    assert (d.code, d.name, d.severity) == ("E012", "unknown-character", codes.Severity.ERROR)
