"""`director lsp`, driven over its protocol in-process: JSON-RPC over a pair of pipes."""

from __future__ import annotations

import json
import os
import queue
import threading
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
