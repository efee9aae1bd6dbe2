"""The refresh lifecycle on the embedded default (SQLite, no DATABASE_URL), not only on
PostgreSQL: rotation, the reuse grace window, reuse detection, double code redemption
(tests/authserver/test_refresh_grace.py) and the token lifecycle state machine
(tests/authserver/test_token_lifecycle_machine.py), run again in a pytest of their own
with the embedded configuration. The SQLite path writes through the ORM in one IMMEDIATE
transaction (authserver.token_endpoint.issue), not the PostgreSQL statement."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ON_BOTH = [
    "tests/authserver/test_refresh_grace.py",
    "tests/authserver/test_token_lifecycle_machine.py",
]


def test_refresh_rotation_and_reuse_detection_on_the_embedded_default(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env["VAR_DIR"] = str(tmp_path / "var")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *ON_BOTH],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
