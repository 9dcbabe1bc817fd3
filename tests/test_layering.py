"""The layering cli -> pipeline/browser -> stages -> providers/store -> models is checked, not just written down.

`linekind` (what kind of line a text is) sits below both stages and providers, which share it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "extract"

# A module in layer L may import only from layers listed for L (and from itself).
ALLOWED = {
    "cli": {"cli", "pipeline", "browser", "config", "errors", "store", "models", "hashing", "stages", "schemas"},
    "pipeline": {"config", "errors", "models", "prompting", "providers", "stages", "store", "hashing", "schemas"},
    "stages": {
        "stages",
        "config",
        "errors",
        "models",
        "prompting",
        "providers",
        "store",
        "hashing",
        "schemas",
        "linekind",
    },
    "browser": {"browser", "errors", "store", "models"},
    "providers": {"providers", "config", "errors", "models", "hashing", "linekind"},
    "store": {"store", "errors", "models", "hashing"},
    "prompting": {"errors"},
    "schemas": set(),
    "config": {"errors", "hashing"},
    "models": {"hashing"},
    "hashing": set(),
    "linekind": set(),
    "errors": set(),
}


def _layer(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("extract."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("extract."))
    return found


MODULES = sorted(p for p in SRC.rglob("*.py") if p.relative_to(SRC).parts[0] not in ("__init__.py", "__main__.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_module_imports_only_lower_layers(path: Path) -> None:
    layer = _layer(path)
    assert layer in ALLOWED, f"{path}: layer {layer!r} is not in the layering table"
    bad = _imports(path) - ALLOWED[layer] - {layer}
    assert not bad, f"{path.relative_to(SRC)} ({layer}) imports {sorted(bad)}"
