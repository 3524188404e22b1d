"""What each entry imports, and which way the packages depend on each other.

`director check` runs on every save in an editor: it must import no backend,
no torch, no PyAV and no Pillow (bench/check_startup.py measures the time).
Backends depend on their base (`backends/base.py`: the capability table,
the request and result types), never on the planner or the compiler's
settings; the registry imports a backend only when it is named.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "av", "PIL", "diffusers", "transformers")

PROBE = """
import json, sys
from director.cli import main
status = main(["check", sys.argv[1]])
loaded = sorted({name.split(".")[0] for name in sys.modules})
light = {"backends.base", "backends.registry", "backends.diffusers_settings",
         "backends.image_names"}  # names only: --keyframes lists the image backends
backends = sorted(n for n in sys.modules if n.startswith("backends.") and n not in light)
print(json.dumps({"status": status, "loaded": loaded, "backends": backends}))
"""


def _check_in_a_fresh_process(script: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(script)], capture_output=True, text=True, env=env,
        cwd=script.parent, check=True,
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_check_on_a_three_line_script_imports_no_backend_torch_pyav_or_pillow(tmp_path):
    script = tmp_path / "three.shot"
    script.write_text("title: Three lines\nformat: 640x360 @ 24fps\nSHOT 1 WIDE 2s\n")
    found = _check_in_a_fresh_process(script)
    assert found["status"] == 0
    assert [name for name in HEAVY if name in found["loaded"]] == []
    assert found["backends"] == []


def test_check_of_a_script_naming_a_backend_imports_only_that_one(tmp_path):
    script = tmp_path / "named.shot"
    script.write_text("title: Named\nformat: 640x360 @ 24fps\nbackend: wan\nSHOT 1 WIDE 2s\n")
    found = _check_in_a_fresh_process(script)
    assert found["status"] == 0
    assert "torch" not in found["loaded"]
    assert "backends.wan" in found["backends"]
    assert not any(n.startswith(("backends.ltx2", "backends.tinyfm")) for n in found["backends"])


def _imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside a function."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def test_no_backend_imports_the_planner_or_the_compilers_settings():
    forbidden = ("director.plan", "director.models", "director.run", "director.compile",
                 "director.check", "director.cli", "director.operations")  # fmt: skip
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            m for m in _imported_modules(path) if any(m == f or m.startswith(f"{f}.")
                                                      for f in forbidden)
        )
        for path in (ROOT / "backends").rglob("*.py")
    }  # fmt: skip
    assert {path: found for path, found in offenders.items() if found} == {}
