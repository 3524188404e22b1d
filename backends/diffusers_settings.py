"""The diffusers backends' settings vocabulary, light to import.

The command line offers these choices and the settings files are checked
against them before any backend is imported (`director check` imports none):
so they live here, not in `diffusers_base`, which imports Pillow and numpy.
"""

from __future__ import annotations

OFFLOADS = ("none", "model", "sequential")
DTYPES = ("auto", "float32", "bfloat16", "float16")
DEVICES_HELP = "auto, cpu, cuda, cuda:N or mps"
REQUIRED_PACKAGES = ("torch", "diffusers", "transformers", "accelerate")
INSTALL_HINT = "pip install 'shot-director[diffusers]'"


class ModelError(Exception):
    """The model folder or a runtime setting is missing or wrong; the message says what to do."""
