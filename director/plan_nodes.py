"""The plan graph's operations: one class per operation, as sqlglot's expressions.

Each class declares its parameters as a typed model (`params`), names its
inputs by role (`Generate.prompt`, `Select.takes`, `Mix.voices`, ...), and
says its `version` (part of every node's hash), where it runs (`runs_on`:
the driver, or a worker of the Ray executor), what it costs to schedule
(`frame_cost` per frame it handles) and, in `run`, what it does.  The
planner builds these objects; the runtime, the executors, compile, export
and the report read their fields and dispatch on their class.

A node's JSON is `{id, op, inputs, params, hash, source, cost}`, exactly as
before the graph was typed, so node hashes and users' caches survive: the
parameter models list their fields in the order the planner always wrote
them, and keep the Python types it always hashed (an int stays an int).
Only the classes here read the plan's ids: `inputs` is a flat list in the
JSON, and each class knows the order its roles come in.

Adding an operation is one class here (or anywhere, for a test or a plug-in):
subclass `Node`, give `op` a literal default and `params` a model, and write
`run`.  It registers itself by its `op`, so plans that hold it load.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from json import encoder as json_encoder
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, Field, model_validator

from .source import Span

if TYPE_CHECKING:
    from .cache import Entry
    from .operations import RunContext
    from .plan import Plan

Codec = Literal["h264", "prores", "vp9", "png"]
Runs = Literal["driver", "worker"]
NodeId = str  # the id of another node of the same plan


class Cost(BaseModel):
    """A generation window's rough cost, from its backend's `Estimate`.  Not part of
    the node's hash: it says what making the output takes, not what the output is."""

    device: str
    frames: int
    steps: int
    work: int  # frames × steps
    memory_bytes: int  # peak, at the backend's default settings
    least_memory_bytes: int  # peak, offloaded and tiled: the least it can be made to use
    seconds: float | None  # on the hardware the estimate's figures come from; None: unknown


# A field added later is left out of the JSON (and so of the hash) while unused, so
# the plans that do not use it stay byte-identical: their nodes' hashes are users'
# cache keys.  Declared with `exclude_if`, which the hashing reads as well.


def _none(value: Any) -> bool:
    return value is None


def _empty(value: Any) -> bool:
    return not value


# ------------------------------------------------------------------ timeline


class TimelineShot(BaseModel):
    shot: str
    scene: int
    start: int  # first frame in the cut
    end: int  # one past the last frame
    frames: int
    head: int = 0  # frames at its start that belong to the transition into it
    tail: int = 0  # frames at its end that belong to the transition out of it


class TimelineTransition(BaseModel):
    kind: str
    before: str | None  # shot id, None at the film's start
    after: str | None  # shot id, None at the film's end
    start: int
    frames: int  # the transition's length as written
    covers: int  # frames of the cut it occupies: a fade between shots covers both fades
    cut: int  # the edit point: where an editor would put the cut


class TimelineCue(BaseModel):
    kind: str
    asset: str
    path: str
    shot: str
    start: int
    frames: int
    fade_in: int
    fade_out: int
    gain_db: float
    duck: bool
    # Cues that use none serialize, and hash, as they did before any existed.
    in_point: int = Field(0, exclude_if=_empty)  # frames into its file where it starts
    loop: bool = Field(False, exclude_if=_empty)  # its file (from the in-point) plays again
    # a looped cue: one pass, its file after the in-point, in frames
    pass_frames: int = Field(0, exclude_if=_empty)

    def passes(self) -> list[tuple[int, int, int]]:
        """(first frame in the cut, first frame in the file, frames) of each pass
        through the file, as an editor's timeline lays a looped cue: one clip a pass.
        The mix loops at the file's last sample; these are rounded to frames."""
        if not self.loop or self.pass_frames <= 0:
            return [(self.start, self.in_point, self.frames)]
        return [
            (self.start + at, self.in_point, min(self.pass_frames, self.frames - at))
            for at in range(0, self.frames, self.pass_frames)
        ]


class TimelineLine(BaseModel):
    shot: str
    speaker: str
    text: str
    start: int
    end: int


class Timeline(BaseModel):
    fps_num: int
    fps_den: int
    frames: int
    shots: list[TimelineShot]
    transitions: list[TimelineTransition]
    cues: list[TimelineCue]
    dialogue: list[TimelineLine]


# ---------------------------------------------------------------- node ids


def shot_node(shot: str, role: str) -> NodeId:
    """The id of a shot's node of one role: `prompt`, `select`, `voice`, `segment`."""
    return f"shot/{shot}/{role}"


def take_node(shot: str, take: int, role: str) -> NodeId:
    """The id of one take's node: `window0`, `join`, `consistency`."""
    return f"shot/{shot}/take{take}/{role}"


def asset_node(path: str) -> NodeId:
    return f"asset/{path}"


def shot_of(node_id: NodeId) -> str | None:
    """The shot a shot's node belongs to, by the ids the planner gives."""
    parts = node_id.split("/")
    return parts[1] if parts[0] == "shot" and len(parts) > 2 else None


# ---------------------------------------------------------------- the base

# The canonical JSON that node hashes are taken over.  One encoder serves every
# node: `json.dumps` with these options would build a new one for each call.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_digest(op: str, version: int, params: BaseModel, input_hashes: list[str]) -> str:
    """sha256 of the canonical JSON of `[op, version, params.model_dump(), input_hashes]`.

    Made from the parameters' own fields where `model_dump` would give them as they
    are (less those its fields' `exclude_if` leaves out), without dumping them into
    new dicts first: the same bytes for a third less work."""
    try:
        payload = _encode_fields([op, version, _fields_of(params), input_hashes])
    except _NotPlain:
        payload = _CANONICAL.encode([op, version, params.model_dump(), input_hashes])
    return hashlib.sha256(payload.encode()).hexdigest()


class _NotPlain(TypeError):
    """A value inside the parameters that is not a model: left to `model_dump`."""


def _fields_of(value: Any) -> dict:
    """A model as `model_dump` gives it (nested models aside), for the encoder to
    walk: its fields themselves, less those their `exclude_if` leaves out; where a
    serializer could make the dump differ otherwise, its own dump.  Anything else
    is left to the parameters' dump."""
    if not isinstance(value, BaseModel):
        raise _NotPlain(type(value).__name__)
    excluded = _left_out_when(type(value))
    if excluded is None:
        return value.model_dump()
    fields = value.__dict__
    if not excluded:
        return fields
    return {
        name: field for name, field in fields.items()
        if name not in excluded or not excluded[name](field)
    }  # fmt: skip


def _canonical_fields_encoder() -> Callable[[Any], str]:
    """The canonical encoder over models' fields (`_fields_of`), built once.
    `JSONEncoder.encode` builds json's C encoder again on every call, with a table
    for catching cycles, which parameters cannot have."""
    # json keeps its C encoder private (no stub declares it); None where it is absent.
    make = getattr(json_encoder, "c_make_encoder", None)
    if make is None:  # Python without json's C speedups
        return json.JSONEncoder(
            sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_fields_of
        ).encode
    encode = make(None, _fields_of, json_encoder.encode_basestring, None, ":", ",", True, False,
                  True)  # fmt: skip
    return lambda value: "".join(encode(value, 0))


_encode_fields = _canonical_fields_encoder()


@functools.cache
def _left_out_when(model: type[BaseModel]) -> dict[str, Callable[[Any], bool]] | None:
    """The tests (`exclude_if`) by which `model_dump` of this class leaves fields out,
    by field; None where it could differ from the fields otherwise: a serializer, a
    computed or excluded field, extra fields or a field constraint."""
    decorators = model.__pydantic_decorators__
    if (
        decorators.field_serializers
        or decorators.model_serializers
        or decorators.computed_fields
        or model.model_config.get("extra") == "allow"
        or any(field.exclude or field.metadata for field in model.model_fields.values())
    ):
        return None
    return {
        name: field.exclude_if
        for name, field in model.model_fields.items()
        if field.exclude_if is not None
    }


P = TypeVar("P", bound=BaseModel)

# The fields the planner gives every node it makes (`cost` is set later, if at all).
_GIVEN = frozenset({"id", "op", "inputs", "params", "hash", "source"})


class Node(BaseModel, Generic[P]):
    """One node of the plan graph.  Subclasses fix `op` and the type of `params`."""

    id: NodeId
    op: str
    inputs: list[NodeId] = []
    params: P
    hash: str = ""
    source: Span | None = None  # the script line this node comes from
    cost: Cost | None = None  # generation windows only; outside the hash

    # Bump when the operation starts making different output from the same
    # parameters: it is part of every node's hash.
    version: ClassVar[int] = 1
    # Where the Ray executor makes it: a shot's own work on the workers,
    # what reads the project or needs every shot on the driver.
    runs_on: ClassVar[Runs] = "worker"
    # Scheduling cost per frame it handles, in frames of a shot's segment.
    frame_cost: ClassVar[float] = 0.0

    OPERATIONS: ClassVar[dict[str, type[Node]]] = {}
    # Its `op` and its parameters' class, looked up once for `make`.
    _op: ClassVar[str]
    _params_type: ClassVar[type[BaseModel]]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        op = cls.model_fields["op"].default
        if isinstance(op, str) and not cls.__pydantic_generic_metadata__["parameters"]:
            Node.OPERATIONS[op] = cls
            cls._op = op
            params_type = cls.model_fields["params"].annotation
            assert isinstance(params_type, type) and issubclass(params_type, BaseModel)
            cls._params_type = params_type

    @model_validator(mode="wrap")
    @classmethod
    def _by_operation(cls, value: Any, handler: Any) -> Any:
        """A node read from JSON becomes an object of its operation's class."""
        if isinstance(value, dict) and not isinstance(cls.model_fields["op"].default, str):
            op = value.get("op")
            if op not in Node.OPERATIONS:
                raise ValueError(f"unknown operation {op!r}")
            return Node.OPERATIONS[op].model_validate(value)
        return handler(value)

    @classmethod
    def make(cls, node_id: NodeId, inputs: list[NodeId], params: P,
             input_hashes: list[str], source: Span | None = None) -> Node:  # fmt: skip
        """A node with its hash, as the planner makes them.

        Its parts are typed already (`params` was validated when the planner built
        it), so the node is assembled without validating them a second time, which
        cost the planner more than the rest of making a node; it equals the
        validated node (tests/test_plan_nodes.py)."""
        if not isinstance(params, cls._params_type):
            raise TypeError(f"{cls.__name__} takes {cls._params_type.__name__}, not {params!r}")
        op = cls._op
        digest = canonical_digest(op, cls.version, params, input_hashes)
        fields = {"id": node_id, "op": op, "inputs": list(inputs), "params": params,
                  "hash": digest, "source": source, "cost": None}  # fmt: skip
        return cls._assembled(fields)

    @classmethod
    def _assembled(cls, fields: dict[str, Any]) -> Node:
        """A node of every field in `fields`, all but `cost` given: what pydantic's
        `model_construct` makes, without its walk over the fields and their defaults
        (a third of making a node).  A class with private attributes or a
        `model_post_init` gets `model_construct` itself."""
        if cls.__private_attributes__ or cls.__pydantic_post_init__:
            return cls.model_construct(set(_GIVEN), **fields)
        node = cls.__new__(cls)
        object.__setattr__(node, "__dict__", fields)
        object.__setattr__(node, "__pydantic_fields_set__", set(_GIVEN))
        object.__setattr__(node, "__pydantic_extra__", None)
        object.__setattr__(node, "__pydantic_private__", None)
        return node

    @property
    def shot(self) -> str | None:
        """The shot this node belongs to; None for the film's and the assets' nodes."""
        return shot_of(self.id)

    def digest(self, input_hashes: list[str]) -> str:
        """The cache key: the operation, its version, the canonical JSON of the
        parameters and the inputs' hashes."""
        return canonical_digest(self.op, self.version, self.params, input_hashes)

    def frames_handled(self, plan: Plan) -> int:
        """The frames it works through, for the scheduler's estimate."""
        return 0

    def run(self, inputs: dict[NodeId, Entry], ctx: RunContext, out: Path) -> dict:
        """Make the output into the staging folder `out`; return its metadata."""
        raise NotImplementedError(f"the {self.op} operation does nothing")


# ------------------------------------------------------------------ sources


class AssetParams(BaseModel):
    path: str
    kind: str
    sha256: str


class Asset(Node[AssetParams]):
    """A project file the script names, keyed by its content."""

    op: Literal["asset"] = "asset"
    runs_on: ClassVar[Runs] = "driver"

    def run(self, inputs: dict[NodeId, Entry], ctx: RunContext, out: Path) -> dict:
        from . import operations

        return operations.asset(self, ctx)


class PromptParams(BaseModel):
    backend: str
    text: str
    negative: str | None


class Prompt(Node[PromptParams]):
    """A shot's prompt and negative prompt, rendered from its backend's template."""

    op: Literal["prompt"] = "prompt"
    runs_on: ClassVar[Runs] = "driver"

    def run(self, inputs: dict[NodeId, Entry], ctx: RunContext, out: Path) -> dict:
        return {"text": self.params.text, "negative": self.params.negative}


# --------------------------------------------------------------- generation


class Window(BaseModel):
    index: int
    start: int  # the window's first frame in the shot
    overlap: int
    last: bool


class PlannedMove(BaseModel):
    """A camera move as a generation window is asked for it: `spec.CameraMove`'s
    fields, timed in the backend's frames."""

    move: str
    direction: str | None = None
    target: str | None = None
    degrees: float | None = None
    factor: float | None = None
    speed: Literal["slow", "fast"] | None = None
    ease: Literal["in", "out", "in-out"] | None = None
    start: int
    frames: int


class CharacterInShot(BaseModel):
    name: str
    refs: list[str]


class SpokenLine(BaseModel):
    """A line as the picture shows it (the animatic's subtitles), in its frames."""

    speaker: str
    text: str
    start: int
    frames: int
    direction: str | None = Field(None, exclude_if=_none)  # its parenthetical, shown first


class Framing(BaseModel):
    """A shot's `angle:` and `lens:`, for a backend that draws them (the animatic)."""

    angle: str | None = None  # eye level, low, high, overhead, dutch
    angle_degrees: float | None = None  # a dutch angle's tilt
    lens_mm: float | None = None


class Direction(BaseModel):
    """What a shot asks of the camera and the frame, in generated frames."""

    id: str
    size: str
    camera: list[PlannedMove]
    plate: str | None  # the location's first reference image
    characters: list[CharacterInShot]
    refs: list[str]
    # The pinned keyframe's path, or the id of the `keyframe` node that makes it.
    keyframe_first: str | None
    keyframe_last: str | None
    dialogue: list[SpokenLine]
    # Only for a backend that draws angle and lens itself, and only when the shot
    # gives one: every other plan keeps the bytes it had before framing was drawn.
    framing: Framing | None = Field(None, exclude_if=_none)


class KeyframeParams(BaseModel):
    maker: str  # the image backend (backends/image.py)
    maker_version: str
    end: Literal["first", "last"]
    prompt: str  # rendered from backends/templates/keyframe.j2
    seed: int
    width: int
    height: int
    shot: Direction  # what the composite lays out: plate, characters, size
    references: list[str]  # the reference pictures it reads, within the maker's limit
    characters: list[str]  # those scored against their reference images
    refs: list[list[str]]  # each scored character's reference images, by path
    embedder: str
    scoring: int  # director/consistency.py's VERSION
    model: str | None
    model_sha256: str | None
    min_consistency: float | int | None  # as given: an int stays an int in the hash
    max_retries: int
    # Only where used, so the keyframes of the built-in maker keep their hashes:
    # the image model's options that change its picture (steps, guidance, model_id);
    maker_options: dict[str, Any] = Field({}, exclude_if=_empty)
    # how many of `references` it reads, when there are more: the most representative,
    # chosen by the embedder when it runs;
    max_references: int | None = Field(None, exclude_if=_empty)
    # per scored character, its accepted keyframe in an earlier shot (an input): the
    # keyframe is scored against it too.
    anchors: dict[str, NodeId] = Field({}, exclude_if=_empty)


class Keyframe(Node[KeyframeParams]):
    """A shot's first or last frame, made by an image backend before any video.

    Scored against the characters' reference images; below the minimum it is
    remade with new seeds, up to `max_retries`, and the best try is accepted.
    Inputs: the reference assets.  The video windows that start (or end) on it
    take it as an input and name it in their `shot.keyframe_first` (or last)."""

    op: Literal["keyframe"] = "keyframe"

    def run(self, inputs: dict[NodeId, Entry], ctx: RunContext, out: Path) -> dict:
        from . import operations

        return operations.keyframe(self, inputs, ctx, out)


class GenerateParams(BaseModel):
    backend: str
    backend_version: str
    options: dict[str, Any]  # the backend's settings that change what it makes
    seed: int
    width: int
    height: int
    fps: float
    frames: int
    window: Window
    continues: Literal["previous_shot"] | None
    shot: Direction


class Generate(Node[GenerateParams]):
    """One window of one take of a shot, made by a backend.

    Inputs, in order: the prompt, the reference and keyframe assets, then the
    frame it continues from (the window before, or for a `continuous` shot's
    first window the previous shot's `select`)."""

    op: Literal["generate"] = "generate"

    @property
    def prompt(self) -> NodeId:
        return self.inputs[0]

    @property
    def previous(self) -> NodeId | None:
        """The node whose last frame this window starts from."""
        continues = self.params.window.index > 0 or self.params.continues is not None
        return self.inputs[-1] if continues else None

    @property
    def assets(self) -> list[NodeId]:
        """The reference and keyframe assets."""
        end = len(self.inputs) - (self.previous is not None)
        return self.inputs[1:end]

    def run(self, inputs: dict[NodeId, Entry], ctx: RunContext, out: Path) -> dict:
        from . import operations

        return operations.generate(self, inputs, ctx, out)


class JoinParams(BaseModel):
    overlap: int
    frames: int


class Join(Node[JoinParams]):
    """The windows of a long take (its inputs, in order) blended across their overlaps."""

    op: Literal["join"] = "join"

    def run(self, inputs: dict[NodeId, Entry], ctx: RunContext, out: Path) -> dict:
        from . import operations

        return operations.join(self, inputs, out)


class ConsistencyParams(BaseModel):
    characters: list[str]
    refs: list[list[str]]  # each character's reference images, by path
    embedder: str
    scoring: int  # director/consistency.py's VERSION
    model: str | None
    model_sha256: str | None


class Consistency(Node[ConsistencyParams]):
    """A take's characters scored against their reference images.  Inputs: the take,
    then the reference assets."""

    op: Literal["consistency"] = "consistency"
    frame_cost: ClassVar[float] = 0.05  # frames of the take (a few are sampled)

    @property
    def take(self) -> NodeId:
        return self.inputs[0]

    def frames_handled(self, plan: Plan) -> int:
        take = plan.node(self.take)  # a take made in windows counts none, as it always has
        return take.params.frames if isinstance(take, Generate) else 0

    def run(self, inputs: dict[NodeId, Entry], ctx: RunContext, out: Path) -> dict:
        from . import operations

        return operations.consistency(self, inputs, ctx, out)


class SelectParams(BaseModel):
    frames: int
    width: int
    height: int
    fps: list[int]  # numerator, denominator
    takes: int
    min_consistency: float | int | None  # as given: an int stays an int in the hash
    max_retries: int
    drift: dict[str, NodeId]  # character → the select of its first scored shot


class Select(Node[SelectParams]):
    """A shot's best take, conformed to the film.  Inputs: the takes, then the
    selects that drift is measured against."""

    op: Literal["select"] = "select"

    @property
    def takes(self) -> list[NodeId]:
        return self.inputs[: self.params.takes]

    def first_window(self, plan: Plan) -> Generate | None:
        """Take 0's first window: its seed is the shot's, take k's is seed + k."""
        node = plan.get(take_node(self.shot or "", 0, "window0"))
        return node if isinstance(node, Generate) else None

    def extra_take(self, plan: Plan, take: int) -> list[Node]:
        """The nodes of take number `take`, beyond the planned takes: take 0's nodes
        (windows, join, consistency) again with seed + `take`, each hashed like a
        planned node, so the same retry of the same shot is the same cache entry,
        and equals take `take` if the script later asks for that many takes.  In
        dependency order; the last is the take's output."""
        prefix = take_node(self.shot or "", 0, "")
        template = [n for n in plan.nodes if n.id.startswith(prefix)]
        renamed = {n.id: n.id.replace("/take0/", f"/take{take}/", 1) for n in template}
        made: dict[NodeId, Node] = {}
        for original in template:
            params = original.params
            if isinstance(original, Generate):
                params = original.params.model_copy(update={"seed": original.params.seed + take})
            inputs = [renamed.get(i, i) for i in original.inputs]
            hashes = [made[i].hash if i in made else plan.node(i).hash for i in inputs]
            clone = original.model_copy(
                update={"id": renamed[original.id], "inputs": inputs, "params": params}
            )
            clone.hash = clone.digest(hashes)
            made[clone.id] = clone
        return list(made.values())

    def run(self, inputs: dict[NodeId, Entry], ctx: RunContext, out: Path) -> dict:
        from . import operations

        return operations.select(self, inputs, ctx, out)


# ------------------------------------------------------------- sound and cut


class VoicedLine(BaseModel):
    speaker: str
    voice: str
    text: str
    start: int
    frames: int
    # Its parenthetical, only when the scratch voice performs it (director/voice.py's
    # `delivery`): a direction that changes nothing heard changes no cache key.
    direction: str | None = Field(None, exclude_if=_none)


class VoiceParams(BaseModel):
    lines: list[VoicedLine]
    fps: list[int]
    sample_rate: int


class Voice(Node[VoiceParams]):
    """A shot's scratch dialogue track."""

    op: Literal["voice"] = "voice"
    frame_cost: ClassVar[float] = 0.01  # frames of the shot

    def frames_handled(self, plan: Plan) -> int:
        return sum(line.frames for line in self.params.lines)

    def run(self, inputs: dict[NodeId, Entry], ctx: RunContext, out: Path) -> dict:
        from . import operations

        return operations.voice_track(self, out)


class SegmentParams(BaseModel):
    start: int
    end: int
    codec: Codec


class Segment(Node[SegmentParams]):
    """The frames of a shot (its `select`) that no transition touches, coded for the cut."""

    op: Literal["segment"] = "segment"
    frame_cost: ClassVar[float] = 1.0  # frames of the shot's piece

    @property
    def select(self) -> NodeId:
        return self.inputs[0]

    def frames_handled(self, plan: Plan) -> int:
        return self.params.end - self.params.start

    def run(self, inputs: dict[NodeId, Entry], ctx: RunContext, out: Path) -> dict:
        from . import operations

        return operations.segment(self, inputs, ctx, out)


class TransitionParams(BaseModel):
    kind: str
    frames: int
    codec: Codec


class Transition(Node[TransitionParams]):
    """A dissolve, wipe or fade, coded for the cut.  Inputs: the `select` of the shot
    before and of the shot after; at the film's start only the one after, at its
    end only the one before (the film's closing fade, the only `fade out` with
    one shot)."""

    op: Literal["transition"] = "transition"
    frame_cost: ClassVar[float] = 2.2  # frames of the blend: two clips decoded

    @property
    def ends(self) -> tuple[NodeId | None, NodeId | None]:
        """The selects before and after it; None at the film's start or end."""
        if len(self.inputs) == 2:
            return self.inputs[0], self.inputs[1]
        if self.params.kind == "fade out":
            return self.inputs[0], None
        return None, self.inputs[0]

    def frames_handled(self, plan: Plan) -> int:
        return self.params.frames

    def run(self, inputs: dict[NodeId, Entry], ctx: RunContext, out: Path) -> dict:
        from . import operations

        return operations.transition(self, inputs, ctx, out)


class AssembleParams(BaseModel):
    codec: Codec
    frames: int


class Assemble(Node[AssembleParams]):
    """The picture of the cut: its pieces (segments and transitions, in order) joined."""

    op: Literal["assemble"] = "assemble"
    runs_on: ClassVar[Runs] = "driver"
    frame_cost: ClassVar[float] = 0.01  # frames of the film: a stream copy

    def frames_handled(self, plan: Plan) -> int:
        return plan.timeline.frames

    def run(self, inputs: dict[NodeId, Entry], ctx: RunContext, out: Path) -> dict:
        from . import operations

        return operations.assemble_cut(self, inputs, out)


class MixParams(BaseModel):
    sample_rate: int
    frames: int
    fps: list[int]
    duck_db: float
    cues: list[TimelineCue]
    dialogue: list[TimelineLine]
    shots: list[TimelineShot]  # only when some shot makes its own sound
    codec: Codec  # the film's: its sound is coded for it here, not at the mux


class Mix(Node[MixParams]):
    """The film's sound.  Inputs: the cues' assets, then the scratch voices, then the
    selects of shots whose backend makes their sound (each group in film order)."""

    op: Literal["mix"] = "mix"
    runs_on: ClassVar[Runs] = "driver"
    frame_cost: ClassVar[float] = 0.09  # frames of the film: mixed, and coded for the film

    def sources(self, plan: Plan) -> tuple[list[NodeId], list[NodeId], list[NodeId]]:
        """(cue assets, voices, shots' own sound), by the class of each input."""
        nodes = [plan.node(i) for i in self.inputs]
        return (
            [n.id for n in nodes if isinstance(n, Asset)],
            [n.id for n in nodes if isinstance(n, Voice)],
            [n.id for n in nodes if isinstance(n, Select)],
        )

    def frames_handled(self, plan: Plan) -> int:
        return plan.timeline.frames

    def run(self, inputs: dict[NodeId, Entry], ctx: RunContext, out: Path) -> dict:
        from . import operations

        return operations.mix(self, inputs, ctx, out)


class MuxParams(BaseModel):
    codec: Codec


class Mux(Node[MuxParams]):
    """The film file.  Inputs: the picture (`assemble`), then the sound (`mix`)."""

    op: Literal["mux"] = "mux"
    runs_on: ClassVar[Runs] = "driver"
    frame_cost: ClassVar[float] = 0.01  # frames of the film: copied

    def frames_handled(self, plan: Plan) -> int:
        return plan.timeline.frames

    def run(self, inputs: dict[NodeId, Entry], ctx: RunContext, out: Path) -> dict:
        from . import operations

        return operations.mux(self, inputs, out)
