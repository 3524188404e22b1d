"""Weights and data are never unpickled: a checkpoint from a stranger must not run code.

Every Python file of the project is parsed and its calls inspected (not
grepped, so strings and comments do not count): `torch.load` must pass
`weights_only=True`, nothing imports `pickle` or its relatives, numpy never
loads with `allow_pickle=True`, and every `from_pretrained` passes
`use_safetensors=True`: weights come from safetensors files only.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("director", "backends", "bench", "tests", "grammar")
WEIGHTLESS = ("Processor", "Tokenizer", "TokenizerFast", "Scheduler", "Config", "Extractor")
UNPICKLERS = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}


def project_files() -> list[Path]:
    return sorted(p for folder in FOLDERS for p in (ROOT / folder).rglob("*.py"))


def _name(node: ast.AST) -> str:
    """`torch.load` for the call `torch.load(...)`, `load` for a bare `load(...)`."""
    if isinstance(node, ast.Attribute):
        return f"{_name(node.value)}.{node.attr}"
    if isinstance(node, ast.Name):
        return node.id
    return "?"


def _keyword_is(call: ast.Call, name: str, value) -> bool:
    return any(
        k.arg == name and isinstance(k.value, ast.Constant) and k.value.value is value
        for k in call.keywords
    )


def _loads_weights(name: str) -> bool:
    """A `from_pretrained` that loads weights (a model or pipeline, not a tokenizer,
    processor, scheduler or configuration, which have none)."""
    if name.split(".")[-1] != "from_pretrained":
        return False
    owner = name.split(".")[-2] if "." in name else ""
    return not owner.endswith(WEIGHTLESS)


def unsafe_loads(source: str, filename: str = "<string>") -> list[str]:
    """Every place in `source` that could unpickle: `file:line: what`."""
    problems = []
    tree = ast.parse(source, filename)
    torch_load_names = {"torch.load"}
    for node in ast.walk(tree):
        where = f"{filename}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in UNPICKLERS:
                    problems.append(f"{where}: imports {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            module = (node.module or "").split(".")[0]
            if module in UNPICKLERS:
                problems.append(f"{where}: imports from {node.module}")
            if node.module == "torch":
                torch_load_names |= {a.asname or a.name for a in node.names if a.name == "load"}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        where = f"{filename}:{node.lineno}"
        name = _name(node.func)
        if (name in torch_load_names or name.endswith("torch.load")) and not _keyword_is(
            node, "weights_only", True
        ):
            problems.append(f"{where}: {name}( without weights_only=True")
        if name.split(".")[-1] in {"read_pickle", "to_pickle"}:
            problems.append(f"{where}: {name}(")
        if name.split(".")[-1] == "load" and _keyword_is(node, "allow_pickle", True):
            problems.append(f"{where}: {name}( with allow_pickle=True")
        if _loads_weights(name) and not _keyword_is(node, "use_safetensors", True):
            # diffusers and transformers fall back to pickled .bin files without it
            problems.append(f"{where}: {name}( without use_safetensors=True")
    return problems


def test_the_scanner_finds_each_kind_of_unsafe_load():
    source = "\n".join([
        "import torch, pickle",
        "from torch import load as tl",
        "import numpy as np",
        "torch.load('a.pt')",
        "torch.load('a.pt', weights_only=False)",
        "tl('a.pt')",
        "np.load('x.npy', allow_pickle=True)",
        "torch.load('ok.pt', weights_only=True)",
        "Pipeline.from_pretrained(folder, local_files_only=True)",
        "Pipeline.from_pretrained(folder, use_safetensors=True)",
        "AutoImageProcessor.from_pretrained(folder)",
        "text = 'torch.load(x) in a string is fine'",
    ])  # fmt: skip
    found = unsafe_loads(source)
    assert [p.split(": ", 1)[1] for p in found] == [
        "imports pickle",
        "torch.load( without weights_only=True",
        "torch.load( without weights_only=True",
        "tl( without weights_only=True",
        "np.load( with allow_pickle=True",
        "Pipeline.from_pretrained( without use_safetensors=True",
    ]


def test_no_project_file_can_unpickle():
    problems = [
        problem
        for path in project_files()
        for problem in unsafe_loads(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    ]
    assert problems == []
