"""Each name has one home (docs/ARCHITECTURE.md, "The tree"): no module of the project is only
a re-export of another's names. A module that moved is imported from where it lives, so the
import graph (and import-linter's contracts) see the real dependency, and the old path cannot
quietly become a second home. Package ``__init__`` modules may gather their package's names."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "authserver",
    "clients",
    "accounts",
    "enterprise",
    "connections",
    "authzen",
    "approvals",
    "mcp_token_verifier",
)


def _only_imports(tree: ast.Module) -> bool:
    body = [
        node
        for node in tree.body
        if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
    ]
    return bool(body) and all(
        isinstance(node, ast.Import | ast.ImportFrom)
        or (
            isinstance(node, ast.Assign)
            and all(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
        )
        for node in body
    )


def shims() -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.name == "__init__.py" or "migrations" in path.parts:
                continue
            if _only_imports(ast.parse(path.read_text(encoding="utf-8"))):
                found.append(str(path.relative_to(ROOT)))
    return found


def test_no_module_is_only_a_reexport_of_another():
    assert shims() == []
