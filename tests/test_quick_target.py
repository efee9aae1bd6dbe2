"""`make test-quick` leaves out exactly the tests that need what only `make test` installs:
tests/conftest.py marks them browser, node or promtool by the fixtures and files they use."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAKEFILE = (ROOT / "Makefile").read_text()
NEEDS_TOOLS = [
    "tests/deploy/test_monitoring.py",  # promtool
    "tests/e2e/test_typescript_sdk.py",  # Node.js, the TypeScript SDK
    "tests/connections/test_mixup.py",  # node-oidc-provider through the `upstream` fixture
    "tests/browser/test_consent_flow.py",  # Chromium
]


def collect(*args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:randomly", *args],
        cwd=ROOT,
        env=os.environ,
        capture_output=True,
        text=True,
        check=False,
    ).stdout


def test_quick_target_deselects_every_test_that_needs_chromium_node_or_promtool():
    markers = re.search(r"^QUICK_MARKERS := (.+)$", MAKEFILE, re.M)[1]
    assert '-m "$(QUICK_MARKERS)"' in MAKEFILE
    everything = collect(*NEEDS_TOOLS)
    assert re.search(r"\d+ tests? collected", everything), everything[-500:]
    quick = collect("-m", markers, *NEEDS_TOOLS)
    assert re.search(r"0/\d+ tests collected|no tests collected", quick), quick[-500:]


def test_quick_target_keeps_the_tests_that_need_only_postgresql_and_redis():
    markers = re.search(r"^QUICK_MARKERS := (.+)$", MAKEFILE, re.M)[1]
    quick = collect("-m", markers, "tests/authserver/test_first_start.py")
    assert "deselected" not in quick
    assert "test_first_password" in quick
