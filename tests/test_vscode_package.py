"""The VS Code extension packages cleanly: what vsce warns about, checked.

The manifest's licence is the project's and ships as LICENSE; `.vscodeignore`
keeps `node_modules/` out because the build bundles the client into the file
`main` names.  When `vsce` and the extension's npm packages are installed
(`npm install` in editors/vscode, `npm install -g @vscode/vsce`), the real
packager runs too and must print no warning but the repository one.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VSCODE = ROOT / "editors" / "vscode"


def manifest() -> dict:
    return json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))


def test_the_licence_is_the_projects_and_ships_with_the_extension():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert manifest()["license"] == project["license"]["text"] == "Apache-2.0"
    assert (VSCODE / "LICENSE").read_text().lstrip().startswith("Apache License")


def test_the_bundle_is_what_ships_and_node_modules_stay_out():
    package = manifest()
    build = package["scripts"]["build"]
    assert package["scripts"]["vscode:prepublish"] == "npm run build"
    assert f"--outfile={package['main'].removeprefix('./')}" in build
    assert "--external:vscode" in build  # VS Code provides it at run time
    ignored = (VSCODE / ".vscodeignore").read_text().split()
    assert "node_modules/**" in ignored and "extension.js" in ignored


def test_vsce_packages_without_warnings(tmp_path):
    vsce = shutil.which("vsce")
    if vsce is None or not (VSCODE / "node_modules" / ".bin" / "esbuild").exists():
        pytest.skip("vsce and the extension's npm packages are not installed")
    command = [vsce, "package", "--allow-missing-repository", "--out", str(tmp_path / "x.vsix")]
    done = subprocess.run(command, cwd=VSCODE, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "WARNING" not in done.stdout + done.stderr
