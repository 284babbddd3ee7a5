"""The layout ARCHITECTURE.md describes: each unit imports only lower floors at module level, and no module of the
package is over 500 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "monai_landmarks"
# ARCHITECTURE.md's table; the top floor (predictor, cli, onnx_runner) imports the package lazily
FLOORS = {
    "utils": 0, "networks": 0, "losses": 0,
    "codecs": 1, "analysis": 1,
    "metrics": 2,
    "data": 3,
    "transforms": 4, "handlers": 4,
    "engines": 5,
    "bundle": 6,
    "apps": 7,
    "predictor": 8, "cli": 8, "onnx_runner": 8, "__init__": 8,
}  # fmt: skip


def _unit(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    return parts[0].removesuffix(".py")


def _imported_units(path: Path) -> set[str]:
    """The package units a module imports at its top level (function-level imports are deferred on purpose)."""
    package = path.relative_to(PACKAGE.parent).with_suffix("").parts
    if path.name == "__init__.py":
        package = package[:-1] + ("__init__",)
    found = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level]) if node.level else []
            module = base + (node.module.split(".") if node.module else [])
            if module[:1] == ["monai_landmarks"]:
                found |= {module[1]} if len(module) > 1 else {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("monai_landmarks.")}
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_import_only_lower_floors(path):
    unit = _unit(path)
    upward = {u for u in _imported_units(path) - {unit} if FLOORS[u] >= FLOORS[unit]}
    assert not upward, f"{path.relative_to(PACKAGE)} ({unit}, floor {FLOORS[unit]}) imports {sorted(upward)}"


def test_every_unit_has_a_floor_and_no_module_is_over_500_lines():
    assert {_unit(p) for p in MODULES} <= set(FLOORS)
    long = {str(p.relative_to(PACKAGE)): n for p in MODULES if (n := len(p.read_text().splitlines())) > 500}
    assert not long
