"""`director lsp`: a language server for `.shot` files, over stdio (pygls).

- diagnostics as you type: the whole checker runs on the editor's unsaved
  text (and that of other open scripts it imports), so unknown names, bad
  paths and impossible times show while typing, at the checker's ranges.
  A check starts `DEBOUNCE_S` after the last edit, in a worker thread (requests
  are answered meanwhile), and never more than one runs at a time;
- hover on a name: a character's description, refs and voice, a location's
  description and refs, an asset's kind and file;
- go to definition of a name: its declaration, in this file or an import;
- completion: shot sizes after `SHOT id`, camera moves after `camera:` and
  `then`, a cue's options after its asset's name, declared names elsewhere.

Files are read as `check` reads them (`director.reader`): imports are followed
only inside the open script's folder, only regular files, under the same limits.
A document that is not a file (`untitled:`) is checked as if it were saved in
the workspace's folder.  A request whose parameters are out of the protocol's
range (a negative position) is answered with an InvalidParams error.

Positions: LSP counts UTF-16 code units; the checker counts characters.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.uris import from_fs_path, to_fs_path

from . import __version__, codes
from . import syntax as ast
from .check import check_file
from .diagnostics import Diagnostic, Severity
from .names import NAME
from .parse import CAMERA_MOVES, SHOT_SIZES, parse_source
from .reader import DEFAULT_LIMITS as LIMITS
from .reader import read_script, script_text
from .source import PathEscape, SourceFile, UnusablePath, display_name, resolve_path

DEBOUNCE_S = 0.15  # typing faster than this checks once, after the last key

_NAME = NAME  # director/names.py


@dataclass(frozen=True)
class Declared:
    """A declaration found by following the open script's imports."""

    node: ast.Declaration
    path: Path


class _Refused:
    """A request whose parameters could not be read, to be answered with an error."""

    def __init__(self, message_id):
        self.id = message_id


class _Protocol(LanguageServerProtocol):
    """pygls drops a request whose parameters fail validation, so the client waits
    for ever; this one answers it with InvalidParams instead."""

    def structure_message(self, data):
        try:
            return super().structure_message(data)
        except JsonRpcInvalidParams:
            if "id" in data and "method" in data:
                return _Refused(data["id"])
            raise

    def handle_message(self, message):
        if isinstance(message, _Refused):
            error = JsonRpcInvalidParams().to_response_error()
            self._send_response(message.id, error=error)
            return
        super().handle_message(message)


def create_server() -> LanguageServer:
    server = LanguageServer("director", __version__, protocol_cls=_Protocol)
    checks = _Checks(server)

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: LanguageServer, params: lsp.DidOpenTextDocumentParams) -> None:
        checks.request(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: LanguageServer, params: lsp.DidChangeTextDocumentParams) -> None:
        checks.request(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: LanguageServer, params: lsp.DidSaveTextDocumentParams) -> None:
        checks.request(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    def hover(ls: LanguageServer, params: lsp.HoverParams) -> lsp.Hover | None:
        found = _declared_at(ls, params.text_document.uri, params.position)
        if found is None:
            return None
        return lsp.Hover(
            contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=_describe(found.node))
        )

    @server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
    def definition(ls: LanguageServer, params: lsp.DefinitionParams) -> lsp.Location | None:
        found = _declared_at(ls, params.text_document.uri, params.position)
        if found is None:
            return None
        span = found.node.name.span
        text = _text_of(ls, found.path) or ""
        return lsp.Location(uri=_uri_of(ls, found.path), range=_range(text, span))

    @server.feature(
        lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=[" ", ","])
    )
    def completion(ls: LanguageServer, params: lsp.CompletionParams) -> lsp.CompletionList:
        document = ls.workspace.get_text_document(params.text_document.uri)
        lines = document.source.split("\n")
        line = lines[params.position.line] if params.position.line < len(lines) else ""
        before = line[: _column(line, params.position.character)]
        return lsp.CompletionList(is_incomplete=False, items=_complete(ls, document.uri, before))

    from . import lsp_edit  # formatting, outline, quick fixes (it uses this module's helpers)

    lsp_edit.register(server)
    return server


# -------------------------------------------------------------- diagnostics


class _Checks:
    """Diagnostics as you type, debounced, never more than one check in flight.

    An edit marks its document and (re)starts the wait; the one worker task waits
    until `DEBOUNCE_S` has passed since the last edit, then checks every marked
    document in a worker thread, one after the other, and publishes each result.
    Edits made during a check mark their document again for the next round."""

    def __init__(self, server: LanguageServer):
        self.server = server
        self.waiting: dict[str, None] = {}  # marked documents, in the order marked
        self.last_edit = 0.0
        self.worker: asyncio.Task | None = None

    def request(self, uri: str) -> None:
        loop = asyncio.get_running_loop()
        self.waiting[uri] = None
        self.last_edit = loop.time()
        if self.worker is None or self.worker.done():
            self.worker = loop.create_task(self._work())

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while self.waiting:
            while (left := self.last_edit + DEBOUNCE_S - loop.time()) > 0:
                await asyncio.sleep(left)
            uris, self.waiting = list(self.waiting), {}
            for uri in uris:
                path, unsaved = _path_of(self.server, uri), _open_texts(self.server)
                try:
                    found = await loop.run_in_executor(None, _diagnostics, path, unsaved)
                except Exception:  # a checker bug: say so in the log, keep serving
                    logging.getLogger(__name__).exception("checking %s failed", uri)
                    continue
                self.server.text_document_publish_diagnostics(
                    lsp.PublishDiagnosticsParams(uri=uri, diagnostics=found)
                )


def _diagnostics(path: Path, unsaved: dict[Path, str]) -> list[lsp.Diagnostic]:
    """The checker's findings in the script at `path` (run in a worker thread)."""
    result = check_file(path, unsaved=unsaved, limits=LIMITS)
    own = display_name(path)
    text = result.sources.get(own, unsaved.get(path, ""))
    return [_lsp_diagnostic(d, text) for d in result.diagnostics if d.span.file == own]


def _path_of(ls: LanguageServer, uri: str) -> Path:
    """The file a document is, or for one that is not a file (`untitled:Untitled-1`),
    the file it would be if saved in the workspace's folder."""
    fs_path = to_fs_path(uri) if uri.startswith("file:") else None
    if fs_path is not None:
        return Path(fs_path).resolve()
    folder = Path(ls.workspace.root_path or Path.cwd())
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", unquote(uri.partition(":")[2])).strip("._")
    return (folder / f"{name or 'untitled'}.shot").resolve()


def _uri_of(ls: LanguageServer, path: Path) -> str:
    for doc in ls.workspace.text_documents.values():
        if _path_of(ls, doc.uri) == path:
            return doc.uri
    return from_fs_path(str(path)) or path.as_uri()


def _open_texts(ls: LanguageServer) -> dict[Path, str]:
    return {_path_of(ls, doc.uri): doc.source for doc in ls.workspace.text_documents.values()}


def _lsp_diagnostic(diagnostic: Diagnostic, text: str) -> lsp.Diagnostic:
    message = diagnostic.message + "".join(f"\nnote: {n}" for n in diagnostic.notes)
    if diagnostic.help:
        message += f"\nhelp: {diagnostic.help}"
    return lsp.Diagnostic(
        range=_range(text, diagnostic.span),
        message=message,
        severity=lsp.DiagnosticSeverity.Error
        if diagnostic.severity is Severity.ERROR
        else lsp.DiagnosticSeverity.Warning,
        code=f"{diagnostic.code} {diagnostic.name}",
        source="director",
    )


def _range(text: str, span) -> lsp.Range:
    lines = text.split("\n")

    def position(line: int, column: int) -> lsp.Position:
        source = lines[line - 1] if 0 < line <= len(lines) else ""
        before = source[: max(column - 1, 0)]
        return lsp.Position(line=max(line - 1, 0), character=len(before.encode("utf-16-le")) // 2)

    return lsp.Range(
        start=position(span.line, span.column), end=position(span.end_line, span.end_column)
    )


def _column(line: str, utf16: int) -> int:
    """The character index of a UTF-16 offset into `line`."""
    units = 0
    for index, char in enumerate(line):
        if units >= utf16:
            return index
        units += 2 if ord(char) > 0xFFFF else 1
    return len(line)


# ------------------------------------------------------------------- names


def _declarations(ls: LanguageServer, path: Path) -> dict[str, Declared]:
    """Every name declared in the script at `path` and in what it imports, open
    documents read from the editor; imports followed as the checker follows them
    (inside the script's folder, regular files, the same limits)."""
    found: dict[str, Declared] = {}
    root = path.parent
    seen: set[Path] = set()
    pending = [(path, 1)]
    while pending:
        current, depth = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        tree = _tolerant_parse(ls, current)
        if tree is None:
            continue
        for declaration in tree.declarations:
            found.setdefault(declaration.name.text, Declared(declaration, current))
        if depth >= LIMITS.max_import_depth:
            continue
        for setting in tree.settings:
            if isinstance(setting, ast.PathSetting):
                try:
                    target = resolve_path(setting.path.text, current.parent, root)
                except (PathEscape, UnusablePath):
                    continue  # the checker reports it
                pending.append((target, depth + 1))
    return found


# The last tolerant parse of each file and the text it was of: hovering and completing
# in a script that has not changed since reuse it (a 1,500-shot script takes ~0.5 s).
_PARSED: dict[Path, tuple[str, ast.ScriptFile | None]] = {}


def _tolerant_parse(ls: LanguageServer, path: Path) -> ast.ScriptFile | None:
    source = _source_of(ls, path)
    if source is None:
        return None
    text, tree = _PARSED.get(path, (None, None))
    if text != source.text:
        tree = _parse_around_errors(source)
        _PARSED[path] = (source.text, tree)
    return tree


def _parse_around_errors(source: SourceFile) -> ast.ScriptFile | None:
    """The syntax tree of a script being typed: lines the parser stops at are blanked
    (keeping line numbers) until the rest parses, so names stay known mid-edit."""
    lines = source.text.split("\n")
    for _ in range(50):
        tree, problems = parse_source(source, max_shots=LIMITS.max_shots)
        if tree is not None or not problems or problems[0].code == codes.LIMIT_EXCEEDED.code:
            return tree
        line = problems[0].span.line - 1
        if not 0 <= line < len(lines) or not lines[line].strip():
            return None
        lines[line] = ""
        source = replace(source, text="\n".join(lines), _lines=None)
    return None


def _source_of(ls: LanguageServer, path: Path) -> SourceFile | None:
    """A script as the checker would read it: the editor's text if it is open, else
    the disk's through the bounded reader; None if it may not be parsed."""
    display = display_name(path)
    for doc in ls.workspace.text_documents.values():
        if _path_of(ls, doc.uri) == path:
            return script_text(path, display, doc.source, LIMITS).source
    return read_script(path, display, LIMITS).source


def _text_of(ls: LanguageServer, path: Path) -> str | None:
    source = _source_of(ls, path)
    return source.text if source is not None else None


def _declared_at(ls: LanguageServer, uri: str, position: lsp.Position) -> Declared | None:
    document = ls.workspace.get_text_document(uri)
    lines = document.source.split("\n")
    if position.line >= len(lines):
        return None
    line = lines[position.line]
    at = _column(line, position.character)
    for match in _NAME.finditer(line):
        if match.start() <= at <= match.end():
            return _declarations(ls, _path_of(ls, uri)).get(match[0])
    return None


def _describe(node: ast.Declaration) -> str:
    if isinstance(node, ast.Asset):
        return f"**{node.kind} {node.name.text}**: `{node.path.text}`"
    kind = "character" if isinstance(node, ast.Character) else "location"
    parts = [f"**{kind} {node.name.text}**"]
    if isinstance(node, ast.Character | ast.Location):
        parts += [node.description] if node.description else []
    if isinstance(node, ast.Character) and node.voice:
        parts.append(f"voice: {node.voice}")
    if isinstance(node, ast.Character | ast.Location):
        parts += [f"ref: `{ref.text}`" for ref in node.refs]
    return "\n\n".join(parts)


# --------------------------------------------------------------- completion

_SHOT_HEAD = re.compile(r"^SHOT[ \t]+\S+[ \t]+[A-Z-]*$")
# Right after `camera:` (with or without a space), or after a `then`.
_CAMERA = re.compile(r"^[ \t]+camera:(?:.*\bthen[ \t])?[ \t]*[a-z]*$")
# After a cue's asset name and a space, in a shot or on the film's timeline: its options.
_CUE_OPTIONS_AT = re.compile(r"^[ \t]*(?:music|sfx|ambience)[ \t]+\S+[ \t](?:.*[ \t])?[a-z]*$")
CUE_OPTIONS = (
    "from", "for", "in", "loop", "fade in", "fade out", "gain", "duck under dialogue",
)  # fmt: skip


def _complete(ls: LanguageServer, uri: str, before: str) -> list[lsp.CompletionItem]:
    if _SHOT_HEAD.match(before):
        sizes = sorted(SHOT_SIZES, key=lambda s: (len(s) <= 3, s))
        return [
            lsp.CompletionItem(
                label=s, kind=lsp.CompletionItemKind.EnumMember, detail=SHOT_SIZES[s]
            )
            for s in sizes
        ]
    if _CAMERA.match(before):
        return [
            lsp.CompletionItem(label=m, kind=lsp.CompletionItemKind.Keyword) for m in CAMERA_MOVES
        ]
    if _CUE_OPTIONS_AT.match(before):
        return [
            lsp.CompletionItem(label=o, kind=lsp.CompletionItemKind.Keyword) for o in CUE_OPTIONS
        ]
    kinds = {
        ast.Character: lsp.CompletionItemKind.Class,
        ast.Location: lsp.CompletionItemKind.Module,
        ast.Asset: lsp.CompletionItemKind.File,
    }
    return [
        lsp.CompletionItem(
            label=name,
            kind=kinds.get(type(found.node), lsp.CompletionItemKind.Text),
            documentation=lsp.MarkupContent(
                kind=lsp.MarkupKind.Markdown, value=_describe(found.node)
            ),
        )
        for name, found in sorted(_declarations(ls, _path_of(ls, uri)).items())
    ]


def main() -> None:
    create_server().start_io()


__all__ = ["create_server", "main"]
