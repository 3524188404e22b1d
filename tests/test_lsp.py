"""`director lsp`, driven over its protocol in-process: JSON-RPC over a pair of pipes."""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from pathlib import Path

import pytest

from director.lsp import create_server

FILM = """title: Night Watch

character MARA
  description: a weathered lighthouse keeper
  ref: refs/hero.png
  voice: low and calm

SHOT 1 WIDE 2s
  MARA waits.
"""


class Client:
    """A minimal LSP client: frames JSON-RPC messages and collects what comes back."""

    def __init__(self):
        to_server, self._to_server = os.pipe()
        self._from_server, from_server = os.pipe()
        self.server = create_server()
        self.thread = threading.Thread(
            target=self.server.start_io,
            args=(os.fdopen(to_server, "rb"), os.fdopen(from_server, "wb")),
            daemon=True,
        )
        self.thread.start()
        self.writer = os.fdopen(self._to_server, "wb")
        self.messages: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.next_id = 0

    def _read(self) -> None:
        reader = os.fdopen(self._from_server, "rb")
        while True:
            headers = {}
            while (line := reader.readline()) not in (b"\r\n", b""):
                key, _, value = line.decode().partition(":")
                headers[key.strip().lower()] = value.strip()
            if not headers:
                return
            self.messages.put(json.loads(reader.read(int(headers["content-length"]))))

    def send(self, method: str, params: dict, *, request: bool = False) -> int | None:
        message: dict = {"jsonrpc": "2.0", "method": method, "params": params}
        if request:
            self.next_id += 1
            message["id"] = self.next_id
        body = json.dumps(message).encode()
        self.writer.write(f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        self.writer.flush()
        return message.get("id")

    def request(self, method: str, params: dict):
        number = self.send(method, params, request=True)
        return self.wait(lambda m: m.get("id") == number)["result"]

    def wait(self, wanted, timeout: float = 20.0) -> dict:
        while True:
            message = self.messages.get(timeout=timeout)
            if wanted(message):
                return message

    def diagnostics(self, uri: str) -> list[dict]:
        return self.wait(
            lambda m: (
                m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri
            )
        )["params"]["diagnostics"]

    def close(self) -> None:
        self.request("shutdown", {})
        self.send("exit", {})
        self.writer.close()
        self.thread.join(timeout=5)


@pytest.fixture
def client(project):
    client = Client()
    client.request(
        "initialize",
        {"processId": None, "rootUri": project.root.as_uri(), "capabilities": {}},
    )
    client.send("initialized", {})
    yield client
    client.close()


def test_diagnostics_appear_at_the_right_range_and_go_when_fixed(client, project):
    path = project.write(FILM)
    uri = path.as_uri()
    broken = FILM.replace("MARA waits.", "MARA waits.\n  MRAA", 1).replace(
        "SHOT 1 WIDE 2s", "SHOT 1 WIDE on MAR 2s"
    )
    client.send(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "shot", "version": 1, "text": broken}},
    )
    [diagnostic] = [d for d in client.diagnostics(uri) if d["severity"] == 1]
    assert diagnostic["code"].startswith("E012")
    assert diagnostic["range"] == {
        "start": {"line": 7, "character": 15},
        "end": {"line": 7, "character": 18},
    }  # MAR on "SHOT 1 WIDE on MAR 2s", as typed: the file on disk has no error
    assert 'did you mean "MARA"' in diagnostic["message"]

    client.send(
        "textDocument/didChange",
        {
            "textDocument": {"uri": uri, "version": 2},
            "contentChanges": [{"text": FILM}],
        },
    )
    assert client.diagnostics(uri) == []


def test_hover_definition_and_completion(client, project):
    cast = project.write("character TOM\n  description: a boy of ten\n", "cast.shot")
    text = FILM.replace("title: Night Watch\n", "title: Night Watch\nimport: cast.shot\n")
    text += "\nSHOT 2 CLOSE-UP on TOM 2s\n  TOM laughs.\n  camera: pan left, then \n"
    path = project.write(text)
    uri = path.as_uri()
    client.send(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "shot", "version": 1, "text": text}},
    )
    client.diagnostics(uri)
    lines = text.split("\n")
    use = next(i for i, line in enumerate(lines) if line == "  MARA waits.")

    hover = client.request(
        "textDocument/hover",
        {"textDocument": {"uri": uri}, "position": {"line": use, "character": 3}},
    )
    assert "a weathered lighthouse keeper" in hover["contents"]["value"]
    assert "refs/hero.png" in hover["contents"]["value"]
    assert "low and calm" in hover["contents"]["value"]

    here = client.request(
        "textDocument/definition",
        {"textDocument": {"uri": uri}, "position": {"line": use, "character": 2}},
    )
    assert here["uri"] == uri and here["range"]["start"] == {"line": 3, "character": 10}
    tom = next(i for i, line in enumerate(lines) if line == "  TOM laughs.")
    there = client.request(
        "textDocument/definition",
        {"textDocument": {"uri": uri}, "position": {"line": tom, "character": 3}},
    )
    assert Path(there["uri"].removeprefix("file://")).resolve() == cast.resolve()
    assert there["range"]["start"] == {"line": 0, "character": 10}

    def labels(line: int, character: int) -> list[str]:
        found = client.request(
            "textDocument/completion",
            {
                "textDocument": {"uri": uri},
                "position": {"line": line, "character": character},
            },
        )
        return [item["label"] for item in found["items"]]

    shot = next(i for i, line in enumerate(lines) if line.startswith("SHOT 2"))
    assert "CLOSE-UP" in labels(shot, len("SHOT 2 "))
    camera = next(i for i, line in enumerate(lines) if "camera: pan" in line)
    assert "dolly" in labels(camera, len(lines[camera]))
    assert labels(tom, 2) == ["MARA", "TOM"]


# ------------------------------------------------- issue 18: reading like `check`


def _open(client: Client, uri: str, text: str) -> None:
    client.send(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "shot", "version": 1, "text": text}},
    )


def _codes(diagnostics: list[dict]) -> list[tuple[str, int]]:
    return sorted((d["code"].split()[0], d["range"]["start"]["line"] + 1) for d in diagnostics)


def test_imports_out_of_the_project_are_not_followed(client, project, tmp_path_factory):
    """Defect 3: hover, definition and completion showed declarations from files
    outside the project (`/abs/path`, `../..`), where `check` reports E022."""
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (elsewhere / "secret.shot").write_text("character SPY\n  description: the secret\n")
    text = (
        f"title: T\nimport: {elsewhere}/secret.shot\nimport: ../{elsewhere.name}/secret.shot\n"
        "\nSHOT 1 WIDE 2s\n  SPY waits.\n"
    )
    uri = project.write(text).as_uri()
    _open(client, uri, text)
    assert ("E022", 2) in _codes(client.diagnostics(uri))
    spy = {"textDocument": {"uri": uri}, "position": {"line": 5, "character": 3}}
    assert client.request("textDocument/hover", spy) is None
    assert client.request("textDocument/definition", spy) is None
    found = client.request("textDocument/completion", spy)
    assert "SPY" not in [item["label"] for item in found["items"]]


def test_a_fifo_or_a_device_import_never_blocks_the_server(client, project):
    """Defect 3: `import: /dev/zero` read until memory ran out and a FIFO import hung the
    server for good (shutdown and exit included: the fixture's close would time out)."""
    os.mkfifo(project.root / "pipe.shot")
    text = FILM.replace("title: Night Watch\n", "title: T\nimport: pipe.shot\n")
    uri = project.write(text).as_uri()
    _open(client, uri, text)
    assert ("E021", 2) in _codes(client.diagnostics(uri))
    mara = {"textDocument": {"uri": uri}, "position": {"line": 9, "character": 3}}
    assert "lighthouse keeper" in client.request("textDocument/hover", mara)["contents"]["value"]
    zero = text.replace("import: pipe.shot", "import: /dev/zero")
    client.send(
        "textDocument/didChange",
        {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": zero}]},
    )
    assert ("E022", 2) in _codes(client.diagnostics(uri))
    assert client.request("textDocument/hover", mara) is not None


@pytest.mark.parametrize(
    "position", [{"line": -1, "character": 0}, {"line": 0, "character": 2**31}]
)
def test_positions_out_of_range_are_answered_with_an_error(client, project, position):
    """Defect 16: requests with negative or 2**31 positions were never answered."""
    uri = project.write(FILM).as_uri()
    _open(client, uri, FILM)
    client.diagnostics(uri)
    number = client.send(
        "textDocument/hover", {"textDocument": {"uri": uri}, "position": position}, request=True
    )
    reply = client.wait(lambda m: m.get("id") == number)
    assert reply["error"]["code"] == -32602  # InvalidParams
    last = {"line": 2**31 - 1, "character": 2**31 - 1}  # in range: an answer, with nothing
    hover = {"textDocument": {"uri": uri}, "position": last}
    assert client.request("textDocument/hover", hover) is None


def test_an_untitled_document_is_checked(client, project):
    """Defect 16: every edit of an `untitled:` document reported a TypeError."""
    uri = "untitled:Untitled-1"
    _open(client, uri, FILM.replace("SHOT 1 WIDE", "SHOT 1 WIDDE"))
    assert _codes(client.diagnostics(uri)) == [("E005", 8)]
    client.send(
        "textDocument/didChange",
        {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": FILM}]},
    )
    assert client.diagnostics(uri) == []


def test_a_huge_line_in_the_editor_is_refused_before_parsing(client, project):
    """Defect 7: a 20 MB line exhausted the language server."""
    text = FILM + "  " + "word " * 400_000 + "\n"
    uri = project.write(FILM).as_uri()
    _open(client, uri, text)
    assert _codes(client.diagnostics(uri)) == [("E038", 10)]
    mara = {"textDocument": {"uri": uri}, "position": {"line": 8, "character": 3}}
    assert client.request("textDocument/hover", mara) is None  # nothing parsed, nothing known


def test_edits_are_checked_debounced_one_check_at_a_time(client, project, monkeypatch):
    """Defect 8: the full check reran on every edit.  Thirty quick edits are checked a
    few times, never two checks at once, and the last text is the one published."""
    import director.lsp as server

    checking, most, calls = [0], [0], []
    lock = threading.Lock()
    real = server.check_file

    def counted(*args, **kwargs):
        with lock:
            checking[0] += 1
            most[0] = max(most[0], checking[0])
            calls.append(args[0])
        try:
            time.sleep(0.05)  # long enough for edits to arrive while it runs
            return real(*args, **kwargs)
        finally:
            with lock:
                checking[0] -= 1

    monkeypatch.setattr(server, "check_file", counted)
    uri = project.write(FILM).as_uri()
    broken = FILM.replace("MARA waits.", "MRAA waits.")
    _open(client, uri, broken)
    for version in range(2, 32):
        text = FILM if version == 31 else broken + f"  # edit {version}\n"
        client.send(
            "textDocument/didChange",
            {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]},
        )
    while client.diagnostics(uri):  # earlier rounds may publish first; the last is clean
        pass
    assert most[0] == 1 and len(calls) <= 5, (most[0], len(calls))
