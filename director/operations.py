"""What each plan operation does when the runtime executes it.

The work behind each operation class's `run` (director/plan_nodes.py): it
reads its inputs' cache entries, writes its own files into the staging folder
`out`, and returns a small dict of metadata for its manifest.  Scheduling,
caching and reporting live in `run.py`; this module only does the work.
Parameters are read from each node's typed `params`, inputs by the roles its
class names.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile

from backends import registry
from backends.base import Backend, CharacterRefs, Placement, ShotRequest, is_out_of_memory

from . import assemble, voice
from .cache import Entry
from .clips import DELIVERY, count_frames, last_frame, read_frames, write_clip
from .consistency import sample_indices
from .media import kind_of
from .plan import Plan
from .plan_nodes import (
    Assemble,
    Asset,
    Consistency,
    Generate,
    Join,
    Keyframe,
    Mix,
    Mux,
    Node,
    NodeId,
    Segment,
    Select,
    Transition,
    Voice,
)
from .spec import CameraMove

CLIP, AUDIO, KEYFRAME = "clip.mp4", "audio.wav", "keyframe.png"


class OperationError(Exception):
    """A node could not be made; the message says why in the user's terms."""


@dataclass
class RunContext:
    plan: Plan
    root: Path  # the project folder: asset paths are relative to it
    # Backend name → constructor settings that say how and where a backend runs
    # (its model folder, device, dtype, offload), merged into the plan's options.
    # They never enter the plan, so they change no cache key.
    runtime: dict[str, dict] = field(default_factory=dict)
    backend_calls: Counter = field(default_factory=Counter)  # shot id → generate calls
    _backends: dict[str, Backend] = field(default_factory=dict)
    _makers: dict[str, object] = field(default_factory=dict)  # image backends, see image_maker
    _assets: dict[str, tuple[str, str]] | None = None  # asset node id → (path, sha256)

    @property
    def fps(self) -> Fraction:
        return Fraction(self.plan.fps_num, self.plan.fps_den)

    def image_maker(self, name: str, options: dict):
        """The image backend called `name`, made once per set of options (a model is
        loaded once for every keyframe of a run)."""
        from backends import image

        key = f"image:{name}:{json.dumps(options, sort_keys=True)}"
        if key not in self._makers:
            self._makers[key] = image.get(name)(**options, **self.runtime.get(name, {}))
        return self._makers[key]

    def backend(self, name: str, options: dict) -> Backend:
        key = f"{name}:{json.dumps(options, sort_keys=True)}"
        if key not in self._backends:
            self._backends[key] = registry.get(name)(**options, **self.runtime.get(name, {}))
        return self._backends[key]

    def asset(self, node_id: str) -> tuple[str, str] | None:
        """(path, sha256) the script was checked with, if `node_id` is an asset node."""
        if self._assets is None:
            self._assets = {
                n.id: (n.params.path, n.params.sha256) for n in self.plan.of_class(Asset)
            }
        return self._assets.get(node_id)

    def keyframe_files(self, node_ids: list[NodeId], inputs: Inputs) -> dict[str, Path]:
        """The accepted pictures of the `keyframe` nodes among `node_ids`, by node id
        (as a window's `shot.keyframe_first` names them)."""
        return {
            node_id: inputs[node_id].file(KEYFRAME)
            for node_id in node_ids
            if isinstance(self.plan.get(node_id), Keyframe)
        }

    def asset_files(self, node_ids: list[NodeId], inputs: Inputs) -> dict[str, Path]:
        """The files of the asset nodes among `node_ids`, by their paths in the script."""
        files = {}
        for node_id in node_ids:
            node = self.plan.get(node_id)
            if isinstance(node, Asset):
                files[node.params.path] = Path(inputs[node_id].meta["path"])
        return files


Inputs = dict[str, Entry]


# ------------------------------------------------------------------ sources


def asset(node: Asset, ctx: RunContext) -> dict:
    """Verify a project file still has the content the plan was made from."""
    path = ctx.root / node.params.path
    if _sha256(path) != node.params.sha256:
        raise OperationError(
            f"{node.params.path} changed on disk after the script was checked; compile again"
        )
    return {"path": str(path)}


def check_assets(node: Node, ctx: RunContext) -> None:
    """After `node` is made and before it is cached: every project file it read still
    has the content the script was checked with.  An asset node reused from the
    cache proves nothing about the file now, and a file may change mid-run."""
    for input_id in node.inputs:
        asset = ctx.asset(input_id)
        if asset is None:
            continue
        relative, planned = asset
        if _sha256(ctx.root / relative) != planned:
            raise OperationError(
                f"{relative} changed on disk during the run (its SHA-256 is no longer the "
                "one the script was checked with), so what was made from it is not kept; "
                "compile again"
            )


def _sha256(path: Path) -> str:
    try:
        stat = path.stat()
        return _sha256_of(path, stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns,
                          stat.st_ctime_ns)  # fmt: skip
    except OSError as error:
        raise OperationError(f"cannot read {path}: {error.strerror or error}") from None


@lru_cache(maxsize=4096)
def _sha256_of(path: Path, *_identity) -> str:
    # The file's identity and times are part of the key: any write (even one that
    # restores the old modification time) changes the inode's ctime, so a file is
    # hashed again exactly when it may have changed.
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


# --------------------------------------------------------------- generation


RESEEDS = 2  # new seeds tried after NaN or black frames, before the node fails
BLACK = 4  # a frame whose brightest value is at most this is black


class BadFrames(Exception):
    """A backend made frames no film wants: NaN, or nothing but black."""


def generate(node: Generate, inputs: Inputs, ctx: RunContext, out: Path) -> dict:
    """Make one window of one take.  Out of memory: retried at the backend's next
    memory level.  NaN or all-black frames: retried with a new seed.  Each retry
    is recorded in the entry's metadata (`retries`), with the seed it ended on."""
    params = node.params
    files = _window_files(node, inputs, ctx)
    request = _request(node, inputs, files)
    assets = {file: path for path, file in files.items()}
    backend = ctx.backend(params.backend, params.options)
    levels = backend.capabilities.memory_levels
    seeds = [request.seed] + [_retry_seed(request.seed, k) for k in range(1, RESEEDS + 1)]
    retries: list[dict] = []
    level = tried = 0
    while True:
        attempt = replace(request, seed=seeds[tried], memory_level=level)
        ctx.backend_calls[request.shot_id] += 1
        try:
            made = _generate_once(backend, attempt, out, _rate(params.fps), assets)
            break
        except BadFrames as bad:
            _empty(out)
            tried += 1
            if tried == len(seeds):
                raise OperationError(
                    f"the {backend.name} backend made {bad} with each of the seeds "
                    f"{', '.join(map(str, seeds))}"
                ) from None
            then = f"retrying with seed {seeds[tried]}"
            retries.append({"problem": str(bad), "seed": attempt.seed, "memory_level": level,
                            "then": then})  # fmt: skip
        except Exception as error:
            if not is_out_of_memory(error):
                raise
            _empty(out)
            backend.release_memory()
            if level + 1 >= levels:
                lowest = "its only memory setting" if levels == 1 else f"memory level {level}"
                raise OperationError(
                    f"the {backend.name} backend ran out of memory at {lowest} "
                    f"({request.width}x{request.height}, {request.frames} frames)"
                ) from None
            level += 1
            then = f"retrying at memory level {level}"
            retries.append({"problem": "out of memory", "seed": attempt.seed,
                            "memory_level": level - 1, "then": then})  # fmt: skip
    return {**made, "fps": params.fps, "seed": attempt.seed, "memory_level": level,
            "retries": retries}  # fmt: skip


def keyframe(node: Keyframe, inputs: Inputs, ctx: RunContext, out: Path) -> dict:
    """Make a shot's keyframe with its image backend and score it against the
    characters' references; below the minimum, remake it with new seeds (up to
    `max_retries`) and accept the best try.  Every try stays in the entry, with
    its seed and score, for the report."""
    from backends import image

    params = node.params
    files = ctx.asset_files(node.inputs, inputs)
    maker = ctx.image_maker(params.maker, params.maker_options)
    references = _chosen_references(node, files)
    anchors = _anchor_appearances(node, inputs)
    cast = [
        CharacterRefs(c.name, tuple(files[p] for p in c.refs if p in files))
        for c in params.shot.characters
    ]
    tries: list[dict] = []
    for attempt in range(1 + params.max_retries):
        seed = params.seed if attempt == 0 else _retry_seed(params.seed, attempt)
        request = image.ImageRequest(
            shot_id=params.shot.id, end=params.end, size=params.shot.size,
            prompt=params.prompt, seed=seed, width=params.width, height=params.height,
            plate=files.get(params.shot.plate or ""), characters=tuple(cast),
            references=tuple(references),
        )  # fmt: skip
        picture = maker.make(request).convert("RGB")
        name = f"try{attempt}.png"
        picture.save(out / name)
        tries.append({"try": attempt, "seed": seed, "file": name,
                      **_still_score(node, picture, files, anchors)})  # fmt: skip
        minimum, score = params.min_consistency, tries[-1]["score"]
        if minimum is None or score is None or score >= minimum:
            break
    best = max(range(len(tries)), key=lambda k: (tries[k]["score"] or 0.0, -k))
    _link(out / tries[best]["file"], out / KEYFRAME)
    score = tries[best]["score"]
    minimum = params.min_consistency
    return {
        "file": KEYFRAME,
        "end": params.end,
        "accepted": best,
        "seed": tries[best]["seed"],
        "score": score,
        "minimum": minimum,
        "reached": None if minimum is None or score is None else score >= minimum,
        "tries": tries,
        **({"references": [str(p) for p in references]} if params.max_references else {}),
    }


def _still_score(node: Keyframe, picture, files: dict[str, Path], anchors: dict) -> dict:
    """A keyframe's characters scored against their references, as a take's frames are,
    and against their accepted keyframes in earlier shots (`anchors`: by character,
    {embedder, vector}): each character's score is the lower of the two."""
    from . import consistency as scoring

    params = node.params
    if not params.characters:
        return {"score": None, "characters": {}}
    cast = [
        scoring.Character(name, [files[path] for path in refs])
        for name, refs in zip(params.characters, params.refs, strict=True)
    ]
    try:
        scored = scoring.score_frames([np.asarray(picture)], cast, params.embedder, params.model)
    except scoring.EmbedderUnavailable as error:
        raise OperationError(str(error)) from None
    measured = {c.name: {**c.to_json(), "appearance": c.appearance} for c in scored.characters}
    judged = scoring.judge(measured, anchors)
    looks = {
        c.name: {"embedder": c.embedder, "vector": [round(v, 6) for v in c.appearance]}
        for c in scored.characters
        if c.appearance is not None
    }
    return {
        "score": round(judged.score, 4),
        "characters": {name: verdict["score"] for name, verdict in judged.characters.items()},
        **({"drift": {n: v["drift"] for n, v in judged.characters.items()}} if anchors else {}),
        "appearance": looks,
    }


def _anchor_appearances(node: Keyframe, inputs: Inputs) -> dict[str, dict]:
    """Each anchored character's appearance in the accepted try of its earlier keyframe."""
    found = {}
    for character, anchor in node.params.anchors.items():
        made = inputs[anchor].meta
        look = made["tries"][made["accepted"]].get("appearance", {}).get(character)
        if look is not None:
            found[character] = look
    return found


def _chosen_references(node: Keyframe, files: dict[str, Path]) -> list[Path]:
    """The reference pictures the image backend reads: all of them within its limit;
    above it, the most representative of each character's (and then the location's),
    taken in turn, as the consistency embedder ranks them."""
    from . import consistency as scoring

    params = node.params
    wanted = [files[p] for p in params.references]
    if params.max_references is None or len(wanted) <= params.max_references:
        return wanted
    groups = [[files[p] for p in c.refs if p in params.references] for c in params.shot.characters]
    owned = {path for group in groups for path in group}
    groups.append([path for path in wanted if path not in owned])
    try:
        ranked = [
            scoring.most_representative(group, params.embedder, params.model) for group in groups
        ]
    except scoring.EmbedderUnavailable as error:
        raise OperationError(str(error)) from None
    chosen: list[Path] = []
    while len(chosen) < params.max_references and any(ranked):
        for group in ranked:
            if group and len(chosen) < params.max_references:
                chosen.append(group.pop(0))
    return chosen


def _generate_once(
    backend: Backend, request: ShotRequest, out: Path, fps: Fraction, assets: dict[Path, str]
) -> dict:
    result = backend.generate(request)
    frames = _checked(result.frames, request.frames, backend.black_is_failure)
    # The frames consistency scoring samples are keyframes, so it decodes only them.
    samples = sample_indices(request.frames, float(fps))
    written = write_clip(out / CLIP, frames, fps, keyframes=set(samples))
    if written != request.frames:
        raise OperationError(
            f"the {backend.name} backend made {written} frames instead of {request.frames}"
        )
    if result.audio is not None:
        if not np.isfinite(result.audio).all():
            raise BadFrames("NaN in its sound")
        soundfile.write(out / AUDIO, result.audio, result.sample_rate, subtype="FLOAT")
    made: dict[str, object] = {"frames": written, "audio": result.audio is not None}
    if result.placements is not None:
        made["placements"] = _placements(result.placements(samples), assets)
    return made


def _placements(placed: list[Placement], assets: dict[Path, str]) -> list[dict]:
    """Where the backend drew each character's reference picture in the sampled
    frames, for consistency scoring to look there first.  A reference is named as
    the script names it (`assets`: its asset path by file), so the record is the
    same on any machine."""
    return [
        {"frame": p.frame, "character": p.character, "ref": assets[Path(p.ref)],
         "box": [round(float(v), 2) for v in p.box]}
        for p in placed
        if Path(p.ref) in assets
    ]  # fmt: skip


def _checked(frames, count: int, black_is_failure: bool) -> Iterator[np.ndarray]:
    """At most `count` frames (so a backend that overshoots cannot grow the cache),
    each checked as it streams: float frames for NaN (then made uint8), and the
    whole clip, if `black_is_failure`, for being black from end to end."""
    black, seen = True, 0
    for frame in frames:
        if seen >= count:
            break
        frame = np.asarray(frame)
        if frame.dtype.kind == "f":
            if not np.isfinite(frame).all():
                raise BadFrames(f"NaN in frame {seen}")
            frame = (np.clip(frame, 0.0, 1.0) * 255).round().astype(np.uint8)
        black = black and int(frame.max(initial=0)) <= BLACK
        seen += 1
        yield frame
    if black and seen > 0 and black_is_failure:
        raise BadFrames("black frames only")


def _retry_seed(seed: int, attempt: int) -> int:
    """The seed of retry `attempt`: a fixed function of the planned seed, so a rerun
    that meets the same bad output makes the same bytes."""
    digest = hashlib.sha256(f"{seed}:retry{attempt}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def _empty(folder: Path) -> None:
    """Remove what a failed attempt left in the staging folder."""
    for path in folder.iterdir():
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


def shot_request(node: Generate, inputs: Inputs, ctx: RunContext) -> ShotRequest:
    """The backend's request for one window, as `generate` makes it first (a hosted
    node's request is sent ahead of its conforming: remote.py)."""
    return _request(node, inputs, _window_files(node, inputs, ctx))


def _window_files(node: Generate, inputs: Inputs, ctx: RunContext) -> dict[str, Path]:
    files = ctx.asset_files(node.assets, inputs)
    return files | ctx.keyframe_files(node.assets, inputs)


def _request(node: Generate, inputs: Inputs, files: dict[str, Path]) -> ShotRequest:
    """The backend's request for one window; `files` are its assets' files by path."""
    params, shot, window = node.params, node.params.shot, node.params.window
    first, last = window.index == 0, window.last

    def file(path: str | None) -> Path | None:
        return files[path] if path else None

    refs = [files[p] for p in shot.refs]
    prompt = inputs[node.prompt].meta
    return ShotRequest(
        shot_id=shot.id,
        size=shot.size,
        prompt=prompt["text"],
        negative=prompt["negative"],
        seed=params.seed,
        width=params.width,
        height=params.height,
        fps=params.fps,
        frames=params.frames,
        camera=tuple(
            CameraMove(**move.model_dump(exclude={"start"}), start=move.start - window.start)
            for move in shot.camera
        ),
        plate=file(shot.plate),
        characters=tuple(
            CharacterRefs(c.name, tuple(files[p] for p in c.refs)) for c in shot.characters
        ),  # fmt: skip
        reference_images=tuple(p for p in refs if kind_of(str(p)) == "image"),
        reference_video=tuple(p for p in refs if kind_of(str(p)) == "video"),
        reference_audio=tuple(p for p in refs if kind_of(str(p)) == "audio"),
        keyframe_first=file(shot.keyframe_first) if first else None,
        keyframe_last=file(shot.keyframe_last) if last else None,
        previous_frame=last_frame(inputs[node.previous].file(CLIP)) if node.previous else None,
        dialogue=tuple(
            line.model_dump() | {"start": line.start - window.start} for line in shot.dialogue
        ),
        **(shot.framing.model_dump() if shot.framing else {}),
    )


def _rate(value) -> Fraction:
    if isinstance(value, list):
        return Fraction(value[0], value[1])
    return Fraction(value).limit_denominator(1001)


def join(node: Join, inputs: Inputs, out: Path) -> dict:
    """Windows of a long shot blended into one clip across their overlaps."""
    overlap = node.params.overlap
    clips = [inputs[i].file(CLIP) for i in node.inputs]
    fps = _rate(inputs[node.inputs[0]].meta["fps"])
    written = write_clip(out / CLIP, _blend_windows(clips, overlap), fps)
    return {"frames": written, "fps": inputs[node.inputs[0]].meta["fps"]}


def _blend_windows(clips: list[Path], overlap: int) -> Iterator[np.ndarray]:
    """Each window's head cross-faded with the previous window's tail.  Only the
    overlap is held in memory."""
    tail: list[np.ndarray] = []
    for index, clip in enumerate(clips):
        frames = read_frames(clip)
        for k, previous in enumerate(tail):
            weight = (k + 1) / (len(tail) + 1)
            current = next(frames).astype(np.float32)
            yield (previous * (1 - weight) + current * weight).round().astype(np.uint8)
        keep = overlap if index < len(clips) - 1 else 0
        held: deque[np.ndarray] = deque()
        for frame in frames:
            held.append(frame)
            if len(held) > keep:
                yield held.popleft()
        tail = [frame.astype(np.float32) for frame in held]


def consistency(node: Consistency, inputs: Inputs, ctx: RunContext, out: Path) -> dict:
    """Score a take's characters against their reference images (director/consistency.py).

    The take's files travel on (as links) so that `select` reads every take the
    same way; a few sampled frames, with each character's region outlined, are
    kept as thumbnails for the report."""
    from . import consistency as scoring

    take = inputs[node.take]
    for name in (CLIP, AUDIO):
        if take.file(name).exists():
            _link(take.file(name), out / name)
    params = node.params
    files = ctx.asset_files(node.inputs, inputs)
    cast = [
        scoring.Character(name, [files[path] for path in refs])
        for name, refs in zip(params.characters, params.refs, strict=True)
    ]
    placements = [
        Placement(p["frame"], p["character"], files[p["ref"]], tuple(p["box"]))
        for p in take.meta.get("placements", [])
        if p["ref"] in files
    ]
    try:
        scored = scoring.score_clip(
            take.file(CLIP), cast, params.embedder, params.model, placements
        )
    except scoring.EmbedderUnavailable as error:
        raise OperationError(str(error)) from None
    (out / "frames").mkdir()
    thumbnails = []
    for index, image in enumerate(scored.thumbnails):
        thumbnails.append(f"frames/{index:02d}.jpg")
        image.save(out / thumbnails[-1], quality=85)
    return {
        "score": min((c.score for c in scored.characters), default=None),
        "embedder": params.embedder,
        "frames": scored.frames,
        "fps": take.meta.get("fps"),
        "seconds": round(scored.seconds, 3),
        "characters": {
            c.name: c.to_json() | {"appearance": c.appearance} for c in scored.characters
        },
        "thumbnails": thumbnails,
    }


def _link(source: Path, target: Path) -> None:
    """A hard link where the file system allows it (cache entries never change), else a copy."""
    try:
        target.hardlink_to(source)
    except OSError:
        shutil.copyfile(source, target)


def select(node: Select, inputs: Inputs, ctx: RunContext, out: Path) -> dict:
    """Keep the best take and conform it to the film's size, rate and the shot's length.

    Each scored take is judged (director/consistency.py `judge`): per character
    the lower of its score against its references and against its accepted
    appearance in its first shot; a take scores its worst character's.  When a
    minimum is set and no take reaches it, more takes are made, up to
    `max_retries`, as nodes derived from take 0's with seeds seed + takes + r:
    cache entries like any other, so a recompile finds them and repeats the
    same choice.  Every candidate, score, seed and the decision go in the meta."""
    params = node.params
    takes = params.takes
    accepted = {
        name: inputs[anchor].meta["appearances"][name]
        for name, anchor in params.drift.items()
        if name in inputs[anchor].meta.get("appearances", {})
    }
    candidates = [
        _candidate(node, ctx, k, take_id, inputs[take_id], accepted)
        for k, take_id in enumerate(node.takes)
    ]
    minimum = params.min_consistency
    scored = candidates[0]["score"] is not None
    retries = 0
    while (
        scored and minimum is not None and retries < params.max_retries
        and max(c["score"] for c in candidates) < minimum
    ):  # fmt: skip
        take_id, entry = _retry(node, ctx, inputs, takes + retries)
        candidates.append(_candidate(node, ctx, takes + retries, take_id, entry, accepted))
        retries += 1
        candidates[-1]["retry"] = retries
    best = 0
    if scored:
        best = max(range(len(candidates)), key=lambda k: (candidates[k]["score"], -k))
    clip = candidates[best]["_clip"]
    measured = candidates[best]["_measured"]
    for candidate in candidates:
        del candidate["_clip"], candidate["_measured"]
    chosen = candidates[best]
    fps = Fraction(*params.fps)
    size = (params.width, params.height)
    conformed = _conform(clip, size, fps, params.frames, out / CLIP)
    audio = clip.parent / AUDIO
    if audio.exists():
        _conform_audio(audio, params.frames / fps, out / AUDIO)
    return {
        "take": chosen["take"],
        "seed": chosen["seed"],
        "score": chosen["score"],
        "minimum": minimum,
        "reached": None if not scored or minimum is None else chosen["score"] >= minimum,
        "extra_takes": retries,  # made because no planned take reached the minimum
        "decision": _decision(candidates, best, minimum, retries),
        "candidates": candidates,
        # How each character looked in the chosen take: later shots measure drift from it.
        "appearances": {
            name: {"embedder": m["embedder"], "vector": m["appearance"]}
            for name, m in measured.items()
            if m.get("appearance")
        },
        "frames": conformed,
        "fps": params.fps,
    }


def _candidate(node: Select, ctx: RunContext, take: int, take_id: str, entry: Entry,
               accepted: dict) -> dict:  # fmt: skip
    """One take as `select` sees it: its seed, its judged scores, where its files are."""
    from . import consistency as scoring

    first = node.first_window(ctx.plan)
    measured = entry.meta.get("characters") or {}
    candidate = {
        "take": take,
        "seed": first.params.seed + take if first is not None else None,
        "retry": 0,
        "node": take_id,
        "entry": entry.folder.name,
        "score": None,
        "characters": {},
        "scoring_seconds": entry.meta.get("seconds"),
        "_clip": entry.file(CLIP),
        "_measured": measured,
    }
    if measured:
        judged = scoring.judge(measured, accepted)
        candidate["score"] = judged.score
        candidate["worst"] = judged.worst()
        candidate["characters"] = {
            name: judged.characters[name]
            | {k: v for k, v in measured[name].items() if k not in ("appearance", "score")}
            for name in judged.characters
        }
    return candidate


def _decision(candidates: list[dict], best: int, minimum: float | None, retries: int) -> str:
    """Why this take, in a sentence."""
    chosen = candidates[best]
    if chosen["score"] is None:
        if len(candidates) == 1:
            return "one take; no character with reference images to measure"
        return "takes not measured (no character with reference images): kept take 0"
    what = f"take {chosen['take']} scored {chosen['score']:.2f}"
    if chosen.get("worst") and len(chosen["characters"]) > 1:
        what += f" (its worst character, {chosen['worst']})"
    if len(candidates) == 1:
        sentence = f"{what}, the only take"
    else:
        others = ", ".join(
            f"take {c['take']}: {c['score']:.2f}" for k, c in enumerate(candidates) if k != best
        )
        made = f", {retries} of them retries" if retries else ""
        sentence = f"{what}, the best of {len(candidates)} takes{made} ({others})"
    if minimum is None:
        return sentence + "; no minimum set"
    if chosen["score"] >= minimum:
        return sentence + f"; reaches the minimum {minimum:.2f}"
    return (
        sentence + f"; below the minimum {minimum:.2f} after {retries} "
        f"retr{'y' if retries == 1 else 'ies'}: kept the best"
    )


def _retry(node: Select, ctx: RunContext, inputs: Inputs, take: int) -> tuple[str, Entry]:
    """Make take number `take` of a shot, beyond its planned takes (`Select.extra_take`),
    through the cache: found there when a run made it before."""
    from .cache import Cache

    # The cache this run uses: every entry lives at <cache>/entries/<ab>/<hash>.
    cache = Cache(inputs[node.inputs[0]].folder.parents[2])
    made: dict[str, Entry] = {}
    nodes = node.extra_take(ctx.plan, take)
    for clone in nodes:
        entries: Inputs = {}
        for source in clone.inputs:
            entry = made[source] if source in made else cache.get(ctx.plan.node(source).hash)
            if entry is None:
                raise OperationError(f"{source} is missing from the cache; compile again")
            entries[source] = entry
        made[clone.id] = _make(clone, entries, ctx, cache)
    return nodes[-1].id, made[nodes[-1].id]


def _make(node: Node, inputs: Inputs, ctx: RunContext, cache) -> Entry:
    """A node's entry from the cache, or made now and committed to it."""
    entry = cache.get(node.hash)
    if entry is not None:
        return entry
    staged = cache.stage(node.hash)
    try:
        meta = node.run(inputs, ctx, staged)
    except BaseException:
        cache.discard(staged)
        raise
    return cache.commit(node.hash, staged, node.op, meta)


def _conform(clip: Path, size: tuple[int, int], fps: Fraction, frames: int, out: Path) -> int:
    source_fps = _clip_rate(clip)
    source_frames = count_frames(clip)
    first = next(read_frames(clip, 0, 1))
    same_size = (first.shape[1], first.shape[0]) == size
    if same_size and source_fps == fps and source_frames == frames:
        _link(clip, out)
        return frames
    return write_clip(out, _resampled(clip, size, source_fps, fps, frames), fps)


def _resampled(clip, size, source_fps, fps, frames) -> Iterator[np.ndarray]:
    from PIL import Image

    wanted = [min(int(i * source_fps / fps), 10**9) for i in range(frames)]
    frame = None
    source = read_frames(clip)
    index = -1
    for target in wanted:
        while index < target:
            try:
                frame = next(source)
            except StopIteration:
                break  # hold the last frame when the take is short
            index += 1
        if frame is None:
            raise OperationError(f"{clip} has no frames")
        yield np.asarray(_cover(Image.fromarray(frame), size))


def _cover(image, size: tuple[int, int]):
    """Scale to cover `size` and crop the centre: no letterboxing, no distortion."""
    width, height = size
    scale = max(width / image.width, height / image.height)
    resized = image.resize((round(image.width * scale), round(image.height * scale)))
    left, top = (resized.width - width) // 2, (resized.height - height) // 2
    return resized.crop((left, top, left + width, top + height))


def _clip_rate(clip: Path) -> Fraction:
    import av

    with av.open(str(clip)) as container:
        rate = container.streams.video[0].average_rate
    if rate is None:
        raise OperationError(f"{clip} has no frame rate")
    return Fraction(rate)


def _conform_audio(audio: Path, seconds: Fraction, out: Path) -> None:
    data, rate = soundfile.read(audio, dtype="float32", always_2d=True)
    samples = round(seconds * rate)
    data = data[:samples]
    if len(data) < samples:
        data = np.vstack([data, np.zeros((samples - len(data), data.shape[1]), np.float32)])
    soundfile.write(out, data, rate, subtype="FLOAT")


# ------------------------------------------------------------- sound and cut


def voice_track(node: Voice, out: Path) -> dict:
    params = node.params
    lines = [line.model_dump() for line in params.lines]
    frames = max(line.start + line.frames for line in params.lines)
    samples = voice.synthesize(lines, Fraction(*params.fps), params.sample_rate, frames)
    soundfile.write(out / AUDIO, samples, params.sample_rate, subtype="FLOAT")
    return {"seconds": len(samples) / params.sample_rate}


def segment(node: Segment, inputs: Inputs, ctx: RunContext, out: Path) -> dict:
    params = node.params
    codec = DELIVERY[params.codec]
    clip = out / f"piece{codec.suffix}"
    source = inputs[node.select].file(CLIP)
    assemble.render_segment(source, params.start, params.end, clip, ctx.fps, codec)
    return {"piece": clip.name}


def transition(node: Transition, inputs: Inputs, ctx: RunContext, out: Path) -> dict:
    params = node.params
    codec = DELIVERY[params.codec]
    clip = out / f"piece{codec.suffix}"
    before, after = (inputs[end].file(CLIP) if end else None for end in node.ends)
    assemble.render_transition(params.kind, params.frames, before, after, clip, ctx.fps, codec)
    return {"piece": clip.name}


def assemble_cut(node: Assemble, inputs: Inputs, out: Path) -> dict:
    pieces = [inputs[i].file(inputs[i].meta["piece"]) for i in node.inputs]
    codec = DELIVERY[node.params.codec]
    video = out / f"picture{codec.suffix}"
    assemble.concat(pieces, video)
    return {"picture": video.name}


def mix(node: Mix, inputs: Inputs, ctx: RunContext, out: Path) -> dict:
    timeline = ctx.plan.timeline
    cues, voices, selects = node.sources(ctx.plan)
    cue_files = ctx.asset_files(cues, inputs)
    starts = {s.shot: s.start for s in timeline.shots}

    def placed(node_id: str) -> tuple[int, Path]:
        return starts[ctx.plan.node(node_id).shot or ""], inputs[node_id].file(AUDIO)

    shot_audio = [placed(i) for i in selects if inputs[i].file(AUDIO).exists()]
    assemble.mix(
        timeline, cue_files, [placed(i) for i in voices], shot_audio, node.params.duck_db,
        out / "mix.wav", stems=out / "stems",
    )  # fmt: skip
    meta = {"audio": "mix.wav"}
    codec = node.params.codec
    if codec != "png":
        # Coded for the film now, while the shots are still being made elsewhere,
        # so the mux at the end only copies (the Ray executor's workers are idle then).
        meta["sound"] = f"sound{DELIVERY[codec].suffix}"
        assemble.encode_sound(out / "mix.wav", out / meta["sound"], codec)
    return meta


def mux(node: Mux, inputs: Inputs, out: Path) -> dict:
    picture, sound = (inputs[i] for i in node.inputs)
    codec = node.params.codec
    name = "film" if codec == "png" else f"film{DELIVERY[codec].suffix}"
    coded = sound.file(sound.meta["sound"]) if "sound" in sound.meta else None
    assemble.mux(picture.file(picture.meta["picture"]), sound.file("mix.wav"), coded, out / name,
                 codec)  # fmt: skip
    return {"film": name}
