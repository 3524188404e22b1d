"""Running a plan with many requests to hosted models in flight at once (`--jobs N`).

A hosted model's generation node spends its time waiting on the provider, so
up to `jobs` of them run in threads while this thread makes every other node
(prompts, conforming, the cut) in plan order as soon as its inputs are ready.
Progress and the result are touched from this thread only.  After a failure
without `--keep-going` no new node starts, but the requests already in flight
are waited for and kept: they are paid for.
"""

from __future__ import annotations

import concurrent.futures as futures
import time

from .cache import Cache
from .hosted_node import Hosted
from .operations import RunContext
from .plan import Node, Plan
from .progress import Progress
from .run import RunResult, make_node, record, reuse, schedule

DEFAULT_JOBS = 4  # requests in flight per compile when --jobs is not given


def is_remote(node: Node) -> bool:
    """Is `node` a request to a hosted model (which may run alongside others)?"""
    return isinstance(node, Hosted)


def execute_concurrently(
    plan: Plan, cache: Cache, context: RunContext, progress: Progress, result: RunResult,
    keep_going: bool, jobs: int,
) -> RunResult:  # fmt: skip
    waiting = schedule(plan)
    failed: set[str] = set()
    running: dict[futures.Future, tuple[Node, float]] = {}
    stopping = False
    pool = futures.ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="director-remote")
    try:
        while waiting or running:
            started = _start_ready(waiting, running, failed, stopping, cache, context,
                                   progress, result, pool, jobs)  # fmt: skip
            if started is None:  # a node made here failed
                stopping = not keep_going
            if not running and not started:
                break  # nothing in flight and nothing more can start
            if running and not started:
                done, _ = futures.wait(running, return_when=futures.FIRST_COMPLETED)
                for future in done:
                    node, began = running.pop(future)
                    if not _finish(node, future.result(), began, failed, progress, result):
                        stopping = stopping or not keep_going
    except BaseException:
        _interrupt(context)
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    progress.close()
    return result


def _start_ready(waiting, running, failed, stopping, cache, context, progress, result, pool,
                 jobs) -> bool | None:  # fmt: skip
    """Start what can start: remote nodes in the pool, others here.  True when anything
    started or finished here, False when nothing could, None after a local failure."""
    started = False
    for node in list(waiting):
        if any(i in failed for i in node.inputs):
            waiting.remove(node)
            failed.add(node.id)
            result.blocked.append(node)
            started = True
            continue
        if stopping or not all(i in result.outputs for i in node.inputs):
            continue
        if reuse(node, cache, progress, result):
            waiting.remove(node)
            started = True
            continue
        if is_remote(node):
            if len(running) >= jobs:
                continue
            waiting.remove(node)
            context.backend(node.params.backend, node.params.options)  # made here, not racing
            progress.start(node)
            inputs = {i: result.outputs[i] for i in node.inputs}
            future = pool.submit(make_node, node, inputs, cache, context)
            running[future] = (node, time.monotonic())
            started = True
            continue
        waiting.remove(node)
        began = time.monotonic()
        progress.start(node)
        made = make_node(node, {i: result.outputs[i] for i in node.inputs}, cache, context)
        if not _finish(node, made, began, failed, progress, result):
            return None
        return True  # the plan order matters for the rest: look again from the top
    return started


def _finish(node, made, began, failed, progress, result) -> bool:
    failure = record(node, made, time.monotonic() - began, progress, result)
    if failure is None:
        return True
    failed.add(node.id)
    result.failures.append(failure)
    progress.failed(node, failure.message)
    return False


def _interrupt(context: RunContext) -> None:
    """Tell every hosted backend's polling threads to stop waiting (their jobs stay
    recorded: the next run polls them again)."""
    for backend in list(context._backends.values()):
        interrupt = getattr(backend, "interrupt", None)
        if interrupt is not None:
            interrupt()
