"""The `director` command line: one subcommand per job, each a thin layer over a stage."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from backends import registry
from backends.diffusers_settings import DTYPES, OFFLOADS, ModelError

from . import __version__, outputs
from .check import CheckResult, check_file
from .diagnostics import (
    DEFAULT_PER_FILE,
    Severity,
    did_you_mean,
    render_github,
    render_human,
    render_json,
    visible,
    visible_lines,
)
from .reader import MAX_PLAN_BYTES, Limits, TooLarge, Unreadable, not_a_regular_file, read_bytes

# Planning, model settings and prompt templates are imported by the commands that
# use them: `director check` (an editor's on-save hook) imports no backend, no
# Pillow, no PyAV and no torch (tests/test_imports.py, bench/check_startup.py).
if TYPE_CHECKING:
    from . import delivery, models
    from .plan import Consistency

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A command that cannot be carried out as given (a missing file, a wrong option,
    an output that may not be written): `main` says why and exits 2."""


def _say(message: str) -> None:
    """A message on stderr; any control character in it (a file name, a value the
    user gave) is written as an escape, so it cannot drive the terminal."""
    print(visible_lines(message), file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.run(args)
    except UsageError as error:
        _say(f"director: error: {error}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        _say("director: interrupted")
        return 130
    except BrokenPipeError:
        return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="director",
        description="Compile .shot scripts: check them, plan their generation, make the film.",
        epilog="Run 'director COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"director {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_check(commands)
    _add_plan(commands)
    _add_compile(commands)
    _add_storyboard(commands)
    _add_schema(commands)
    _add_doctor(commands)
    _add_score(commands)
    _add_export(commands)
    _add_fmt(commands)
    _add_import(commands)
    _add_lsp(commands)
    return parser


def _add_check(commands) -> None:
    check = commands.add_parser(
        "check",
        help="check scripts and report every problem",
        description="Parse and check each script and the files it imports. Exit status: "
        "0 clean (warnings allowed), 1 errors (or warnings with --strict), 2 usage.",
    )
    check.add_argument("files", nargs="+", type=Path, metavar="FILE", help=".shot scripts")
    _add_diagnostic_options(check)
    check.add_argument("-v", "--verbose", action="store_true", help="say so when a file is clean")
    check.set_defaults(run=_run_check)


def _add_plan(commands) -> None:
    plan = commands.add_parser(
        "plan",
        help="check a script and write its generation plan as JSON",
        description="Check FILE, lower it to a generation graph and an edit timeline, and "
        "write them as JSON (to stdout, or to -o). Same input, same bytes. Exit status as "
        "for check.",
    )
    plan.add_argument("file", type=Path, metavar="FILE", help="the top .shot script")
    plan.add_argument("-o", "--output", type=Path, help="write the plan here instead of stdout")
    plan.add_argument(
        "--backend", help="plan for this backend instead of the script's (e.g. preview, ltx2, wan)"
    )
    plan.add_argument(
        "--template", type=Path, help="a jinja2 prompt template to use instead of the backend's"
    )
    _add_keyframe_options(plan)
    _add_model_options(plan)
    _add_hosted_options(plan, compiling=False)
    _add_consistency_options(plan)
    _add_diagnostic_options(plan)
    plan.set_defaults(run=_run_plan)


def _add_compile(commands) -> None:
    compile_ = commands.add_parser(
        "compile",
        help="check, plan, render and assemble a script into a film",
        description="Compile FILE into a film: every shot is generated (or reused from the "
        "cache), cut, mixed and muxed. A second compile after an edit redoes only what the "
        "edit changed. Exit status: 0 done, 1 script errors or failed shots, 2 usage, 130 "
        "interrupted (run again to resume).",
    )
    compile_.add_argument("file", type=Path, metavar="FILE", help="the top .shot script")
    compile_.add_argument(
        "-o", "--output", type=Path, help="the film to write (default: FILE's name, .mp4)"
    )
    compile_.add_argument(
        "--codec",
        choices=("h264", "prores", "vp9", "png"),
        default="h264",
        help="h264 + AAC .mp4 (default), ProRes .mov, VP9 .webm, or a PNG sequence folder",
    )
    compile_.add_argument(
        "--cache", type=Path, help="cache folder (default: .director/cache beside FILE)"
    )
    compile_.add_argument(
        "--dry-run",
        action="store_true",
        help="say what would be (re)generated and why; make nothing",
    )
    compile_.add_argument(
        "--keep-going", action="store_true", help="render every shot it can when one fails"
    )
    compile_.add_argument(
        "--ignore-budget",
        action="store_true",
        help="compile even when the plan's memory estimate does not fit this machine",
    )
    compile_.add_argument(
        "--stems",
        action="store_true",
        help="also write per-stem wavs, at the master's gain, and their loudness.json",
    )
    compile_.add_argument(
        "--storyboard",
        action="store_true",
        help="make only the keyframes (every shot that pins none gets one) and write the "
        "storyboard, as `director storyboard` does; no video is made",
    )
    _add_delivery_options(compile_)
    compile_.add_argument(
        "--no-burn-in", action="store_true", help="no shot id and timecode on animatic frames"
    )
    compile_.add_argument("-q", "--quiet", action="store_true", help="print only problems")
    compile_.add_argument("--backend", help="render with this backend instead of the script's")
    compile_.add_argument("--template", type=Path, help="a jinja2 prompt template")
    _add_executor_options(compile_)
    _add_keyframe_options(compile_)
    _add_model_options(compile_)
    _add_hosted_options(compile_, compiling=True)
    _add_consistency_options(compile_)
    _add_timeline_options(compile_)
    _add_diagnostic_options(compile_)
    compile_.set_defaults(run=_run_compile)


def _add_storyboard(commands) -> None:
    board = commands.add_parser(
        "storyboard",
        help="make only the keyframes and write a storyboard: HTML, PDF and PNGs",
        description="Check FILE, make the first keyframe of every shot that pins none (and "
        "every `keyframe ...: generate`) with the script's image backend (`keyframes: NAME`, "
        "its folder from director.toml's [NAME]; else the built-in one), score them, and "
        "write FILE's name + .storyboard/: index.html (self-contained), storyboard.pdf (a "
        "page per shot) and ID.png per shot, which a script can pin (`keyframe first: "
        "NAME.storyboard/7.png`). No video is made; the keyframes are cached as compile's "
        "are. Exit status: 0 written, 1 script errors, failed keyframes, or (with --strict) "
        "keyframes below their minimum, 2 usage (docs/keyframes.md).",
    )
    board.add_argument("file", type=Path, metavar="FILE", help="the top .shot script")
    board.add_argument(
        "-o", "--output", type=Path, help="the folder to write (default: FILE's name, .storyboard)"
    )
    board.add_argument(
        "--cache", type=Path, help="cache folder (default: .director/cache beside FILE)"
    )
    _add_consistency_options(board)
    _add_diagnostic_options(board)
    board.set_defaults(run=_run_storyboard)


def _run_storyboard(args) -> int:
    from .plan import plan_film

    _require_files([args.file])
    _check_scoring(args)
    checked = check_file(args.file, allow_outside=args.allow_outside, limits=_limits(args))
    if checked.film is None:
        _report([checked], args)
        return EXIT_ERRORS
    # Keyframes do not depend on the video backend: the built-in one plans them as any
    # other would, so the storyboard's keyframes are the ones compile reuses.
    from . import models

    choice = checked.film.keyframes or "generate"
    try:
        image = models.resolve_image(choice, args.file.resolve().parent)
    except (models.ConfigError, ModelError) as error:
        raise UsageError(str(error)) from None
    if missing := image.missing_model():
        raise UsageError(missing)
    planned = plan_film(checked.film, backend="preview", scoring=_scoring(args),
                        keyframes=choice, backend_options=image.plan_options)  # fmt: skip
    runtime = image.runtime
    checked.diagnostics.extend(planned.diagnostics)
    _report([checked], args)
    if planned.plan is None or checked.failed(args.strict):
        return EXIT_ERRORS
    script = args.file.resolve()
    folder = args.output or script.parent / f"{script.stem}.storyboard"
    return _storyboard(planned.plan, args, folder, runtime)


def _storyboard(plan, args, folder: Path, runtime: dict[str, dict]) -> int:
    """Make the plan's keyframes and write the storyboard folder; 1 when a keyframe
    failed, or with --strict is below its minimum."""
    from . import report, storyboard
    from .cache import Cache, CacheError

    script = args.file.resolve()
    try:
        cache = Cache(args.cache or script.parent / ".director" / "cache")
    except CacheError as error:
        raise UsageError(str(error)) from None
    written = storyboard.write_storyboard(plan, script.parent, cache, folder, runtime)
    for failure in written.result.failures:
        _say(f"error: {failure}")
    below = [
        report.keyframe_problem(node.shot or "", written.result.outputs[node.id].meta)
        for node in storyboard.keyframes_below(plan, written.result)
    ]
    for problem in below:
        _say(f"{'error' if args.strict else 'warning'}: {problem}")
    _say(f"wrote {written.html}, {written.pdf.name} and {len(written.pngs)} keyframe(s)")
    failed = written.result.failures or (below and args.strict)
    return EXIT_ERRORS if failed else EXIT_OK


def _add_keyframe_options(command) -> None:
    from backends import image_names

    command.add_argument(
        "--keyframes",
        metavar="generate|IMAGE-BACKEND",
        help="every shot that pins no keyframe gets a first keyframe made by an image "
        "backend and scored before any video is made, as the script's `keyframes:` asks: "
        "generate (the animatic's composite) or an image model, one of "
        f"{', '.join(image_names.names())}; its folder from --model NAME=PATH or "
        "director.toml's [NAME] table (docs/keyframes.md)",
    )


def _check_keyframes(choice: str | None) -> None:
    """A UsageError, with "did you mean", for an unknown --keyframes image backend."""
    from backends import image_names

    known = [image_names.GENERATE, *image_names.names()]
    if choice is None or choice in known:
        return
    hint = did_you_mean(choice, known) or "choose one of " + ", ".join(known)
    raise UsageError(f"--keyframes: there is no image backend called {choice!r}; {hint}")


def _add_delivery_options(command) -> None:
    group = command.add_argument_group(
        "delivery", "the delivered copy; none of these enter the plan (docs/assembly.md)"
    )
    group.add_argument(
        "--loudness",
        choices=("-14", "-23", "-24", "off"),
        default="-14",
        metavar="LUFS",
        help="integrated loudness of the delivered mix: -14 (streaming, default), -23 "
        "(EBU R 128 broadcast), -24 (ATSC A/85) or off (as mixed); a true-peak limiter "
        "keeps it at or under -1 dBTP either way",
    )
    group.add_argument(
        "--start-timecode",
        metavar="HH:MM:SS:FF",
        help="record timecode of the first frame, in the film's timecode track and the "
        "EDL, FCP XML and OTIO timelines (default 01:00:00:00; 01:00:00;00, drop-frame, "
        "at 29.97 and 59.94 fps)",
    )
    group.add_argument(
        "--color-space",
        choices=("auto", "bt709", "bt601", "bt601-625"),
        default="auto",
        help="colour space of the picture: auto (default) is BT.709 from 1280x720 up and "
        "BT.601 below; another choice codes the picture again at delivery",
    )
    group.add_argument(
        "--burn-in",
        choices=("timecode",),
        action="append",
        default=[],
        help="burn into the delivered film: timecode, each frame's record timecode from "
        "--start-timecode (drop-frame where it is), bottom centre; codes the picture again",
    )


def _delivery(args, plan) -> delivery.Delivery:
    """The delivery settings of `args`; UsageError when they are unusable."""
    from fractions import Fraction

    from . import delivery, loudness, timecode

    try:
        start = timecode.parse(args.start_timecode, Fraction(plan.fps_num, plan.fps_den))
    except timecode.TimecodeError as error:
        raise UsageError(f"--start-timecode: {error}") from None
    return delivery.Delivery(
        timecode=start,
        loudness=loudness.TARGETS[args.loudness],
        color_space=args.color_space,
        burn_in=tuple(dict.fromkeys(args.burn_in)),
    )


def _add_executor_options(command) -> None:
    group = command.add_argument_group(
        "executor", "where the plan's nodes are made (docs/runtime.md, docs/scaling.md)"
    )
    group.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help="local: every node in this process, one at a time (default); ray: each shot's "
        "nodes on the workers of a Ray cluster, as many shots at once as it has GPUs (or "
        "CPUs, for a CPU backend), the film assembled here. The cache and the project "
        "folder must be at the same path on every node. Needs pip install "
        "'shot-director[ray]'",
    )
    group.add_argument(
        "--address",
        metavar="ADDRESS",
        help="with --executor ray: the cluster to use, 'auto' (the one `ray start` runs on "
        "this machine), HOST:PORT or ray://HOST:10001 (Ray Client); default: start a "
        "private one on this machine for the run",
    )
    group.add_argument(
        "--workers",
        type=_positive,
        metavar="N",
        help="with --executor ray: at most N workers (default: as many as the cluster fits); "
        "with --dry-run, the schedule for N workers without asking the cluster",
    )


def _add_hosted_options(command, *, compiling: bool) -> None:
    group = command.add_argument_group(
        "hosted models (docs/hosted.md)",
        "Keys come from the environment only: FAL_KEY for fal, RUNWAYML_API_SECRET for Runway.",
    )
    group.add_argument(
        "--via",
        choices=("fal", "runway"),
        help="the provider that renders hosted models (default: [MODEL] via in director.toml, "
        "else the first whose key is set, fal before runway)",
    )
    if not compiling:
        return
    group.add_argument(
        "--jobs",
        type=_positive,
        metavar="N",
        help="hosted requests in flight at once (default 4 when the script uses a hosted "
        "model, else 1)",
    )
    group.add_argument(
        "--max-cost",
        type=_usd,
        metavar="USD",
        help="refuse (exit 1, nothing sent) when the estimated spend of the requests still to "
        "make is over USD",
    )
    group.add_argument(
        "--poll-interval",
        type=float,
        metavar="SECONDS",
        help=argparse.SUPPRESS,  # tests and the benchmark poll their local server quickly
    )


def _usd(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("a price in US dollars, e.g. 5 or 2.50") from None
    if value < 0:
        raise argparse.ArgumentTypeError("0 or more")
    return value


def _hosted(args, film):
    """Routes and prices of the script's hosted models; UsageError when they cannot be had."""
    from . import hosted, models

    try:
        used = models.used_backends(film, args.backend)
        settings = models.load_settings(args.file.resolve().parent)
        return hosted.resolve(used, settings, args.via)
    except (models.ConfigError, ValueError) as error:
        raise UsageError(str(error)) from None


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("1 or more")
    return value


def _check_executor(args) -> None:
    """Refuse (UsageError) wrong executor options before anything runs."""
    import importlib.util

    if args.executor != "ray":
        for flag in ("address", "workers"):
            if getattr(args, flag) is not None:
                raise UsageError(f"--{flag} needs --executor ray")
        return
    needs_ray = not (args.dry_run and args.workers)
    if needs_ray and importlib.util.find_spec("ray") is None:
        raise UsageError("--executor ray needs Ray: pip install 'shot-director[ray]'")


def _add_consistency_options(command) -> None:
    group = command.add_argument_group(
        "character consistency", "how takes are measured and chosen (docs/consistency.md)"
    )
    group.add_argument(
        "--consistency",
        type=_score,
        metavar="X",
        help="minimum consistency score (0-1; 0.5 = the embedder's same-identity threshold) "
        "for shots that give no `consistency:`, in a script whose header gives none either; "
        "below it, more takes are made",
    )
    group.add_argument(
        "--max-retries",
        type=_count,
        default=2,
        metavar="N",
        help="extra takes to make for a shot below its minimum (default 2); then the best "
        "is kept with a warning (an error with --strict)",
    )
    group.add_argument(
        "--embedder",
        choices=("auto", *consistency_embedders()),
        default="auto",
        help="what measures identity: face (dlib), appearance (colour and texture), or a "
        "clip / dinov2 encoder from --embedder-model (default auto: face where installed)",
    )
    group.add_argument(
        "--embedder-model",
        type=Path,
        metavar="DIR",
        help="a local folder with a transformers CLIP or DINOv2 vision model",
    )


def consistency_embedders() -> tuple[str, ...]:
    from .embedders import EMBEDDERS

    return EMBEDDERS


def _check_scoring(args) -> None:
    """Refuse (UsageError) wrong consistency options before anything runs."""
    from . import consistency

    name = consistency.resolve(args.embedder)
    model = args.embedder_model
    if name in ("clip", "dinov2") and (model is None or not (model / "config.json").is_file()):
        where = f"{model} has no config.json" if model is not None else "none was given"
        raise UsageError(
            f"the {name} embedder needs --embedder-model DIR, a local "
            f"transformers model folder; {where}"
        )
    if name == "face" and not consistency.face_available():
        raise UsageError(
            "the face embedder needs dlib and its models: "
            "pip install 'shot-director[face]' (or --embedder appearance)"
        )


def _scoring(args) -> Consistency:
    from .plan import Consistency

    return Consistency(
        embedder=args.embedder,
        model=args.embedder_model.resolve() if args.embedder_model else None,
        minimum=args.consistency,
        max_retries=args.max_retries,
    )


def _score(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("a score between 0 and 1")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("0 or more")
    return value


def _add_score(commands) -> None:
    score = commands.add_parser(
        "score",
        help="score an existing video's character against reference images",
        description="Sample frames across VIDEO, find the character (its face, with the face "
        "embedder) and score it against the reference images. Prints the score of each "
        "sampled frame and the overall score (the lower quartile). Exit status: 0 the "
        "identity holds (overall >= threshold), 1 it does not, 2 usage.",
    )
    score.add_argument("video", type=Path, metavar="VIDEO")
    score.add_argument(
        "--ref", type=Path, action="append", required=True, metavar="IMAGE",
        help="a reference image of the character (repeat for several)",
    )  # fmt: skip
    score.add_argument(
        "--threshold",
        type=_score,
        default=0.5,
        metavar="X",
        help="the overall score the identity must reach (default 0.5: the embedder's "
        "calibrated same-identity threshold)",
    )
    score.add_argument(
        "--embedder", choices=("auto", *consistency_embedders()), default="auto",
        help="default auto: face where dlib is installed, else appearance",
    )  # fmt: skip
    score.add_argument("--embedder-model", type=Path, metavar="DIR",
                       help="a local CLIP or DINOv2 model folder")  # fmt: skip
    score.add_argument("--json", action="store_true", help="print the result as JSON")
    score.set_defaults(run=_run_score)


def _run_score(args) -> int:
    from . import consistency

    _require_files([args.video, *args.ref], "file")
    name = consistency.resolve(args.embedder)
    model = str(args.embedder_model) if args.embedder_model else None
    try:
        take = consistency.score_clip(
            args.video, [consistency.Character("CHARACTER", args.ref)], name, model
        )
    except consistency.EmbedderUnavailable as error:
        raise UsageError(str(error)) from None
    except Exception as error:  # an unreadable video or image
        raise UsageError(f"cannot score {args.video}: {error}") from None
    (character,) = take.characters
    holds = character.score >= args.threshold
    if args.json:
        frames = [
            {"frame": number, "seconds": round(at, 3), "score": scores["CHARACTER"]}
            for number, at, scores in consistency.frames_of(take)
        ]
        sys.stdout.write(json.dumps({
            "video": str(args.video), "embedder": character.embedder, "frames": frames,
            "score": round(character.score, 4), "threshold": args.threshold, "holds": holds,
        }, indent=1) + "\n")  # fmt: skip
        return EXIT_OK if holds else EXIT_ERRORS
    print(f"{'frame':>6} {'time':>8}  score")
    for number, at, scores in consistency.frames_of(take):
        value = scores["CHARACTER"]
        shown = "not found" if value is None else f"{value:.2f}"
        print(f"{number:>6} {at:>7.2f}s  {shown}")
    verdict = "identity holds" if holds else "identity does NOT hold"
    print(
        f"overall {character.score:.2f} (lower quartile of {len(take.frames)} sampled frames, "
        f"{character.embedder}; threshold {args.threshold:.2f}): {verdict}"
    )
    if character.note:
        print(f"note: {character.note}")
    return EXIT_OK if holds else EXIT_ERRORS


def _add_schema(commands) -> None:
    schema = commands.add_parser(
        "schema",
        help="print the JSON Schema of plan files",
        description="Print the versioned JSON Schema that every `director plan` output validates "
        "against.",
    )
    schema.set_defaults(run=_run_schema)


def _add_export(commands) -> None:
    export = commands.add_parser(
        "export",
        help="write a compiled plan's cut as an OpenTimelineIO timeline, EDL or FCP XML",
        description="Write the edit timeline of PLAN (from `director plan` or the NAME.plan.json "
        "that compile writes) for an editor, with each shot's rendered media from the cache "
        "copied beside it in TIMELINE.media/. Shots not rendered yet become offline clips.",
    )
    export.add_argument("plan", type=Path, metavar="PLAN", help="a plan .json file")
    _add_timeline_options(export)
    export.add_argument(
        "--cache",
        type=Path,
        help="cache folder (default: the one the compile that wrote PLAN used, as its "
        "NAME.run.json records, else .director/cache beside PLAN)",
    )
    export.add_argument(
        "--project",
        type=Path,
        help="folder that the script's asset paths are relative to (default: the "
        "compiled script's folder, as NAME.run.json records, else PLAN's folder)",
    )
    export.add_argument(
        "--start-timecode",
        metavar="HH:MM:SS:FF",
        help="record timecode of the first frame (default 01:00:00:00; 01:00:00;00 at "
        "29.97 and 59.94 fps)",
    )
    export.set_defaults(run=_run_export)


def _add_fmt(commands) -> None:
    fmt = commands.add_parser(
        "fmt",
        help="rewrite scripts in the canonical layout, comments kept",
        description="Rewrite each FILE in the canonical layout (indentation, blank lines, "
        "spacing; never words or meaning). A file that does not parse is reported and left "
        "alone. FILE - reads stdin and writes stdout. Exit status: 0 done, 1 a file would "
        "change under --check or does not parse, 2 usage.",
    )
    fmt.add_argument("files", nargs="+", type=Path, metavar="FILE", help=".shot scripts, or -")
    fmt.add_argument(
        "--check",
        action="store_true",
        help="change nothing; print a diff of each file that would change and exit 1 if any",
    )
    fmt.add_argument("--diff", action="store_true", help="change nothing; print the diffs")
    fmt.add_argument("-q", "--quiet", action="store_true", help="say nothing about changed files")
    fmt.set_defaults(run=_run_fmt)


def _run_fmt(args) -> int:
    import difflib

    from .fmt import format_text
    from .parse import parse_source
    from .source import SourceFile

    _require_files([p for p in args.files if str(p) != "-"])
    status = EXIT_OK
    for path in args.files:
        stdin = str(path) == "-"
        try:
            data = _read_stdin() if stdin else _read_input(path)
        except UsageError as error:  # one unreadable file: the others are still formatted
            _say(f"director: error: {error}")
            status = EXIT_ERRORS
            continue
        display = "<stdin>" if stdin else str(path)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            _say(f"director: error: {display} is not UTF-8; left alone")
            status = EXIT_ERRORS
            continue
        tree, problems = parse_source(SourceFile(path, display, text))
        if tree is None:
            sys.stderr.write(render_human(problems, {display: text}, colour=_colour("auto")))
            _say(f"director: {display} does not parse; left alone")
            status = EXIT_ERRORS
            continue
        formatted = format_text(text)
        if stdin and not (args.check or args.diff):
            sys.stdout.write(formatted)
            continue
        if formatted == data.decode("utf-8", errors="replace"):
            continue
        if args.check or args.diff:
            sys.stdout.writelines(
                difflib.unified_diff(
                    text.splitlines(keepends=True),
                    formatted.splitlines(keepends=True),
                    f"{display} (as written)",
                    f"{display} (formatted)",
                )
            )
            if args.check:
                _say(f"would reformat {display}")
                status = EXIT_ERRORS
            continue
        temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        temporary.write_bytes(formatted.encode("utf-8"))
        os.replace(temporary, path)
        if not args.quiet:
            _say(f"reformatted {display}")
    return status


def _add_import(commands) -> None:
    import_ = commands.add_parser(
        "import",
        help="turn a Fountain screenplay into a .shot skeleton",
        description="Read a Fountain screenplay and write a .shot script that director check "
        "accepts: scenes from its headings, a shot per action paragraph or dialogue exchange "
        "(timed at 2.5 words a second, at least 2s), its characters and locations declared "
        "with TODO descriptions, its transitions mapped. Exit status: 0 written, 2 usage.",
    )
    import_.add_argument("file", type=Path, metavar="SCREENPLAY", help="a .fountain file")
    import_.add_argument(
        "-o", "--output", type=Path, help="the .shot file to write (default: stdout)"
    )
    import_.add_argument("--force", action="store_true", help="overwrite the output if it exists")
    import_.set_defaults(run=_run_import)


def _run_import(args) -> int:
    from .fountain import import_fountain

    _require_files([args.file])
    if args.output is not None and args.output.exists() and not args.force:
        raise UsageError(f"{args.output} exists; pass --force to replace it")
    data = _read_input(args.file)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"{args.file} is not UTF-8") from None
    script = import_fountain(text, title=args.file.stem.replace("_", " ").replace("-", " "))
    if args.output is None:
        sys.stdout.write(script)
        return EXIT_OK
    target = outputs.Target(args.output, "the script")
    if (status := _write_output(target, script, {args.file: "the screenplay"})) == EXIT_OK:
        _say(f"wrote {args.output}")
    return status


def _add_lsp(commands) -> None:
    lsp = commands.add_parser(
        "lsp",
        help="run the language server (for editors) on stdin and stdout",
        description="A Language Server Protocol server for .shot files over stdio: "
        "diagnostics as you type, hover, go to definition and completion.",
    )
    lsp.set_defaults(run=_run_lsp)


def _run_lsp(args) -> int:
    from .lsp import main as serve

    serve()
    return EXIT_OK


def _add_timeline_options(command) -> None:
    command.add_argument(
        "--otio", type=Path, metavar="PATH", help="write an OpenTimelineIO timeline of the cut"
    )
    command.add_argument("--edl", type=Path, metavar="PATH", help="write a CMX 3600 EDL")
    command.add_argument(
        "--fcpxml",
        type=Path,
        metavar="PATH",
        help="write Final Cut Pro XML: FCP 7 XML for a .xml name (Premiere, Resolve), "
        "FCPXML for .fcpxml",
    )


def _timelines(args) -> list[Path]:
    return [path for path in (args.otio, args.edl, args.fcpxml) if path is not None]


def _check_timelines(args) -> None:
    """Refuse (UsageError) timeline files that cannot be written as asked."""
    from .timeline_export import ExportError, adapter

    wanted = {"otio": (".otio",), "edl": (".edl",), "fcpxml": (".xml", ".fcpxml")}
    for option, suffixes in wanted.items():
        path = getattr(args, option)
        if path is not None and path.suffix.lower() not in suffixes:
            ending = " or ".join(suffixes)
            raise UsageError(f"--{option} needs a file ending in {ending}")
    try:
        for path in _timelines(args):
            adapter(path)
    except ExportError as error:
        raise UsageError(str(error)) from None


def _run_export(args) -> int:
    from fractions import Fraction

    from . import timecode
    from .cache import Cache, CacheError
    from .compile import shot_media
    from .plan import Plan
    from .timeline_export import ExportError, export_timeline

    _require_files([args.plan], noun="plan")
    _check_timelines(args)
    targets = _timelines(args)
    if not targets:
        raise UsageError("say what to write: --otio, --edl or --fcpxml")
    try:
        plan = Plan.model_validate_json(_read_input(args.plan, MAX_PLAN_BYTES))
    except (OSError, ValueError) as error:
        raise UsageError(f"{args.plan} is not a plan: {error}") from None
    folder = args.plan.resolve().parent
    made = _made_with(args.plan, plan)
    cache_dir = args.cache or made.get("cache") or folder / ".director" / "cache"
    project = args.project or made.get("project") or folder
    try:
        cache = Cache(cache_dir) if cache_dir.is_dir() else None
    except CacheError as error:
        raise UsageError(str(error)) from None
    hashes = {node.id: node.hash for node in plan.nodes}

    def entry(node_id: str):
        return cache.get(hashes[node_id]) if cache and node_id in hashes else None

    media = shot_media(plan, entry, project)
    first = targets[0]
    media_dir = first.with_name(first.stem + ".media")
    written = [outputs.Target(path, "the timeline") for path in targets]
    written.append(outputs.Target(media_dir, "the timeline's media", folder=True))
    used = [*media.pictures.values(), *media.sounds.values(), *media.cues.values()]
    inputs = {args.plan: "the plan", **{path: f"{path}, a file the cut uses" for path in used}}
    try:
        if (problem := outputs.refusal(written, inputs)) is not None:
            raise ExportError(problem)
        fps = Fraction(plan.timeline.fps_num, plan.timeline.fps_den)
        record = timecode.parse(args.start_timecode, fps)
        warnings = export_timeline(plan, media, targets, media_dir, record)
    except (ExportError, timecode.TimecodeError) as error:
        raise UsageError(str(error)) from None
    except OSError as error:
        raise UsageError(f"cannot write {error.filename}: {error.strerror}") from None
    for warning in warnings:
        _say(f"warning: {warning}")
    offline = [s.shot for s in plan.timeline.shots if s.shot not in media.pictures]
    if offline:
        # A timeline whose clips are offline is no cut to conform: say so in the status.
        _say(
            f"director: error: {len(offline)} of {len(plan.timeline.shots)} shots have no "
            f"rendered picture in {cache_dir}; the timeline was written with them offline. "
            "Compile the script first, or pass --cache (and --project) where it was compiled."
        )
        return EXIT_ERRORS
    return EXIT_OK


def _made_with(plan_file: Path, plan) -> dict[str, Path]:
    """The cache and project folder a compile recorded beside NAME.plan.json (in
    NAME.run.json), when that record is of this plan; else nothing."""
    name = plan_file.name
    if not name.endswith(".plan.json"):
        return {}
    record_file = plan_file.with_name(name.removesuffix(".plan.json") + ".run.json")
    try:
        record = json.loads(record_file.read_text(encoding="utf-8"))
        if record.get("plan") != plan.node(plan.output).hash:
            return {}
        return {key: Path(value) for key, value in record["made_with"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _add_doctor(commands) -> None:
    doctor = commands.add_parser(
        "doctor",
        help="say what is installed here and which backends can run, and why not",
        description="Report Python, torch and the GPU, the diffusers packages, the settings "
        "files (director.toml) and model folders, and for each backend whether it can run "
        "here and, if not, why.",
    )
    doctor.add_argument(
        "folder",
        nargs="?",
        type=Path,
        default=Path("."),
        metavar="FOLDER",
        help="the project folder whose director.toml to read (default: here)",
    )
    doctor.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="[NAME=]PATH",
        help="also check this model folder (its backend is read from the folder)",
    )
    doctor.set_defaults(run=_run_doctor)


def _add_model_options(command) -> None:
    group = command.add_argument_group(
        "models (ltx2, wan)",
        "Local model folders and how to run them; these also come from director.toml. "
        "Only --model's identity, --steps, --guidance, --guidance-2, --flow-shift, --negative "
        "and --two-stage change what is made (and the cache keys); --device, --dtype and "
        "--offload only say how to run.  Unset, each comes from the model folder's recipe.",
    )
    group.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="[NAME=]PATH",
        help="the local model folder (diffusers format) for the script's backend, or for "
        "backend NAME; never downloaded",
    )
    group.add_argument(
        "--steps", type=int, help="denoising steps (default: the model's recipe, e.g. ltx2 dev 40)"
    )
    group.add_argument("--guidance", type=float, help="classifier-free guidance scale")
    group.add_argument(
        "--guidance-2",
        type=float,
        metavar="SCALE",
        help="guidance of Wan 2.2 A14B's low-noise expert (default: the recipe's)",
    )
    group.add_argument(
        "--flow-shift",
        type=float,
        metavar="SHIFT",
        help="the scheduler's flow shift (default: the recipe's for the frame size)",
    )
    group.add_argument(
        "--negative",
        metavar="TEXT",
        help="negative prompt for shots whose script gives none (default: the model's)",
    )
    group.add_argument(
        "--two-stage",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="ltx2: make each shot in two stages (half size, the folder's latent upsampler, "
        "3 refinement steps), as the authors do; default: where the folder allows",
    )
    group.add_argument("--device", help="auto (default), cpu, cuda, cuda:N or mps")
    group.add_argument("--dtype", choices=DTYPES, help="auto: bfloat16 on CUDA, else float32")
    group.add_argument(
        "--offload",
        choices=OFFLOADS,
        help="move idle parts to the CPU: model (whole models, small slowdown) or "
        "sequential (layer by layer, least memory, slow); default none",
    )


def _resolve_models(args, film) -> models.Resolved:
    """The plan options and runtime settings of the script's diffusers backends;
    UsageError when they cannot be had."""
    from . import models

    overrides = models.Overrides(
        models=models.Overrides.parse_models(args.model),
        steps=args.steps,
        guidance=args.guidance,
        guidance_2=args.guidance_2,
        flow_shift=args.flow_shift,
        negative=args.negative,
        two_stage=args.two_stage,
        device=args.device,
        dtype=args.dtype,
        offload=args.offload,
    )
    _check_keyframes(args.keyframes)
    try:
        used = models.used_backends(film, args.backend)
        resolved = models.resolve(used, args.file.resolve().parent, overrides)
        # The keyframes' image model, when it loads a folder: beside the video backends'.
        image = models.resolve_image(
            args.keyframes or film.keyframes, args.file.resolve().parent, overrides
        )
    except (models.ConfigError, ModelError) as error:
        raise UsageError(str(error)) from None
    resolved.plan_options |= image.plan_options
    resolved.runtime |= image.runtime
    resolved.image_folders = image.image_folders
    if not getattr(args, "quiet", False):
        for line in resolved.recognised.values():
            _say(f"director: {line}")
    return resolved


def _run_doctor(args) -> int:
    from . import doctor, models

    try:
        facts = doctor.report(args.folder, models.Overrides.parse_models(args.model))
    except models.ConfigError as error:
        raise UsageError(str(error)) from None
    sys.stdout.write(doctor.render(facts))
    return EXIT_OK


def _add_diagnostic_options(command) -> None:
    command.add_argument(
        "--format",
        choices=("human", "json", "github"),
        default="human",
        help="how to print diagnostics: human text (default), a JSON list, or GitHub "
        "Actions annotations",
    )
    command.add_argument("--strict", action="store_true", help="treat warnings as errors")
    command.add_argument(
        "--max-diagnostics",
        type=_count,
        default=DEFAULT_PER_FILE,
        metavar="N",
        help=f"show at most N diagnostics per file, errors first, and count the rest "
        f"(default {DEFAULT_PER_FILE}; 0 shows all; --format json always lists all)",
    )
    command.add_argument(
        "--allow-outside",
        action="store_true",
        help="let scripts name files outside the project folder",
    )
    defaults = Limits()
    for field, kind, metavar, what in _LIMIT_FLAGS:
        command.add_argument(
            "--" + field.replace("_", "-"),
            type=kind,
            default=getattr(defaults, field),
            metavar=metavar,
            help=f"refuse {what} (default {_shown(getattr(defaults, field))})",
        )
    command.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour human output (auto: only on a terminal, and not with NO_COLOR set)",
    )


# Each safety limit of reader.Limits as a flag: (field, type, metavar, what it refuses).
_LIMIT_FLAGS = (
    ("max_minutes", float, "N", "films longer than N minutes"),
    ("max_shots", int, "N", "scripts with more shots"),
    ("max_shot_seconds", float, "N", "shots longer than N seconds"),
    ("max_side", int, "PX", "formats wider or taller than PX"),
    ("max_bytes", int, "N", "script files larger than N bytes, before reading further"),
    ("max_line_length", int, "N", "lines longer than N characters, before parsing"),
    ("max_import_depth", int, "N", "imports nested more than N files deep"),
)


def _shown(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"  # 8000000, not 8e+06


def _limits(args) -> Limits:
    return Limits(**{field: getattr(args, field) for field, *_ in _LIMIT_FLAGS})


def _read_stdin() -> bytes:
    """Standard input, read no further than the byte limit a script file is held to."""
    limit = Limits().max_bytes
    data = sys.stdin.buffer.read(limit + 1)
    if len(data) > limit:
        raise UsageError(f"<stdin> is over the limit of {limit:,} bytes")
    return data


def _require_files(files: list[Path], noun: str = "script") -> None:
    """Refuse (UsageError) a file named on the command line that is missing or is no
    regular file (a FIFO would block the libraries that open media; a device would
    stream forever)."""
    for path in files:
        if (why := not_a_regular_file(path)) is None:
            continue
        if path.exists():  # a folder, a FIFO, a device: never opened
            raise UsageError(f"{path} cannot be read: {why}")
        raise UsageError(f"no such {noun}: {path}")


def _read_input(path: Path, max_bytes: int = Limits().max_bytes) -> bytes:
    """A file named on the command line, read by the one bounded reader; UsageError
    saying why it cannot be."""
    try:
        return read_bytes(path, max_bytes)
    except (Unreadable, TooLarge) as error:
        raise UsageError(f"{path} cannot be read: {error}") from None


def _run_check(args) -> int:
    _require_files(args.files)
    results = [
        check_file(path, allow_outside=args.allow_outside, limits=_limits(args))
        for path in args.files
    ]
    _report(results, args)
    failed = any(result.failed(args.strict) for result in results)
    if args.verbose and not failed:
        for path, result in zip(args.files, results, strict=True):
            warnings = sum(d.severity is Severity.WARNING for d in result.diagnostics)
            noun = "warning" if warnings == 1 else "warnings"
            print(f"{visible(str(path))}: ok" + (f" ({warnings} {noun})" if warnings else ""))
    return EXIT_ERRORS if failed else EXIT_OK


def _run_plan(args) -> int:
    from . import models
    from .plan import plan_film
    from .prompts import PromptTemplateError

    _check_usage(args)
    _check_scoring(args)
    checked = check_file(args.file, allow_outside=args.allow_outside, limits=_limits(args))
    if checked.film is None:
        _report([checked], args)
        return EXIT_ERRORS
    resolved = _resolve_models(args, checked.film)
    routes = _hosted(args, checked.film)
    try:
        planned = plan_film(
            checked.film,
            backend_options={**resolved.plan_options, **routes.plan_options},
            backend=args.backend,
            template=args.template,
            scoring=_scoring(args),
            bound=resolved.bound,
            keyframes=args.keyframes,
            prices=routes.prices,
        )
    except PromptTemplateError as error:
        raise UsageError(str(error)) from None
    checked.diagnostics.extend(planned.diagnostics)
    if planned.plan is not None:
        checked.diagnostics.extend(models.model_diagnostics(planned.plan, resolved))
    _report([checked], args)
    if planned.plan is None or checked.failed(args.strict):
        return EXIT_ERRORS
    text = planned.plan.to_json()
    from .hosted import summary

    if (spend := summary(planned.plan)) is not None:
        print(f"cost: {spend}", file=sys.stderr)  # stdout is the plan
    if args.output is None:
        sys.stdout.write(text)
        return EXIT_OK
    target = outputs.Target(args.output, "the plan")
    return _write_output(target, text, _inputs(args, checked.film))


def _inputs(args, film) -> dict[Path, str]:
    """The files a plan or compile must not write over: the script, what it names
    and the prompt template."""
    inputs = outputs.script_inputs(film, args.file.resolve())
    if args.template is not None:
        inputs[args.template] = "the prompt template"
    return inputs


def _write_output(target: outputs.Target, text: str, inputs: dict[Path, str]) -> int:
    """Write `text` to `target` unless the output rule (outputs.py) forbids it:
    exit 0 written, 2 refused or not writable, with the reason."""
    problem = outputs.refusal([target], inputs)
    if problem is None:
        try:
            outputs.write_text(target.path, text)
        except OSError as error:
            problem = f"cannot write {target.what} to {target.path}: {error.strerror or error}"
    if problem is not None:
        raise UsageError(problem)
    return EXIT_OK


def _run_compile(args) -> int:
    from . import compile as compiler
    from . import models
    from .plan import plan_film
    from .prompts import PromptTemplateError

    _check_usage(args)
    _check_executor(args)
    _check_scoring(args)
    checked = check_file(args.file, allow_outside=args.allow_outside, limits=_limits(args))
    if checked.film is None:
        _report([checked], args)
        return EXIT_ERRORS
    resolved = _resolve_models(args, checked.film)
    routes = _hosted(args, checked.film)
    options = {"preview": {"burn_in": not args.no_burn_in}, **resolved.plan_options}
    try:
        planned = plan_film(
            checked.film,
            backend=args.backend,
            template=args.template,
            codec=args.codec,
            backend_options={**options, **routes.plan_options},
            scoring=_scoring(args),
            bound=resolved.bound,
            keyframes=args.keyframes or ("generate" if args.storyboard else None),
            prices=routes.prices,
        )
    except PromptTemplateError as error:
        raise UsageError(str(error)) from None
    checked.diagnostics.extend(planned.diagnostics)
    if planned.plan is not None:
        checked.diagnostics.extend(models.model_diagnostics(planned.plan, resolved))
    _report([checked], args)
    if planned.plan is None or checked.failed(args.strict):
        return EXIT_ERRORS
    if args.storyboard:  # beside where the film would go
        if missing := models.Resolved(image_folders=resolved.image_folders).missing_model():
            raise UsageError(missing)
        film = args.output or Path(args.file.stem + compiler.suffix(args.codec))
        board = film.with_name(f"{film.stem}.storyboard")
        return _storyboard(planned.plan, args, board, resolved.runtime)
    _check_timelines(args)
    if not args.dry_run and (missing := resolved.missing_model()):
        raise UsageError(f"{missing}")
    delivered = _delivery(args, planned.plan)
    job = compiler.Job(
        plan=planned.plan,
        script=args.file.resolve(),
        output=args.output or Path(args.file.stem + compiler.suffix(args.codec)),
        cache=args.cache or args.file.resolve().parent / ".director" / "cache",
        keep_going=args.keep_going,
        ignore_budget=args.ignore_budget,
        stems=args.stems,
        progress="quiet" if args.quiet else "auto",
        runtime=resolved.runtime,
        timelines=_timelines(args),
        strict=args.strict,
        executor=args.executor,
        address=args.address,
        workers=args.workers,
        jobs=args.jobs,
        max_cost=args.max_cost,
        poll_interval=args.poll_interval,
        codec=args.codec,
        inputs=_inputs(args, checked.film),
        delivery=delivered,
    )
    if args.dry_run:
        return compiler.dry_run(job)
    return compiler.compile_film(job)


def _check_usage(args) -> None:
    """Refuse (UsageError) a missing script or template, or an unknown backend."""
    _require_files([args.file])
    if args.template is not None and not args.template.is_file():
        raise UsageError(f"no such template: {args.template}")
    if args.backend is not None and args.backend not in registry.names() + [registry.AUTO]:
        hint = did_you_mean(args.backend, registry.names()) or "available: " + ", ".join(
            registry.names()
        )
        raise UsageError(f"unknown backend {args.backend!r}; {hint}")


def _run_schema(args) -> int:
    from .plan import plan_schema

    sys.stdout.write(json.dumps(plan_schema(), indent=2) + "\n")
    return EXIT_OK


def _report(results: list[CheckResult], args) -> None:
    diagnostics = [d for result in results for d in result.diagnostics]
    if args.strict:
        diagnostics = [d.model_copy(update={"severity": Severity.ERROR}) for d in diagnostics]
    if args.format == "json":
        sys.stdout.write(render_json(diagnostics))
    elif args.format == "github":
        sys.stdout.write(render_github(diagnostics, per_file=args.max_diagnostics))
    elif diagnostics:
        sources = {name: text for result in results for name, text in result.sources.items()}
        colour = _colour(args.color)
        sys.stderr.write(render_human(diagnostics, sources, colour, per_file=args.max_diagnostics))
        sys.stderr.write(_summary(diagnostics))


def _summary(diagnostics) -> str:
    errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    warnings = len(diagnostics) - errors
    parts = [f"{errors} error{'s' * (errors != 1)}"] if errors else []
    parts += [f"{warnings} warning{'s' * (warnings != 1)}"] if warnings else []
    return "\n" + ", ".join(parts) + "\n"


def _colour(choice: str) -> bool:
    if choice != "auto":
        return choice == "always"
    return sys.stderr.isatty() and "NO_COLOR" not in os.environ
