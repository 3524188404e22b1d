"""Checking: syntax trees of a script and its imports to one checked `Film`.

Resolves imports (with cycle detection), every name and every path; probes the
media files; converts times to frames; and applies every rule of the
language's "What the compiler must reject", plus the warnings an editor wants.
All diagnostics of the stage are collected before it stops.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from backends import registry
from backends.base import Backend

from . import codes, spec
from . import syntax as ast
from .codes import Code
from .diagnostics import Diagnostic, Diagnostics, did_you_mean
from .gcpause import paused_gc
from .habits import Declared, check_comments, check_habits
from .media import ImageTooLarge, UnreadableMedia, kind_of, probe
from .names import capitalised, is_name, written_key
from .parse import MOVE_DIRECTIONS, parse_source
from .reader import DEFAULT_LIMITS, Limits, not_a_regular_file, read_script, script_text
from .source import PathEscape, Span, UnusablePath, display_name, resolve_path

GAIN_DB = (-100.0, 40.0)  # quieter is silence, louder only clips
MIN_TEMPO, MAX_TEMPO = 1.0, 999.0  # beats a minute
MAX_MOVE_DEGREES = 3600.0  # ten turns
WORDS_PER_SECOND = 2.5  # a normal speaking rate
MAX_REFERENCES = {"image": 9, "video": 3, "audio": 3}
DIRECTIONS = MOVE_DIRECTIONS  # each camera move's directions (parse.py's help uses them too)
TAKES_DEGREES = {"pan", "tilt", "orbit"}
# Capitals a screenplay writes that are not names: camera and editing directions
# (CLOSE SHOT, ANGLE ON, THE END) and the small words around them.  Never W107.
SCREENPLAY_CAPITALS = frozenset({
    "A", "AN", "AND", "AS", "AT", "BY", "FOR", "FROM", "IN", "INTO", "IS", "IT", "OF", "ON",
    "OR", "OUT", "THE", "TO", "UP", "WITH", "ANGLE", "ANGLES", "BACK", "BEGIN", "BEGINNING",
    "CLOSE", "CLOSEUP", "CONT", "CONTD", "CONTINUED", "CONTINUOUS", "CREDITS", "CUT",
    "CUTS", "DAY", "DISSOLVE", "ECU", "END", "ESTABLISHING", "EXT", "FADE", "FADES",
    "FLASHBACK", "FREEZE", "FRAME", "INSERT", "INT", "INTERCUT", "LATER", "MCU", "MONTAGE",
    "MORE", "NIGHT", "OFF", "OMITTED", "POV", "PRELAP", "REVERSE", "SCENE", "SERIES",
    "SHOT", "SHOTS", "SLOW", "MOTION", "SMASH", "SPLIT", "SCREEN", "SUPER", "TITLE",
    "TITLES", "VO", "OS", "OC", "WIDE",
})  # fmt: skip


@dataclass
class CheckResult:
    film: spec.Film | None
    diagnostics: list[Diagnostic]
    sources: dict[str, str] = field(default_factory=dict)  # display name → text

    def failed(self, strict: bool = False) -> bool:
        return self.film is None or any(d.severity == "error" or strict for d in self.diagnostics)


def check_file(
    path: Path,
    *,
    allow_outside: bool = False,
    limits: Limits = DEFAULT_LIMITS,
    unsaved: Mapping[Path, str] | None = None,
) -> CheckResult:
    """Check the script at `path` and everything it imports.  `unsaved` gives the text of
    files being edited (an editor's buffers, by resolved path) to use instead of the disk's."""
    # The checker, and with it every syntax tree, is gone before the collector is
    # resumed, so the collection that resuming sets off walks the film alone.
    with paused_gc():
        return _check(Path(path).resolve(), allow_outside, limits, dict(unsaved or {}))


def _check(path: Path, allow_outside: bool, limits: Limits, unsaved: dict) -> CheckResult:
    checker = _Checker(path, allow_outside, limits)
    checker.loader.unsaved = unsaved
    film = checker.run()
    diagnostics = _without_repeats(checker.diagnostics.sorted())
    if any(d.severity == "error" for d in diagnostics):
        film = None
    return CheckResult(film, diagnostics, checker.sources)


def _without_repeats(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """A control character in a path is reported as an unusable path, which says more;
    its control-character error at the same place is dropped."""
    in_paths = {_place(d) for d in diagnostics if d.code == codes.UNUSABLE_PATH.code}
    control = codes.CONTROL_CHARACTER.code
    return [d for d in diagnostics if d.code != control or _place(d) not in in_paths]


def _place(diagnostic: Diagnostic) -> tuple[str, int, int]:
    return diagnostic.span.file, diagnostic.span.line, diagnostic.span.column


# ------------------------------------------------------------------ loading


class _Loader:
    """Reads and parses a script and, depth first, the files it imports.

    Iterative, with the chain of importers carried along: an import chain is as deep
    as `Limits.max_import_depth` lets it be, never as deep as Python's stack."""

    def __init__(self, root: Path, allow_outside: bool, limits: Limits, diagnostics: Diagnostics):
        self.root = root
        self.allow_outside = allow_outside
        self.limits = limits
        self.diagnostics = diagnostics
        self.sources: dict[str, str] = {}
        self.files: list[tuple[Path, ast.ScriptFile]] = []
        self._done: set[Path] = set()
        self.unsaved: dict[Path, str] = {}  # path → an editor's text, used instead of the disk's
        # Imports that could not be read: names they might declare are not reported one
        # by one (a misspelt import would otherwise earn an error at every use).
        self.unread: list[Span] = []

    def load(self, top: Path) -> ast.ScriptFile | None:
        """The syntax tree of `top`, after loading everything it imports."""
        pending: list[tuple[Path, tuple[Path, ...], Span | None]] = [(top, (), None)]
        while pending:
            path, chain, site = pending.pop()
            if path in self._done:
                continue
            self._done.add(path)
            tree = self._parse(path, site)
            if tree is None:
                if site is not None:
                    self.unread.append(site)
                continue
            self.files.append((path, tree))
            imports = []
            for setting in tree.settings:
                if isinstance(setting, ast.PathSetting):
                    target = self._follow(setting, chain + (path,))
                    if target is None:
                        self.unread.append(setting.path.span)
                    else:
                        imports.append((target, chain + (path,), setting.path.span))
            pending.extend(reversed(imports))  # the first import is loaded first
        return next((tree for path, tree in self.files if path == top), None)

    def _parse(self, path: Path, site: Span | None) -> ast.ScriptFile | None:
        display = display_name(path)
        if path in self.unsaved:
            read = script_text(path, display, self.unsaved[path], self.limits)
        else:
            read = read_script(path, display, self.limits, site)
        self.sources[display] = read.shown
        self.diagnostics.extend(read.problems)
        if read.source is None:
            return None
        tree, problems = parse_source(read.source, max_shots=self.limits.max_shots)
        self.diagnostics.extend(problems)
        return tree

    def _follow(self, setting: ast.PathSetting, chain: tuple[Path, ...]) -> Path | None:
        """The file an import names, if it may be loaded."""
        target = _resolve(self, setting.path, chain[-1].parent)
        if target is None:
            return None
        if target in chain:
            cycle = " → ".join(display_name(p) for p in chain[chain.index(target) :] + (target,))
            self.diagnostics.add(
                codes.IMPORT_CYCLE,
                setting.path.span,
                f"importing {setting.path.text!r} closes a cycle: {cycle}",
                label="imported again here",
                help="move the shared declarations into a file that imports nothing back",
            )
            return None
        if len(chain) >= self.limits.max_import_depth and target not in self._done:
            self.diagnostics.add(
                codes.LIMIT_EXCEEDED,
                setting.path.span,
                f"imports nest more than {self.limits.max_import_depth} files deep here",
                help="import the shared files from fewer levels, or raise the limit with "
                f"--max-import-depth {len(chain) + 1}",
            )
            return None
        return target


def _confined(owner, word: ast.Word, folder: Path) -> Path | None:
    """Resolve a path the script wrote, or report why it may not be used."""
    try:
        return resolve_path(word.text, folder, owner.root, owner.allow_outside)
    except PathEscape as escape:
        owner.diagnostics.add(
            codes.PATH_OUTSIDE_PROJECT,
            word.span,
            f"the path {word.text!r} leaves the project: {escape}",
            help="copy the file into the project folder, or pass --allow-outside",
        )
    except UnusablePath as problem:
        span = word.span
        if problem.offset is not None and span.line == span.end_line:
            column = span.column + problem.offset
            span = span.model_copy(update={"column": column, "end_column": column + 1})
        owner.diagnostics.add(
            codes.UNUSABLE_PATH,
            span,
            f"the path {_quoted(word.text)} cannot be used: {problem}",
            help="rename the file with plain letters, digits, '-', '_' and '.', "
            "and '/' between folders",
        )
    return None


def _quoted(text: str, limit: int = 60) -> str:
    """`text` quoted for a message, its middle elided when it is very long."""
    if len(text) <= limit:
        return repr(text)
    return repr(text[: limit // 2] + " … " + text[-limit // 2 :])


def _resolve(owner, word: ast.Word, folder: Path) -> Path | None:
    """Resolve a path the script wrote to an existing file, or report why it cannot be used."""
    path = _confined(owner, word, folder)
    if path is None:
        return None
    try:
        exists = path.exists()
    except OSError as error:  # a name the file system refuses
        owner.diagnostics.add(
            codes.UNUSABLE_PATH,
            word.span,
            f"the path {_quoted(word.text)} cannot be used: {error.strerror or error}",
        )
        return None
    if not exists:
        owner.diagnostics.add(
            codes.MISSING_FILE,
            word.span,
            f"no file at {word.text!r}",
            label="not found",
            help=_nearby_file_help(path),
        )
        return None
    if (why := not_a_regular_file(path)) is not None:  # a folder, a FIFO, a device
        owner.diagnostics.add(
            codes.UNREADABLE_FILE,
            word.span,
            f"{_quoted(word.text)} cannot be read: {why}",
            label="not a file",
            help="name a file here",
        )
        return None
    return path


def _nearby_file_help(path: Path) -> str:
    folder = path.parent
    if not folder.is_dir():
        return f"the folder {folder.name!r} does not exist either"
    names = sorted(p.name for p in folder.iterdir() if p.name != path.name)  # a dangling link
    guess = did_you_mean(path.name, names)
    return guess or "check the spelling and that the path is relative to this script"


# ----------------------------------------------------------------- checking


class _Checker:
    def __init__(self, top: Path, allow_outside: bool, limits: Limits):
        self.top = top
        self.limits = limits
        self.root = top.parent
        self.allow_outside = allow_outside
        self.diagnostics = Diagnostics()
        self.loader = _Loader(self.root, allow_outside, limits, self.diagnostics)
        self.sources = self.loader.sources
        self.fps = Fraction(24)
        self.format = spec.Format()
        self.declared: dict[str, tuple[str, ast.Declaration]] = {}  # name → (kind, node)
        self.characters: dict[str, spec.Character] = {}
        self.written: dict[str, str] = {}  # a character's written form (display:) → its name
        self._written_patterns: list[tuple[str, re.Pattern[str]]] | None = None
        self.locations: dict[str, spec.Location] = {}
        self.assets: dict[str, spec.NamedAsset] = {}
        self.used: set[str] = set()
        # A capitalised word's "did you mean", once per distinct word: a long
        # action line repeating one misspelt name would otherwise run difflib
        # against every declaration for each occurrence.
        self.name_guesses: dict[str, str | None] = {}
        self.shot_ids: dict[str, Span] = {}  # shot id → where it was first used
        self.film_backend = registry.AUTO
        # `auto` is resolved by asking every backend whether it can run here, which
        # searches the import path; once per check is enough, not once per shot.
        self._backends: dict[str, type[Backend] | None] = {}
        self._folder: dict[str, Path] = {}  # display name → its folder, for relative paths
        self._habit_names: Declared | None = None
        self.unresolved: dict[str, Span] = {}  # undeclared names, while an import is unread
        self.tempo: ast.TempoSetting | None = None  # what beats (`4b`) and bars count in
        self.tempo_written = False  # a `tempo:` line, valid or not

    # -- the stage
    def run(self) -> spec.Film | None:
        tree = self.loader.load(self.top)
        if tree is None:
            return None
        self._folder = {display_name(p): p.parent for p, _ in self.loader.files}
        for path, _ in self.loader.files:
            shown = display_name(path)
            check_comments(self.sources.get(shown, ""), shown, self.diagnostics.add)
        settings = self._settings(tree)
        for _path, script in self.loader.files:
            for declaration in script.declarations:
                self._declare(declaration)
        self._resolve_declarations()
        scenes, shots, fade_out = self._body(tree, settings)
        film_cues = self._film_cues([i for i in tree.body if isinstance(i, ast.Cue)], shots)
        self._check_limits(shots, settings)
        self._check_transitions(shots, fade_out)
        self._check_cues_end(shots, film_cues)
        self._note_unresolved()
        self._warn_unused()
        if not shots and settings.get("title"):
            self.diagnostics.add(
                codes.NO_SHOTS,
                settings["title"].span,
                "the script has no shots",
                help='add a shot, e.g. "SHOT 1 WIDE 4s"',
            )
        return self._film(settings, scenes, shots, fade_out, film_cues)

    def _check_limits(self, shots: list[spec.Shot], settings) -> None:
        limits = self.limits  # the number of shots is held while parsing
        minutes = float(sum(shot.frames for shot in shots) / self.fps) / 60
        if minutes > limits.max_minutes:
            where = settings["title"].span if "title" in settings else shots[0].span
            self._over_limit(
                where,
                f"the film runs {minutes:.1f} minutes, more than the limit of "
                f"{limits.max_minutes:g}",
                f"--max-minutes {int(minutes) + 1}",
            )
        fmt = settings.get("format")
        if isinstance(fmt, ast.FormatSetting) and max(fmt.width, fmt.height) > limits.max_side:
            self._over_limit(
                fmt.span,
                f"{fmt.width}x{fmt.height} is larger than the limit of "
                f"{limits.max_side} pixels a side",
                f"--max-side {max(fmt.width, fmt.height)}",
            )

    def _over_limit(self, span: Span, message: str, flag: str) -> None:
        self.diagnostics.add(
            codes.LIMIT_EXCEEDED,
            span,
            message,
            help=f"if this is intended, raise the limit with {flag}",
        )

    def _film(self, settings, scenes, shots, fade_out, cues) -> spec.Film | None:
        title = settings.get("title")
        if title is None:
            return None
        return spec.Film(
            title=title.value,
            format=self.format,
            style=_text(settings.get("style")),
            negative=_text(settings.get("negative")),
            seed=_number(settings.get("seed")) or 0,
            backend=_text(settings.get("backend")) or "auto",
            consistency=_number(settings.get("consistency")),
            keyframes=_text(settings.get("keyframes")) or None,
            characters=self.characters,
            locations=self.locations,
            assets=self.assets,
            scenes=scenes,
            shots=shots,
            fade_out=fade_out,
            cues=cues,
            root=str(self.root),
            files=[p.relative_to(self.root).as_posix() for p, _ in self.loader.files],
        )

    # -- header
    def _settings(self, tree: ast.ScriptFile) -> dict[str, ast.Setting]:
        settings: dict[str, ast.Setting] = {}
        for setting in tree.settings:
            if setting.key == "import":
                continue
            if setting.key in settings:
                self._duplicate_setting(setting, settings[setting.key])
                continue
            settings[setting.key] = setting
        if "title" not in settings:
            self.diagnostics.add(
                codes.MISSING_TITLE,
                Span(file=tree.path, line=1, column=1, end_line=1, end_column=2),
                "the script has no title",
                help='start the script with a line like "title: The Lighthouse"',
            )
        if isinstance(fmt := settings.get("format"), ast.FormatSetting):
            self._format(fmt)
        consistency = _number(settings.get("consistency"))
        if consistency is not None and not 0 <= consistency <= 1:
            self.diagnostics.add(
                codes.INVALID_VALUE,
                settings.pop("consistency").span,
                "consistency is a score between 0 and 1",
            )
        keyframes = settings.get("keyframes")
        if isinstance(keyframes, ast.TextSetting) and keyframes.value != ast.GENERATE:
            self._keyframes_name(keyframes, settings)
        backend = settings.get("backend")
        if isinstance(backend, ast.TextSetting) and self._backend_name(backend.value, backend.span):
            self.film_backend = backend.value
        if isinstance(tempo := settings.get("tempo"), ast.TempoSetting):
            self._tempo(tempo)
        return settings

    def _tempo(self, setting: ast.TempoSetting) -> None:
        self.tempo_written = True
        if not MIN_TEMPO <= setting.bpm <= MAX_TEMPO:
            self.diagnostics.add(
                codes.INVALID_VALUE,
                setting.span,
                f"a tempo is between {MIN_TEMPO:g} and {MAX_TEMPO:g} beats a minute",
                help="e.g. tempo: 120",
            )
        elif setting.meter and not (
            1 <= setting.beats_per_bar <= 32 and setting.note in (1, 2, 4, 8, 16, 32)
        ):
            self.diagnostics.add(
                codes.INVALID_VALUE,
                setting.meter.span,
                f"{setting.meter.text} is not a meter: 1 to 32 beats of a whole, half, "
                "quarter, eighth, sixteenth or thirty-second note",
                help=f"e.g. tempo: {setting.bpm:g} 4/4",
            )
        else:
            self.tempo = setting

    def _duplicate_setting(self, setting: ast.Setting, first: ast.Setting) -> None:
        self.diagnostics.add(
            codes.DUPLICATE_SETTING,
            setting.span,
            f'"{setting.key}:" is given twice',
            notes=[f"first given at {first.span}"],
            help="keep one of them",
        )

    def _format(self, setting: ast.FormatSetting) -> None:
        fps = Fraction(setting.fps) if setting.fps else Fraction(24)
        if setting.fps and setting.fps in ("23.976", "29.97", "59.94"):
            fps = Fraction(round(float(setting.fps) + 0.1) * 1000, 1001)
        problems = []
        if not (2 <= setting.width <= 8192 and 2 <= setting.height <= 8192):
            problems.append("width and height must be between 2 and 8192")
        elif setting.width % 2 or setting.height % 2:
            problems.append("width and height must be even (video codecs need it)")
        if not 1 <= fps <= 240:
            problems.append("the frame rate must be between 1 and 240 fps")
        for problem in problems:
            self.diagnostics.add(
                codes.INVALID_VALUE, setting.span, problem, help="e.g. 1280x720 @ 24fps"
            )
        if not problems:
            self.fps = fps
            self.format = spec.Format(
                width=setting.width,
                height=setting.height,
                fps_num=fps.numerator,
                fps_den=fps.denominator,
            )

    def _keyframes_name(self, keyframes: ast.TextSetting, settings: dict) -> None:
        """`keyframes: NAME` names an image backend (the light list of names: checking
        imports none)."""
        from backends import image_names

        if keyframes.value in image_names.names():
            return
        known = [ast.GENERATE, *image_names.names()]
        self.diagnostics.add(
            codes.UNKNOWN_BACKEND,
            settings.pop("keyframes").span,
            f"there is no image backend called {keyframes.value!r}",
            help=did_you_mean(keyframes.value, known) or "keyframes: takes " + ", ".join(known),
        )

    def _backend_name(self, name: str, span: Span) -> bool:
        if name == registry.AUTO or name in registry.names():
            return True
        self.diagnostics.add(
            codes.UNKNOWN_BACKEND,
            span,
            f"there is no backend called {name!r}",
            help=did_you_mean(name, registry.names() + [registry.AUTO])
            or "available: " + ", ".join([registry.AUTO, *registry.names()]),
        )
        return False

    # -- declarations
    def _declare(self, declaration: ast.Declaration) -> None:
        name = declaration.name.text
        kind = _declaration_kind(declaration)
        if not is_name(name):  # `Émile`, `Маша`: lower case, which references could not match
            self.diagnostics.add(
                codes.SYNTAX_ERROR,
                declaration.name.span,
                f"names are written in capitals: {name!r}",
                label="expected a NAME",
                help=f"write {name.upper()}",
            )
            return
        if name in self.declared:
            first = self.declared[name][1]
            self.diagnostics.add(
                codes.DUPLICATE_DECLARATION,
                declaration.name.span,
                f"{name} is declared twice",
                label="declared again here",
                notes=[f"first declared as {self.declared[name][0]} at {first.name.span}"],
                help="rename one of them or delete the second",
            )
            return
        self.declared[name] = (kind, declaration)

    def _resolve_declarations(self) -> None:
        for name, (_kind, node) in self.declared.items():
            folder = self._folder[node.span.file]
            if isinstance(node, ast.Character):
                refs = self._media_list(node.refs, folder, "image")
                self.characters[name] = spec.Character(
                    name=name,
                    description=node.description or "",
                    refs=refs,
                    voice=node.voice or "",
                    display=node.display or "",
                    span=node.name.span,
                )
                if node.display:
                    self.written.setdefault(written_key(node.display), name)
            elif isinstance(node, ast.Location):
                refs = self._media_list(node.refs, folder, "image")
                self.locations[name] = spec.Location(
                    name=name, description=node.description or "", refs=refs, span=node.name.span
                )
            elif isinstance(node, ast.Asset):
                media = self._media(node.path, folder, node.kind)
                if media is not None:
                    self.assets[name] = spec.NamedAsset(name=name, file=media, span=node.name.span)

    def _media_list(self, words: list[ast.Word], folder: Path, kind: str) -> list[spec.MediaFile]:
        found = (self._media(word, folder, kind) for word in words)
        return [media for media in found if media is not None]

    def _media(self, word: ast.Word, folder: Path, kind: str | None) -> spec.MediaFile | None:
        """Resolve, classify and probe one file; `kind` None accepts any kind."""
        if _confined(self, word, folder) is None:  # an escape matters more than a suffix
            return None
        actual = kind_of(word.text)
        if actual is None or (kind is not None and actual != kind):
            wanted = f"an {kind}" if kind in ("image", "audio") else f"a {kind or 'media'}"
            self.diagnostics.add(
                codes.WRONG_KIND,
                word.span,
                f"{word.text!r} is not {wanted} file",
                help="known endings: " + ", ".join(_suffixes(kind)),
            )
            return None
        path = _resolve(self, word, folder)
        if path is None:
            return None
        try:
            info = probe(path, actual)
        except ImageTooLarge as error:
            self.diagnostics.add(
                codes.LIMIT_EXCEEDED,
                word.span,
                f"{word.text!r} is too large to read: {error}",
                help="scale it down; a reference needs no more than a few megapixels",
            )
            return None
        except (UnreadableMedia, OSError) as error:
            self.diagnostics.add(
                codes.UNREADABLE_FILE,
                word.span,
                f"{word.text!r} cannot be read as {actual}: {error}",
                help=f"re-export it as a standard {actual} file",
            )
            return None
        media = spec.MediaFile(
            path=_relative(path, self.root),
            kind=actual,
            sha256=info.sha256,
            width=info.width,
            height=info.height,
            seconds=info.seconds,
            span=word.span,
        )
        self._warn_small_image(media)
        return media

    def _warn_small_image(self, media: spec.MediaFile) -> None:
        if media.kind != "image" or media.width is None or media.height is None:
            return
        needed = min(self.format.width, self.format.height) // 2
        if min(media.width, media.height) < needed:
            self.diagnostics.add(
                codes.SMALL_REFERENCE,
                media.span,
                f"{media.path} is {media.width}x{media.height}, smaller than half the "
                f"output's short side ({needed} px)",
                help=f"use an image at least {needed} px on its short side",
            )

    # -- names
    def written_in_text(self) -> list[tuple[str, re.Pattern[str]]]:
        """Each character with a written form, and how action text writes it: in
        capitals, spaces and apostrophes as they come (worked out once)."""
        if self._written_patterns is None:
            self._written_patterns = [
                (c.name, _written_pattern(c.display)) for c in self.characters.values() if c.display
            ]
        return self._written_patterns

    def as_declared(self, word: ast.Word) -> ast.Word:
        """A speaker written in a character's written form (`display: MRS. O'BRIEN`)
        stands for that character; any other word stays as it is."""
        if word.text not in self.declared:
            name = self.written.get(written_key(word.text))
            if name is not None:
                return word.model_copy(update={"text": name})
        return word

    def _lookup(self, word: ast.Word, kind: str) -> bool:
        """Is `word` a declared name of `kind`?  Reports it when not."""
        found = self.declared.get(word.text)
        if found is not None and found[0] == kind:
            self.used.add(word.text)
            return True
        if found is not None:
            self.diagnostics.add(
                codes.WRONG_KIND,
                word.span,
                f"{word.text} is {_a(found[0])}, not {_a(kind)}",
                notes=[f"declared at {found[1].name.span}"],
            )
            return False
        if self.loader.unread:
            self.unresolved.setdefault(word.text, word.span)
            return False
        same_kind = [n for n, (k, _) in self.declared.items() if k == kind]
        # Locations are looked up only once declared (an undeclared one is free
        # text, W101), so a miss here is a character or an asset.
        self.diagnostics.add(
            codes.UNKNOWN_CHARACTER if kind == "character" else codes.UNKNOWN_ASSET,
            word.span,
            f"no {kind} called {word.text} is declared",
            label=f"unknown {kind}",
            help=self._written_help(word.text, kind)
            or did_you_mean(word.text, same_kind)
            or _declare_help(kind, word.text),
        )
        return False

    def _written_help(self, word: str, kind: str) -> str | None:
        """For a speaker in a written form no character has: the declared written form
        it is close to, or how to declare a character written so."""
        if kind != "character" or is_name(word):
            return None
        close = did_you_mean(word, [c.display for c in self.characters.values() if c.display])
        if close or did_you_mean(word, [n for n, (k, _) in self.declared.items() if k == kind]):
            return close
        ident = _identifier(word)
        return f"declare it: character {ident}, with the line display: {word} indented under it"

    # -- scenes and shots
    def _body(self, tree: ast.ScriptFile, settings):
        scenes: list[spec.Scene] = []
        shots: list[spec.Shot] = []
        pending: ast.Transition | None = None
        fade_out: spec.Transition | None = None
        for item in tree.body:
            if isinstance(item, ast.Slugline):
                scenes.append(self._scene(item, len(scenes)))
            elif isinstance(item, ast.Transition):
                pending = self._place_transition(item, pending, bool(shots))
            elif isinstance(item, ast.Cue):
                continue  # on the film's timeline: timed once the film's length is known
            else:
                if not scenes:
                    scenes.append(spec.Scene(index=0))
                incoming = self._transition(pending) if pending else spec.Transition(kind="cut")
                pending = None
                shot = self._shot(item, scenes[-1], incoming, shots)
                if shot is not None:
                    shots.append(shot)
        if pending is not None:
            if pending.kind == "fade out":
                fade_out = self._transition(pending)
            else:
                self._misplaced(
                    pending, "nothing follows it", "end the film with FADE OUT: or remove it"
                )
        return scenes, shots, fade_out

    def _place_transition(self, item: ast.Transition, pending, after_a_shot: bool):
        if pending is not None:
            self._misplaced(item, "two transitions in a row", "keep one of them")
            return pending
        if item.kind == "fade in" and after_a_shot:
            self._misplaced(
                item, "FADE IN: can only open the film", "use DISSOLVE TO: or FADE OUT:"
            )
            return None
        if item.kind != "fade in" and not after_a_shot:
            self._misplaced(
                item, "a transition needs a shot before it", "open the film with FADE IN:"
            )
            return None
        return item

    def _misplaced(self, item: ast.Transition, why: str, fix: str) -> None:
        self.diagnostics.add(
            codes.MISPLACED_TRANSITION, item.span, f"misplaced transition: {why}", help=fix
        )

    def _transition(self, item: ast.Transition) -> spec.Transition:
        frames = self._frames(item.length) if item.length else 0
        if item.length and frames < 1:
            self.diagnostics.add(
                codes.INVALID_VALUE, item.length.span, "a transition must last at least one frame"
            )
        return spec.Transition(kind=item.kind, frames=max(frames, 0), span=item.span)

    def _scene(self, item: ast.Slugline, index: int) -> spec.Scene:
        name = item.location.text
        declared = None
        if name in self.declared:
            declared = name if self._lookup(item.location, "location") else None
        else:
            locations = [n for n, (k, _) in self.declared.items() if k == "location"]
            self.diagnostics.add(
                codes.FREE_TEXT_LOCATION,
                item.location.span,
                f"{name!r} is not a declared location, so it has no description or references",
                help=did_you_mean(name, locations) or _declare_help("location", name),
            )
        return spec.Scene(
            index=index,
            setting=item.prefix,
            location=self.locations[declared].description if declared in self.locations else name,
            declared_location=declared,
            time_of_day=item.time_of_day,
            span=item.span,
        )

    def _shot(self, item: ast.Shot, scene: spec.Scene, incoming, earlier) -> spec.Shot | None:
        frames = self._frames(item.duration)
        if frames < 1:
            self.diagnostics.add(
                codes.INVALID_VALUE, item.duration.span, "a shot must last at least one frame"
            )
            frames = 1
        longest = round(self.limits.max_shot_seconds * self.fps)
        if frames > longest:
            self._over_limit(
                item.duration.span,
                f"shot {item.id.text} lasts {float(frames / self.fps):g}s, more than the limit "
                f"of {self.limits.max_shot_seconds:g}s",
                f"--max-shot-seconds {int(frames / self.fps) + 1}",
            )
            frames = longest  # keep checking the rest without building a giant shot
        self._unique_id(item)
        if item.continuous and not earlier:
            self.diagnostics.add(
                codes.CONTINUOUS_FIRST_SHOT,
                item.span,
                f"shot {item.id.text} is marked continuous but no shot comes before it",
                help='remove "continuous" from the first shot',
            )
        subjects = [w.text for w in item.subjects if self._lookup(w, "character")]
        shot = _ShotBuilder(self, item, frames).build()
        appearing = _ordered(subjects + shot["speakers"] + shot["named"] + shot["tracked"])
        self._warn_absent_subjects(item, shot)
        self._count_references(item, scene, appearing, shot["refs"])
        self._check_length(item, frames, shot["backend"])
        return spec.Shot(
            id=item.id.text,
            scene=scene.index,
            size=item.size.text,
            subjects=subjects,
            characters=appearing,
            frames=frames,
            continuous=item.continuous,
            transition_in=incoming,
            span=item.span,
            **shot["fields"],
        )

    def _unique_id(self, item: ast.Shot) -> None:
        first = self.shot_ids.setdefault(item.id.text, item.span)
        if first is not item.span:
            self.diagnostics.add(
                codes.DUPLICATE_SHOT_ID,
                item.id.span,
                f"shot id {item.id.text!r} is already used",
                notes=[f"first used at {first}"],
                help=f'give this shot its own id, e.g. "{item.id.text}-2"',
            )

    def _warn_absent_subjects(self, item: ast.Shot, shot: dict) -> None:
        present = set(shot["speakers"]) | set(shot["named"]) | set(shot["tracked"])
        for word in item.subjects:
            if word.text in self.characters and word.text not in present:
                self.diagnostics.add(
                    codes.SUBJECT_NOT_IN_SHOT,
                    word.span,
                    f"the shot is on {word.text} but {word.text} never appears in it",
                    help=f"name {word.text} in an action line or give them dialogue",
                )

    def _count_references(self, item: ast.Shot, scene, characters, refs) -> None:
        counts = {"image": 0, "video": 0, "audio": 0}
        for name in characters:
            if name in self.characters:
                counts["image"] += len(self.characters[name].refs)
        if scene.declared_location in self.locations:
            counts["image"] += len(self.locations[scene.declared_location].refs)
        for media in refs:
            counts[media.kind] += 1
        for kind, limit in MAX_REFERENCES.items():
            if counts[kind] > limit:
                self.diagnostics.add(
                    codes.TOO_MANY_REFERENCES,
                    item.span,
                    f"shot {item.id.text} is conditioned on {counts[kind]} {kind} references; "
                    f"at most {limit} may condition one shot",
                    notes=["references of the characters and location in the shot count too"],
                    help="drop some ref: lines or reference images of the characters",
                )

    def _backend(self, name: str) -> type[Backend] | None:
        """The backend called `name`, or None if there is none, or it is `auto`: which
        backend that is depends on the machine that plans, and finding out imports
        every backend (torch among them), so its limits are checked when planning."""
        if name == registry.AUTO:
            return None
        if name not in self._backends:
            try:
                self._backends[name] = registry.get(name)
            except KeyError:
                self._backends[name] = None  # reported as unknown-backend
        return self._backends[name]

    def _check_length(self, item: ast.Shot, frames: int, backend_name: str) -> None:
        backend = self._backend(backend_name)
        if backend is None:
            return
        caps = backend.capabilities
        if caps.max_frames is None or caps.can_extend:
            return
        rate = caps.rate_for(float(self.fps))
        needed = caps.frames_for(round(frames / self.fps * Fraction(rate)))
        if needed > caps.max_frames:
            self.diagnostics.add(
                codes.SHOT_TOO_LONG,
                item.duration.span,
                f"shot {item.id.text} needs {needed} frames but {backend.name} makes at most "
                f"{caps.max_frames} and cannot extend a shot",
                help=f"split the shot, or keep it under {float(caps.max_frames / rate):.1f}s",
            )

    # -- transitions against their shots
    def _check_transitions(self, shots: list[spec.Shot], fade_out) -> None:
        for index, shot in enumerate(shots):
            t = shot.transition_in
            if t.frames == 0:
                continue
            before = shots[index - 1] if index else None
            for neighbour in (before, shot):
                if neighbour is not None and t.frames > neighbour.frames:
                    self._too_long(t, neighbour)
        if fade_out is not None and shots and fade_out.frames > shots[-1].frames:
            self._too_long(fade_out, shots[-1])
        for index, shot in enumerate(shots):
            following = shots[index + 1].transition_in if index + 1 < len(shots) else fade_out
            used = shot.transition_in.frames + (following.frames if following else 0)
            if following and following.frames and shot.transition_in.frames and used > shot.frames:
                self.diagnostics.add(
                    codes.TRANSITION_TOO_LONG,
                    following.span or shot.span,
                    f"shot {shot.id} ({shot.frames} frames) cannot spare {used} frames for "
                    "the transitions on both its sides",
                    help="shorten one of the transitions or lengthen the shot",
                )

    def _note_unresolved(self) -> None:
        """Names used but declared nowhere while an import is unread: one note on the
        import's own error, not an error at every use."""
        if not self.unresolved:
            return
        site = self.loader.unread[0]
        names = sorted(self.unresolved)
        shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
        note = f"{shown} {'is' if len(names) == 1 else 'are'} used but declared nowhere; "
        note += "the file this import names may declare them"
        for diagnostic in self.diagnostics.items:
            if diagnostic.span == site:
                diagnostic.notes = [*diagnostic.notes, note]
                return
        first = min(self.unresolved.values(), key=lambda span: (span.file, span.line))
        self.diagnostics.add(
            codes.UNKNOWN_CHARACTER, first, note, help="fix the import above, then check again"
        )

    def habit_names(self) -> Declared:
        """The declared names the writing habits are read against, made once."""
        if self._habit_names is None:
            audio = [name for name, a in self.assets.items() if a.file.kind == "audio"]
            self._habit_names = Declared.of(self.characters, audio, self.written)
        return self._habit_names

    def _check_cues_end(self, shots: list[spec.Shot], film_cues: list[spec.Cue]) -> None:
        """A cue that would play past the film's last frame is cut there: say so."""
        starts, total = _placed(shots)
        placed = [(start + cue.start, cue) for shot, start in zip(shots, starts, strict=True)
                  for cue in shot.cues]  # fmt: skip
        # One starting after the film has its own warning (W125) and nothing to cut.
        placed += [(cue.start, cue) for cue in film_cues if cue.start < total]
        for start, cue in placed:
            over = start + cue.frames - total
            if over > 0:
                self._cue_past_end(cue, over)

    def _film_cues(self, cues: list[ast.Cue], shots: list[spec.Shot]) -> list[spec.Cue]:
        """The cues written outside any shot: `from` counts from the film's start, and
        without `for` a cue plays to the film's end."""
        total = _placed(shots)[1]
        holder = _CueHolder(
            name="the film",
            frames=total,
            late=codes.CUE_AFTER_FILM,
            late_help='a cue written outside a shot counts from the film\'s start, e.g. "from 0s"',
        )
        timed = []
        for cue in cues:
            asset = self._cue_asset(cue)
            if asset is not None:
                timed.append(self._timed_cue(cue, asset, holder))
        return timed

    def _cue_past_end(self, cue: spec.Cue, over: int) -> None:
        plays = cue.frames - over
        self.diagnostics.add(
            codes.CUE_PAST_FILM_END,
            cue.span,
            f"the {cue.kind} cue {cue.asset} runs {float(over / self.fps):.2f}s past the end "
            f"of the film and is cut there",
            help=f"end it with the film: for {float(plays / self.fps):.2f}s"
            if plays > 0
            else "move it to a shot the film has time for",
        )

    def _too_long(self, transition: spec.Transition, shot: spec.Shot) -> None:
        self.diagnostics.add(
            codes.TRANSITION_TOO_LONG,
            transition.span or shot.span,
            f"the {transition.kind} lasts {transition.frames} frames but shot {shot.id} "
            f"lasts only {shot.frames}",
            help=f"make it at most {shot.frames} frames ({float(shot.frames / self.fps):.2f}s)",
        )

    def _warn_unused(self) -> None:
        for name, (kind, node) in self.declared.items():
            if name not in self.used:
                self.diagnostics.add(
                    codes.UNUSED_DECLARATION,
                    node.name.span,
                    f"the {kind} {name} is declared but never used",
                    help="use it in a shot, or delete the declaration",
                )

    # -- cues, in a shot or on the film's timeline
    def _cue_asset(self, cue: ast.Cue) -> spec.NamedAsset | None:
        """The audio asset a cue plays, or None when it was reported."""
        if not self._lookup(cue.asset, "asset"):
            return None
        asset = self.assets.get(cue.asset.text)
        if asset is None:
            return None  # its file was reported already
        if asset.file.kind != "audio":
            self.diagnostics.add(
                codes.WRONG_KIND,
                cue.asset.span,
                f"{cue.asset.text} is {asset.file.kind}, and a {cue.kind} cue plays audio",
                help=f"declare an audio asset, e.g. audio {cue.asset.text}_SOUND: refs/sound.wav",
            )
            return None
        return asset

    def _timed_cue(self, cue: ast.Cue, asset: spec.NamedAsset, holder: _CueHolder) -> spec.Cue:
        start = self._frames(cue.start) if cue.start else 0
        if cue.start and start >= holder.frames:
            self._cue_after(cue.start, start, holder)
        available = round(Fraction(asset.file.seconds or 0).limit_denominator(48000) * self.fps)
        in_point = self._in_point(cue, asset, available)
        rest = max(available - in_point, 0)  # the file after the in-point
        if cue.length is not None:
            frames = self._frames(cue.length)
            if frames > rest and not cue.loop:
                self._cue_too_long(cue, cue.length, asset, rest)
        else:
            room = max(holder.frames - start, 0)
            frames = room if cue.loop else min(rest, room)
        if cue.gain_db is not None and not GAIN_DB[0] <= cue.gain_db <= GAIN_DB[1]:
            self.diagnostics.add(
                codes.INVALID_VALUE,
                cue.span,
                f"a gain must be between {GAIN_DB[0]:g}dB and +{GAIN_DB[1]:g}dB",
            )
        fade_in = self._frames(cue.fade_in) if cue.fade_in else 0
        fade_out = self._frames(cue.fade_out) if cue.fade_out else 0
        where = cue.fade_out or cue.fade_in
        if where is not None and fade_in + fade_out > max(frames, 0):
            plays = float(max(frames, 0) / self.fps)
            self.diagnostics.add(
                codes.CUE_OUTSIDE_ASSET,
                where.span,
                f"the cue fades for longer than it plays: "
                f"{float((fade_in + fade_out) / self.fps):.2f}s of fades in {plays:.2f}s",
                help="shorten the fades, or give the cue a longer `for`"
                if cue.length is None
                else "shorten the fades or lengthen `for`",
            )
        return spec.Cue(
            kind=cue.kind,
            asset=asset.name,
            file=asset.file,
            start=start,
            frames=frames,
            fade_in=fade_in,
            fade_out=fade_out,
            gain_db=cue.gain_db or 0.0,
            duck=cue.duck,
            in_point=in_point,
            loop=cue.loop,
            pass_frames=rest if cue.loop else 0,
            span=cue.span,
        )

    def _cue_after(self, time: ast.Time, start: int, holder: _CueHolder) -> None:
        lasts = f"{float(holder.frames / self.fps):.2f}s"
        if time.unit == "bar" and self.tempo is not None:
            beats = holder.frames / self.fps * Fraction(str(self.tempo.bpm)) / 60
            lasts += f" and ends in bar {math.ceil(beats / self.tempo.beats_per_bar)}"
        self.diagnostics.add(
            holder.late,
            time.span,
            f"the cue starts at {time.text} but {holder.name} lasts {lasts}",
            help=holder.late_help,
        )

    def _in_point(self, cue: ast.Cue, asset: spec.NamedAsset, available: int) -> int:
        """Where in its file the cue starts playing, in frames; 0 without `in`."""
        if cue.in_point is None:
            return 0
        in_point = self._frames(cue.in_point)
        if in_point >= available:
            self.diagnostics.add(
                codes.CUE_OUTSIDE_ASSET,
                cue.in_point.span,
                f"the cue starts {cue.in_point.text} into {asset.name}, but "
                f"{asset.file.path} is only {asset.file.seconds or 0:.2f}s long",
                help="start it earlier in the file, e.g. in 0s",
            )
        return in_point

    def _cue_too_long(
        self, cue: ast.Cue, length: ast.Time, asset: spec.NamedAsset, rest: int
    ) -> None:
        seconds = asset.file.seconds or 0
        if cue.in_point is None:
            what, fix = f"plays for {length.text}", "or use a longer file"
        else:
            what = f"plays for {length.text} from {cue.in_point.text} into its file"
            fix = f"or loop it: for {length.text} loop"
        within = seconds if cue.in_point is None else float(rest / self.fps)
        self.diagnostics.add(
            codes.CUE_OUTSIDE_ASSET,
            length.span,
            f"the cue {what}, but {asset.name} ({asset.file.path}) is only {seconds:.2f}s long",
            help=f"keep the cue within {within:.2f}s, {fix}",
        )

    # -- times
    def _frames(self, time: ast.Time) -> int:
        if time.unit in ("b", "bar"):
            return round(self._beats(time) * 60 / self._bpm(time) * self.fps)
        if time.unit == "tc":
            return self._timecode_frames(time)
        if time.unit == "f":
            if time.value != int(time.value):
                self.diagnostics.add(
                    codes.INVALID_VALUE, time.span, "a frame count must be a whole number"
                )
            return int(time.value)
        seconds = Fraction(time.text[: -len(time.unit)]) / (1000 if time.unit == "ms" else 1)
        return round(seconds * self.fps)

    def _beats(self, time: ast.Time) -> Fraction:
        """A time in beats: `4b`, or the beats before bar N (bar 1 starts at 0)."""
        if time.unit == "b":
            return Fraction(time.text[: -len("b")])
        if time.value < 1:
            self.diagnostics.add(
                codes.INVALID_VALUE,
                time.span,
                "bars count from 1: bar 1 starts at the beginning",
                help="from bar 1",
            )
        beats_per_bar = self.tempo.beats_per_bar if self.tempo else 4
        return Fraction(max(int(time.value) - 1, 0) * beats_per_bar)

    def _bpm(self, time: ast.Time) -> Fraction:
        if self.tempo is not None:
            return Fraction(str(self.tempo.bpm))
        if self.tempo_written:
            return Fraction(120)  # the tempo line was reported; go on checking
        self.diagnostics.add(
            codes.BEATS_WITHOUT_TEMPO,
            time.span,
            f"{time.text} counts beats, but the script gives no tempo",
            help='give the tempo in the header, e.g. "tempo: 120"',
        )
        return Fraction(120)  # to go on checking; the error stops the build

    def _timecode_frames(self, time: ast.Time) -> int:
        hours, minutes, seconds, frames = (int(part) for part in time.text.split(":"))
        nominal = round(self.fps)
        if minutes > 59 or seconds > 59 or frames >= nominal:
            self.diagnostics.add(
                codes.INVALID_VALUE,
                time.span,
                f"{time.text} is not a valid timecode at {nominal} fps",
                help=f"minutes and seconds go to 59, frames to {nominal - 1}",
            )
        return ((hours * 60 + minutes) * 60 + seconds) * nominal + frames


class _ShotBuilder:
    """Checks one shot's body and collects the spec fields it gives."""

    def __init__(self, checker: _Checker, item: ast.Shot, frames: int):
        self.c = checker
        self.item = item
        self.frames = frames
        self.folder = checker._folder[item.span.file]
        self.fields: dict = {"action": [], "dialogue": [], "cues": [], "refs": [], "camera": []}
        self.speakers: list[str] = []
        self.named: list[str] = []
        self.tracked: list[str] = []
        self.seen_settings: dict[str, Span] = {}

    def build(self) -> dict:
        for element in self.item.items:
            self._element(element)
        check_habits(self.item.items, self.c.habit_names(), self.c.diagnostics.add)
        self._time_dialogue()
        return {
            "fields": self.fields,
            "speakers": self.speakers,
            "named": self.named,
            "tracked": self.tracked,
            "refs": self.fields["refs"],
            "backend": self.fields.get("backend") or self.c.film_backend,
        }

    def _element(self, element) -> None:
        if isinstance(element, ast.Camera):
            self._once("camera", element.span)
            self.fields["camera"] = self._camera(element)
        elif isinstance(element, ast.Angle):
            self._once("angle", element.span)
            self._angle(element)
        elif isinstance(element, ast.Lens):
            self._once("lens", element.span)
            self._lens(element)
        elif isinstance(element, ast.Action):
            self.fields["action"].append(element.text)
            self._names_in_text(element)
        elif isinstance(element, ast.Dialogue):
            self._dialogue(element)
        elif isinstance(element, ast.Cue):
            self._cue(element)
        elif isinstance(element, ast.Reference):
            media = self._reference(element.target, None)
            if media is not None:
                self.fields["refs"].append(media)
        elif isinstance(element, ast.Keyframe):
            self._once(f"keyframe {element.end}", element.span)
            if element.generate and element.end == "first" and self.item.continuous:
                self.c.diagnostics.add(
                    codes.GENERATED_KEYFRAME_ON_CONTINUOUS_SHOT,
                    element.span,
                    "a continuous shot starts from the previous shot's last frame, so no "
                    "first keyframe is generated for it",
                    help="remove `keyframe first: generate`, or the shot's `continuous`",
                )
            elif element.generate:
                self.fields[f"generate_{element.end}"] = True
            else:
                self.fields[f"keyframe_{element.end}"] = self._reference(element.target, "image")
        else:
            self._override(element)

    def _once(self, key: str, span: Span) -> None:
        if key in self.seen_settings:
            self.c.diagnostics.add(
                codes.DUPLICATE_SETTING,
                span,
                f'"{key}" is given twice in shot {self.item.id.text}',
                notes=[f"first given at {self.seen_settings[key]}"],
                help="keep one of them",
            )
        self.seen_settings[key] = span

    # -- overrides: seed, takes, backend, negative, consistency
    def _override(self, setting: ast.Setting) -> None:
        self._once(setting.key, setting.span)
        number, text = _number(setting), _text(setting)
        if setting.key == "takes" and number is not None and not 1 <= number <= 64:
            self._invalid(setting.span, "takes must be between 1 and 64")
        elif setting.key == "consistency" and number is not None and not 0 <= number <= 1:
            self._invalid(setting.span, "consistency is a score between 0 and 1")
        elif setting.key == "backend" and not self.c._backend_name(text, setting.span):
            return
        self.fields[setting.key] = number if number is not None else text

    def _invalid(self, span: Span, message: str) -> None:
        self.c.diagnostics.add(codes.INVALID_VALUE, span, message)

    # -- camera
    def _camera(self, camera: ast.Camera) -> list[spec.CameraMove]:
        timed = [self.c._frames(m.over) for m in camera.moves if m.over is not None]
        free = [m for m in camera.moves if m.over is None]
        left = self.frames - sum(timed)
        if left < 0 or (free and left < len(free)):
            self.c.diagnostics.add(
                codes.INVALID_VALUE,
                camera.span,
                f"the camera moves take {sum(timed)} frames but the shot lasts {self.frames}",
                help="shorten the `over` times or lengthen the shot",
            )
            left = max(left, len(free))
        share, extra = divmod(left, len(free)) if free else (0, 0)
        moves, start = [], 0
        for move in camera.moves:
            if move.over is not None:
                length = self.c._frames(move.over)
            else:
                length, extra = share + (1 if extra > 0 else 0), extra - 1
            moves.append(self._move(move, start, length))
            start += length
        return moves

    def _move(self, move: ast.CameraMove, start: int, frames: int) -> spec.CameraMove:
        result = spec.CameraMove(
            move=move.move,
            speed=move.speed,
            ease=move.ease,
            start=start,
            frames=frames,
            span=move.span,
        )
        self._move_direction(move, result)
        self._move_amount(move, result)
        return result

    def _move_direction(self, move: ast.CameraMove, result: spec.CameraMove) -> None:
        word = move.direction
        if move.move == "track":
            if word is None or not is_name(word.text):
                self._bad_move(move, "track needs the character to follow", "track MARA")
            elif self.c._lookup(word, "character"):
                result.target = word.text
                self.tracked.append(word.text)
            return
        allowed = DIRECTIONS.get(move.move, ())
        if not allowed and word is not None:
            self._bad_move(move, f"{move.move} takes no direction", move.move)
        elif allowed and (word is None or word.text not in allowed):
            what = (
                f"{word.text!r} is not a direction for {move.move}"
                if word
                else (f"{move.move} needs a direction")
            )
            self._bad_move(move, what, f"{move.move} {allowed[0]} or {move.move} {allowed[1]}")
        elif word is not None:
            result.direction = word.text

    def _move_amount(self, move: ast.CameraMove, result: spec.CameraMove) -> None:
        amount = move.amount
        if amount is None:
            return
        if amount.text.endswith("deg"):
            if move.move not in TAKES_DEGREES:
                self._bad_move(move, f"{move.move} takes no angle", "pan left 30deg")
            result.degrees = float(amount.text[:-3])
            if abs(result.degrees) > MAX_MOVE_DEGREES:
                self._invalid(amount.span, f"a move turns at most {MAX_MOVE_DEGREES:g} degrees")
        elif move.move != "zoom":
            self._bad_move(
                move, f"{move.move} takes no factor", "only zoom does, e.g. zoom in 1.5x"
            )
        else:
            result.factor = float(amount.text[:-1])
            if result.factor <= 0:
                self._invalid(amount.span, "a zoom factor must be above 0")

    def _bad_move(self, move: ast.CameraMove, message: str, example: str) -> None:
        self.c.diagnostics.add(
            codes.BAD_CAMERA_MOVE, move.span, message, help=f"for example: {example}"
        )

    def _angle(self, angle: ast.Angle) -> None:
        if angle.degrees is not None and angle.kind != "dutch":
            self._invalid(angle.span, f"a {angle.kind} angle takes no degrees; only dutch does")
        self.fields["angle"] = angle.kind
        self.fields["angle_degrees"] = angle.degrees

    def _lens(self, lens: ast.Lens) -> None:
        if not 4 <= lens.focal_mm <= 1200:
            self._invalid(lens.span, "a focal length must be between 4mm and 1200mm")
        self.fields["lens_mm"] = lens.focal_mm

    # -- names in action text
    def _names_in_text(self, action: ast.Action) -> None:
        text = action.text
        # A character's written form (MRS. O'BRIEN) names it; its words are no names.
        for name, written in self.c.written_in_text():
            for match in written.finditer(text):
                self.c.used.add(name)
                self.named.append(name)
                text = text[: match.start()] + " " * len(match[0]) + text[match.end() :]
        for match in capitalised(text):
            word = match[0]
            found = self.c.declared.get(word)
            if found is not None:
                self.c.used.add(word)
                if found[0] == "character":
                    self.named.append(word)
                continue
            guess = self._guess(word)
            if guess and len(word) > 2:
                column = action.span.column + match.start()
                span = Span(
                    file=action.span.file,
                    line=action.span.line,
                    column=column,
                    end_line=action.span.line,
                    end_column=column + len(word),
                )
                self.c.diagnostics.add(
                    codes.UNKNOWN_CAPITALISED_NAME,
                    span,
                    f"{word} is written like a name but nothing is declared by that name",
                    help=guess,
                )

    def _guess(self, word: str) -> str | None:
        """The "did you mean" for a capitalised word that is no declared name, or None
        when it is not taken for a name at all; worked out once per distinct word."""
        guesses = self.c.name_guesses
        if word not in guesses:
            guesses[word] = (
                None
                if self._not_a_name(word)
                else did_you_mean(word, [n for n in self.c.declared if len(n) > 2])
            )
        return guesses[word]

    def _not_a_name(self, word: str) -> bool:
        """Screenplay capitals (THE END, ANGLE ON), and a declared name's plural or
        part (DOGS for DOG, BOOGERS for BOOGER_ONE): not a misspelt name."""
        if word in SCREENPLAY_CAPITALS:
            return True
        stem = word.removesuffix("S")
        return any(
            stem == name or stem in name.split("_") or word in name.split("_")
            for name in self.c.declared
        )

    # -- dialogue
    def _dialogue(self, dialogue: ast.Dialogue) -> None:
        speaker = self.c.as_declared(dialogue.speaker)
        known = self.c._lookup(speaker, "character")
        if known and dialogue.extension is None:
            # A voice-over or off-screen speaker is heard, not seen: not in the frame,
            # so not drawn and not counted against the shot's reference images.
            self.speakers.append(speaker.text)
        voice = self.c.characters[speaker.text].voice if speaker.text in self.c.characters else ""
        for line in dialogue.lines:
            self.fields["dialogue"].append(
                spec.DialogueLine(
                    speaker=speaker.text,
                    extension=dialogue.extension,
                    parenthetical=line.parenthetical,
                    text=line.text,
                    voice=voice,
                    start=0,
                    frames=0,
                    span=line.span,
                )
            )
        # A direction with no words after it directs the action: it is kept as action.
        for direction in dialogue.after:
            self.fields["action"].append(f"{speaker.text} ({direction.text})")

    def _time_dialogue(self) -> None:
        """Spread the lines across the shot in proportion to their words."""
        lines = self.fields["dialogue"]
        words = [max(1, len(line.text.split())) for line in lines]
        total = sum(words)
        if not lines:
            return
        seconds = self.frames / self.c.fps
        if total / WORDS_PER_SECOND > seconds:
            self.c.diagnostics.add(
                codes.DIALOGUE_TOO_LONG,
                lines[0].span,
                f"{total} words of dialogue take about {total / WORDS_PER_SECOND:.1f}s to "
                f"say but shot {self.item.id.text} lasts {float(seconds):.1f}s",
                help=f"lengthen the shot to {total / WORDS_PER_SECOND:.1f}s or cut words",
            )
        start = 0
        for index, (line, count) in enumerate(zip(lines, words, strict=True)):
            end = self.frames if index == len(lines) - 1 else start + self.frames * count // total
            line.start, line.frames = start, max(0, end - start)
            start = end

    # -- cues
    def _cue(self, cue: ast.Cue) -> None:
        asset = self.c._cue_asset(cue)
        if asset is None:
            return
        holder = _CueHolder(
            name=f"shot {self.item.id.text}",
            frames=self.frames,
            late=codes.CUE_AFTER_SHOT,
            late_help="cue times are relative to the start of their shot",
        )
        self.fields["cues"].append(self.c._timed_cue(cue, asset, holder))

    # -- references
    def _reference(self, target: ast.Word, kind: str | None) -> spec.MediaFile | None:
        if is_name(target.text):
            if not self.c._lookup(target, "asset"):
                return None
            asset = self.c.assets.get(target.text)
            if asset is not None and kind is not None and asset.file.kind != kind:
                self.c.diagnostics.add(
                    codes.WRONG_KIND,
                    target.span,
                    f"{target.text} is {asset.file.kind}; a keyframe must be an image",
                )
                return None
            return asset.file if asset else None
        return self.c._media(target, self.folder, kind)


# ------------------------------------------------------------------ helpers


@dataclass(frozen=True)
class _CueHolder:
    """What a cue's `from` counts from: its shot, or the whole film."""

    name: str  # "shot 1A", "the film"
    frames: int
    late: Code  # reported when the cue starts after the holder ends
    late_help: str


def _placed(shots: list[spec.Shot]) -> tuple[list[int], int]:
    """Each shot's first frame in the cut, and the cut's length, as plan.build_timeline
    places them: a dissolve or wipe overlaps its two shots."""
    position, starts = 0, []
    for index, shot in enumerate(shots):
        if shot.transition_in.kind in ("dissolve", "wipe") and index:
            position -= shot.transition_in.frames
        starts.append(position)
        position += shot.frames
    return starts, position


def _a(noun: str) -> str:
    return f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"


def _declaration_kind(declaration: ast.Declaration) -> str:
    if isinstance(declaration, ast.Character):
        return "character"
    if isinstance(declaration, ast.Location):
        return "location"
    return "asset"


def _declare_help(kind: str, name: str) -> str:
    """How to declare `name`: a line that checks as it stands (a free-text location
    such as `ferry dock` becomes the name `FERRY_DOCK`, which the heading must then use)."""
    ident = _identifier(name)
    examples = {
        "character": f"declare it: character {ident}",
        "location": f"declare it: location {ident}",
        "asset": f"declare it, e.g. audio {ident}: refs/{ident.lower()}.wav",
    }
    if ident != name:
        return f"{examples[kind]} (and write {ident} here)"
    return examples[kind]


def _written_pattern(display: str) -> re.Pattern[str]:
    """A written form as action text has it: in capitals, any spacing, ' or ’."""
    pieces = re.split(r"(\s+|['\u2019])", display.upper())
    body = "".join(
        r"\s+" if piece.isspace() else "['\u2019]" if piece in "'\u2019" else re.escape(piece)
        for piece in pieces
        if piece
    )
    return re.compile(rf"(?<!\w){body}(?!\w)")


def _identifier(text: str) -> str:
    """`text` as a name the grammar reads: upper case, words joined by `_`."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    name = re.sub(r"[^A-Z0-9]+", "_", folded.upper()).strip("_") or "PLACE"
    return name if name[0].isalpha() else f"PLACE_{name}"


def _suffixes(kind: str | None) -> list[str]:
    from .media import KIND_BY_SUFFIX

    return [s for s, k in KIND_BY_SUFFIX.items() if kind is None or k == kind]


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()  # outside the root, allowed by --allow-outside


def _text(setting: ast.Setting | None) -> str:
    """A text setting's value; "" when it is absent."""
    return setting.value if isinstance(setting, ast.TextSetting) else ""


def _number(setting: ast.Setting | None) -> int | float | None:
    """An integer or number setting's value; None when it is absent."""
    return setting.value if isinstance(setting, ast.IntSetting | ast.NumberSetting) else None


def _ordered(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))
