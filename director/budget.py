"""The budget: does a plan fit the machine it is about to run on?

`director plan` puts an estimate on every generation window (`Node.cost`) and
sums them per device (`Plan.cost`), from each backend's `Estimate`.  Before
any work, `director compile` asks this module whether the dearest window fits
the memory the device has free, even offloaded and tiled; if it cannot, the
compile is refused with the estimate and the flag that overrides it
(`--ignore-budget`), rather than failing an hour in.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from .plan import Plan
from .plan_nodes import Generate, Node

GIB = 2**30


def available_memory(device: str) -> int | None:
    """Bytes free now on `device` ("cpu" or "cuda"), or None when it cannot be told."""
    if device == "cuda":
        return _cuda_free()
    return _host_free()


def _host_free() -> int | None:
    """MemAvailable, and no more than the container's memory limit leaves."""
    free = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                free = int(line.split()[1]) * 1024
    except (OSError, ValueError):
        try:
            free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, AttributeError):
            return None
    try:  # cgroup v2: a container sees the host's memory in /proc/meminfo
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text())
        if limit != "max":
            room = int(limit) - used
            free = room if free is None else min(free, room)
    except (OSError, ValueError):
        pass
    return free


def _cuda_free() -> int | None:
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    free, _total = torch.cuda.mem_get_info()
    return int(free)


def refusal(
    plan: Plan,
    *,
    done: Callable[[Node], bool] = lambda node: False,
    available: Callable[[str], int | None] = available_memory,
) -> str | None:
    """Why the plan cannot fit this machine, with the estimate; None when it may.

    Only windows still to make count (`done` says which are made already): a film
    whose dear shots are all in the cache is not refused for them.
    """
    todo = [(n, n.cost) for n in plan.of_class(Generate) if n.cost is not None and not done(n)]
    for device in sorted({cost.device for _, cost in todo}):
        free = available(device)
        if free is None:
            continue
        dearest, cost = max(
            ((n, c) for n, c in todo if c.device == device),
            key=lambda pair: (pair[1].least_memory_bytes, pair[0].id),
        )
        if cost.least_memory_bytes <= free:
            continue
        where = "GPU memory" if device == "cuda" else "memory"
        return (
            f"this plan needs at least {_gib(cost.least_memory_bytes)} of {where} "
            f"for {_window(dearest)}, even offloaded and tiled "
            f"({_gib(cost.memory_bytes)} as it is), and the {_device(device)} has "
            f"{_gib(free)} free.\n"
            f"  estimate: {summary(plan)}\n"
            "  lower the format or shorten the longest shot, or pass --ignore-budget to "
            "try anyway (a backend that runs out of memory is retried at lower memory "
            "settings before it fails)"
        )
    return None


def summary(plan: Plan) -> str:
    """One line: what the plan's generation costs, per device."""
    parts = []
    for total in plan.cost.devices:
        seconds = "" if total.seconds is None else f", about {_duration(total.seconds)}"
        parts.append(
            f"{total.windows} windows on the {total.device}: {total.frames} frames, "
            f"{total.work} frame-steps, peak {_gib(total.memory_bytes)}{seconds}"
        )
    for made in plan.cost.keyframes:
        seconds = "" if made.seconds is None else f", about {_duration(made.seconds)}"
        parts.append(
            f"{made.keyframes} keyframes (at most {made.tries} tries) with {made.maker} "
            f"on the {made.device}{seconds}"
        )
    if plan.cost.unknown:
        parts.append("no estimate for " + ", ".join(plan.cost.unknown))
    return "; ".join(parts) or "nothing to generate"


def _window(node: Generate) -> str:
    params = node.params
    where = f" ({node.source})" if node.source else ""
    return (
        f"{node.id}{where}: {params.width}x{params.height}, {params.frames} frames "
        f"on {params.backend}"
    )


def _device(device: str) -> str:
    return "GPU" if device == "cuda" else "machine"


def _gib(size: int) -> str:
    return f"{size / GIB:.1f} GiB"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
