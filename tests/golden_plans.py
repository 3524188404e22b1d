"""The golden plans: every example and fixture planned under several settings.

The plan JSON is what users' caches are keyed on (each node's hash), so a
change to the planner or the plan's classes must leave these bytes alone.  The
files in `tests/golden/plans/` were written by the planner before the plan
graph became typed (issue 19); `tests/test_golden_plans.py` plans the same
scripts again and compares byte for byte.

    PYTHONPATH=$PWD python tests/golden_plans.py --write   # only when a change is meant

Scripts are planned from the repository root with relative paths, as a user
would, so the spans in the plan name the same files on any machine.  The
diagnostics cases get their reference media from `case_refs.py` at test time;
their goldens also record those files' SHA-256, and are compared only where
the media written here are the same bytes (another PIL or FFmpeg may encode
them differently, which changes the assets' hashes and nothing else).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden" / "plans"
CASES_DIR = ROOT / "tests" / "check_cases"


@dataclass(frozen=True)
class Variant:
    """The planner's settings for one golden plan."""

    name: str
    backend: str | None = None
    codec: str = "h264"
    options: dict = field(default_factory=dict)
    embedder: str = "appearance"
    minimum: float | None = None
    max_retries: int = 2


VARIANTS = (
    Variant("default"),
    Variant("compile", options={"preview": {"burn_in": True}}, embedder="face"),
    Variant(
        "ltx2",
        backend="ltx2",
        codec="prores",
        options={"ltx2": {"steps": 8}},
        minimum=0.6,
        max_retries=1,
    ),  # fmt: skip
    Variant("wan", backend="wan", codec="vp9", embedder="face", minimum=0.4),
    Variant("tinyfm", backend="tinyfm", codec="png"),
)


def example_scripts() -> list[Path]:
    """The examples' top scripts and the language reference's script, relative to ROOT."""
    examples = ROOT / "scripts_examples"
    tops = sorted(p for p in examples.rglob("*.shot") if "title:" in p.read_text("utf-8"))
    return [p.relative_to(ROOT) for p in tops] + [Path("tests/fixtures/language/film.shot")]


# Case media written differently on each run: an Ogg stream's serial number is random.
UNSTABLE_MEDIA = (".ogg",)


def case_scripts() -> list[Path]:
    """The diagnostics cases that are single files without a setup, and name no
    medium whose bytes change from run to run."""
    cases = []
    for path in sorted(CASES_DIR.glob("*.shot")):
        text = path.read_text("utf-8", errors="replace")
        setup = any(line.startswith("# setup:") for line in text.split("\n")[:6])
        if not setup and not any(suffix in text for suffix in UNSTABLE_MEDIA):
            cases.append(path)
    return cases


def plan_json(script: Path, variant: Variant) -> str | None:
    """The plan JSON of `script` (relative to the working folder) under `variant`,
    or None when it does not check or plan."""
    from director.check import check_file
    from director.plan import Consistency, plan_film

    checked = check_file(script)
    if checked.film is None:
        return None
    planned = plan_film(
        checked.film,
        backend=variant.backend,
        codec=variant.codec,
        backend_options=variant.options,
        scoring=Consistency(
            embedder=variant.embedder, minimum=variant.minimum, max_retries=variant.max_retries
        ),
    )
    return planned.plan.to_json() if planned.plan is not None else None


@contextmanager
def working_folder(folder: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def golden_name(label: str, variant: Variant) -> str:
    return f"{label.replace('/', '__')}.{variant.name}.json.gz"


def example_plans() -> Iterator[tuple[str, str | None]]:
    """(golden file name, plan JSON) for every example under every variant."""
    with working_folder(ROOT):
        for script in example_scripts():
            label = str(script.with_suffix(""))
            for variant in VARIANTS:
                yield golden_name(label, variant), plan_json(script, variant)


def media_digests(refs: Path) -> dict[str, str]:
    """Each case medium's SHA-256, by its name (media added later do not matter:
    the goldens' scripts never name them)."""
    return {
        str(path.relative_to(refs)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(refs.rglob("*"))
        if path.is_file() and path.suffix not in UNSTABLE_MEDIA
    }


def case_plans(work: Path) -> Iterator[tuple[str, str | None]]:
    """(golden file name, plan JSON) for every diagnostics case that plans, each
    planned in its own project folder under `work` with the case media."""
    sys.path.insert(0, str(ROOT / "tests"))
    from case_refs import write_refs

    refs = write_refs(work / "media")
    variants = (VARIANTS[0], VARIANTS[2])
    for script in case_scripts():
        project = work / script.stem
        project.mkdir()
        shutil.copy(script, project / script.name)
        shutil.copytree(refs, project / "refs")
        with working_folder(project):
            for variant in variants:
                yield (
                    golden_name(f"case/{script.stem}", variant),
                    plan_json(Path(script.name), variant),
                )


def write_gz(path: Path, text: str) -> None:
    # mtime=0: the same plan gives the same file bytes, so git sees no change
    path.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))


def read_gz(path: Path) -> str:
    return gzip.decompress(path.read_bytes()).decode("utf-8")


def write_all(work: Path) -> None:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for old in GOLDEN.glob("*.json.gz"):
        old.unlink()
    written = 0
    for name, text in [*example_plans(), *case_plans(work)]:
        if text is not None:
            write_gz(GOLDEN / name, text)
            written += 1
    media = {"refs": media_digests(work / "media" / "refs")}
    (GOLDEN / "case_media.json").write_text(json.dumps(media, indent=2) + "\n", "utf-8")
    print(f"{written} golden plans in {GOLDEN.relative_to(ROOT)}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/golden_plans.py --write")
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        write_all(Path(folder))
