"""Running the previous release and this code against one database, in subprocesses.

upgrade_seed.py fills a database with the previous release's code; upgrade_verify.py migrates
it with this code and checks every row and credential. Both run with this venv's Python,
the code under test first on PYTHONPATH and as the working directory. Redis is left out:
the subprocesses use the file cache in their own VAR_DIR and cannot disturb the suite's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.release import releases

HERE = Path(__file__).resolve().parent
SECRETS = {
    "SECRET_KEY": "test-only-secret-key-0123456789abcdefghijklmnop",
    "KEY_ENCRYPTION_KEY": "test-only-key-encryption-key-0123456789abcdef",
}


def environment(database_url: str, var_dir: Path) -> dict[str, str]:
    dropped = ("REDIS_URL", "PROMETHEUS_MULTIPROC_DIR", "PYTHONPATH")
    return {
        **{k: v for k, v in os.environ.items() if k not in dropped},
        **SECRETS,
        "DJANGO_SETTINGS_MODULE": "authserver.settings",
        "DATABASE_URL": database_url,
        "VAR_DIR": str(var_dir),
        "ISSUER": "http://127.0.0.1:8000",
        "ACCESS_TOKEN_LIFETIME": "3600",  # the seeded tokens outlive the run
        "LOG_LEVEL": "ERROR",
    }


def run_script(script: str, arg: Path, *, code: Path, env: dict[str, str]):
    return subprocess.run(
        [sys.executable, str(HERE / script), str(arg)],
        cwd=code,
        env={**env, "PYTHONPATH": str(code)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def run(script: str, arg: Path, *, code: Path, env: dict[str, str]) -> str:
    result = run_script(script, arg, code=code, env=env)
    output = f"{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    assert result.returncode == 0, f"{script} failed:\n{output}"
    return result.stdout


def seed_with_previous_release(env: dict[str, str], old_tree: Path, seed: Path) -> None:
    run("upgrade_seed.py", seed, code=old_tree, env=env)


def verify_with_this_code(env: dict[str, str], seed: Path) -> dict:
    report = run("upgrade_verify.py", seed, code=releases.ROOT, env=env)
    return json.loads(report.strip().splitlines()[-1])


def assert_everything_checked(report: dict) -> None:
    expected = {"signing_keys": 2, "upstream_secrets": 3, "access_tokens": 3}
    expected |= {"refresh_tokens": 2, "consent": 1, "client_credentials": 1}
    assert {k: report[k] for k in expected} == expected
    assert report["tables"] >= 40
    assert report["rows"] > 200
    assert report["audit_events"] > 0


def copy_of(seeded: Path, tmp_path: Path) -> dict[str, str]:
    """A working copy of a seeded SQLite directory under tmp_path/upgrade: its environment."""
    work = tmp_path / "upgrade"
    shutil.copytree(seeded, work)
    return environment(f"sqlite:///{work / 'db.sqlite3'}", work / "var")
