"""Hosted video models (fal, Runway): see catalog.py for the models, docs/hosted.md."""

from .backend import HostedBackend, HostedCapabilities, backend_class
from .catalog import KEYS, MODELS, PROVIDERS, HostedModel

BACKENDS: tuple[type[HostedBackend], ...] = tuple(backend_class(model) for model in MODELS)

__all__ = [
    "BACKENDS", "KEYS", "MODELS", "PROVIDERS", "HostedBackend", "HostedCapabilities",
    "HostedModel", "backend_class",
]  # fmt: skip
