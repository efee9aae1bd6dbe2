"""bin/demo-mcp-server installs only what the demo MCP server needs: the `demo` extra and its
dependencies, pinned with requirements.lock's hashes (examples/demo_mcp_server/requirements.txt,
written by bin/lock --demo), and everything the demo and the verifier import is in it."""

from __future__ import annotations

import ast
import importlib.machinery
import importlib.util
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "demo_mcp_server" / "requirements.txt"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", re.M)


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def bin_lock():
    loader = importlib.machinery.SourceFileLoader("bin_lock", str(ROOT / "bin" / "lock"))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("bin_lock", loader))
    loader.exec_module(module)
    return module


# mcp_token_verifier's optional Cedar hook needs the `cedar` extra; the demo does not use it.
OPTIONAL = {"cedar.py"}


def third_party_imports(*folders: Path) -> set[str]:
    ours = {"examples", "mcp_token_verifier"}
    found = set()
    for folder in folders:
        for source in folder.glob("*.py"):
            if source.name in OPTIONAL:
                continue
            for node in ast.walk(ast.parse(source.read_text())):
                if isinstance(node, ast.Import):
                    found.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    found.add(node.module.split(".")[0])
    return {m for m in found if m not in ours and m not in sys.stdlib_module_names}


def test_demo_requirements_are_what_bin_lock_demo_writes():
    assert DEMO.read_text() == bin_lock().demo_requirements(), "run bin/lock --demo"


def test_demo_requirements_are_pinned_with_hashes_and_leave_out_the_dev_toolset():
    text = DEMO.read_text()
    names = {normalize(n) for n in PIN.findall(text)}
    assert text.count("==") == len(names)
    assert "\n-e " not in text
    for dev_tool in ("pytest", "ruff", "playwright", "schemathesis", "django", "hypothesis"):
        assert dev_tool not in names
    assert {"mcp", "uvicorn", "cryptography", "jwcrypto"} <= names


def test_everything_the_demo_and_the_verifier_import_is_in_the_demo_requirements():
    names = {normalize(n) for n in PIN.findall(DEMO.read_text())}
    distributions = packages_distributions()
    imported = third_party_imports(
        ROOT / "examples" / "demo_mcp_server", ROOT / "mcp_token_verifier"
    )
    for module in sorted(imported):
        owners = {normalize(d) for d in distributions.get(module, [])}
        assert owners & names, f"{module} ({owners}) is not in {DEMO.relative_to(ROOT)}"
