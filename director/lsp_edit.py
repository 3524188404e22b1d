"""The language server's editing features: formatting, the outline, quick fixes.

- formatting: `director fmt`'s layout (`fmt.format_text`) as one edit, for a
  script that parses (one that does not is left alone, as `fmt` leaves it);
- outline (`documentSymbol`): each scene (its slugline) with its shots, and
  shots before the first slugline at the top;
- code actions: a diagnostic whose help is `did you mean "X"?` offers the
  quick fix that writes X over the diagnostic's range.

Registered on the server by `lsp.create_server`; positions are converted as
the rest of the server converts them (UTF-16 code units).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer

from . import syntax as ast
from .fmt import format_text
from .parse import parse_source
from .source import SourceFile, display_name

_DID_YOU_MEAN = re.compile(r'did you mean "([^"\n]+)"\?')


def register(server: LanguageServer) -> None:
    from . import lsp as base  # the server's own helpers; lsp imports this module lazily

    @server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
    def formatting(
        ls: LanguageServer, params: lsp.DocumentFormattingParams
    ) -> list[lsp.TextEdit] | None:
        document = ls.workspace.get_text_document(params.text_document.uri)
        path = base._path_of(ls, document.uri)
        return format_edits(SourceFile(path, display_name(path), document.source))

    @server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def outline(ls: LanguageServer, params: lsp.DocumentSymbolParams) -> list[lsp.DocumentSymbol]:
        path = base._path_of(ls, params.text_document.uri)
        tree = base._tolerant_parse(ls, path)
        text = base._text_of(ls, path) or ""
        return [] if tree is None else symbols(tree, lambda span: base._range(text, span))

    @server.feature(
        lsp.TEXT_DOCUMENT_CODE_ACTION,
        lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix]),
    )
    def code_actions(ls: LanguageServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
        return quick_fixes(params.text_document.uri, params.context.diagnostics)


def format_edits(source: SourceFile) -> list[lsp.TextEdit] | None:
    """The edit that lays `source` out as `director fmt` does; None when it does not parse."""
    tree, _ = parse_source(source)
    if tree is None:
        return None
    formatted = format_text(source.text)
    if formatted == source.text:
        return []
    lines = source.text.split("\n")
    end = lsp.Position(line=len(lines) - 1, character=_utf16(lines[-1]))
    whole = lsp.Range(start=lsp.Position(line=0, character=0), end=end)
    return [lsp.TextEdit(range=whole, new_text=formatted)]


def symbols(tree: ast.ScriptFile, to_range) -> list[lsp.DocumentSymbol]:
    """Scenes (sluglines) holding their shots, in order; `to_range` converts a span."""
    top: list[lsp.DocumentSymbol] = []
    scene: tuple[ast.Slugline, list[lsp.DocumentSymbol]] | None = None
    for item in tree.body:
        if isinstance(item, ast.Slugline):
            if scene is not None:
                top.append(_scene(*scene, to_range))
            scene = (item, [])
        elif isinstance(item, ast.Shot):
            shot = lsp.DocumentSymbol(
                name=f"SHOT {item.id.text}",
                detail=f"{item.size.text} {item.duration.text}",
                kind=lsp.SymbolKind.Event,
                range=to_range(item.span),
                selection_range=to_range(item.id.span),
            )
            (top if scene is None else scene[1]).append(shot)
    if scene is not None:
        top.append(_scene(*scene, to_range))
    return top


def _scene(slugline: ast.Slugline, shots: list[lsp.DocumentSymbol], to_range):
    """A scene's symbol: from its slugline to the end of its last shot."""
    heading = to_range(slugline.span)
    end = shots[-1].range.end if shots else heading.end
    return lsp.DocumentSymbol(
        name=f"{slugline.prefix} {slugline.location.text} - {slugline.time_of_day}",
        kind=lsp.SymbolKind.Namespace,
        range=lsp.Range(start=heading.start, end=end),
        selection_range=to_range(slugline.location.span),
        children=shots,
    )


def quick_fixes(uri: str, diagnostics: Sequence[lsp.Diagnostic]) -> list[lsp.CodeAction]:
    """A quick fix for each diagnostic whose help says `did you mean "X"?`."""
    actions = []
    for diagnostic in diagnostics:
        match = _DID_YOU_MEAN.search(diagnostic.message)
        if match is None:
            continue
        replacement = match.group(1)
        actions.append(
            lsp.CodeAction(
                title=f'Replace with "{replacement}"',
                kind=lsp.CodeActionKind.QuickFix,
                diagnostics=[diagnostic],
                is_preferred=True,
                edit=lsp.WorkspaceEdit(
                    changes={uri: [lsp.TextEdit(range=diagnostic.range, new_text=replacement)]}
                ),
            )
        )
    return actions


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


__all__ = ["format_edits", "quick_fixes", "register", "symbols"]
