"""The VS Code extension packages cleanly: what vsce warns about, checked.

The manifest's licence is the project's and ships as LICENSE; `.vscodeignore`
keeps `node_modules/` out because the build bundles the client into the file
`main` names.  When `vsce` and the extension's npm packages are installed
(`npm ci` in editors/vscode, `npm install -g @vscode/vsce@4.1.0`; .ci/run does
both), the real packager runs too and must print no warning at all.  In CI
(`CI=true`) their absence is a failure, not a skip.
"""

from __future__ import annotations

import json
import os
import re
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


def test_the_repository_is_the_projects_address_as_the_docs_give_it():
    """vsce warns without a repository; the address is the one docs/ecosystem.md
    gives pre-commit users, so the two change together."""
    repository = manifest()["repository"]
    docs = (ROOT / "docs" / "ecosystem.md").read_text(encoding="utf-8")
    [address] = set(re.findall(r"repo: (https://\S+)", docs))
    assert repository == {"type": "git", "url": address, "directory": "editors/vscode"}
    assert (ROOT / repository["directory"] / "package.json").is_file()


def test_the_bundle_is_what_ships_and_node_modules_stay_out():
    package = manifest()
    build = package["scripts"]["build"]
    assert package["scripts"]["vscode:prepublish"] == "npm run build"
    assert f"--outfile={package['main'].removeprefix('./')}" in build
    assert "--external:vscode" in build  # VS Code provides it at run time
    ignored = (VSCODE / ".vscodeignore").read_text().split()
    assert "node_modules/**" in ignored and "extension.js" in ignored


def packager() -> str:
    found = shutil.which("vsce")
    if found is None or not (VSCODE / "node_modules" / ".bin" / "esbuild").exists():
        reason = "vsce and the extension's npm packages are not installed (.ci/run installs them)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return found


def test_vsce_packages_without_warnings(tmp_path):
    vsce = packager()
    # No --allow-* flag: every check vsce makes is on, and a question it would ask
    # (it asks before packaging without a repository) reads end of input and aborts.
    command = [vsce, "package", "--out", str(tmp_path / "x.vsix")]
    done = subprocess.run(command, cwd=VSCODE, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)  # fmt: skip
    said = done.stdout + done.stderr
    assert done.returncode == 0, said
    assert "WARNING" not in said and "Do you want to continue" not in said, said
    assert (tmp_path / "x.vsix").is_file()
