"""`director compile`: run a plan and deliver the film and its sidecars.

The last stage: the plan is executed over the cache (`run.py`), then the
film and its sidecars are written beside each other, each through a
temporary name and a rename, so no partial file ever sits at an output path.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from functools import partial
from pathlib import Path

from . import assemble, budget, delivery, hosted, outputs, ray_executor, report, timecode
from .cache import Cache, CacheError, Entry
from .clips import DELIVERY
from .operations import RunContext
from .plan import Plan
from .plan_nodes import Generate, Keyframe, asset_node, shot_node
from .progress import Progress
from .run import DiskFull, disk_full, execute, explain
from .timeline_export import ExportError, Media, export_timeline

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


@dataclass
class Job:
    plan: Plan
    script: Path
    output: Path
    cache: Path
    keep_going: bool = False
    ignore_budget: bool = False  # run even when the plan's estimate does not fit the machine
    stems: bool = False
    progress: str = "auto"
    runtime: dict[str, dict] = field(default_factory=dict)  # see RunContext.runtime
    timelines: list[Path] = field(default_factory=list)  # OTIO, EDL, FCP XML of the cut
    strict: bool = False  # a shot whose takes all miss their consistency minimum fails the build
    executor: str = "local"  # or "ray": the shots made on a Ray cluster (ray_executor.py)
    address: str | None = None  # the Ray cluster; None: a private one started here
    workers: int | None = None  # Ray workers at most; None: as many as the cluster fits
    jobs: int | None = None  # hosted requests in flight at once; None: remote.DEFAULT_JOBS
    max_cost: float | None = None  # USD: refuse before any request when the estimate is over
    poll_interval: float | None = None  # seconds between polls of a hosted request
    codec: str = "h264"  # the film's delivery codec; png: `output` is a folder
    # Files no output may replace (outputs.script_inputs), each with what it is;
    # the script itself is always one.
    inputs: dict[Path, str] = field(default_factory=dict)
    # Loudness, start timecode, colour space of the delivered copy; None: the defaults
    # (-14 LUFS, 01:00:00:00) for the plan's frame rate.
    delivery: delivery.Delivery | None = None


def suffix(codec: str) -> str:
    return "" if codec == "png" else DELIVERY[codec].suffix


def targets(job: Job) -> Iterator[outputs.Target]:
    """Every path a compile of `job` writes: the film, the files beside it, the timelines.
    The film comes first and the rest are named only when asked for, so that a film
    path that cannot be one (`-o .`) is refused before names are made from it."""
    png = job.codec == "png"
    yield outputs.Target(job.output, "the PNG sequence" if png else "the film", folder=png)
    base = _base(job)

    def beside(suffix: str, what: str, folder: bool = False) -> outputs.Target:
        return outputs.Target(base.with_name(base.name + suffix), what, folder)

    yield beside(".run.json", "the run record")
    yield beside(".report.html", "the report")
    yield beside(".plan.json", "the plan")
    if job.plan.timeline.dialogue:
        yield beside(".srt", "the subtitles")
        yield beside(".vtt", "the subtitles")
    if job.stems:
        yield beside(".stems", "the stems", folder=True)
    for path in job.timelines:
        yield outputs.Target(path, "the timeline")
    if job.timelines:
        yield beside(".media", "the timeline's media", folder=True)


def refusal(job: Job) -> str | None:
    """Why this compile must not write where it would (outputs.refusal), or None."""
    return outputs.refusal(targets(job), {**job.inputs, job.script: "the script itself"})


def compile_film(job: Job) -> int:
    """Run the plan and deliver the film; 0 done, 1 failed, 2 an output it must not or
    cannot write (said before anything runs), 130 interrupted.  A full disk stops it
    with a message, whether it fills during the run or while the film and its
    sidecars are written; either way the cache keeps every finished node."""
    if (problem := refusal(job)) is not None:
        print(f"director: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return _compile_film(job)
    except OSError as error:
        if not disk_full(error, job.output.parent):
            raise
        print(
            f"director: error: no space left to write beside {job.output}: {error}.\n"
            "The film is made and kept in the cache; free some space and run the same "
            "command to write it (nothing is made again).",
            file=sys.stderr,
        )
        return EXIT_FAILED
    except CacheError as error:
        print(f"director: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except outputs.OutputError as error:
        print(
            f"director: error: {error}.\n"
            "The film is made and kept in the cache; make the place writable and run the "
            "same command to write it (nothing is made again).",
            file=sys.stderr,
        )
        return EXIT_USAGE


def _compile_film(job: Job) -> int:
    cache = Cache(job.cache)
    if not job.ignore_budget:
        reason = budget.refusal(job.plan, done=lambda node: cache.has_manifest(node.hash))
        if reason is not None:
            print(f"director: error: {reason}", file=sys.stderr)
            return EXIT_FAILED
    if (refusal := _hosted_refusal(job, cache)) is not None:
        print(f"director: error: {refusal}", file=sys.stderr)
        return EXIT_FAILED
    progress = _Timed(len(job.plan.timeline.shots), mode=job.progress)
    try:
        runtime = hosted.runtime(job.plan, cache.root, job.runtime, job.poll_interval)
        context = RunContext(job.plan, job.script.parent, runtime=runtime)
        if (stopped := _keyframes_first(job, cache, context)) is not None:
            progress.close()
            return stopped
        run = partial(execute, jobs=_jobs(job))
        if job.executor == "ray":
            run = partial(ray_executor.execute, address=job.address, workers=job.workers)
        result = run(
            job.plan,
            job.script.parent,
            cache,
            keep_going=job.keep_going,
            progress=progress,
            context=context,
        )
    except ray_executor.ClusterError as error:
        progress.close()
        print(f"director: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        progress.close()
        print(
            "director: interrupted; finished work is in the cache — run the same command to resume",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except DiskFull as full:
        progress.close()
        return _cache_full(job, full)
    _remember(job, cache)
    if not result.ok:
        for failure in result.failures:
            print(f"error: {failure}", file=sys.stderr)
        if result.blocked:
            shots = sorted({n.shot for n in result.blocked if n.shot is not None})
            print(
                f"director: {len(result.blocked)} nodes not made because an input failed"
                + (f" (shots {', '.join(shots)})" if shots else ""),
                file=sys.stderr,
            )
        return EXIT_FAILED
    work = job.output.parent / f".{job.output.name}.delivery-{os.getpid()}"
    try:
        try:
            delivered = _delivered(job, result.outputs, cache, work)
        except DiskFull as full:
            return _cache_full(job, full)
        if not _write_record(job, cache, result, progress.seconds, delivered.sound):
            return EXIT_FAILED
        _deliver(delivered.film, job.output)
        _write_sidecars(job, result.outputs, delivered.sound, work)
        if job.timelines and not _write_timelines(job, result.outputs):
            return EXIT_FAILED
    except OSError as error:
        if disk_full(error, job.output.parent):
            raise
        raise outputs.OutputError(f"cannot write {error.filename}: {error.strerror}") from error
    finally:
        delivery.remove(work)
    if job.progress != "quiet":
        print(f"wrote {job.output}", file=sys.stderr)
    return EXIT_OK


def _cache_full(job: Job, full: DiskFull) -> int:
    where = f" ({full.node.source})" if full.node.source else ""
    print(
        f"director: error: the disk holding the cache ({job.cache}) is full: {full}{where}.\n"
        "Every finished node is kept in the cache; free some space and run the same "
        "command to resume.",
        file=sys.stderr,
    )
    return EXIT_FAILED


def _hosted_refusal(job: Job, cache: Cache) -> str | None:
    """Why no request may be sent (a missing key, --max-cost below the estimate), or None.
    Said before anything runs, so a refused compile has sent nothing."""
    usd, todo, _ = hosted.to_spend(job.plan, lambda node: cache.has_manifest(node.hash))
    if todo and (missing := hosted.missing_keys(job.plan)):
        return "; ".join(missing)
    if job.max_cost is not None and usd > job.max_cost:
        return (
            f"the estimate is ${usd:.2f} for {todo} requests, over --max-cost "
            f"${job.max_cost:.2f}; nothing was sent ({hosted.summary(job.plan)})"
        )
    if todo and job.progress != "quiet":
        done = lambda node: cache.has_manifest(node.hash)  # noqa: E731
        print(hosted.summary(job.plan, done), file=sys.stderr)
    return None


def _jobs(job: Job) -> int:
    if job.jobs is not None:
        return job.jobs
    from .remote import DEFAULT_JOBS

    return DEFAULT_JOBS if job.plan.cost.money is not None else 1


def _keyframes_first(job: Job, cache: Cache, context: RunContext) -> int | None:
    """Make and score every generated keyframe before any video is made.  Under
    --strict a keyframe none of whose tries reached its minimum stops the build
    here (exit 1), before a single video node runs; otherwise it is said and the
    best try is animated.  A keyframe that fails to be made is left to the full
    run, which reports it with the rest."""
    made = job.plan.of_class(Keyframe)
    if not made:
        return None
    quiet = Progress(len(job.plan.timeline.shots), mode="quiet")
    first = execute(job.plan.upstream([k.id for k in made]), job.script.parent, cache,
                    keep_going=True, progress=quiet, context=context)  # fmt: skip
    below = [
        report.keyframe_problem(node.shot or "", first.outputs[node.id].meta)
        for node in made
        if node.id in first.outputs and first.outputs[node.id].meta.get("reached") is False
    ]
    if not (below and job.strict):
        return None
    for problem in below:
        print(f"error: {problem}", file=sys.stderr)
    print(
        f"director: --strict: {len(below)} keyframe(s) below their consistency minimum; "
        "no video was made (`director storyboard` shows every try)",
        file=sys.stderr,
    )
    return EXIT_FAILED


class _Timed(Progress):
    """The run's progress, also keeping how long each node it made took."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seconds: dict[str, float] = {}

    def done(self, node, seconds: float, reused: bool) -> None:
        if not reused:
            self.seconds[node.id] = seconds
        super().done(node, seconds, reused)


def _delivered(job: Job, made: dict[str, Entry], cache: Cache, work: Path) -> delivery.Delivered:
    """The film as delivered (delivery.py), muxed in `work` from the mux node's inputs
    and the delivery's cache entry (made first when missing)."""
    mux = job.plan.node(job.plan.output)
    picture_id, mix_id = mux.inputs
    picture = made[picture_id].file(made[picture_id].meta["picture"])
    settings = job.delivery or default_delivery(job.plan)
    codec = mux.params.codec
    digest = delivery.key(job.plan.node(picture_id).hash, job.plan.node(mix_id).hash, codec,
                          settings)  # fmt: skip
    prepared = cache.get(digest)
    if prepared is None:
        staged = cache.stage(digest)
        try:
            fps = Fraction(job.plan.fps_num, job.plan.fps_den)
            meta = delivery.prepare(
                picture, made[mix_id].folder, codec, settings, fps, staged, work / "scratch"
            )
        except BaseException as error:
            cache.discard(staged)
            # libsndfile says "System error" for a full disk: disk_full looks at the disk.
            if disk_full(error, cache.root):
                raise DiskFull(mux, error) from error
            if disk_full(error, work.parent):  # the scratch master, beside the film
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(work)) from error
            raise
        prepared = cache.commit(digest, staged, "deliver", meta)
    return delivery.deliver(job.plan, picture, prepared, codec, settings, work)


def default_delivery(plan: Plan) -> delivery.Delivery:
    return delivery.Delivery(timecode=timecode.parse(None, Fraction(plan.fps_num, plan.fps_den)))


def _write_record(job: Job, cache: Cache, result, seconds: dict[str, float], sound: dict) -> bool:
    """Write NAME.run.json (every score, seed and decision, and the sound's loudness)
    and NAME.report.html beside the film; warn about shots kept below their
    consistency minimum, and under --strict refuse to deliver the film because of
    them."""
    base = _base(job)
    record = report.build_record(
        job.plan, result.outputs.get, seconds=seconds, reused=set(result.reused)
    )
    record["sound"] = sound
    # Where it was made, so `director export NAME.plan.json` finds the media.
    record["made_with"] = {"cache": str(job.cache.resolve()), "project": str(job.script.parent)}
    base.parent.mkdir(parents=True, exist_ok=True)
    _write_text(base.with_name(base.name + ".run.json"), json.dumps(record, indent=1) + "\n")
    page = report.render_report(record, cache, job.script.parent)
    _write_text(base.with_name(base.name + ".report.html"), page)
    problems = report.warnings(record)
    for problem in problems:
        print(f"{'error' if job.strict else 'warning'}: {problem}", file=sys.stderr)
    if problems and job.strict:
        print(
            f"director: --strict: {len(problems)} shot(s) below their consistency minimum; "
            f"the film was not written (see {base.name}.report.html)",
            file=sys.stderr,
        )
        return False
    return True


def dry_run(job: Job) -> int:
    if (problem := refusal(job)) is not None:
        print(f"director: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    try:
        cache = Cache(job.cache)
    except CacheError as error:
        print(f"director: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    reasons = explain(job.plan, cache, _previous_plan(job))
    if not reasons:
        print("nothing to do: every node is in the cache")
        return EXIT_OK
    for node, why in reasons:
        print(f"{node.op:<11} {node.id}: {why}")
    generate = sum(isinstance(node, Generate) for node, _ in reasons)
    print(f"{len(reasons)} nodes would run, {generate} of them generation")
    print(f"estimate for the whole plan: {budget.summary(job.plan)}")
    if (spend := hosted.summary(job.plan, lambda node: cache.has(node.hash))) is not None:
        print(f"cost: {spend}")
        for line in hosted.per_shot(job.plan):
            print(line)
    if job.executor == "ray":
        try:
            workers = job.workers or ray_executor.cluster_workers(
                job.plan, job.address, job.runtime
            )
        except ray_executor.ClusterError as error:
            print(f"director: error: {error}", file=sys.stderr)
            return EXIT_FAILED
        todo = {node.id for node, _ in reasons}
        for line in ray_executor.describe(job.plan, workers, lambda n: n.id not in todo):
            print(line)
    return EXIT_OK


def _base(job: Job) -> Path:
    """The film's path without its suffix: the files beside it add theirs to it."""
    return job.output.with_suffix("") if job.output.suffix else job.output


def _deliver(source: Path, target: Path) -> None:
    """Copy into place through a temporary name, so the target is whole or absent."""
    if source.is_dir():
        outputs.copy_folder(source, target)
    else:
        outputs.copy_file(source, target)


def _write_sidecars(job: Job, made, sound: dict, work: Path) -> None:
    base = _base(job)
    _write_text(base.with_name(base.name + ".plan.json"), job.plan.to_json())
    if job.plan.timeline.dialogue:
        _write_subtitles(base.with_name(base.name + ".srt"), job, assemble.write_srt)
        # WebVTT names each speaker with a <v NAME> voice span, which players use for styling
        _write_subtitles(base.with_name(base.name + ".vtt"), job, assemble.write_vtt, speakers=True)
    if job.stems:
        mix = made["film/mix"]
        delivery.write_stems(mix.folder, sound, work / "stems")
        _deliver(work / "stems", base.with_name(base.name + ".stems"))


def _write_timelines(job: Job, outputs: dict[str, Entry]) -> bool:
    base = _base(job)
    media = shot_media(job.plan, outputs.get, job.script.parent)
    try:
        record = (job.delivery or default_delivery(job.plan)).timecode
        warnings = export_timeline(
            job.plan, media, job.timelines, base.with_name(base.name + ".media"), record
        )
    except ExportError as error:
        print(f"director: error: {error}", file=sys.stderr)
        return False
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if job.progress != "quiet":
        for path in job.timelines:
            print(f"wrote {path}", file=sys.stderr)
    return True


def shot_media(plan: Plan, entry: Callable[[str], Entry | None], root: Path) -> Media:
    """The rendered media of a plan's shots and cues, from the node outputs `entry` finds
    (a run's outputs, or the cache): each shot's `select` picture, its scratch voice or
    its backend's own sound, and each cue's asset file (or `root` / its path)."""
    pictures, sounds, cues = {}, {}, {}
    for shot in plan.timeline.shots:
        select = entry(shot_node(shot.shot, "select"))
        if select is not None:
            pictures[shot.shot] = select.file("clip.mp4")
        voice = entry(shot_node(shot.shot, "voice"))
        if voice is not None:
            sounds[shot.shot] = voice.file("audio.wav")
        elif select is not None and select.file("audio.wav").exists():
            sounds[shot.shot] = select.file("audio.wav")
    for cue in plan.timeline.cues:
        asset = entry(asset_node(cue.path))
        cues[cue.path] = Path(asset.meta["path"]) if asset is not None else root / cue.path
    return Media(pictures, sounds, cues)


def _write_subtitles(path: Path, job: Job, writer, **options) -> None:
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        writer(job.plan.timeline, temporary, **options)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


_write_text = outputs.write_text


def _record(job: Job) -> Path:
    key = hashlib.sha256(str(job.script).encode()).hexdigest()[:16]
    return job.cache / "plans" / f"{job.script.stem}-{key}.json"


def _remember(job: Job, cache: Cache) -> None:
    """Keep this plan so that the next --dry-run can say what changed."""
    record = _record(job)
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
        _write_text(record, job.plan.to_json())
    except OSError:  # only --dry-run's explanations need it: never worth failing a compile
        pass


def _previous_plan(job: Job) -> Plan | None:
    try:
        return Plan.model_validate_json(_record(job).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
