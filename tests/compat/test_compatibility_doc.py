"""docs/compatibility.md names, for every MCP 2026-07-28 requirement and extension MUST, the
test that proves it: each file and test it names exists, so the table cannot cite a test that
was renamed or removed."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "compatibility.md").read_text(encoding="utf-8")


def defined_tests() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        names.update(re.findall(r"^def (test_\w+)", path.read_text(encoding="utf-8"), re.M))
    return names


def test_every_test_file_the_compatibility_table_names_exists():
    files = set(re.findall(r"(tests/[\w/]+\.py)", DOC))
    assert files
    assert sorted(f for f in files if not (ROOT / f).is_file()) == []


def test_every_test_the_compatibility_table_names_exists():
    named = set(re.findall(r"(?<![/\w])(test_\w+)(?!\w*\.py)", DOC))
    assert len(named) > 40
    assert sorted(named - defined_tests()) == []
