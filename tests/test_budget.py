"""Budget before work: every generation window has an estimated cost, outside its hash, and
`compile` refuses a plan the machine cannot hold before it makes anything."""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest

from backends import registry
from backends.base import Estimate
from backends.preview import PreviewBackend
from director.budget import available_memory, refusal, summary
from director.cli import main

FILM = """
title: Budget
format: 96x54 @ 12fps

SHOT 1 WIDE 1s
  The sea.

SHOT 2 WIDE 2s
  The lamp.
"""

PIB = 2**50


class Dear(PreviewBackend):
    """The animatic, with the estimate of a model no machine here can hold."""

    name = "dear"
    capabilities = PreviewBackend.capabilities.model_copy(
        update={
            "estimate": Estimate(
                device="cpu", steps=20, weights_bytes=PIB, bytes_per_pixel_frame=1000.0,
                seconds_per_step_megapixel_frame=2.0, offload_keeps=0.5, tiling_keeps=0.25,
                source="a test",
            )
        }
    )  # fmt: skip


@contextmanager
def registered(backend):
    registry.backends()[backend.name] = backend
    try:
        yield
    finally:
        del registry.backends()[backend.name]


def windows(plan) -> dict:
    return {n.id: n for n in plan.nodes if n.op == "generate"}


def test_each_window_has_its_cost_and_the_plan_a_total(project):
    plan = project.plan(FILM)
    shot2 = windows(plan)["shot/2/take0/window0"]
    assert shot2.cost.model_dump() == {
        "device": "cpu",
        "frames": 24,
        "steps": 1,
        "work": 24,
        "memory_bytes": 96 * 54 * 150,
        "least_memory_bytes": 96 * 54 * 150,
        "seconds": pytest.approx(0.025 * 96 * 54 * 24 / 1e6),
    }
    (total,) = plan.cost.devices
    assert (total.device, total.windows, total.frames, total.work) == ("cpu", 2, 36, 36)
    assert total.memory_bytes == 96 * 54 * 150  # the dearest window, not a sum
    assert total.seconds == pytest.approx(0.025 * 96 * 54 * 36 / 1e6)
    assert windows(plan)["shot/1/take0/window0"].cost.frames == 12
    assert all(n.cost is None for n in plan.nodes if n.op != "generate")


def test_cost_is_outside_the_hash(project, monkeypatch):
    before = project.plan(FILM)
    cheaper = PreviewBackend.capabilities.estimate.model_copy(update={"bytes_per_pixel": 1.0})
    monkeypatch.setattr(
        PreviewBackend,
        "capabilities",
        PreviewBackend.capabilities.model_copy(update={"estimate": cheaper}),
    )
    after = project.plan(FILM)
    assert [n.hash for n in after.nodes] == [n.hash for n in before.nodes]
    assert after.cost.devices[0].memory_bytes == 96 * 54


def test_offload_tiling_and_steps_from_the_plan_options(project):
    with registered(Dear):
        plan = project.plan(FILM, backend="dear", backend_options={"dear": {"steps": 4}})
    cost = windows(plan)["shot/2/take0/window0"].cost
    working = 96 * 54 * 24 * 1000
    assert (cost.steps, cost.work) == (4, 96)
    assert cost.memory_bytes == PIB + working
    assert cost.least_memory_bytes == PIB // 2 + working // 4
    assert cost.seconds == pytest.approx(2.0 * 4 * 96 * 54 * 24 / 1e6)


def test_a_backend_without_an_estimate_is_named(project, monkeypatch):
    monkeypatch.setattr(
        PreviewBackend,
        "capabilities",
        PreviewBackend.capabilities.model_copy(update={"estimate": None}),
    )
    plan = project.plan(FILM)
    assert plan.cost.devices == [] and plan.cost.unknown == ["preview"]
    assert summary(plan) == "no estimate for preview"
    assert refusal(plan) is None


def test_the_plan_json_carries_the_costs(project, capsys):
    path = project.write(FILM)
    assert main(["plan", str(path)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["cost"]["devices"][0]["frames"] == 36
    generate = [n for n in document["nodes"] if n["op"] == "generate"]
    assert [n["cost"]["frames"] for n in generate] == [12, 24]


def test_refusal_names_the_dearest_window_and_the_way_out(project):
    with registered(Dear):
        plan = project.plan(FILM, backend="dear")
    reason = refusal(plan, available=lambda device: 8 * 2**30)
    assert reason.startswith("this plan needs at least 524288.0 GiB of memory for ")
    assert "shot/2/take0/window0" in reason and "film.shot:7:1" in reason
    assert "and the machine has 8.0 GiB free" in reason
    assert "--ignore-budget" in reason
    assert refusal(plan, available=lambda device: None) is None  # cannot tell: no refusal
    assert refusal(plan, available=lambda device: 2 * PIB) is None
    made = {"shot/2/take0/window0"}
    assert "shot/1/take0/window0" in refusal(
        plan, available=lambda device: 8 * 2**30, done=lambda node: node.id in made
    )


def test_this_machine_reports_its_free_memory():
    free = available_memory("cpu")
    assert free is None or 0 < free < 2**50


def test_compile_refuses_before_any_work_and_the_flag_overrides(project, capsys):
    path = project.write(FILM)
    out = project.root / "film.mp4"
    cache = project.root / ".director" / "cache"
    with registered(Dear):
        assert main(["compile", str(path), "--backend", "dear", "--dry-run"]) == 0
        assert "estimate for the whole plan: 2 windows on the cpu: 36 frames, 720 frame-steps" in (
            capsys.readouterr().out
        )
        assert main(["compile", str(path), "-o", str(out), "-q", "--backend", "dear"]) == 1
        err = capsys.readouterr().err
        assert "director: error: this plan needs at least" in err and "--ignore-budget" in err
        assert not out.exists()
        assert not list(cache.rglob("entry.json"))  # nothing was made
        flags = ["-o", str(out), "-q", "--backend", "dear"]
        assert main(["compile", str(path), *flags, "--ignore-budget"]) == 0
        # Everything is made now: the same plan is no longer refused.
        assert main(["compile", str(path), *flags]) == 0
