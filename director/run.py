"""The runtime: executes a plan's nodes in dependency order over the cache.

Scheduling (which order) is `schedule`; execution (doing each node) is
`execute`, which asks the cache first and runs an operation only for a node
whose hash it has not seen.  A failure points back to the script line that
caused the node.
"""

from __future__ import annotations

import errno
import shutil
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from backends.base import BackendError

from .cache import Cache, Entry
from .operations import OperationError, RunContext, check_assets
from .plan import Node, Plan
from .progress import Progress


@dataclass
class Failure:
    node: Node
    message: str

    def __str__(self) -> str:
        where = f"{self.node.source}: " if self.node.source else ""
        return f"{where}{self.node.op} {self.node.id} failed: {self.message}"


class DiskFull(Exception):
    """The disk holding the cache filled up while `node` was being made.  The run
    stops at once (nothing else would fit either); every finished entry stays."""

    def __init__(self, node: Node, error: BaseException):
        super().__init__(f"no space left while making {node.op} {node.id}: {error}")
        self.node = node


# Below this much free space, a failed write is taken for a full disk even when the
# library that failed does not say so (libsndfile reports only "System error").
DISK_FULL_MARGIN = 1 << 20


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
    jobs: int = 1,
) -> RunResult:
    """Run every node not already in the cache.  Raises KeyboardInterrupt through,
    after removing the interrupted node's half-written files.  With `jobs` above 1,
    up to that many requests to hosted models are in flight at once (remote.py)."""
    context = context or RunContext(plan, root)
    progress = progress or Progress(len(plan.timeline.shots), mode="quiet")
    result = RunResult()
    failed: set[str] = set()
    cache.clean_staging()
    if jobs > 1:
        from .remote import execute_concurrently

        return execute_concurrently(plan, cache, context, progress, result, keep_going, jobs)
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
    if reuse(node, cache, progress, result):
        return None
    progress.start(node)
    inputs = {i: result.outputs[i] for i in node.inputs}
    made = make_node(node, inputs, cache, context)
    return record(node, made, time.monotonic() - started, progress, result)


def reuse(node: Node, cache: Cache, progress: Progress, result: RunResult) -> bool:
    """Take `node`'s output from the cache if it is there (and intact): True when it was.
    A damaged entry is said, and left to be made again."""
    entry = cache.get(node.hash)
    if entry is not None:
        result.outputs[node.id] = entry
        result.reused.append(node.id)
        progress.done(node, 0.0, reused=True)
        return True
    if node.hash in cache.damaged:
        damage = cache.damaged[node.hash]
        progress.warn(node, f"its cache entry was damaged ({damage}); making it again")
    return False


def make_node(node: Node, inputs: dict[str, Entry], cache: Cache, context) -> Entry | Failure:
    """Make one node by its operation and commit it to the cache: its entry, or the
    Failure of an operation, backend or codec.  A full disk raises DiskFull; Ctrl-C
    and exits go through; either way after the node's half-written files are removed.
    Every executor makes nodes through this function (the Ray executor on its workers)."""
    staged = None
    try:
        staged = cache.stage(node.hash)
        meta = node.run(inputs, context, staged)
        check_assets(node, context)
        return cache.commit(node.hash, staged, node.op, meta)
    except BaseException as error:
        full = disk_full(error, cache.root)  # before the discard frees the space
        if staged is not None:
            cache.discard(staged)
        if full:
            raise DiskFull(node, error) from error
        if isinstance(error, OperationError | BackendError):
            return Failure(node, str(error))
        if not isinstance(error, Exception):  # Ctrl-C, exit: through, after the cleanup
            raise
        # a backend's or codec's own failure: keep it, with context
        detail = "".join(traceback.format_exception_only(type(error), error)).strip()
        return Failure(node, detail)


def record(
    node: Node, made: Entry | Failure, seconds: float, progress: Progress, result: RunResult
) -> Failure | None:
    """Note a node just made (or its failure) in the result and the progress."""
    if isinstance(made, Failure):
        return made
    result.outputs[node.id] = made
    for retry in made.meta.get("retries", []):
        progress.warn(node, f"{retry['problem']}; {retry['then']}")
    result.ran.append(node.id)
    progress.done(node, seconds, reused=False)
    return None


def disk_full(error: BaseException, folder: Path) -> bool:
    """Did `error` come from running out of disk space (or quota) under `folder`?"""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        cause = cause.__cause__ or cause.__context__
    if not isinstance(error, Exception) or isinstance(error, OperationError | BackendError):
        return False
    try:
        return shutil.disk_usage(folder).free < DISK_FULL_MARGIN
    except OSError:
        return False


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
        changed = _changed_params(node, before)
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


def _changed_params(node: Node, before: Node) -> list[str]:
    """The names of the parameters that differ between two versions of a node."""
    now, then = node.params.model_dump(), before.params.model_dump()
    return [key for key in sorted(set(now) | set(then)) if now.get(key) != then.get(key)]
