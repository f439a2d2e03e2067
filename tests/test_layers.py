"""Imports go down the layers only: app, evaluation, pipeline, identity, detection, then the ground floor
(the modules directly in `vcam/`). Read from the source, so a new upward import fails here, not in review."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

LAYERS = ["ground", "detection", "identity", "pipeline", "evaluation", "app"]


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else "ground"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return {n for n in names if n == "vcam" or n.startswith("vcam.")}


def test_no_module_imports_a_layer_above_its_own():
    upward = []
    package = ROOT / "vcam"
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        if rel.name == "__main__":
            continue  # `python -m vcam` is the command itself: it starts the app
        module = ".".join(rel.parts)
        own = LAYERS.index(_layer(module))
        upward += [f"{module} imports {name}" for name in _imports(path) if LAYERS.index(_layer(name)) > own]
    assert upward == [], upward
    assert len(list(package.rglob("*.py"))) > 30  # the walk saw the package
