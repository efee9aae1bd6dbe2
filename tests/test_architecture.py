"""The tree is the architecture (docs/ARCHITECTURE.md): no module imports another in a
circle, no package does either (each top-level package and each sub-package of authserver
counted as one unit, the composition root left out), and no project import hides inside a
function to dodge one. The layering rules themselves are the import-linter contracts in
pyproject.toml (`make lint`)."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp

PACKAGES = ("authserver", "clients", "accounts", "enterprise", "connections", "mcp_token_verifier")
ROOT = Path(__file__).resolve().parent.parent


def _circles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph.modules):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        found.append(sorted(group))
    return found


def test_no_module_imports_another_in_a_circle():
    graph = grimp.build_graph(*PACKAGES)
    assert _circles(graph) == []


# The composition root may import everything: settings, URL confs, AppConfigs, the Celery
# app and its entry points, WSGI/ASGI, management commands.
COMPOSITION_ROOT = {"settings", "urls", "oauth_urls", "apps", "celery", "wsgi", "asgi"}


def _unit(module: str) -> str | None:
    parts = module.split(".")
    if parts[-1] in COMPOSITION_ROOT or "management" in parts:
        return None
    if parts[0] == "authserver" and len(parts) > 1:
        return ".".join(parts[:2])  # a sub-package, or a module at the package's top
    return parts[0]


def _unit_graph(graph: grimp.ImportGraph) -> grimp.ImportGraph:
    units = grimp.ImportGraph()
    for module in graph.modules:
        unit = _unit(module)
        if unit is None:
            continue
        units.add_module(unit)
        for imported in graph.find_modules_directly_imported_by(module):
            target = _unit(imported)
            if target is not None and target != unit:
                units.add_module(target)
                units.add_import(importer=unit, imported=target)
    return units


def test_no_package_imports_another_in_a_circle():
    """A core that knows no feature: the features plug in through registries
    (authserver.token_endpoint.registry, ops.cleanup) from their AppConfig.ready()."""
    graph = grimp.build_graph(*PACKAGES)
    assert _circles(_unit_graph(graph)) == []


def test_the_package_circle_finder_finds_a_circle():
    graph = grimp.ImportGraph()
    for name in ("authserver", "authserver.a.x", "authserver.b.y", "authserver.urls", "clients"):
        graph.add_module(name)
    graph.add_import(importer="authserver.a.x", imported="authserver.b.y")
    graph.add_import(importer="authserver.b.y", imported="clients")
    graph.add_import(importer="clients", imported="authserver.a.x")
    graph.add_import(importer="authserver.urls", imported="clients")  # the root: left out
    assert _circles(_unit_graph(graph)) == [["authserver.a", "authserver.b", "clients"]]


def test_the_circle_finder_finds_a_circle():
    graph = grimp.ImportGraph()
    for name in ("p", "p.a", "p.b", "p.c"):
        graph.add_module(name)
    graph.add_import(importer="p.a", imported="p.b")
    graph.add_import(importer="p.b", imported="p.a")
    graph.add_import(importer="p.c", imported="p.a")
    assert _circles(graph) == [["p.a", "p.b"]]


def _imports_inside_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        # AppConfig.ready() is where Django documents connecting signal receivers.
        if func.name == "ready" and path.name == "apps.py":
            continue
        for node in ast.walk(func):
            module = None
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                module = node.module or ""
            elif isinstance(node, ast.Import):
                module = node.names[0].name
            if module and module.split(".")[0] in PACKAGES:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {module}")
    return found


def test_no_project_import_hides_inside_a_function():
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                found += _imports_inside_functions(path)
    assert found == []
