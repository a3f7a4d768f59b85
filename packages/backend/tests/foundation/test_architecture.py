"""The module contract, checked from the source (CONTRIBUTING.md):

- no import cycle between modules, nor between the packages (or subpackages) that hold them;
- a domain is used by others only through what its package exports (``__all__``);
- the layers below the domains (``kit``, ``core``, ``db``, ``models``) never import a domain.
"""

from __future__ import annotations

import ast
import importlib
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "app"
DOMAINS = {"users", "webhooks", "memory", "companion", "planning", "health", "nudges"}
FOUNDATION = {"kit", "core", "db", "models"}
EXCLUDED = ("app.db.migrations",)  # Alembic scripts: loaded by Alembic, never imported by the app


def _module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    found = {_module_name(path): path for path in APP.rglob("*.py")}
    return {name: path for name, path in found.items() if not name.startswith(EXCLUDED)}


MODULES = _modules()


def _imports(name: str, path: Path) -> Iterator[tuple[str, str | None]]:
    """(module, imported name or None) for every import in the file, function-level ones included."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                yield base, alias.name


def _edges() -> dict[str, set[str]]:
    """Module → the app modules it imports (``from pkg import mod`` counts as ``pkg.mod``)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in MODULES.items():
        for module, imported in _imports(name, path):
            target = f"{module}.{imported}" if imported and f"{module}.{imported}" in MODULES else module
            if target in MODULES and target != name:
                graph[name].add(target)
    return graph


EDGES = _edges()


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph.get(node, ()):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(set(graph) | {n for targets in graph.values() for n in targets}):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_modules() -> None:
    assert _cycles(EDGES) == []


def _packages() -> set[str]:
    return {name for name, path in MODULES.items() if path.name == "__init__.py"}


@pytest.mark.parametrize("package", sorted(_packages()))
def test_no_import_cycle_between_the_parts_of_a_package(package: str) -> None:
    """Within each package, its children (subpackages and modules) import one another acyclically:
    e.g. the domains under ``app``, or ``api → reply → formation → language`` in the companion."""
    depth = package.count(".") + 1

    def child(module: str) -> str | None:
        if not module.startswith(package + ".") or module == package:
            return None
        return ".".join(module.split(".")[: depth + 1])

    graph: dict[str, set[str]] = defaultdict(set)
    for source, targets in EDGES.items():
        for target in targets:
            a, b = child(source), child(target)
            if a and b and a != b:
                graph[a].add(b)
    assert _cycles(graph) == []


def _violations() -> Iterator[str]:
    public = {domain: set(importlib.import_module(f"app.{domain}").__all__) for domain in DOMAINS}
    for name, path in MODULES.items():
        parts = name.split(".")
        own = parts[1] if len(parts) > 1 else None
        for module, imported in _imports(name, path):
            target = module.split(".")
            if target[0] != "app":
                continue
            if module == "app" and imported in DOMAINS:  # ``from app import memory``
                domain, rest, imported = imported, [], None
            elif len(target) > 1 and target[1] in DOMAINS:
                domain, rest = target[1], target[2:]
            else:
                continue
            if domain == own:
                continue
            if own in FOUNDATION:
                yield f"{name} imports the domain {domain} (the layers below the domains must not)"
            elif rest or (imported is not None and imported not in public[domain]):
                what = ".".join([module, *([imported] if imported else [])])
                yield f"{name} imports {what}, which app.{domain} does not export"


def test_domains_are_used_through_their_public_surface_only() -> None:
    assert list(_violations()) == []


def test_every_domain_declares_its_public_surface() -> None:
    for domain in DOMAINS:
        exported = importlib.import_module(f"app.{domain}").__all__
        assert exported, domain
