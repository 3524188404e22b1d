"""`director lsp`: a language server for `.shot` files, over stdio (pygls).

- diagnostics as you type: the whole checker runs on the editor's unsaved
  text (and that of other open scripts it imports), so unknown names, bad
  paths and impossible times show while typing, at the checker's ranges;
- hover on a name: a character's description, refs and voice, a location's
  description and refs, an asset's kind and file;
- go to definition of a name: its declaration, in this file or an import;
- completion: shot sizes after `SHOT id`, camera moves after `camera:` and
  `then`, declared names elsewhere.

Positions: LSP counts UTF-16 code units; the checker counts characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from . import __version__
from . import syntax as ast
from .check import check_file
from .diagnostics import Diagnostic, Severity
from .parse import CAMERA_MOVES, SHOT_SIZES, parse_source
from .source import SourceFile, display_name

_NAME = re.compile(r"[A-Z][A-Z0-9_]*")


@dataclass(frozen=True)
class Declared:
    """A declaration found by following the open script's imports."""

    node: ast.Declaration
    path: Path


def create_server() -> LanguageServer:
    server = LanguageServer("director", __version__)

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: LanguageServer, params: lsp.DidOpenTextDocumentParams) -> None:
        _publish(ls, params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: LanguageServer, params: lsp.DidChangeTextDocumentParams) -> None:
        _publish(ls, params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: LanguageServer, params: lsp.DidSaveTextDocumentParams) -> None:
        _publish(ls, params.text_document.uri)

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
        text = _text_of(ls, found.path)
        return lsp.Location(uri=from_fs_path(str(found.path)), range=_range(text or "", span))

    @server.feature(
        lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=[" ", ","])
    )
    def completion(ls: LanguageServer, params: lsp.CompletionParams) -> lsp.CompletionList:
        document = ls.workspace.get_text_document(params.text_document.uri)
        lines = document.source.split("\n")
        line = lines[params.position.line] if params.position.line < len(lines) else ""
        before = line[: _column(line, params.position.character)]
        return lsp.CompletionList(is_incomplete=False, items=_complete(ls, document.uri, before))

    return server


# -------------------------------------------------------------- diagnostics


def _fs_path(uri: str) -> Path:
    """The file a document's URI names (a URI that names none stays as it is)."""
    return Path(to_fs_path(uri) or uri)


def _publish(ls: LanguageServer, uri: str) -> None:
    path = _fs_path(uri).resolve()
    unsaved = {
        _fs_path(doc.uri).resolve(): doc.source
        for doc in ls.workspace.text_documents.values()
    }
    result = check_file(path, unsaved=unsaved)
    text = unsaved.get(path, "")
    own = display_name(path)
    diagnostics = [_lsp_diagnostic(d, text) for d in result.diagnostics if d.span.file == own]
    ls.text_document_publish_diagnostics(
        lsp.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics)
    )


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
    documents read from the editor."""
    found: dict[str, Declared] = {}
    seen: set[Path] = set()
    pending = [path.resolve()]
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        text = _text_of(ls, current)
        if text is None:
            continue
        tree = _tolerant_parse(current, text)
        if tree is None:
            continue
        for declaration in tree.declarations:
            found.setdefault(declaration.name.text, Declared(declaration, current))
        for setting in tree.settings:
            if isinstance(setting, ast.PathSetting):
                pending.append((current.parent / setting.path.text).resolve())
    return found


def _tolerant_parse(path: Path, text: str) -> ast.ScriptFile | None:
    """The syntax tree of a script being typed: lines the parser stops at are blanked
    (keeping line numbers) until the rest parses, so names stay known mid-edit."""
    lines = text.split("\n")
    for _ in range(50):
        tree, problems = parse_source(SourceFile(path, display_name(path), "\n".join(lines)))
        if tree is not None or not problems:
            return tree
        line = problems[0].span.line - 1
        if not 0 <= line < len(lines) or not lines[line].strip():
            return None
        lines[line] = ""
    return None


def _text_of(ls: LanguageServer, path: Path) -> str | None:
    for doc in ls.workspace.text_documents.values():
        if _fs_path(doc.uri).resolve() == path.resolve():
            return doc.source
    try:
        return path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return None


def _declared_at(ls: LanguageServer, uri: str, position: lsp.Position) -> Declared | None:
    document = ls.workspace.get_text_document(uri)
    lines = document.source.split("\n")
    if position.line >= len(lines):
        return None
    line = lines[position.line]
    at = _column(line, position.character)
    for match in _NAME.finditer(line):
        if match.start() <= at <= match.end():
            return _declarations(ls, _fs_path(uri)).get(match[0])
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
_CAMERA = re.compile(r"^[ \t]+camera:.*(?::|\bthen)[ \t]+[a-z]*$")


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
        for name, found in sorted(_declarations(ls, _fs_path(uri)).items())
    ]


def main() -> None:
    create_server().start_io()


__all__ = ["create_server", "main"]
