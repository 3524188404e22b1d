"""The plan's operation for a request to a hosted model (`op: "hosted"`).

A hosted window is a generation window (it subclasses `Generate`, so every
reader of windows, from `select` to the report, reads it as one) whose
parameters also carry the request's own terms: the duration asked (and
billed), and the aspect and resolution the provider is asked for.  The
provider itself (`via`) is in `options`, with the backend's other settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from .plan_nodes import Generate, GenerateParams, NodeId

if TYPE_CHECKING:
    from .cache import Entry
    from .operations import RunContext


class HostedParams(GenerateParams):
    seconds: int  # the duration asked for, and paid for: the shot's, rounded up
    aspect: str  # as the provider names it, e.g. "16:9"
    resolution: str  # e.g. "720p"; "" where the model makes one size


class Hosted(Generate):
    """One request to a hosted model for one window of one take."""

    # a window of its own operation: mypy holds a subclass to its base's literal
    op: Literal["hosted"] = "hosted"  # type: ignore[assignment]
    params: HostedParams

    @property
    def via(self) -> str:
        return self.params.options["via"]

    def fetch(self, inputs: dict[NodeId, Entry], ctx: RunContext) -> None:
        """The remote half of `run`: the request sent (once), waited for and its
        result downloaded into the hosted journal, outside the cache.  `run` then
        finds the result kept and only conforms it (remote.py runs the halves
        apart, so that conforming holds no request slot)."""
        from backends.hosted.backend import HostedBackend

        from . import operations

        backend = ctx.backend(self.params.backend, self.params.options)
        if not isinstance(backend, HostedBackend):  # a plan names hosted models only here
            raise TypeError(f"{backend.name} is not a hosted model")
        backend.fetch(operations.shot_request(self, inputs, ctx))

    def run(self, inputs: dict[NodeId, Entry], ctx: RunContext, out: Path) -> dict:
        from . import operations

        return operations.generate(self, inputs, ctx, out)
