"""The Ray executor: a plan's shots made on a Ray cluster, the film finished on the driver.

`director compile --executor ray` runs the same plan as the local executor
(`run.py`), over the same content-addressed cache, with the same progress and
the same failures; only where each node is made changes.

Where nodes run.  A shot's own work (`runs_on = "worker"`: its generation windows and
what is made from its clips: joins, scores, the take chosen, its scratch
voice, its segment and transitions of the cut) runs on a pool of Ray actors.
Each actor keeps the backends it has loaded (`RunContext` holds them), so a
model is loaded once per worker, not once per shot, and each asks Ray for the
resources its backends declare (`Backend.resources`: a GPU for a diffusers
backend on CUDA, else a CPU; and the memory of the dearest window that the
backend's estimate gives for a CPU backend).  Reading the project's files
(`asset`, `prompt`) and the three nodes that need every shot (`assemble`,
`mix`, `mux`) run on the driver.  Every node must make the same bytes in any
process, whatever that process made before (the scratch voice, for one, says
each line with a fresh instance of espeak-ng for that reason).

The cache is shared, not shipped.  A worker makes a node exactly as a local
run does (`run.make_node`: a staging folder, then one rename into the cache)
and sends back only where the entry is; the driver then reads that entry as
it reads any entry it reuses, checking every digest.  So the cache and the
project folder must be at the same path on every node of the cluster (one
machine, NFS, a cluster file system).  At start-up each worker must read
back a file the driver has just written into the cache, and see the project
folder, or the run is refused before any work.  Clips never pass through
Ray's object store: a 1,000-shot film's picture would not fit it.

Scheduling is separate from execution.  `ranks` gives each node the
estimated seconds of the longest chain of work from it to the end of the
plan (the upward rank of list scheduling); whenever a worker is free it gets
the ready node of highest rank.  So the longest chains (continuous shots,
which each wait for the previous shot's last frame, and long shots made in
many windows) start first, independent shots spread over the workers, and
the takes of a shot, which depend on nothing of each other, run side by side.
`simulate` plays the same rule out on the estimates for `--dry-run`.

Faults.  A worker process that dies mid-node (killed, out of memory, its
machine lost) is restarted by Ray and the node retried (`RETRIES` times, Ray's
`max_task_retries`); what it had half-written is a staging folder that the
next run removes, and every finished node stays in the cache.  A node that
fails, by its own error or by outliving its retries, is reported exactly as a
local failure, with its script line.  A driver that dies loses nothing
either: the next compile, with either executor, reuses every finished entry.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import heapq
import logging
import queue
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backends import registry

from . import clips
from .cache import Cache, Entry
from .operations import RunContext
from .plan import Plan
from .plan_nodes import Generate, Node
from .progress import Progress
from .run import DiskFull, Failure, RunResult, make_node, record, reuse, schedule

RETRIES = 2  # times a node is made again after its worker process died
RAY_NAMES = {"num_cpus": "CPU", "num_gpus": "GPU", "memory": "memory"}


class ClusterError(Exception):
    """The cluster cannot run this plan: Ray is missing or unreachable, no node has the
    resources the workers ask for, or the workers cannot see the cache."""


# ------------------------------------------------------------------ scheduling


# What the nodes other than generation cost, per frame they handle, in frames
# of a shot's segment (decoded and coded again for delivery: about 8 ms a 720p
# frame on the 2-core machine of docs/benchmarks.md, so 9e-9 s a pixel).
# Measured on the animatic film of bench/ray_scaling.py; only the order they
# give matters: the longer pieces of the cut first, and the scratch voices
# before most segments, so that the mix (on the driver) is made while the
# workers cut rather than at the end.
SEGMENT_SECONDS_PER_PIXEL = 9e-9
# Each operation's cost per frame it handles is its class's `frame_cost`.


def durations(plan: Plan) -> tuple[Callable[[Node], float], str]:
    """What each node is taken to cost, and the unit: seconds when every generation
    window has its backend's time estimate, else frame-steps (frames x denoising
    steps, a frame of segment counting as one step), which order the work just as
    well (`ltx2` and `wan` give no time estimate yet).  A generation window costs
    its backend's estimate; other nodes the frames they handle (`frames_handled`)
    at their class's `frame_cost`."""
    windows = plan.of_class(Generate)
    timed = all(node.cost is not None and node.cost.seconds is not None for node in windows)
    per_frame = plan.width * plan.height * SEGMENT_SECONDS_PER_PIXEL if timed else 1.0

    def cost(node: Node) -> float:
        if isinstance(node, Generate):
            if node.cost is not None and node.cost.seconds is not None and timed:
                return node.cost.seconds
            steps = (
                node.cost.steps if node.cost is not None else node.params.options.get("steps", 1)
            )
            return float(node.params.frames * steps)
        return node.frame_cost * node.frames_handled(plan) * per_frame

    return cost, "s" if timed else "frame-steps"


def ranks(plan: Plan) -> dict[str, float]:
    """Each node's priority: the estimated cost of the longest chain of nodes from it
    (itself included) to the end of the plan."""
    cost, _ = durations(plan)
    users = _users(plan)
    rank: dict[str, float] = {}
    for node in reversed(schedule(plan)):
        after = max((rank[user] for user in users.get(node.id, ())), default=0.0)
        rank[node.id] = cost(node) + after
    return rank


class Frontier:
    """The plan's nodes whose inputs are all finished, longest chain first (plan
    order breaks ties): what both the real run and the dry-run's simulation pick
    their next node from."""

    def __init__(self, plan: Plan):
        self.by_id = {node.id: node for node in plan.nodes}
        self._users = _users(plan)
        self._waiting = {node.id: len(set(node.inputs)) for node in plan.nodes}
        self._position = {node.id: index for index, node in enumerate(plan.nodes)}
        self._rank = ranks(plan)
        self.ready = [self.key(i) for i, count in self._waiting.items() if count == 0]
        heapq.heapify(self.ready)

    def key(self, node_id: str) -> tuple[float, int, str]:
        """A heap entry: the smallest is the node to make first."""
        return (-self._rank[node_id], self._position[node_id], node_id)

    def pop(self) -> Node:
        return self.by_id[heapq.heappop(self.ready)[2]]

    def finish(self, node_id: str) -> None:
        """`node_id` is done: the nodes waiting only for it become ready."""
        for user in self._users.get(node_id, ()):
            self._waiting[user] -= 1
            if self._waiting[user] == 0:
                heapq.heappush(self.ready, self.key(user))


@dataclass(frozen=True)
class Slot:
    """One node of a simulated schedule: which worker makes it, from when to when."""

    node: Node
    worker: int
    start: float
    end: float


def simulate(plan: Plan, workers: int, done: Callable[[Node], bool]) -> list[Slot]:
    """The schedule the executor follows on `workers` workers if every node costs what
    `durations` says: list scheduling by `ranks`.  Nodes that are `done` (in the cache)
    and the driver's nodes cost nothing."""
    cost, _ = durations(plan)
    frontier = Frontier(plan)
    free = list(range(workers))
    running: list[tuple[float, int, str]] = []
    slots: list[Slot] = []
    now = 0.0
    while frontier.ready or running:
        waiting_for_a_worker = []
        while frontier.ready:
            node = frontier.pop()
            if node.runs_on != "worker" or done(node):
                frontier.finish(node.id)
            elif free:
                worker = heapq.heappop(free)
                slots.append(Slot(node, worker, now, now + cost(node)))
                heapq.heappush(running, (now + cost(node), worker, node.id))
            else:
                waiting_for_a_worker.append(frontier.key(node.id))
        for item in waiting_for_a_worker:
            heapq.heappush(frontier.ready, item)
        if not running:
            break
        now, worker, node_id = heapq.heappop(running)
        heapq.heappush(free, worker)
        frontier.finish(node_id)
    return slots


def describe(plan: Plan, workers: int, done: Callable[[Node], bool]) -> list[str]:
    """For `--dry-run`: the generation windows as they would be spread over `workers`
    workers, and the estimated makespan."""
    cost, unit = durations(plan)
    show = _clock if unit == "s" else (lambda work: f"{work:,.0f}")
    every = simulate(plan, workers, done)
    slots = [s for s in every if isinstance(s.node, Generate)]
    plural = "s" * (workers != 1)
    lines = [f"parallel schedule on {workers} worker{plural}" + ("" if unit == "s" else
             " (in frame-steps: frames x denoising steps)") + ":"]  # fmt: skip
    for slot in sorted(slots, key=lambda s: (s.start, s.worker)):
        where = f"  ({slot.node.source})" if slot.node.source else ""
        lines.append(
            f"  worker {slot.worker + 1:<3} {show(slot.start)} - {show(slot.end)}  "
            f"{slot.node.id}{where}"
        )
    serial = sum(cost(s.node) for s in every)
    makespan = max((s.end for s in every), default=0.0)
    speedup = f", {serial / makespan:.1f}x" if makespan else ""
    if unit == "s":
        lines.append(
            f"estimated makespan: {_clock(makespan)} of generation and cutting on {workers} "
            f"worker{plural} ({_clock(serial)} on one{speedup}); assembling, mixing and "
            "muxing the film come on top"
        )
        return lines
    unknown = sorted(
        {
            s.node.params.backend
            for s in slots
            if isinstance(s.node, Generate) and (s.node.cost is None or s.node.cost.seconds is None)
        }
    )
    lines.append(
        f"estimated makespan: {makespan:,.0f} frame-steps on {workers} worker{plural} "
        f"({serial:,.0f} on one{speedup}); in seconds unknown: the {', '.join(unknown)} "
        "backend gives no time estimate (docs/scaling.md has the arithmetic)"
    )
    return lines


def _clock(seconds: float) -> str:
    """Seconds as 12.3s under 100 s, else H:MM:SS."""
    if seconds < 99.95:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def _users(plan: Plan) -> dict[str, list[str]]:
    users: dict[str, list[str]] = {}
    for node in plan.nodes:
        for input_id in set(node.inputs):
            users.setdefault(input_id, []).append(node.id)
    return users


# ------------------------------------------------------------------ resources


def worker_resources(plan: Plan, runtime: dict[str, dict], todo: list[Node]) -> dict[str, float]:
    """What each worker asks Ray for: the most any backend of the generation windows in
    `todo` declares (`Backend.resources`), and for windows made on the CPU the memory
    of the dearest one, from its backend's estimate."""
    need: dict[str, float] = {"num_cpus": 1}
    windows = [node for node in todo if isinstance(node, Generate)]
    for name in sorted({node.params.backend for node in windows}):
        declared = registry.get(name).resources(runtime.get(name, {}))
        for key, amount in declared.items():
            need[key] = max(need.get(key, 0), amount)
    if "num_gpus" not in need:
        memory = max((n.cost.memory_bytes for n in windows if n.cost is not None), default=0)
        if memory:
            need["memory"] = memory
    return need


def capacity(nodes: list[dict], need: dict[str, float]) -> int:
    """How many workers asking for `need` the cluster's live nodes (`ray.nodes()`) fit."""
    total = 0
    for node in nodes:
        if not node.get("Alive", False):
            continue
        have = node.get("Resources", {})
        total += min(int(have.get(RAY_NAMES[key], 0) // amount) for key, amount in need.items())
    return total


def _no_room(need: dict[str, float]) -> str:
    return (
        f"no node of the Ray cluster has {_wanted(need)}, which each worker for this "
        "plan's backends asks for"
    )


def _wanted(need: dict[str, float]) -> str:
    parts = []
    for key, amount in need.items():
        if key == "memory":
            parts.append(f"{amount / 2**20:.0f} MiB of memory")
        else:
            parts.append(f"{amount:g} {RAY_NAMES[key]}")
    return ", ".join(parts)


# ------------------------------------------------------------------ the workers


@dataclass(frozen=True)
class Made:
    """What a worker sends back for one node: its entry (in the shared cache), or why not."""

    seconds: float
    entry: Entry | None = None
    failure: str | None = None  # the operation's, backend's or codec's error
    disk_full: str | None = None


class ShotWorker:
    """A Ray actor that makes shot nodes into the shared cache.  Its `RunContext` keeps
    every backend it loads, so the model stays loaded from one shot to the next."""

    def __init__(self, root: str, cache: str, runtime: dict[str, dict], cpus: float = 1):
        self.root = Path(root)
        self.runtime = runtime
        self.cache = Cache(Path(cache))
        self.context: RunContext | None = None
        # Keep to the CPUs reserved from Ray: workers packed one per core would
        # otherwise slow each other with their encoders' extra threads.
        clips.use_threads(max(1, int(cpus)))

    def _context(self, plan: list) -> RunContext:
        """The run's context, its plan fetched from Ray's object store once per worker
        process (`plan` holds the plan's object ref, in a list so that Ray hands over
        the ref rather than the plan with every node)."""
        if self.context is None:
            import ray

            self.context = RunContext(ray.get(plan[0]), self.root, runtime=self.runtime)
        return self.context

    def probe(self, path: str, token: str) -> str | None:
        """Why this worker cannot use the cache and the project folder; None if it can."""
        here = f"the worker on {socket.gethostname()}"
        try:
            seen = Path(path).read_text(encoding="utf-8")
        except OSError as error:
            return f"{here} cannot read {path}: {error.strerror or error}"
        if seen != token:
            return f"{here} reads other content in {path}: not the same file system"
        if not self.root.is_dir():
            return f"{here} cannot see the project folder {self.root}"
        return None

    def make(self, node: Node, inputs: dict[str, Entry], plan: list) -> Made:
        started = time.monotonic()
        entry = self.cache.get(node.hash)  # a retry may find what a killed attempt made
        if entry is None:
            try:
                made = make_node(node, inputs, self.cache, self._context(plan))
            except DiskFull as full:
                return Made(time.monotonic() - started, disk_full=str(full.__cause__ or full))
            if isinstance(made, Failure):
                return Made(time.monotonic() - started, failure=made.message)
            entry = made
        return Made(time.monotonic() - started, entry=entry)


def _ray():
    try:
        import ray
    except ImportError:
        raise ClusterError("the ray executor needs Ray: pip install 'shot-director[ray]'") from None
    return ray


def connect(address: str | None) -> Callable[[], None] | None:
    """Connect to the cluster at `address` ("auto", "HOST:PORT", "ray://HOST:PORT"), or
    start a private one on this machine when None.  Returns how to disconnect, or None
    when this process was connected already (a notebook, a test), which keeps its
    connection."""
    ray = _ray()
    if ray.is_initialized():
        return None
    # Ray's own notices (token authentication, tasks retried, …) and the workers' output
    # stay out of the compile's: what a worker has to say comes back with its node.
    options = {"logging_level": logging.ERROR, "log_to_driver": False}
    if address is None:
        options["include_dashboard"] = False
    # ray.init installs its own SIGTERM handler and excepthook, and leaves them behind.
    handler, excepthook = signal.getsignal(signal.SIGTERM), sys.excepthook
    try:
        ray.init(address=address, **options)
    except (ConnectionError, ValueError, RuntimeError) as error:
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        raise ClusterError(f"cannot connect to {where}: {error}") from None

    def disconnect() -> None:
        ray.shutdown()
        signal.signal(signal.SIGTERM, handler)
        sys.excepthook = excepthook

    return disconnect


def cluster_workers(plan: Plan, address: str | None, runtime: dict[str, dict]) -> int:
    """How many workers the cluster fits for this plan (for `--dry-run`)."""
    ray = _ray()
    disconnect = connect(address)
    try:
        need = worker_resources(plan, runtime, plan.nodes)
        fits = capacity(ray.nodes(), need)
        if fits == 0:
            raise ClusterError(_no_room(need))
        return fits
    finally:
        if disconnect is not None:
            disconnect()


class _Pool:
    """The workers: started when the first node needs one, stopped at the end."""

    def __init__(self, plan: Plan, context: RunContext, cache: Cache, address, workers,
                 progress: Progress):  # fmt: skip
        self.plan, self.context, self.cache = plan, context, cache
        self.address, self.workers, self.progress = address, workers, progress
        self.ray: Any = None  # the ray module, once the pool starts
        self.disconnect: Callable[[], None] | None = None
        self.actors: list = []
        self.idle: list = []
        self.flying: dict = {}  # object ref → (node, actor)
        self._plan = None  # the plan in Ray's object store, once started

    def start(self, todo: list[Node]) -> None:
        """Connect, check the cluster has room and shares the cache, start the workers."""
        self.ray = ray = _ray()
        self.disconnect = connect(self.address)
        need = worker_resources(self.plan, self.context.runtime, todo)
        fits = capacity(ray.nodes(), need)
        if fits == 0:
            raise ClusterError(_no_room(need))
        count = max(1, min(self.workers or fits, fits, len(todo)))
        options = {**need, "max_restarts": -1, "max_task_retries": RETRIES}
        actor = ray.remote(ShotWorker).options(scheduling_strategy="SPREAD", **options)
        self._plan = ray.put(self.plan)
        root, cache = str(self.context.root), str(self.cache.root)
        cpus = need["num_cpus"]
        self.actors = [actor.remote(root, cache, self.context.runtime, cpus) for _ in range(count)]
        self._probe()
        self.idle = list(self.actors)
        hosts = len({node["NodeID"] for node in ray.nodes() if node.get("Alive")})
        self.progress.note(
            f"{count} Ray worker{'s' * (count != 1)} ({_wanted(need)} each) on a cluster "
            f"of {hosts} node{'s' * (hosts != 1)}"
        )

    def _probe(self) -> None:
        """Refuse to start unless every worker reads a file just written into the cache."""
        folder = self.cache.stage("shared-file-system-probe")
        token = uuid.uuid4().hex
        path = folder / "token"
        path.write_text(token, encoding="utf-8")
        try:
            problems = self.ray.get([a.probe.remote(str(path), token) for a in self.actors])
        finally:
            self.cache.discard(folder)
        problems = sorted({p for p in problems if p is not None})
        if problems:
            raise ClusterError(
                "the ray executor needs the cache and the project folder at the same path "
                "on every node (a shared file system; docs/scaling.md), but " + "; ".join(problems)
            )

    def submit(self, node: Node, inputs: dict[str, Entry]) -> None:
        actor = self.idle.pop()
        self.flying[actor.make.remote(node, inputs, [self._plan])] = (node, actor)

    def wait(self, timeout: float | None = None) -> tuple[Node, Made] | None:
        """The next node a worker finishes, and what came of it; None if none has
        within `timeout` seconds."""
        ray = self.ray
        ready, _ = ray.wait(list(self.flying), num_returns=1, timeout=timeout)
        if not ready:
            return None
        (ref,) = ready
        node, actor = self.flying.pop(ref)
        self.idle.append(actor)
        try:
            return node, ray.get(ref)
        except ray.exceptions.RayActorError as error:
            why = _first_line(error)
            return node, Made(0.0, failure=f"its Ray worker died {RETRIES + 1} times ({why})")
        except ray.exceptions.RayError as error:
            return node, Made(0.0, failure=f"on its Ray worker: {_first_line(error)}")

    def close(self) -> None:
        if self.ray is None:
            return
        for actor in self.actors:
            with contextlib.suppress(Exception):  # gone with its node: nothing to stop
                self.ray.kill(actor)
        if self.disconnect is not None:
            self.disconnect()


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


# ------------------------------------------------------------------ execution


def execute(
    plan: Plan,
    root: Path,
    cache: Cache,
    *,
    address: str | None = None,
    workers: int | None = None,
    keep_going: bool = False,
    progress: Progress | None = None,
    context: RunContext | None = None,
) -> RunResult:
    """Run every node not already in the cache, the shots' on Ray workers (at most
    `workers`; by default as many as the cluster at `address` fits).  The same result,
    failures and progress as `run.execute`; raises ClusterError before any work when
    the cluster cannot run the plan, and KeyboardInterrupt and DiskFull through after
    stopping the workers."""
    context = context or RunContext(plan, root)
    progress = progress or Progress(len(plan.timeline.shots), mode="quiet")
    result = RunResult()
    cache.clean_staging()
    pool = _Pool(plan, context, cache, address, workers, progress)
    try:
        _run(plan, cache, context, progress, result, pool, keep_going)
    finally:
        pool.close()
    progress.close()
    return result


def _run(plan, cache: Cache, context, progress: Progress, result: RunResult, pool: _Pool,
         keep_going: bool) -> None:  # fmt: skip
    frontier = Frontier(plan)
    finish = frontier.finish
    queue: list[tuple[float, int, str]] = []  # shot nodes to make, waiting for a worker
    failed: set[str] = set()
    driver = _DriverNodes(cache, context)

    def fail(node: Node, failure: Failure) -> bool:
        """Note a failure; True when the run stops for it."""
        failed.add(node.id)
        result.failures.append(failure)
        progress.failed(node, failure.message)
        finish(node.id)
        return not keep_going

    try:
        while True:
            while frontier.ready:
                node = frontier.pop()
                if any(i in failed for i in node.inputs):
                    failed.add(node.id)
                    result.blocked.append(node)
                    finish(node.id)
                elif reuse(node, cache, progress, result):
                    finish(node.id)
                elif node.runs_on == "worker":
                    heapq.heappush(queue, frontier.key(node.id))
                else:  # on the driver, as the local executor makes it, off this loop
                    progress.start(node)
                    driver.submit(node, {i: result.outputs[i] for i in node.inputs})
            if queue and pool.ray is None:
                pool.start(
                    [
                        n
                        for n in plan.nodes
                        if n.runs_on == "worker" and not cache.has_manifest(n.hash)
                    ]
                )
            while queue and pool.idle:
                node = frontier.by_id[heapq.heappop(queue)[2]]
                progress.start(node)
                pool.submit(node, {i: result.outputs[i] for i in node.inputs})
            if not pool.flying and not driver.busy:
                return
            node, outcome, seconds = _next_finished(pool, driver, cache)
            failure = record(node, outcome, seconds, progress, result)
            if failure is None:
                finish(node.id)
            elif fail(node, failure):
                return
    finally:
        driver.close()


def _next_finished(pool: _Pool, driver: _DriverNodes, cache: Cache):
    """The next node finished, by a worker or on the driver: (node, its entry or
    Failure, seconds).  Raises DiskFull for a full disk on either side."""
    while True:
        if driver.busy and (driver.done() or not pool.flying):
            return driver.collect()
        if pool.flying:
            finished = pool.wait(timeout=_DRIVER_POLL_S if driver.busy else None)
            if finished is not None:
                node, made = finished
                return node, _worker_outcome(node, made, cache), made.seconds


def _worker_outcome(node: Node, made: Made, cache: Cache) -> Entry | Failure:
    if made.disk_full is not None:
        raise DiskFull(node, OSError(errno.ENOSPC, made.disk_full))
    if made.entry is None:
        return Failure(node, made.failure or "its Ray worker sent nothing back")
    # Read back as any reused entry is, digests checked: this is also where a cache
    # that is not shared after all would show.
    entry = cache.get(node.hash)
    if entry is not None:
        return entry
    problem = cache.damaged.get(node.hash, "it is not there")
    return Failure(
        node,
        f"made on a Ray worker, but its cache entry cannot be read here ({problem}); "
        "is the cache on a file system every node shares at the same path?",
    )


_DRIVER_POLL_S = 0.02  # how often the loop looks at the driver's node while workers run


class _DriverNodes:
    """The driver's own nodes (assets, prompts, the mix, the assembly, the mux),
    made one at a time on a thread, so that the loop keeps handing the workers
    their next nodes meanwhile: the mix takes about a second for a minute of film.
    The thread is a daemon: Ctrl-C never waits for the node it is making (what it
    leaves is a staging folder, which the next run removes)."""

    def __init__(self, cache: Cache, context):
        self.cache, self.context = cache, context
        self.pending: collections.deque[Node] = collections.deque()
        self._todo: queue.Queue = queue.Queue()
        self._done: queue.Queue = queue.Queue()  # (node, made, seconds, error)
        self._thread = threading.Thread(target=self._work, name="director-driver", daemon=True)
        self._thread.start()

    @property
    def busy(self) -> bool:
        return bool(self.pending)

    def submit(self, node: Node, inputs: dict[str, Entry]) -> None:
        self.pending.append(node)
        self._todo.put((node, inputs))

    def _work(self) -> None:
        while (job := self._todo.get()) is not None:
            node, inputs = job
            started = time.monotonic()
            try:
                made = make_node(node, inputs, self.cache, self.context)
            except BaseException as error:  # a full disk: raised again by `collect`
                self._done.put((node, None, 0.0, error))
            else:
                self._done.put((node, made, time.monotonic() - started, None))

    def done(self) -> bool:
        return not self._done.empty()

    def collect(self) -> tuple[Node, Entry | Failure, float]:
        """The oldest node submitted, once made (they finish in order)."""
        node, made, seconds, error = self._done.get()
        self.pending.popleft()
        if error is not None:
            raise error
        return node, made, seconds

    def close(self) -> None:
        """Drop the nodes not started (a run that stops early makes no more), and let
        the thread end after the one it is making."""
        with contextlib.suppress(queue.Empty):
            while True:
                self._todo.get_nowait()
        self._todo.put(None)
