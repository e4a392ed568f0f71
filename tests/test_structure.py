"""The house's floors: every module imports alone, imports only run downward, and nothing cycles."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "videoforge"

# What each part of the package may import from videoforge (its own part included). The
# floors, bottom up: core; store, media, render, providers; pipeline; worker, web; cli.
ALLOWED = {
    "core": {"core"},
    "store": {"core", "store"},
    "media": {"core", "media"},
    "render": {"core", "render"},
    "providers": {"core", "providers"},
    "pipeline": {"core", "media", "render", "providers", "pipeline"},
    "worker": {"core", "store", "worker"},
    "web": {"core", "store", "web"},
    "cli": {"core", "store", "media", "render", "providers", "pipeline", "worker", "web", "cli"},
}
# Helpers for the tests and benchmarks only: no module of the service may import them.
TEST_ONLY = {"videoforge.media.inspection"}


def module_name(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name.removesuffix(".__init__")


MODULES = sorted(module_name(p) for p in PACKAGE.rglob("*.py"))


def part(module: str) -> str:
    """Return the part of the package a module belongs to ("videoforge.core.types" -> "core")."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else "cli"


def imports_of(module: str) -> set[str]:
    """Return the videoforge modules a module imports anywhere in its body (read with ast)."""
    path = PACKAGE.joinpath(*module.split(".")[1:])
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            # "from . import x" names a module; "from .x import y" names module x.
            names = [f"{prefix}.{a.name}" for a in node.names] + [prefix]
        else:
            continue
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name.startswith("videoforge") and name != module:
                found.add(name)
    return found


GRAPH = {module: imports_of(module) for module in MODULES}


def test_the_package_has_its_floors():
    assert {part(m) for m in MODULES} == set(ALLOWED) | {"cli"}
    assert "videoforge.core.types" in MODULES and "videoforge.web.app" in MODULES


@pytest.mark.parametrize("module", MODULES)
def test_every_module_imports_alone_in_a_fresh_interpreter(module):
    proc = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.parametrize("module", MODULES)
def test_imports_only_run_down_the_floors(module):
    upward = {
        target
        for target in GRAPH[module]
        if target != "videoforge" and part(target) not in ALLOWED[part(module)]
    }
    assert not upward, f"{module} imports from a floor above it: {sorted(upward)}"


def test_no_module_of_the_service_imports_the_test_only_helpers():
    offenders = {m for m, targets in GRAPH.items() if targets & TEST_ONLY and m not in TEST_ONLY}
    assert not offenders


def test_there_is_no_import_cycle():
    # Depth-first search over every import, deferred ones included.
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(GRAPH[module]):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[module] = 2
        path.pop()
        return None

    for module in MODULES:
        if module not in state:
            cycle = visit(module)
            assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_floor_checker_sees_relative_and_deferred_imports():
    # A guard on the checker itself: these imports are written relatively or inside functions.
    assert "videoforge.core.types" in GRAPH["videoforge.store.runs"]
    assert "videoforge.web.app" in GRAPH["videoforge.cli"]  # imported inside serve_main
