"""The runtime: executes a plan's nodes in dependency order over the cache.

Scheduling (which order) is `schedule`; execution (doing each node) is
`execute`, which asks the cache first and runs an operation only for a node
whose hash it has not seen.  A failure points back to the script line that
caused the node.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from .cache import Cache, Entry
from .operations import OPERATIONS, OperationError, RunContext
from .plan import Node, Plan
from .progress import Progress


@dataclass
class Failure:
    node: Node
    message: str

    def __str__(self) -> str:
        where = f"{self.node.source}: " if self.node.source else ""
        return f"{where}{self.node.op} {self.node.id} failed: {self.message}"


@dataclass
class RunResult:
    outputs: dict[str, Entry] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    blocked: list[Node] = field(default_factory=list)  # not run because an input failed
    ran: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures and not self.blocked


def schedule(plan: Plan) -> list[Node]:
    """Nodes in an order where every node comes after its inputs (Kahn's algorithm,
    keeping the plan's own order among nodes that are ready together)."""
    by_id = {node.id: node for node in plan.nodes}
    waiting = {node.id: len(set(node.inputs)) for node in plan.nodes}
    users: dict[str, list[str]] = {}
    for node in plan.nodes:
        for input_id in set(node.inputs):
            users.setdefault(input_id, []).append(node.id)
    position = {node.id: index for index, node in enumerate(plan.nodes)}
    ready = [node.id for node in plan.nodes if waiting[node.id] == 0]
    order: list[Node] = []
    import heapq

    heap = [(position[i], i) for i in ready]
    heapq.heapify(heap)
    while heap:
        _, node_id = heapq.heappop(heap)
        order.append(by_id[node_id])
        for user in users.get(node_id, []):
            waiting[user] -= 1
            if waiting[user] == 0:
                heapq.heappush(heap, (position[user], user))
    if len(order) != len(plan.nodes):
        raise ValueError("the plan's graph has a cycle")
    return order


def execute(
    plan: Plan,
    root: Path,
    cache: Cache,
    *,
    keep_going: bool = False,
    progress: Progress | None = None,
    context: RunContext | None = None,
) -> RunResult:
    """Run every node not already in the cache.  Raises KeyboardInterrupt through,
    after removing the interrupted node's half-written files."""
    context = context or RunContext(plan, root)
    progress = progress or Progress(len(plan.timeline.shots), mode="quiet")
    result = RunResult()
    failed: set[str] = set()
    cache.clean_staging()
    for node in schedule(plan):
        if any(i in failed for i in node.inputs):
            failed.add(node.id)
            result.blocked.append(node)
            continue
        failure = _run_node(node, cache, context, progress, result)
        if failure is not None:
            failed.add(node.id)
            result.failures.append(failure)
            progress.failed(node, failure.message)
            if not keep_going:
                break
    progress.close()
    return result


def _run_node(node, cache: Cache, context, progress: Progress, result: RunResult):
    started = time.monotonic()
    entry = cache.get(node.hash)
    if entry is not None:
        result.outputs[node.id] = entry
        result.reused.append(node.id)
        progress.done(node, 0.0, reused=True)
        return None
    progress.start(node)
    inputs = {i: result.outputs[i] for i in node.inputs}
    staged = cache.stage(node.hash)
    try:
        meta = OPERATIONS[node.op](node, inputs, context, staged)
        result.outputs[node.id] = cache.commit(node.hash, staged, node.op, meta)
    except OperationError as error:
        cache.discard(staged)
        return Failure(node, str(error))
    except KeyboardInterrupt:
        cache.discard(staged)
        raise
    except Exception as error:  # a backend's or codec's own failure: keep it, with context
        cache.discard(staged)
        detail = "".join(traceback.format_exception_only(type(error), error)).strip()
        return Failure(node, detail)
    result.ran.append(node.id)
    progress.done(node, time.monotonic() - started, reused=False)
    return None


def explain(plan: Plan, cache: Cache, previous: Plan | None) -> list[tuple[Node, str]]:
    """For `--dry-run`: each node that would run, and why."""
    old = {node.id: node for node in previous.nodes} if previous else {}
    new_hashes = {node.id: node.hash for node in plan.nodes}
    reasons = []
    for node in schedule(plan):
        if cache.has(node.hash):
            continue
        before = old.get(node.id)
        if before is None:
            reasons.append((node, "new"))
            continue
        changed = [
            key
            for key in sorted(set(node.params) | set(before.params))
            if node.params.get(key) != before.params.get(key)
        ]
        inputs = [i for i in node.inputs if old.get(i) is None or old[i].hash != new_hashes[i]]
        why = []
        if changed:
            why.append("parameters changed: " + ", ".join(changed))
        if inputs:
            why.append(
                "inputs changed: " + ", ".join(inputs[:4]) + (" …" if len(inputs) > 4 else "")
            )
        if not why:
            why.append("not in the cache")
        reasons.append((node, "; ".join(why)))
    return reasons
