"""Every example and fixture plans to the same bytes as before the plan graph was typed.

Node hashes are users' cache keys: a plan that differs by one byte may cost
them hours of regeneration.  The goldens (`tests/golden/plans/`, written by
`tests/golden_plans.py`) are compared byte for byte, with a diff on failure.
"""

from __future__ import annotations

import difflib
import json

import pytest
from golden_plans import (
    GOLDEN,
    case_plans,
    example_plans,
    media_digests,
    read_gz,
)


def _assert_same(name: str, text: str | None) -> None:
    golden = GOLDEN / name
    assert text is not None, f"{name}: no longer plans"
    assert golden.exists(), f"{name}: no golden (python tests/golden_plans.py --write)"
    expected = read_gz(golden)
    if text != expected:
        diff = difflib.unified_diff(
            expected.splitlines(), text.splitlines(), "golden", "now", lineterm="", n=2
        )
        pytest.fail(f"{name} differs from its golden:\n" + "\n".join(list(diff)[:60]))


def test_every_example_plans_byte_identical():
    seen = 0
    for name, text in example_plans():
        _assert_same(name, text)
        seen += 1
    assert seen >= 30


def test_every_diagnostics_case_that_plans_is_byte_identical(tmp_path):
    plans = list(case_plans(tmp_path))
    recorded = json.loads((GOLDEN / "case_media.json").read_text("utf-8"))["refs"]
    now = media_digests(tmp_path / "media" / "refs")
    if any(now.get(name) != digest for name, digest in recorded.items()):
        pytest.skip("this PIL/FFmpeg writes the cases' media as other bytes than the goldens'")
    planned = {name: text for name, text in plans if text is not None}
    # Cases added since the goldens were written have none to compare with.
    goldens = {p.name for p in GOLDEN.glob("case__*.json.gz")}
    assert goldens <= set(planned), "a case that planned no longer does"
    for name in sorted(goldens):
        _assert_same(name, planned[name])
