"""Hosted video models (fal, Runway): see catalog.py for the models, docs/hosted.md."""

from .backend import HostedBackend, HostedCapabilities, backend_class
from .catalog import KEYS, MODELS, PROVIDERS, HostedModel

BACKENDS: tuple[type[HostedBackend], ...] = tuple(backend_class(model) for model in MODELS)
# By name in the backend registry (backends/registry.py), in the catalog's order.
SEEDANCE_2, KLING_3, VEO_3_1, HAILUO_02, LTX_2_FAL, GEN_4_5, RAY_2_FLASH, PIKA_2_2 = BACKENDS

__all__ = [
    "BACKENDS", "KEYS", "MODELS", "PROVIDERS", "HostedBackend", "HostedCapabilities",
    "HostedModel", "backend_class", "SEEDANCE_2", "KLING_3", "VEO_3_1", "HAILUO_02",
    "LTX_2_FAL", "GEN_4_5", "RAY_2_FLASH", "PIKA_2_2",
]  # fmt: skip
