"""Paths from a stranger's script: every way out of the project is refused, with a place.

Each hostile path is written where scripts name files (an asset declaration,
a shot's `ref:`, an `import:`), checked through the command line, and must
come back as one located error (code, line, column) — never a traceback,
never a file opened outside the project.
"""

from __future__ import annotations

import json
import os

import pytest

from director.cli import main

DECLARED_AT = (2, 13)  # `image LEAK: ` is twelve characters: the path starts at column 13


def script_naming(path: str) -> str:
    return f"title: T\nimage LEAK: {path}\n\nSHOT 1 WIDE 4s\n  The sea.\n  ref: LEAK\n"


# (id, path as written, code, offset of the caret into the path)
ESCAPES = [
    ("parent", "../outside.png", "E022", 0),
    ("parent-through-folder", "refs/../../outside.png", "E022", 0),
    ("absolute", "/etc/passwd", "E022", 0),
    ("absolute-image", "/usr/share/pixmaps/debian-logo.png", "E022", 0),
    ("home", "~/outside.png", "E022", 0),
    ("unc", "//server/share/outside.png", "E022", 0),
    ("windows-drive", "C:/Windows/outside.png", "E022", 0),
    ("http", "http://example.com/outside.png", "E022", 0),
    ("https", "https://example.com/outside.png", "E022", 0),
    ("file-url", "file:///etc/passwd", "E022", 0),
    ("file-url-short", "file:/etc/passwd.png", "E022", 0),
    ("s3-url", "s3://bucket/outside.png", "E022", 0),
    ("nul", "refs/hero\0.png", "E024", 9),
    ("escape-sequence", "refs/\x1b[2Jhero.png", "E024", 5),
    ("bidi-override", "refs/\u202egnp.oreh", "E024", 5),
    ("zero-width", "refs/\u200bhero.png", "E024", 5),
    ("name-over-255-bytes", "refs/" + "a" * 300 + ".png", "E024", 5),
    ("multibyte-name-over-255-bytes", "refs/" + "é" * 130 + ".png", "E024", 5),
    ("path-over-4096-bytes", "/".join(["folder"] * 700) + "/x.png", "E024", 0),
    ("division-slash", "refs\u2215hero.png", "E024", 4),
    ("fraction-slash", "refs\u2044hero.png", "E024", 4),
    ("fullwidth-slash", "refs\uff0fhero.png", "E024", 4),
    ("fullwidth-dots", "\uff0e\uff0e/outside.png", "E024", 0),
    ("two-dot-leader", "\u2025/outside.png", "E024", 0),
    ("backslash-parent", "..\\outside.png", "E024", 2),
    ("windows-path", "C:\\Windows\\outside.png", "E024", 2),
]


@pytest.fixture
def hostile(project):
    """The project, with a real image beside it (outside) for the paths to try to reach."""
    source = project.root / "refs" / "hero.png"
    (project.root.parent / "outside.png").write_bytes(source.read_bytes())
    return project


def check_json(project, text: str, *flags: str, capsys) -> tuple[int, list[dict], str]:
    path = project.root / "film.shot"
    path.write_bytes(text.encode("utf-8"))
    capsys.readouterr()
    code = main(["check", str(path), "--format", "json", *flags])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


@pytest.mark.parametrize(
    ("path", "code", "offset"), [c[1:] for c in ESCAPES], ids=[c[0] for c in ESCAPES]
)
def test_each_escape_is_one_located_error(hostile, capsys, path, code, offset):
    status, diagnostics, err = check_json(hostile, script_naming(path), capsys=capsys)
    assert status == 1
    assert "Traceback" not in err
    errors = [d for d in diagnostics if d["severity"] == "error"]
    assert [(d["code"], d["span"]["line"], d["span"]["column"]) for d in errors] == [
        (code, DECLARED_AT[0], DECLARED_AT[1] + offset)
    ], errors


@pytest.mark.parametrize(
    ("path", "code"),
    [("refs\u2215hero.png", "E024"), ("http://example.com/x.png", "E022"), ("a\0.png", "E024")],
)
def test_allow_outside_does_not_allow_urls_or_look_alikes(hostile, capsys, path, code):
    status, diagnostics, _ = check_json(
        hostile, script_naming(path), "--allow-outside", capsys=capsys
    )
    assert status == 1
    assert [d["code"] for d in diagnostics if d["severity"] == "error"] == [code]


def test_allow_outside_allows_a_real_file_outside(hostile, capsys):
    outside = hostile.root.parent / "outside.png"
    for path in (str(outside), "../outside.png"):
        status, diagnostics, _ = check_json(
            hostile, script_naming(path), "--allow-outside", capsys=capsys
        )
        assert status == 0, diagnostics


def test_symlinks_out_are_refused_and_links_inside_are_not(hostile, capsys):
    refs = hostile.root / "refs"
    outside_folder = hostile.root.parent / "elsewhere"
    outside_folder.mkdir()
    (outside_folder / "secret.png").write_bytes((refs / "hero.png").read_bytes())
    os.symlink(hostile.root.parent / "outside.png", refs / "escape.png")
    os.symlink(outside_folder, refs / "linked")
    os.symlink(refs / "hero.png", refs / "alias.png")  # inside to inside: fine
    os.symlink(refs / "loop.png", refs / "loop.png")  # a link to itself
    for path, code in [
        ("refs/escape.png", "E022"),
        ("refs/linked/secret.png", "E022"),
        ("refs/alias.png", None),
        ("refs/loop.png", "E024"),
    ]:
        status, diagnostics, err = check_json(hostile, script_naming(path), capsys=capsys)
        errors = [(d["code"], d["span"]["line"], d["span"]["column"]) for d in diagnostics]
        assert "Traceback" not in err
        if code is None:
            assert status == 0 and errors == [], (path, errors)
        else:
            assert errors == [(code, *DECLARED_AT)], (path, errors)


def test_escapes_are_refused_wherever_a_path_is_written(hostile, capsys):
    text = (
        "title: T\n"
        "import: ../cast.shot\n"
        "character MARA\n"
        "  description: a keeper\n"
        "  ref: refs\uff0fhero.png\n"
        "\n"
        "SHOT 1 WIDE 4s\n"
        "  MARA waits.\n"
        "  ref: /etc/hostname.png\n"
        "  keyframe first: file:///etc/x.png\n"
    )
    (hostile.root.parent / "cast.shot").write_text("location PIER\n", encoding="utf-8")
    status, diagnostics, _ = check_json(hostile, text, capsys=capsys)
    assert status == 1
    found = [(d["code"], d["span"]["line"], d["span"]["column"]) for d in diagnostics]
    assert found == [("E022", 2, 9), ("E024", 5, 12), ("E022", 9, 8), ("E022", 10, 19)]


def test_the_human_report_points_at_the_look_alike(hostile, capsys):
    path = hostile.root / "film.shot"
    path.write_text(script_naming("refs\u2215hero.png"), encoding="utf-8")
    assert main(["check", str(path), "--color", "never"]) == 1
    err = capsys.readouterr().err
    assert "error[E024 unusable-path]" in err
    assert "film.shot:2:17" in err
    assert "looks like '/' but is not" in err
    assert "Traceback" not in err
