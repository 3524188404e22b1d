"""Helpers for the diffusers backend tests: tiny model folders, a pipeline spy, decoding.

The model folders are built in code by `backends.tiny` (random weights, an
in-memory tokenizer) and saved with `save_pretrained`, then loaded by the
backends exactly as a downloaded model would be.  Nothing comes from a hub.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
import pytest

from director.cache import Cache
from director.cli import main
from director.plan import Plan

pytest.importorskip("diffusers")
torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread; on a busy machine several threads
    make each tiny matrix product wait on the others (100x slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def no_user_settings(tmp_path, monkeypatch):
    """No director.toml of the machine's user leaks into a test."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-user-config"))


@dataclass
class Call:
    arguments: dict
    output: object
    positional: tuple = ()


@dataclass
class Spy:
    """Records what a real pipeline class is called with, and what it returns."""

    calls: list[Call] = field(default_factory=list)


def spy_on(monkeypatch, pipeline_class, method: str = "__call__") -> Spy:
    """Wrap a real pipeline class's method so every call is recorded and then run."""
    spy = Spy()
    original = getattr(pipeline_class, method)

    @functools.wraps(original)
    def recording(self, *args, **kwargs):
        output = original(self, *args, **kwargs)
        spy.calls.append(Call(kwargs, output, args))
        return output

    monkeypatch.setattr(pipeline_class, method, recording)
    return spy


def compile_with(script: Path, *extra: str) -> tuple[Path, Plan, Cache]:
    out = script.parent / "film.mp4"
    assert main(["compile", str(script), "-o", str(out), "-q", *extra]) == 0
    plan = Plan.model_validate_json((script.parent / "film.plan.json").read_text())
    return out, plan, Cache(script.parent / ".director" / "cache")


def clip_of(plan: Plan, cache: Cache, node_id: str) -> Path:
    node = next(n for n in plan.nodes if n.id == node_id)
    return cache.get(node.hash).file("clip.mp4")


@dataclass
class Film:
    frames: list[np.ndarray]
    fps: float
    width: int
    height: int
    audio: np.ndarray  # (channels, samples)
    sample_rate: int


def decode(path: Path) -> Film:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        fps = float(stream.average_rate)
    with av.open(str(path)) as container:
        audio_stream = container.streams.audio[0]
        rate = audio_stream.rate
        audio = np.concatenate(
            [f.to_ndarray().reshape(audio_stream.channels, -1) for f in container.decode(audio=0)],
            axis=1,
        )
    return Film(frames, fps, frames[0].shape[1], frames[0].shape[0], audio, rate)
