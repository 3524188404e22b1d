"""The compiler's side of hosted models: routes, prices, keys and the spend.

Which provider renders a hosted model (`via`) is chosen, in order, by
`--via`, by `via = "…"` in the model's table of `director.toml`, by which
key is set in the environment (fal's first), else the model's first route.
The route changes the request, so it goes into the plan (and the cache keys);
the price a second (`price_per_second` in the same table) changes only the
estimate.  Keys are read from the environment only, and only their presence
is ever reported.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from backends.base import Backend
from backends.hosted.catalog import KEYS, MODELS

from .hosted_node import Hosted
from .plan import Node, Plan

SETTINGS: dict[str, tuple[type, ...]] = {"via": (str,), "price_per_second": (int, float)}


@dataclass
class Resolved:
    plan_options: dict[str, dict] = field(default_factory=dict)  # name → {"via": …}
    prices: dict[str, float] = field(default_factory=dict)  # name → USD a second


HOSTED = frozenset(model.name for model in MODELS)  # known without importing a backend


def is_hosted(backend: type[Backend]) -> bool:
    return getattr(backend, "name", None) in HOSTED


def has_key(provider: str) -> bool:
    return bool(os.environ.get(KEYS[provider]))


def choose_via(backend, given: str | None) -> str:
    """The provider for `backend`: the one given, else the first with a key, else its first."""
    providers = backend.model.providers
    if given is not None:
        return given
    return next((p for p in providers if has_key(p)), providers[0])


def resolve(used: Iterable[type[Backend]], settings: dict[str, dict], via: str | None) -> Resolved:
    """Plan options and prices for the hosted backends among `used`.  `settings` are
    the director.toml tables by backend name; `via` is --via.  Raises ValueError with
    a message when a model is not served by the provider asked for."""
    resolved = Resolved()
    for backend in used:
        if not is_hosted(backend):
            continue
        table = settings.get(backend.name, {})
        chosen = choose_via(backend, via or table.get("via"))
        if chosen not in backend.model.providers:
            served = " or ".join(backend.model.providers)
            raise ValueError(f"{backend.name} is served by {served}, not {chosen}")
        resolved.plan_options[backend.name] = {"via": chosen}
        if "price_per_second" in table:
            resolved.prices[backend.name] = float(table["price_per_second"])
    return resolved


def runtime(plan: Plan, cache_root: Path, given: dict[str, dict], poll_interval: float | None):
    """The runtime settings of the plan's hosted backends: the journal in the cache."""
    from backends import registry

    merged = {name: dict(settings) for name, settings in given.items()}
    for name in plan.backends:
        if is_hosted(registry.get(name)):
            merged.setdefault(name, {})["journal"] = str(cache_root / "hosted")
            if poll_interval is not None:
                merged[name]["poll_interval"] = poll_interval
    return merged


def missing_keys(plan: Plan) -> list[str]:
    """A sentence for each provider the plan renders through that has no key set."""
    wanted: dict[str, set[str]] = {}
    for node in plan.of_class(Hosted):
        wanted.setdefault(node.via, set()).add(node.params.backend)
    return [
        f"{', '.join(sorted(names))} renders through {provider}: set {KEYS[provider]} in the "
        "environment (keys are read from nowhere else)"
        for provider, names in sorted(wanted.items())
        if not has_key(provider)
    ]


def to_spend(plan: Plan, done: Callable[[Node], bool]) -> tuple[float, int, int]:
    """USD still to spend (requests not in the cache), and how many requests are to
    make and how many are reused."""
    money = plan.cost.money
    if money is None:
        return 0.0, 0, 0
    nodes = {node.id: node for node in plan.nodes}
    todo = [w for w in money.windows if not done(nodes[w.node])]
    return round(sum(w.usd for w in todo), 2), len(todo), len(money.windows) - len(todo)


def summary(plan: Plan, done: Callable[[Node], bool] | None = None) -> str | None:
    """A line such as "12 shots to render (12 requests), 3 requests reused: about $4.20
    on kling-3 via fal"; None when nothing in the plan is hosted."""
    money = plan.cost.money
    if money is None:
        return None
    models = ", ".join(sorted({f"{w.backend} via {w.via}" for w in money.windows}))
    shots = {w.shot for w in money.windows}
    if done is None:
        return f"{len(shots)} shots to render: about ${money.total:.2f} on {models}"
    usd, todo, reused = to_spend(plan, done)
    nodes = {node.id: node for node in plan.nodes}
    todo_shots = {w.shot for w in money.windows if not done(nodes[w.node])}
    return (
        f"{len(todo_shots)} shots to render ({todo} requests), {reused} requests reused: "
        f"about ${usd:.2f} on {models}"
    )


def per_shot(plan: Plan) -> list[str]:
    """One line a shot: its requests' seconds and price."""
    money = plan.cost.money
    if money is None:
        return []
    shots: dict[str, list] = {}
    for window in money.windows:
        shots.setdefault(window.shot, []).append(window)
    return [
        f"  {shot}: {sum(w.seconds for w in windows)} s on {windows[0].backend} "
        f"via {windows[0].via}, about ${sum(w.usd for w in windows):.2f}"
        for shot, windows in shots.items()
    ]


_TAKES = {
    "first_frame": "first frame",
    "last_frame": "last frame",
    "reference_images": "character references",
}


def doctor_lines() -> list[str]:
    """For `director doctor`: which providers have a key (never the key), and what
    each hosted model takes."""
    lines = ["Hosted providers (keys are read from the environment only):"]
    for provider, name in KEYS.items():
        lines.append(f"  {provider:<8} {'key set' if has_key(provider) else 'no key'} ({name})")
    lines += ["", "Hosted models (docs/hosted.md):"]
    for model in MODELS:
        takes = ["text"] + [word for c, word in _TAKES.items() if c in model.conditioning]
        seconds = model.durations
        contiguous = len(seconds) > 2 and seconds[-1] - seconds[0] == len(seconds) - 1
        span = (
            f"{seconds[0]}-{seconds[-1]} s" if contiguous else f"{', '.join(map(str, seconds))} s"
        )
        aspects = "/".join(dict.fromkeys(size.aspect for size in model.sizes))
        seed = "seed" if any(route.seed for route in model.routes) else "no seed"
        sound = "sound" if model.sound else "silent"
        via = ", ".join(model.providers)
        lines.append(
            f"  {model.name:<10} via {via}: takes {', '.join(takes)}{_narrower(model)}; "
            f"{span}; {aspects}; {model.fps:g} fps; {sound}; {seed}"
        )
    return lines


def _narrower(model) -> str:
    """What a model takes by one provider but not by another, in words."""
    said = []
    for provider in model.providers:
        missing = [w for c, w in _TAKES.items() if c in model.conditioning - model.takes(provider)]
        if missing:
            said.append(f" (not via {provider}: {', '.join(missing)})")
    return "".join(said)
