"""Planning: a checked `Film` lowered to a generation graph and an edit timeline.

Each node names one operation, its inputs (other nodes) and its parameters,
and carries a content hash over exactly those: the operation, its version,
the canonical JSON of its parameters and its inputs' hashes.  The runtime
uses that hash as the cache key, so it must change exactly when the node's
output would.  Ids are stable names for people; hashes are for machines.
"""

from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, TypeVar, Union, cast

from pydantic import BaseModel, Field, PrivateAttr, SerializeAsAny, TypeAdapter, model_serializer

from backends.base import Backend, Capabilities, Estimate

from . import codes, consistency, models, spec
from .diagnostics import Diagnostic, Diagnostics
from .gcpause import paused_gc
from .hosted_node import Hosted, HostedParams
from .performance import delivery
from .plan_nodes import (
    Assemble,
    AssembleParams,
    Asset,
    AssetParams,
    CharacterInShot,
    Codec,
    ConsistencyParams,
    Cost,
    Direction,
    Framing,
    Generate,
    GenerateParams,
    Join,
    JoinParams,
    Keyframe,
    KeyframeParams,
    Mix,
    MixParams,
    Mux,
    MuxParams,
    Node,
    NodeId,
    PlannedMove,
    Prompt,
    PromptParams,
    Segment,
    SegmentParams,
    Select,
    SelectParams,
    SpokenLine,
    Timeline,
    TimelineCue,
    TimelineLine,
    TimelineShot,
    TimelineTransition,
    Transition,
    TransitionParams,
    Voice,
    VoicedLine,
    VoiceParams,
    Window,
    asset_node,
    shot_node,
    take_node,
)
from .plan_nodes import Consistency as ConsistencyNode
from .prompts import builtin_template, read_template, render_prompt
from .source import Span

if TYPE_CHECKING:
    from backends.hosted.backend import HostedBackend

SCHEMA_VERSION: Final = 1
AUDIO_RATE = 48000
DUCK_DB = -12.0  # how far music marked `duck under dialogue` drops while someone speaks

N = TypeVar("N", bound=Node)


class DeviceCost(BaseModel):
    """Every window one device makes, summed; memory is the dearest window's, since
    windows run one at a time."""

    device: str
    windows: int
    frames: int
    work: int
    memory_bytes: int
    least_memory_bytes: int
    seconds: float | None


class WindowPrice(BaseModel):
    """What one request to a hosted model is expected to cost."""

    node: str  # the generate node
    shot: str
    backend: str
    via: str  # the provider
    seconds: int  # the duration asked (and billed): the shot's, rounded up to an allowed one
    usd_per_second: float
    usd: float
    source: str  # where the price is from, and when it was read; or "director.toml"


class Money(BaseModel):
    """The film's expected spend on hosted models: every request, and the sum."""

    currency: Literal["USD"] = "USD"
    total: float
    windows: list[WindowPrice]


class KeyframeCost(BaseModel):
    """The keyframes one image backend makes, counted apart from the video windows: a
    picture costs a fraction of a window, and they are all made before any video."""

    maker: str  # the image backend
    device: str
    keyframes: int
    tries: int  # at most: every keyframe remade up to its max_retries
    steps: int
    memory_bytes: int  # the model's weights, at its default settings
    seconds: float | None  # for the first tries; None: unknown


class PlanCost(BaseModel):
    devices: list[DeviceCost] = []
    unknown: list[str] = []  # backends that give no estimate
    money: Money | None = None  # only plans with hosted models have one
    keyframes: list[KeyframeCost] = []  # only plans with generated keyframes have them

    @model_serializer(mode="wrap")
    def _without_money(self, handler):
        # Plans without hosted models (or keyframes) stay byte-identical to those made
        # before money (and keyframes).
        data = handler(self)
        if data.get("money") is None:
            data.pop("money", None)
        if not data.get("keyframes"):
            data.pop("keyframes", None)
        return data


class Plan(BaseModel):
    """What to generate, with which references, in which order, and how to cut and mix it."""

    schema_version: Literal[1] = Field(default=SCHEMA_VERSION, alias="schema")
    title: str
    width: int
    height: int
    fps_num: int
    fps_den: int
    backends: dict[str, Capabilities]
    nodes: list[SerializeAsAny[Node]]
    output: str  # the id of the final node
    timeline: Timeline
    cost: PlanCost = PlanCost()  # the budget: estimated, outside every hash

    model_config = {"populate_by_name": True}
    _by_id: dict[str, Node] | None = PrivateAttr(default=None)

    def to_json(self) -> str:
        return self.model_dump_json(indent=2, by_alias=True) + "\n"

    def get(self, node_id: NodeId) -> Node | None:
        """The node called `node_id`, or None."""
        if self._by_id is None or len(self._by_id) != len(self.nodes):
            self._by_id = {node.id: node for node in self.nodes}
        return self._by_id.get(node_id)

    def node(self, node_id: NodeId) -> Node:
        """The node called `node_id`, which the plan has."""
        node = self.get(node_id)
        if node is None:
            raise KeyError(node_id)
        return node

    def upstream(self, node_ids: list[NodeId]) -> Plan:
        """The plan of only what makes `node_ids`: they and every node they read, in
        plan order (e.g. the keyframes, made before any video)."""
        wanted: set[NodeId] = set()
        pending = list(node_ids)
        while pending:
            node_id = pending.pop()
            if node_id not in wanted:
                wanted.add(node_id)
                pending += self.node(node_id).inputs
        return self.model_copy(update={"nodes": [n for n in self.nodes if n.id in wanted]})

    def of_class(self, kind: type[N]) -> list[N]:
        """Every node of one operation, in plan order."""
        return [node for node in self.nodes if isinstance(node, kind)]


def plan_schema() -> dict:
    """The plan's JSON Schema, each node described by its operation's class."""
    schema = Plan.model_json_schema(by_alias=True)
    operations = tuple(Node.OPERATIONS[op] for op in sorted(Node.OPERATIONS))
    # A union of the classes registered now (a plug-in's or a test's included).
    union = cast(Any, Union)[operations]
    any_node: TypeAdapter[Node] = TypeAdapter(
        cast(Any, Annotated)[union, Field(discriminator="op")]
    )
    nodes = any_node.json_schema(by_alias=True, ref_template="#/$defs/{model}")
    defs = schema["$defs"]
    defs.pop("BaseModel", None)
    defs.update(nodes.pop("$defs", {}))
    defs["Node"] = nodes
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"shot-director/plan/v{SCHEMA_VERSION}"
    return schema


@dataclass
class PlanResult:
    plan: Plan | None
    diagnostics: list[Diagnostic]


@dataclass(frozen=True)
class Consistency:
    """How takes are measured and chosen (docs/consistency.md).

    `embedder` is resolved when planning (`auto` becomes `face` where dlib is
    installed, else `appearance`), so a plan says exactly what scores it;
    `model` is the local folder of a `clip` or `dinov2` encoder; `minimum` is
    the score a shot's takes must reach when its script gives no
    `consistency:`; below it up to `max_retries` more takes are made."""

    embedder: str = consistency.AUTO
    model: Path | None = None
    minimum: float | None = None
    max_retries: int = 2


def plan_film(
    film: spec.Film,
    *,
    backend: str | None = None,
    template: Path | None = None,
    codec: Codec = "h264",
    backend_options: dict[str, dict] | None = None,
    scoring: Consistency | None = None,
    bound: dict[str, type[Backend]] | None = None,
    keyframes: str | None = None,
    prices: dict[str, float] | None = None,
) -> PlanResult:
    """Lower a checked film.  `backend` overrides the script's; `template` the prompts';
    `codec` is the delivery codec the cut is encoded in; `backend_options` maps a
    backend's name to the constructor options that change what it makes; `scoring`
    says how takes are measured and chosen; `bound` maps a backend's name to the
    class bound to its model folder (`DiffusersBackend.bound_to`), planned in its place;
    `prices` overrides hosted models' USD a second; `keyframes` (`generate`) overrides
    the script's `keyframes:` default."""
    source = read_template(template) if template else None
    scoring = scoring or Consistency()
    planner = _Planner(film, backend, source, codec, backend_options or {}, scoring)
    planner.bound = bound or {}
    planner.keyframes = keyframes or film.keyframes
    planner.prices = prices or {}
    with paused_gc():
        plan = planner.run()
    diagnostics = planner.diagnostics.sorted()
    failed = any(d.severity == "error" for d in diagnostics)
    return PlanResult(None if failed else plan, diagnostics)


# -------------------------------------------------------------------- seeds


def shot_seed(film_seed: int, shot_id: str) -> int:
    """A shot's default seed: stable when shots are added or moved around it."""
    digest = hashlib.sha256(f"{film_seed}:{shot_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


# -------------------------------------------------------------------- planner


_WORDS = {
    "first_frame": "a first frame",
    "last_frame": "a last frame",
    "reference_images": "reference images",
    "reference_video": "reference video",
    "reference_audio": "reference audio",
}


@dataclass(frozen=True)
class ShotFrame:
    """What every window of one shot shares: the planner's context for `_windows`."""

    shot: spec.Shot
    backend: type[Backend]
    windows: list[tuple[int, int]]  # (start, frames) of each window
    prompt: NodeId
    refs: list[NodeId]  # reference assets
    keyframes: list[NodeId]  # keyframe assets
    previous: NodeId | None  # the select a continuous shot starts from
    size: tuple[int, int]
    rate: float
    direction: Direction


class _Planner:
    def __init__(self, film: spec.Film, backend: str | None, template: str | None, codec: Codec,
                 options: dict[str, dict], scoring: Consistency):  # fmt: skip
        self.film = film
        self.fps = float(film.format.fps)  # as backends give their own rates
        self.codec: Codec = codec
        self.options = options
        self.scoring = scoring
        self._embedder: dict | None = None
        self.anchors: dict[str, str] = {}  # character → the select of its first scored shot
        self.backend_name = backend
        self.prices: dict[str, float] = {}  # hosted model → USD a second, from director.toml
        self.template = template
        self.diagnostics = Diagnostics()
        self.nodes: dict[str, Node] = {}
        self.backends: dict[str, type[Backend]] = {}  # by the names they answer to
        # By the names the script gives: resolving `auto` asks every backend whether
        # it can run here, which searches the import path; once per plan is enough.
        self._resolved: dict[str, type[Backend]] = {}
        self.bound: dict[str, type[Backend]] = {}  # by name: bound to their model folders
        # `generate` or an image backend's name: shots that pin none get a first keyframe.
        self.keyframes: str | None = None
        # Character → the keyframe of its first shot that has one, which later ones match.
        self.keyframe_anchors: dict[str, str] = {}

    def run(self) -> Plan:
        film = self.film
        timeline = build_timeline(film)
        previous_select: str | None = None
        selects, voices, joint = [], [], []
        for shot in film.shots:
            backend = self._backend(shot)
            select = self._shot(shot, backend, previous_select if shot.continuous else None)
            selects.append(select)
            if backend.capabilities.joint_audio:
                joint.append(select)
            elif shot.dialogue:
                voices.append(self._voice(shot))
            previous_select = select
        # The cut is a sequence of pieces: each shot's own frames (its segment)
        # and the frames of each transition, encoded once each, so that the
        # assembly only concatenates them and an edit re-encodes only its pieces.
        into: dict[str | None, list[TimelineTransition]] = {}  # by the shot they lead into
        for t in timeline.transitions:
            into.setdefault(t.after, []).append(t)
        pieces = []
        for placed, select in zip(timeline.shots, selects, strict=True):
            pieces += [self._transition(t) for t in into.get(placed.shot, [])]
            pieces.append(self._segment(placed, select))
        pieces += [self._transition(t) for t in into.get(None, [])]
        assemble = self._add(
            Assemble, "film/assemble", pieces,
            AssembleParams(codec=self.codec, frames=timeline.frames),
        )  # fmt: skip
        mix = self._mix(timeline, voices, joint)
        output = self._add(Mux, "film/mux", [assemble, mix], MuxParams(codec=self.codec))
        cost = estimate_costs(list(self.nodes.values()), self.backends)
        cost.money = estimate_money(list(self.nodes.values()), self.backends, self.prices)
        cost.keyframes = estimate_keyframes(list(self.nodes.values()))
        return Plan(
            title=film.title,
            width=film.format.width,
            height=film.format.height,
            fps_num=film.format.fps_num,
            fps_den=film.format.fps_den,
            backends={name: b.capabilities for name, b in sorted(self.backends.items())},
            nodes=list(self.nodes.values()),
            output=output,
            timeline=timeline,
            cost=cost,
        )

    # -- graph building
    def _add(self, kind: type[Node], node_id: str, inputs: list[str], params: BaseModel,
             source: Span | None = None) -> str:  # fmt: skip
        if node_id in self.nodes:
            return node_id
        hashes = [self.nodes[i].hash for i in inputs]
        self.nodes[node_id] = kind.make(node_id, inputs, params, hashes, source)
        return node_id

    def _asset(self, media: spec.MediaFile) -> str:
        node_id = asset_node(media.path)
        if node_id in self.nodes:  # a file many shots name is one node, its params built once
            return node_id
        params = AssetParams(path=media.path, kind=media.kind, sha256=media.sha256)
        return self._add(Asset, node_id, [], params, media.span)

    def _backend(self, shot: spec.Shot) -> type[Backend]:
        name = self.backend_name or shot.backend or self.film.backend
        if name not in self._resolved:
            found = models.choose(name)
            self._resolved[name] = self.bound.get(found.name, found)
        backend = self._resolved[name]
        self.backends[backend.name] = backend
        return backend

    # -- one shot: prompt → takes (windows → join → consistency) → select
    def _shot(self, shot: spec.Shot, backend: type[Backend], previous: str | None) -> str:
        caps = backend.capabilities
        made = self._generated_keyframes(shot, previous)
        self._warn_unsupported(shot, backend, previous, made)
        rate = caps.rate_for(self.fps)
        wanted = max(1, round(shot.frames * rate / self.fps))
        direction = self._direction(shot, rate, backend.shows_dialogue, backend.draws_framing)
        made_ids = {end: self._keyframe(shot, end) for end in made}
        if made_ids:
            direction = direction.model_copy(update={
                f"keyframe_{end}": node_id for end, node_id in made_ids.items()
            })  # fmt: skip
        frame = ShotFrame(
            shot=shot,
            backend=backend,
            windows=split_windows(caps, wanted),
            prompt=self._prompt(shot, backend),
            refs=[self._asset(m) for m in self._reference_media(shot)],
            keyframes=self._keyframes(shot) + list(made_ids.values()),
            previous=previous,
            size=self._size(shot, backend),
            rate=rate,
            direction=direction,
        )
        seed = shot.seed if shot.seed is not None else shot_seed(self.film.seed, shot.id)
        takes = []
        for take in range(shot.takes):
            generated = self._windows(frame, take, seed + take)
            takes.append(self._consistency(shot, take, generated))
        # Drift: each character is also measured against how it looked in its first
        # scored shot (only that one, so an edit elsewhere re-decides nothing).
        scored = self._scored_characters(shot)
        drift = {c: self.anchors[c] for c in scored if c in self.anchors}
        # The shot's own minimum, else the script's, else the command line's.
        minimum = _first_given(shot.consistency, self.film.consistency, self.scoring.minimum)
        params = SelectParams(
            frames=shot.frames,
            width=self.film.format.width,
            height=self.film.format.height,
            fps=[self.film.format.fps_num, self.film.format.fps_den],
            takes=shot.takes,
            min_consistency=minimum if scored else None,
            # Retries only happen below a minimum: elsewhere the setting changes nothing.
            max_retries=self.scoring.max_retries if scored and minimum is not None else 0,
            drift=drift,
        )
        inputs = takes + sorted(set(drift.values()))
        select = self._add(Select, shot_node(shot.id, "select"), inputs, params, shot.span)
        for character in scored:
            self.anchors.setdefault(character, select)
        return select

    def _windows(self, frame: ShotFrame, take: int, seed: int) -> str:
        """The generation windows of one take, and their join when there are several."""
        shot, backend, windows = frame.shot, frame.backend, frame.windows
        caps = backend.capabilities
        ids: list[str] = []
        for index, (start, frames) in enumerate(windows):
            inputs = [frame.prompt, *frame.refs, *frame.keyframes]
            if index == 0 and frame.previous is not None:
                inputs.append(frame.previous)  # continuous: conditioned on its last frame
            if index > 0:
                inputs.append(ids[-1])  # each window continues the one before
            params = GenerateParams(
                backend=backend.name,
                backend_version=backend.version,
                options=self.options.get(backend.name, {}),
                seed=seed,
                width=frame.size[0],
                height=frame.size[1],
                fps=frame.rate,
                frames=frames,
                window=Window(
                    index=index,
                    start=start,
                    overlap=caps.window_overlap,
                    last=index == len(windows) - 1,
                ),  # fmt: skip
                continues="previous_shot" if index == 0 and frame.previous else None,
                shot=frame.direction,
            )
            node_id = take_node(shot.id, take, f"window{index}")
            kind: type[Generate] = Generate
            if (terms := getattr(backend, "request_terms", None)) is not None:  # hosted
                hosted = cast("type[HostedBackend]", backend)
                options = {"via": hosted.model.providers[0], **params.options}
                fields = {**dict(params), "options": options, **terms(frames, frame.size)}
                kind, params = Hosted, HostedParams(**fields)
            ids.append(self._add(kind, node_id, inputs, params, shot.span))
        if len(ids) == 1:
            return ids[0]
        joined = JoinParams(overlap=caps.window_overlap, frames=windows[-1][0] + windows[-1][1])
        return self._add(Join, take_node(shot.id, take, "join"), ids, joined, shot.span)

    def _called(self, speaker: str) -> str:
        """How subtitles name a speaker: as written (`display:`), else by the name."""
        character = self.film.characters.get(speaker)
        return character.display if character is not None and character.display else speaker

    def _direction(
        self, shot: spec.Shot, rate: float, with_dialogue: bool, with_framing: bool = False
    ) -> Direction:
        """What the shot asks of the camera and the frame, in generated frames."""
        scale = rate / self.fps
        dialogue = [
            SpokenLine(speaker=self._called(line.speaker), text=line.text,
                       start=round(line.start * scale),
                       frames=round(line.frames * scale),
                       direction=line.parenthetical)
            for line in shot.dialogue
        ] if with_dialogue else []  # fmt: skip
        location = self.film.scenes[shot.scene].declared_location
        plate = self.film.locations[location].refs[:1] if location else []
        return Direction(
            id=shot.id,
            size=shot.size,
            camera=[
                PlannedMove(
                    **move.model_dump(exclude={"span", "start", "frames"}),
                    start=round(move.start * scale),
                    frames=round(move.frames * scale),
                )
                for move in shot.camera
            ],
            plate=plate[0].path if plate else None,
            characters=[
                CharacterInShot(name=c, refs=[m.path for m in self.film.characters[c].refs])
                for c in shot.characters
            ],
            refs=[m.path for m in shot.refs],
            keyframe_first=shot.keyframe_first.path if shot.keyframe_first else None,
            keyframe_last=shot.keyframe_last.path if shot.keyframe_last else None,
            dialogue=dialogue,
            framing=_framing(shot) if with_framing else None,
        )

    def _generated_keyframes(self, shot: spec.Shot, previous: str | None) -> list[str]:
        """Which of the shot's keyframes an image backend makes: those it asks for with
        `generate`, and with the `keyframes: generate` default its first one when it
        pins neither.  A pinned file always wins, and a continuous shot starts from
        the previous shot's last frame."""
        ends = []
        default = self.keyframes is not None and not (shot.keyframe_first or shot.keyframe_last)
        if previous is None and shot.keyframe_first is None and (shot.generate_first or default):
            ends.append("first")
        if shot.keyframe_last is None and shot.generate_last:
            ends.append("last")
        return ends

    def _keyframe(self, shot: spec.Shot, end: str) -> str:
        """The node that makes one of the shot's keyframes, scored like its takes (and
        against each character's keyframe in its first earlier shot that has one)."""
        from backends import image

        maker = image.get(self.keyframes or image.BUILT_IN)
        location = self.film.scenes[shot.scene].declared_location
        media = [m for c in shot.characters for m in self.film.characters[c].refs]
        media += self.film.locations[location].refs if location else []
        pictures = [m for m in {m.path: m for m in media}.values() if m.kind == "image"]
        limit = maker.capabilities.max_references
        if pictures and limit == 0:
            self._warn_no_references(shot, maker.name, end)
            pictures = []
        scored = self._scored_characters(shot)
        images = {c: [m for m in self.film.characters[c].refs if m.kind == "image"]
                  for c in scored}  # fmt: skip
        minimum = _first_given(shot.consistency, self.film.consistency, self.scoring.minimum)
        seed = shot.seed if shot.seed is not None else shot_seed(self.film.seed, shot.id)
        params = KeyframeParams(
            maker=maker.name,
            maker_version=maker.version,
            end=end,
            prompt=render_prompt(
                self.film, shot, builtin_template("keyframe.j2"), moment=end
            ),  # fmt: skip
            seed=seed,
            width=self.film.format.width,
            height=self.film.format.height,
            shot=self._direction(shot, self.fps, False),
            references=[m.path for m in pictures],
            characters=scored,
            refs=[[m.path for m in images[c]] for c in scored],
            **self._embedder_params(),
            min_consistency=minimum if scored else None,
            max_retries=self.scoring.max_retries if scored and minimum is not None else 0,
            maker_options=self.options.get(maker.name, {}),
            max_references=limit if len(pictures) > limit else None,
            anchors={c: self.keyframe_anchors[c] for c in scored if c in self.keyframe_anchors},
        )
        inputs = [self._asset(m) for m in pictures]
        inputs += [self._asset(m) for c in scored for m in images[c]]
        inputs += list(params.anchors.values())
        node_id = shot_node(shot.id, f"keyframe_{end}")
        for character in scored:
            self.keyframe_anchors.setdefault(character, node_id)
        return self._add(Keyframe, node_id, list(dict.fromkeys(inputs)), params, shot.span)

    def _warn_no_references(self, shot: spec.Shot, maker: str, end: str) -> None:
        self.diagnostics.add(
            codes.UNSUPPORTED_CONDITIONING,
            shot.span,
            f"the {maker} image backend reads no reference pictures; shot {shot.id}'s "
            f"characters' and location's pictures are left out of its {end} keyframe "
            "(they still score it)",
            help="choose an image backend that takes them: keyframes: flux2-klein",
        )

    def _scored_characters(self, shot: spec.Shot) -> list[str]:
        """The shot's characters that have reference images to be measured against."""
        return [
            c for c in shot.characters
            if any(m.kind == "image" for m in self.film.characters[c].refs)
        ]  # fmt: skip

    def _consistency(self, shot: spec.Shot, take: int, generated: str) -> str:
        characters = self._scored_characters(shot)
        if not characters:
            return generated
        images = {c: [m for m in self.film.characters[c].refs if m.kind == "image"]
                  for c in characters}  # fmt: skip
        refs = [self._asset(m) for c in characters for m in images[c]]
        params = ConsistencyParams(
            characters=characters,
            refs=[[m.path for m in images[c]] for c in characters],
            **self._embedder_params(),
        )
        return self._add(
            ConsistencyNode,
            take_node(shot.id, take, "consistency"),
            list(dict.fromkeys([generated, *refs])),
            params,
            shot.span,
        )

    def _embedder_params(self) -> dict:
        """Which embedder scores takes, and what identifies its output."""
        if self._embedder is None:
            name = consistency.resolve(self.scoring.embedder)
            model = self.scoring.model
            self._embedder = {
                "embedder": name,
                "scoring": consistency.VERSION,
                "model": str(model) if model is not None and name in ("clip", "dinov2") else None,
                "model_sha256": consistency.model_fingerprint(model)
                if model is not None and name in ("clip", "dinov2") else None,
            }  # fmt: skip
        return self._embedder

    def _prompt(self, shot: spec.Shot, backend: type[Backend]) -> str:
        template = self.template or builtin_template(backend.prompt_template)
        negative = shot.negative if shot.negative is not None else self.film.negative
        params = PromptParams(
            backend=backend.name,
            text=render_prompt(self.film, shot, template),
            negative=negative,
        )
        return self._add(Prompt, shot_node(shot.id, "prompt"), [], params, shot.span)

    def _reference_media(self, shot: spec.Shot) -> list[spec.MediaFile]:
        media = [m for c in shot.characters for m in self.film.characters[c].refs]
        location = self.film.scenes[shot.scene].declared_location
        if location:
            media += self.film.locations[location].refs
        media += shot.refs
        return list({m.path: m for m in media}.values())

    def _keyframes(self, shot: spec.Shot) -> list[str]:
        frames = [shot.keyframe_first, shot.keyframe_last]
        return [self._asset(m) for m in frames if m is not None]

    def _size(self, shot: spec.Shot, backend: type[Backend]) -> tuple[int, int]:
        caps = backend.capabilities
        width, height = caps.size_for(self.film.format.width, self.film.format.height)
        if caps.max_side and max(width, height) > caps.max_side:
            self.diagnostics.add(
                codes.UNSUPPORTED_FORMAT,
                shot.span,
                f"{backend.name} makes at most {caps.max_side} px a side, and the film is "
                f"{self.film.format.width}x{self.film.format.height}",
                help=f"lower the format, or choose another backend than {backend.name}",
            )
        return width, height

    def _warn_unsupported(self, shot: spec.Shot, backend: type[Backend], previous,
                          made: list[str]) -> None:  # fmt: skip
        wanted = {
            "first_frame": shot.keyframe_first is not None
            or previous is not None
            or "first" in made,
            "last_frame": shot.keyframe_last is not None or "last" in made,
            "reference_images": any(m.kind == "image" for m in self._reference_media(shot)),
            "reference_video": any(m.kind == "video" for m in shot.refs),
            "reference_audio": any(m.kind == "audio" for m in shot.refs),
        }
        given = {c for c, asked in wanted.items() if asked}
        left_out = backend.left_out(given, self.options.get(backend.name))
        for conditioning in wanted:
            if conditioning in left_out:
                # A backend that takes it, but not in this shot, says when it does.
                taken = conditioning in backend.capabilities.conditioning
                when = f" {backend.takes_when}" if taken else ""
                self.diagnostics.add(
                    codes.UNSUPPORTED_CONDITIONING,
                    shot.span,
                    f"{backend.name} cannot be conditioned on {_WORDS[conditioning]}{when}; "
                    f"shot {shot.id} gives some, and they will be left out",
                    help="choose a backend that takes them, or remove them from the shot",
                )

    # -- sound and the cut
    def _voice(self, shot: spec.Shot) -> str:
        params = VoiceParams(
            lines=[
                VoicedLine(
                    speaker=d.speaker,
                    voice=d.voice,
                    text=d.text,
                    start=d.start,
                    frames=d.frames,
                    direction=_performed(d.parenthetical),
                )
                for d in shot.dialogue
            ],  # fmt: skip
            fps=[self.film.format.fps_num, self.film.format.fps_den],
            sample_rate=AUDIO_RATE,
        )
        return self._add(Voice, shot_node(shot.id, "voice"), [], params, shot.span)

    def _transition(self, t: TimelineTransition) -> str:
        ends = [shot_node(s, "select") for s in (t.before, t.after) if s is not None]
        name = f"transition/{t.before or 'start'}-{t.after or 'end'}"
        params = TransitionParams(kind=t.kind, frames=t.frames, codec=self.codec)
        return self._add(Transition, name, ends, params)

    def _segment(self, placed: TimelineShot, select: str) -> str:
        """The frames of a shot that no transition touches, encoded for the final cut."""
        params = SegmentParams(start=placed.head, end=placed.frames - placed.tail, codec=self.codec)
        return self._add(Segment, shot_node(placed.shot, "segment"), [select], params)

    def _mix(self, timeline: Timeline, voices: list[str], joint: list[str]) -> str:
        """The sound: cues, scratch voices, and the shots of backends that make their own."""
        cues = [c for shot in self.film.shots for c in shot.cues] + self.film.cues
        cue_assets = [self._asset(c.file) for c in cues]
        params = MixParams(
            sample_rate=AUDIO_RATE,
            frames=timeline.frames,
            fps=[timeline.fps_num, timeline.fps_den],
            duck_db=DUCK_DB,
            cues=[c.model_copy() for c in timeline.cues],
            dialogue=[d.model_copy() for d in timeline.dialogue],
            shots=[s.model_copy() for s in timeline.shots] if joint else [],
            codec=self.codec,
        )
        inputs = list(dict.fromkeys(cue_assets)) + voices + joint
        return self._add(Mix, "film/mix", inputs, params)


def _framing(shot: spec.Shot) -> Framing | None:
    """The shot's angle and lens as written; None when it gives neither."""
    if shot.angle is None and shot.lens_mm is None:
        return None
    return Framing(angle=shot.angle, angle_degrees=shot.angle_degrees, lens_mm=shot.lens_mm)


@functools.lru_cache(maxsize=256)
def _performed(parenthetical: str | None) -> str | None:
    """A line's parenthetical where the scratch voice performs it, else None.  A film
    repeats a few parentheticals over and over (and most lines have none), so each
    is matched against the voice's deliveries once."""
    return parenthetical if parenthetical and delivery(parenthetical) else None


def _first_given(*values):
    return next((value for value in values if value is not None), None)


def estimate_costs(nodes: list[Node], backends: dict[str, type[Backend]]) -> PlanCost:
    """Give each generation window its `cost` from its backend's estimate, and sum
    them per device."""
    totals: dict[str, DeviceCost] = {}
    unknown: set[str] = set()
    for node in nodes:
        if not isinstance(node, Generate):
            continue
        params = node.params
        estimate = backends[params.backend].capabilities.estimate
        if estimate is None:
            unknown.add(params.backend)
            continue
        size = (params.width, params.height, params.frames)
        steps = int(params.options.get("steps", estimate.steps))
        node.cost = cost = Cost(
            device=estimate.device,
            frames=params.frames,
            steps=steps,
            work=params.frames * steps,
            memory_bytes=estimate.memory(*size),
            least_memory_bytes=estimate.memory(*size, least=True),
            seconds=estimate.seconds(*size, steps),
        )
        total = totals.setdefault(
            estimate.device,
            DeviceCost(device=estimate.device, windows=0, frames=0, work=0, memory_bytes=0,
                       least_memory_bytes=0, seconds=0.0),
        )  # fmt: skip
        total.windows += 1
        total.frames += cost.frames
        total.work += cost.work
        total.memory_bytes = max(total.memory_bytes, cost.memory_bytes)
        total.least_memory_bytes = max(total.least_memory_bytes, cost.least_memory_bytes)
        if total.seconds is not None:
            total.seconds = None if cost.seconds is None else total.seconds + cost.seconds
    return PlanCost(devices=[totals[d] for d in sorted(totals)], unknown=sorted(unknown))


def estimate_keyframes(nodes: list[Node]) -> list[KeyframeCost]:
    """What the generated keyframes cost, per image backend, from its estimate of one
    picture (`ImageCapabilities.estimate`)."""
    from backends import image

    totals: dict[str, KeyframeCost] = {}
    for node in nodes:
        if not isinstance(node, Keyframe):
            continue
        params = node.params
        estimate = image.get(params.maker).capabilities.estimate or Estimate()
        steps = int(params.maker_options.get("steps", estimate.steps))
        seconds = estimate.seconds(params.width, params.height, 1, steps)
        total = totals.setdefault(params.maker, KeyframeCost(
            maker=params.maker, device=estimate.device, keyframes=0, tries=0, steps=steps,
            memory_bytes=estimate.memory(params.width, params.height, 1), seconds=0.0,
        ))  # fmt: skip
        total.keyframes += 1
        total.tries += 1 + params.max_retries
        if total.seconds is not None:
            total.seconds = None if seconds is None else total.seconds + seconds
    return [totals[name] for name in sorted(totals)]


def estimate_money(
    nodes: list[Node], backends: dict[str, type[Backend]], prices: dict[str, float]
) -> Money | None:
    """The price of every request to a hosted model, at the duration it asks for;
    None when the plan has none.  `prices` (USD a second, by model) wins over the
    catalog's."""
    windows = []
    for node in nodes:
        if not isinstance(node, Hosted):
            continue
        params, backend = node.params, cast("type[HostedBackend]", backends[node.params.backend])
        rate, source = backend.price_per_second(node.via, params.resolution)
        if backend.name in prices:
            rate, source = prices[backend.name], "director.toml"
        windows.append(
            WindowPrice(node=node.id, shot=params.shot.id, backend=backend.name, via=node.via,
                        seconds=params.seconds, usd_per_second=rate,
                        usd=round(params.seconds * rate, 4), source=source)
        )  # fmt: skip
    if not windows:
        return None
    return Money(total=round(sum(w.usd for w in windows), 4), windows=windows)


def split_windows(caps: Capabilities, wanted: int) -> list[tuple[int, int]]:
    """(start, frames) of each window a backend makes a shot of `wanted` frames in."""
    total = caps.frames_for(wanted)
    if caps.max_frames is None or total <= caps.max_frames:
        return [(0, total)]
    size, overlap = caps.max_frames, caps.window_overlap
    count = math.ceil((wanted - overlap) / (size - overlap))
    windows, start = [], 0
    for index in range(count):
        remaining = wanted - start
        frames = size if index < count - 1 else min(size, caps.frames_for(remaining))
        windows.append((start, frames))
        start += size - overlap
    return windows


# ------------------------------------------------------------------ timeline


def build_timeline(film: spec.Film) -> Timeline:
    """Where every shot, transition, cue and line falls in the cut, in film frames.

    A dissolve or wipe overlaps its two shots by its length, centred on the
    edit point; a fade takes its length to black at the end of one shot and
    back from black at the start of the next, without overlap.
    """
    shots, transitions, cues, lines = [], [], [], []
    position, previous = 0, None
    for shot in film.shots:
        t = shot.transition_in
        if t.kind in ("dissolve", "wipe") and previous is not None:
            position -= t.frames
        placed = TimelineShot(
            shot=shot.id, scene=shot.scene, start=position, end=position + shot.frames,
            frames=shot.frames,
        )  # fmt: skip
        if t.frames:
            transitions.append(_placed_transition(t, previous, placed))
            placed.head = t.frames
            if previous is not None:
                previous.tail = t.frames
        shots.append(placed)
        cues += [_placed_cue(c, placed) for c in shot.cues]
        lines += [
            TimelineLine(
                shot=shot.id,
                speaker=film.characters[d.speaker].display or d.speaker
                if d.speaker in film.characters
                else d.speaker,
                text=d.text,
                start=placed.start + d.start,
                end=placed.start + d.start + d.frames,
            )  # fmt: skip
            for d in shot.dialogue
        ]
        position, previous = placed.end, placed
    if film.fade_out is not None and previous is not None:
        frames = film.fade_out.frames
        previous.tail = frames
        transitions.append(
            TimelineTransition(
                kind="fade out",
                before=previous.shot,
                after=None,
                start=previous.end - frames,
                frames=frames,
                covers=frames,
                cut=previous.end,
            )  # fmt: skip
        )
    total = position
    cues += [_film_cue(c, shots) for c in film.cues if shots]  # a film of no shots is silent
    for cue in cues:
        cue.frames = max(0, min(cue.frames, total - cue.start))
    return Timeline(
        fps_num=film.format.fps_num,
        fps_den=film.format.fps_den,
        frames=total,
        shots=shots,
        transitions=transitions,
        cues=cues,
        dialogue=lines,
    )


def _placed_transition(t: spec.Transition, before, after: TimelineShot) -> TimelineTransition:
    if t.kind in ("dissolve", "wipe"):
        start, covers, cut = after.start, t.frames, after.start + t.frames // 2
    elif t.kind == "fade in":
        start, covers, cut = after.start, t.frames, after.start
    else:  # fade out between two shots: to black, then back from black
        start, covers, cut = before.end - t.frames, 2 * t.frames, before.end
    return TimelineTransition(
        kind=t.kind,
        before=before.shot if before is not None else None,
        after=after.shot,
        start=start,
        frames=t.frames,
        covers=covers,
        cut=cut,
    )


def _placed_cue(cue: spec.Cue, shot: TimelineShot, offset: int | None = None) -> TimelineCue:
    """A cue of `shot` in the cut; `offset`, where not its shot's start, is where its
    `start` counts from (the film's cues count from the film's start)."""
    return TimelineCue(
        kind=cue.kind,
        asset=cue.asset,
        path=cue.file.path,
        shot=shot.shot,
        start=(shot.start if offset is None else offset) + cue.start,
        frames=cue.frames,
        fade_in=cue.fade_in,
        fade_out=cue.fade_out,
        gain_db=cue.gain_db,
        duck=cue.duck,
        in_point=cue.in_point,
        loop=cue.loop,
        pass_frames=cue.pass_frames,
    )


def _film_cue(cue: spec.Cue, shots: list[TimelineShot]) -> TimelineCue:
    """A cue on the film's timeline, filed under the last shot that has begun by its start
    (storyboards and reports show it there)."""
    begun = [shot for shot in shots if shot.start <= cue.start]
    return _placed_cue(cue, begun[-1] if begun else shots[0], offset=0)
