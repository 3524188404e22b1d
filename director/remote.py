"""Running a plan with many requests to hosted models in flight at once (`--jobs N`).

A hosted node is made in two halves: its request (`Hosted.fetch`: sent once,
waited for, its result downloaded into the hosted journal) and the conforming
of that result into the cache (`make_node`, which finds the result kept).  Up
to `jobs` requests are in flight at once, each in a thread of their own pool;
the moment one's result is downloaded its slot takes the next request, and the
result is conformed in a thread of a second pool.  This thread makes every
other node (prompts, `select`, the cut) in plan order as soon as its inputs
are ready, but never while a request could go out instead: renders are the
long pole, and local work fits in while they run.

Progress and the result are touched from this thread only.  After a failure
without `--keep-going` no new node starts, but the requests already in flight
are waited for and their results conformed and kept: they are paid for.
"""

from __future__ import annotations

import concurrent.futures as futures
import time
from dataclasses import dataclass

from backends.base import BackendError

from .cache import Cache
from .hosted_node import Hosted
from .operations import OperationError, RunContext
from .plan import Node, Plan
from .progress import Progress
from .run import Failure, RunResult, make_node, record, reuse, schedule

DEFAULT_JOBS = 4  # requests in flight per compile when --jobs is not given


@dataclass
class Flight:
    """What one running future is doing for a node."""

    node: Node
    began: float  # when the node started, for its progress line
    requesting: bool  # True: its request (holds a slot); False: conforming the result


@dataclass
class Executor:
    """The state of one concurrent run: what waits, what runs, in which pool."""

    cache: Cache
    context: RunContext
    progress: Progress
    result: RunResult
    jobs: int
    requests: futures.ThreadPoolExecutor
    conforming: futures.ThreadPoolExecutor
    waiting: list[Node]
    failed: set[str]
    running: dict[futures.Future, Flight]
    stopping: bool = False

    @property
    def in_flight(self) -> int:
        return sum(flight.requesting for flight in self.running.values())


def execute_concurrently(
    plan: Plan, cache: Cache, context: RunContext, progress: Progress, result: RunResult,
    keep_going: bool, jobs: int,
) -> RunResult:  # fmt: skip
    run = Executor(
        cache, context, progress, result, jobs,
        requests=futures.ThreadPoolExecutor(jobs, thread_name_prefix="director-request"),
        conforming=futures.ThreadPoolExecutor(jobs, thread_name_prefix="director-conform"),
        waiting=schedule(plan), failed=set(), running={},
    )  # fmt: skip
    block = False
    try:
        while run.waiting or run.running:
            if run.running:  # land what finished; wait only when nothing else can move
                done, _ = futures.wait(run.running, timeout=None if block else 0,
                                       return_when=futures.FIRST_COMPLETED)  # fmt: skip
                for future in done:
                    if not _land(run, run.running.pop(future), future.result()):
                        run.stopping = run.stopping or not keep_going
            moved = _start_ready(run)
            if moved is None:  # a node made here failed
                run.stopping, moved = run.stopping or not keep_going, True
            if not run.running and not moved:
                break  # nothing in flight and nothing more can start
            block = not moved
    except BaseException:
        _interrupt(context)
        for pool in (run.requests, run.conforming):
            pool.shutdown(wait=True, cancel_futures=True)
        raise
    for pool in (run.requests, run.conforming):
        pool.shutdown(wait=True)
    progress.close()
    return result


def _start_ready(run: Executor) -> bool | None:
    """Start what can start: first every request a slot is free for, then one local
    node here.  True when anything started or finished, False when nothing could,
    None after a local node failed."""
    moved = False
    local = None
    for node in list(run.waiting):
        if any(i in run.failed for i in node.inputs):
            run.waiting.remove(node)
            run.failed.add(node.id)
            run.result.blocked.append(node)
            moved = True
            continue
        if run.stopping or not all(i in run.result.outputs for i in node.inputs):
            continue
        if reuse(node, run.cache, run.progress, run.result):
            run.waiting.remove(node)
            moved = True
        elif not isinstance(node, Hosted):  # made here, once no request can go instead
            local = local or node
        elif run.in_flight < run.jobs:
            run.waiting.remove(node)
            _send(run, node)
            moved = True
    if local is None:
        return moved
    run.waiting.remove(local)
    began = time.monotonic()
    run.progress.start(local)
    made = make_node(local, _inputs(run, local), run.cache, run.context)
    return True if _finish(run, local, made, began) else None


def _send(run: Executor, node: Hosted) -> None:
    """Start a hosted node's request in a slot of the request pool."""
    run.context.backend(node.params.backend, node.params.options)  # made here, not racing
    run.progress.start(node)
    future = run.requests.submit(fetch, node, _inputs(run, node), run.context)
    run.running[future] = Flight(node, time.monotonic(), requesting=True)


def fetch(node: Hosted, inputs: dict, context: RunContext) -> Failure | None:
    """A hosted node's request, up to its downloaded result: None when it is there.
    A provider's refusal is the node's failure; any other error is left for
    `make_node` to meet again and report as it reports every node's."""
    try:
        node.fetch(inputs, context)
    except (OperationError, BackendError) as error:
        return Failure(node, str(error))
    except Exception:  # make_node, which follows, meets it again and says it in context
        pass
    return None


def _land(run: Executor, flight: Flight, outcome) -> bool:
    """Take a finished future's outcome: a request's result goes to be conformed,
    a conformed node into the result.  False when the node failed."""
    node = flight.node
    if not flight.requesting:
        return _finish(run, node, outcome, flight.began)
    if outcome is not None:  # the request failed: nothing to conform
        return _finish(run, node, outcome, flight.began)
    future = run.conforming.submit(make_node, node, _inputs(run, node), run.cache, run.context)
    run.running[future] = Flight(node, flight.began, requesting=False)
    return True


def _inputs(run: Executor, node: Node) -> dict:
    return {i: run.result.outputs[i] for i in node.inputs}


def _finish(run: Executor, node: Node, made, began: float) -> bool:
    failure = record(node, made, time.monotonic() - began, run.progress, run.result)
    if failure is None:
        return True
    run.failed.add(node.id)
    run.result.failures.append(failure)
    run.progress.failed(node, failure.message)
    return False


def _interrupt(context: RunContext) -> None:
    """Tell every hosted backend's polling threads to stop waiting (their jobs stay
    recorded: the next run polls them again)."""
    for backend in list(context._backends.values()):
        interrupt = getattr(backend, "interrupt", None)
        if interrupt is not None:
            interrupt()
