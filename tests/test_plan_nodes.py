"""The plan graph's operation classes: one class is all an operation takes.

A toy operation, defined here and nowhere else, is hashed with its version,
serialised and read back as its class, described by `director schema`,
scheduled by its cost and made by the runtime, which dispatches on its
class.  And no module outside the plan's own reads a node's parameters by
string key or finds an input by the text of its id.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import ClassVar, Literal

import jsonschema
import pytest
from pydantic import BaseModel, field_serializer

from director import ray_executor
from director.cache import Cache
from director.check import check_file
from director.plan import Plan, plan_film, plan_schema
from director.plan_nodes import Node, Timeline
from director.run import execute

ROOT = Path(__file__).resolve().parents[1]


class ShoutParams(BaseModel):
    text: str
    times: int


class Shout(Node[ShoutParams]):
    """A toy operation: writes its text, and its inputs' texts, `times` times."""

    op: Literal["shout"] = "shout"
    version: ClassVar[int] = 3
    runs_on: ClassVar[Literal["driver", "worker"]] = "driver"
    frame_cost: ClassVar[float] = 2.0

    def frames_handled(self, plan: Plan) -> int:
        return self.params.times

    def run(self, inputs, ctx, out: Path) -> dict:
        heard = [(inputs[i].folder / "shout.txt").read_text() for i in self.inputs]
        (out / "shout.txt").write_text("".join(heard) + self.params.text * self.params.times)
        return {"times": self.params.times}


def _toy_plan() -> Plan:
    first = Shout.make("toy/first", [], ShoutParams(text="a", times=2), [])
    second = Shout.make("toy/second", [first.id], ShoutParams(text="b", times=3), [first.hash])
    timeline = Timeline(fps_num=24, fps_den=1, frames=0, shots=[], transitions=[], cues=[],
                        dialogue=[])  # fmt: skip
    return Plan(title="Toy", width=2, height=2, fps_num=24, fps_den=1, backends={},
                nodes=[first, second], output=second.id, timeline=timeline)  # fmt: skip


def test_a_new_operation_is_one_class(tmp_path, monkeypatch):
    plan = _toy_plan()
    # its version is in its hash
    first = plan.nodes[0]
    monkeypatch.setattr(Shout, "version", 2)
    assert Shout.make(first.id, [], first.params, []).hash != first.hash
    monkeypatch.undo()
    # read back from JSON as its own class, the same bytes again
    text = plan.to_json()
    again = Plan.model_validate_json(text)
    assert all(isinstance(node, Shout) for node in again.nodes)
    assert again.to_json() == text
    # the schema describes it, and the plan is valid against it
    schema = plan_schema()
    assert "shout" in schema["$defs"]["Node"]["discriminator"]["mapping"]
    jsonschema.validate(plan.model_dump(mode="json", by_alias=True), schema)
    # the scheduler costs it by its class's figures
    cost, unit = ray_executor.durations(plan)
    assert (
        unit == "s"
        and cost(plan.nodes[1]) == 2.0 * 3 * 2 * 2 * ray_executor.SEGMENT_SECONDS_PER_PIXEL
    )
    # the runtime makes it, by its class, over the cache
    result = execute(again, tmp_path, Cache(tmp_path / "cache"))
    assert result.ok and result.ran == ["toy/first", "toy/second"]
    assert result.outputs["toy/second"].file("shout.txt").read_text() == "aabbb"


def test_an_unknown_operation_in_a_plan_file_is_refused():
    text = _toy_plan().to_json().replace('"op": "shout"', '"op": "whisper"', 1)
    try:
        Plan.model_validate_json(text)
    except ValueError as error:
        assert "unknown operation 'whisper'" in str(error)
    else:
        raise AssertionError("a plan with an unknown operation was read")


# What reading a node's parameters by string key, or finding an input by the text of
# its id, looks like; only the plan's own modules (director/plan*.py) know the ids.
OLD_HABITS = re.compile(
    r"""params\[["']|params\.get\(|\.op\s*(==|!=|in|not in)\s|\bOPERATIONS\[|"""
    r"""\.split\("/"\)\[|endswith\("/|startswith\("(shot|asset|transition|film)/|"""
    r"""f"(shot|asset)/\{"""
)


def test_no_module_outside_the_plan_reads_params_by_key_or_parses_node_ids():
    found = []
    for path in sorted([*(ROOT / "director").glob("*.py"), *(ROOT / "backends").rglob("*.py")]):
        if path.parent.name == "director" and path.name.startswith("plan"):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if OLD_HABITS.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == []


def _dumped_hash(node: Node, input_hashes: list[str]) -> str:
    """A node's hash as every plan has had it: the canonical JSON of `model_dump()`."""
    payload = [node.op, node.version, node.params.model_dump(), input_hashes]
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize("backend", [None, "ltx2", "kling-3"])
def test_made_nodes_equal_validated_ones_and_hash_their_dump(backend):
    """`Node.make` assembles a node from the planner's typed parts without validating
    them again, and hashes the parameters' fields without dumping them first: each
    node equals the one pydantic validates from the same fields, serialises the
    same, and has the hash of its parameters' `model_dump()`."""
    film = check_file(ROOT / "tests" / "fixtures" / "language" / "film.shot").film
    plan = plan_film(film, backend=backend, keyframes="generate").plan
    assert plan is not None and len({type(node) for node in plan.nodes}) >= 8
    for node in plan.nodes:
        validated = type(node)(**{name: getattr(node, name) for name in type(node).model_fields})
        assert node == validated
        assert node.model_dump_json() == validated.model_dump_json()
        assert node.hash == _dumped_hash(node, [plan.node(i).hash for i in node.inputs])


class Upper(BaseModel):
    text: str

    @field_serializer("text")
    def _shouted(self, text: str) -> str:
        return text.upper()


class LoudParams(BaseModel):
    words: list[Upper]


class Loud(Node[LoudParams]):
    """A toy operation whose parameters dump otherwise than they hold."""

    op: Literal["loud"] = "loud"


def test_parameters_that_dump_otherwise_than_they_hold_are_hashed_by_their_dump():
    made = Loud.make("toy/loud", [], LoudParams(words=[Upper(text="hey")]), [])
    assert made.hash == _dumped_hash(made, [])
    assert '"HEY"' in json.dumps(made.params.model_dump())  # the dump is what differs


def test_a_node_is_made_only_of_its_own_parameters():
    with pytest.raises(TypeError, match="Shout takes ShoutParams"):
        Shout.make("toy/wrong", [], LoudParams(words=[]), [])
