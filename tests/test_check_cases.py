"""Data-driven diagnostics tests: every script in `check_cases/` says what it must report.

A case is one `NAME.shot` file, or a folder `NAME/` whose top script is
`main.shot` (for imports).  Its leading comment lines hold the expectations:

    # expect: E012 unknown-character 9:3 did you mean "MARA"?
    # expect: E014 duplicate-declaration cast.shot:2:11

that is: the code, its name, `[file:]line:column` (the file defaults to the
top script; paths are relative to the case) and, optionally, text that must
appear in the rendered message.  Also understood:

    # setup: short-backend     register a test backend that cannot extend shots
    # setup: symlink-escape    make refs/escape.png a symlink out of the project
    # xfail: REASON            a known checker bug (strict: it must still fail)

Each case is copied into a temporary project with the `refs/` files of
`case_refs.py`, checked (and planned when the check passes, for plan-time
diagnostics), and must report every expectation at exactly its line and
column, no error that is not expected, and a human rendering that quotes the
line with a caret under the column.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from case_refs import write_refs
from PIL import Image

from backends import registry
from backends.base import Backend, Capabilities
from director.check import check_file
from director.cli import main
from director.diagnostics import REGISTRY, Diagnostic, Severity, render_human, visible
from director.plan import plan_film

CASES_DIR = Path(__file__).parent / "check_cases"
EXPECT = re.compile(
    r"# expect: (?P<code>[EW]\d{3}) (?P<name>[a-z-]+) "
    r"(?:(?P<file>[^\s:]+):)?(?P<line>\d+):(?P<column>\d+)(?: (?P<text>.+))?$"
)
DIRECTIVE = re.compile(r"# (?P<key>setup|xfail): (?P<value>.+)$")

# Codes in the registry that no script can produce, and why.  Every other
# code must be expected by at least one case.  (E010 and E011 were here, and
# were retired from the registry instead.)
UNREACHABLE: dict[str, str] = {
    # Needs a model folder as well as a script (an image-to-video model that a
    # shot gives no first frame): tests/test_model_profiles.py expects it at its line.
    "E039": "missing-conditioning",
    # A model folder's trained sizes and side rules: tests/test_model_profiles.py.
    "W121": "untrained-size",
    "W122": "rounded-size",
}


@dataclass(frozen=True)
class Expected:
    code: str
    name: str
    file: str
    line: int
    column: int
    text: str

    def __str__(self) -> str:
        return f"{self.code} {self.name} {self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Case:
    name: str
    source: Path  # the .shot file, or the case's folder
    main: str  # file name of the top script inside the project
    expected: tuple[Expected, ...]
    setups: tuple[str, ...]
    xfail: str | None


def _read_case(source: Path) -> Case:
    main = "main.shot" if source.is_dir() else source.name
    top = source / main if source.is_dir() else source
    expected, setups, xfail = [], [], None
    for line in top.read_bytes().decode("utf-8-sig", errors="replace").split("\n"):
        line = line.rstrip("\r")
        if not line.startswith("#"):
            break
        if line.startswith("# expect:"):
            match = EXPECT.match(line)
            assert match, f"{top}: cannot read {line!r}"
            expected.append(
                Expected(
                    code=match["code"],
                    name=match["name"],
                    file=match["file"] or main,
                    line=int(match["line"]),
                    column=int(match["column"]),
                    text=match["text"] or "",
                )
            )
        elif directive := DIRECTIVE.match(line):
            if directive["key"] == "setup":
                setups.append(directive["value"].strip())
            else:
                xfail = directive["value"].strip()
    return Case(
        name=source.stem if source.is_file() else source.name,
        source=source,
        main=main,
        expected=tuple(expected),
        setups=tuple(setups),
        xfail=xfail,
    )


def load_cases() -> list[Case]:
    def is_case(entry: Path) -> bool:
        if entry.is_dir():
            return (entry / "main.shot").is_file()
        return entry.suffix == ".shot"

    return [_read_case(entry) for entry in sorted(CASES_DIR.iterdir()) if is_case(entry)]


CASES = load_cases()
BY_NAME = {case.name: case for case in CASES}


# ---------------------------------------------------------------- projects


class ShortClipBackend(Backend):
    """A test-only backend: 96 frames at most at 24 fps, and no way to extend a shot."""

    name = "shortclip"
    description = "test backend that cannot extend shots"
    capabilities = Capabilities(frame_rates=(24.0,), max_frames=96, can_extend=False)
    auto_rank = -100  # never chosen by `backend: auto`


def _short_backend(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.backends(), ShortClipBackend.name, ShortClipBackend)


def _symlink_escape(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outside = project.parent / "elsewhere"
    outside.mkdir(exist_ok=True)
    Image.new("RGB", (640, 360), (1, 2, 3)).save(outside / "escape.png")
    (project / "refs" / "escape.png").symlink_to(outside / "escape.png")


SETUPS = {"short-backend": _short_backend, "symlink-escape": _symlink_escape}


@pytest.fixture(scope="session")
def refs_folder(tmp_path_factory) -> Path:
    return write_refs(tmp_path_factory.mktemp("case-refs"))


@pytest.fixture
def make_project(tmp_path, refs_folder, monkeypatch):
    """Copy a case into a fresh project with its refs, run its setups, and chdir there."""

    def make(case: Case) -> Path:
        project = tmp_path / "project"
        if case.source.is_dir():
            shutil.copytree(case.source, project)
        else:
            project.mkdir()
            shutil.copy(case.source, project / case.main)
        shutil.copytree(refs_folder, project / "refs")
        # real files just outside the project, so escaping paths are refused
        # for where they lead, not because nothing is there
        shutil.copy(refs_folder / "face.png", tmp_path / "outside.png")
        (tmp_path / "shared").mkdir()
        (tmp_path / "shared" / "cast.shot").write_text("character OUTSIDER\n", encoding="utf-8")
        for setup in case.setups:
            SETUPS[setup](project, monkeypatch)
        monkeypatch.chdir(project)  # so messages name files relative to the case
        return project

    return make


def compile_case(case: Case) -> tuple[list[Diagnostic], dict[str, str]]:
    """Check the case's top script; plan it too when the check passes."""
    checked = check_file(Path(case.main))
    diagnostics = list(checked.diagnostics)
    if checked.film is not None:
        diagnostics += plan_film(checked.film).diagnostics
    return diagnostics, checked.sources


# ---------------------------------------------------------------- assertions


def _matches(d: Diagnostic, e: Expected) -> bool:
    return (d.code, d.name, d.span.file, d.span.line, d.span.column) == (
        e.code,
        e.name,
        e.file,
        e.line,
        e.column,
    )


def _listing(diagnostics: list[Diagnostic]) -> str:
    return "\n".join(
        f"  {d.code} {d.name} {d.span.file}:{d.span.line}:{d.span.column}: {d.message}"
        for d in diagnostics
    )


def assert_caret(d: Diagnostic, sources: dict[str, str], column: int) -> str:
    """The human rendering quotes the line and puts a caret under `column`."""
    text = render_human([d], sources)
    lines = text.splitlines()
    assert lines[0].startswith(f"{d.severity}[{d.code} {d.name}]: ")
    pad = " " * len(str(d.span.line))  # the arrow lines up with the gutter
    assert f"{pad}--> {d.span.file}:{d.span.line}:{d.span.column}" in lines
    # lines end at "\n" only (with an optional "\r"), as the grammar counts them
    source_line = sources[d.span.file].split("\n")[d.span.line - 1].rstrip("\r")
    source_line = visible(source_line.replace("\t", " "), None)  # control characters escaped
    gutter = str(d.span.line)
    quoted = f"{gutter} | {source_line}"
    assert quoted in lines, f"the line is not quoted:\n{text}"
    caret = lines[lines.index(quoted) + 1]
    prefix = " " * len(gutter) + " | "
    assert caret.startswith(prefix), text
    marks = caret[len(prefix) :]
    assert marks.index("^") == column - 1, f"caret not under column {column}:\n{text}"
    return text


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            case,
            id=case.name,
            marks=[pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else [],
        )
        for case in CASES
    ],
)
def test_case(case: Case, make_project) -> None:
    make_project(case)
    diagnostics, sources = compile_case(case)
    for expected in case.expected:
        found = [d for d in diagnostics if _matches(d, expected)]
        assert found, f"expected {expected}, got:\n{_listing(diagnostics)}"
        rendered = assert_caret(found[0], sources, expected.column)
        assert expected.text in rendered, f"{expected.text!r} not in:\n{rendered}"
    unexpected = [
        d
        for d in diagnostics
        if d.severity is Severity.ERROR and not any(_matches(d, e) for e in case.expected)
    ]
    assert not unexpected, f"errors no expectation names:\n{_listing(unexpected)}"


def test_cases_cover_every_rule() -> None:
    """At least 45 cases, and every code a script can earn is expected somewhere."""
    assert len(CASES) >= 45
    expected_codes = {e.code for case in CASES for e in case.expected}
    registered = {entry.code: entry.name for entry in REGISTRY.values()}
    missing = set(registered) - expected_codes - set(UNREACHABLE)
    assert not missing, sorted(missing)
    for code, name in UNREACHABLE.items():
        assert registered[code] == name
    for case in CASES:
        for e in case.expected:
            assert registered.get(e.code) == e.name, f"{case.name}: {e}"
        assert set(case.setups) <= set(SETUPS), case.name


# ---------------------------------------------------------------- the command line


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([*argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_clean_script_exits_0(make_project, capsys) -> None:
    make_project(BY_NAME["references_at_limit"])
    code, out, err = _run(capsys, "check", "references_at_limit.shot")
    assert (code, out, err) == (0, "", "")


def test_cli_errors_exit_1_with_caret(make_project, capsys) -> None:
    make_project(BY_NAME["unknown_character_speaker"])
    code, out, err = _run(capsys, "check", "--color", "never", "unknown_character_speaker.shot")
    assert code == 1
    assert "error[E012 unknown-character]" in err
    assert " --> unknown_character_speaker.shot:9:3" in err
    assert "9 |   MAARA" in err
    assert "  |   ^^^^^" in err
    assert err.rstrip().endswith("1 error")


def test_cli_warnings_only_exit_0_unless_strict(make_project, capsys) -> None:
    make_project(BY_NAME["language_example"])
    code, _, err = _run(capsys, "check", "main.shot")
    assert code == 0
    assert "warning[W101 free-text-location]" in err
    code, _, err = _run(capsys, "check", "--strict", "main.shot")
    assert code == 1
    assert "error[W101 free-text-location]" in err


def test_cli_usage_errors_exit_2(make_project, capsys) -> None:
    make_project(BY_NAME["references_at_limit"])
    code, _, err = _run(capsys, "check", "no_such_script.shot")
    assert code == 2
    assert "no such script: no_such_script.shot" in err
    with pytest.raises(SystemExit) as exit_:
        main(["check", "--frobnicate", "references_at_limit.shot"])
    assert exit_.value.code == 2
    with pytest.raises(SystemExit) as exit_:
        main(["check", "--format", "xml", "references_at_limit.shot"])
    assert exit_.value.code == 2
    assert main([]) == 2


def test_cli_json_format(make_project, capsys) -> None:
    make_project(BY_NAME["duplicate_declaration_import"])
    code, out, err = _run(capsys, "check", "--format", "json", "main.shot")
    assert code == 1
    assert err == ""
    records = json.loads(out)
    errors = [r for r in records if r["severity"] == "error"]
    assert [(r["code"], r["name"]) for r in errors] == [("E014", "duplicate-declaration")]
    assert errors[0]["span"]["file"] == "cast.shot"
    assert (errors[0]["span"]["line"], errors[0]["span"]["column"]) == (2, 11)


def test_cli_github_format(make_project, capsys) -> None:
    make_project(BY_NAME["tab_indentation"])
    code, out, _ = _run(capsys, "check", "--format", "github", "tab_indentation.shot")
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("::error file=tab_indentation.shot,line=9,col=1,")
    assert lines[1].startswith("::error file=tab_indentation.shot,line=10,col=3,")
    assert all("title=E002 tab-indentation::" in line for line in lines)


def test_cli_github_format_warnings(make_project, capsys) -> None:
    case = BY_NAME["small_reference"]
    (expected,) = case.expected
    make_project(case)
    code, out, _ = _run(capsys, "check", "--format", "github", case.main)
    assert code == 0
    assert re.fullmatch(
        rf"::warning file={re.escape(case.main)},line={expected.line},col={expected.column},"
        r"[^:]*title=W106 small-reference::.+\n",
        out,
    )


def test_cli_plan_reports_plan_time_diagnostics(make_project, capsys, tmp_path) -> None:
    make_project(BY_NAME["unsupported_format"])
    code, out, err = _run(capsys, "plan", "--color", "never", "unsupported_format.shot")
    assert code == 1
    assert out == ""
    assert "error[E037 unsupported-format]" in err
