"""`make audit`: an unreachable vulnerability service is its own outcome, never a pass
(docs/SECURITY.md); findings fail; a clean audit passes."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / ".ci" / "audit_verdict.py"
_spec = importlib.util.spec_from_file_location("audit_verdict", SCRIPT)
audit_verdict = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(audit_verdict)


def run(tmp_path: Path, report: dict | None, status: int = 0, log: str = "") -> tuple[int, str]:
    report_path, log_path = tmp_path / "report.json", tmp_path / "audit.log"
    if report is not None:
        report_path.write_text(json.dumps(report))
    log_path.write_text(log)
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(report_path), str(status), str(log_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode, result.stdout


def dep(name: str, **extra) -> dict:
    return {"name": name, "version": "1.0", "vulns": [], **extra}


@pytest.mark.parametrize(
    ("report", "log"),
    [
        (None, "requests.exceptions.ConnectionError: Max retries exceeded with url"),
        ({"dependencies": [dep("a", skip_reason="x"), dep("b", skip_reason="x")]}, ""),
    ],
)
def test_unreachable_vulnerability_service_is_unaudited_not_a_pass(tmp_path, report, log):
    code, out = run(tmp_path, report, status=1, log=log)
    assert code == audit_verdict.UNAUDITED == 3
    assert "!! UNAUDITED:" in out


def test_known_vulnerability_fails(tmp_path):
    vuln = {"id": "PYSEC-1", "fix_versions": ["1.1"]}
    code, out = run(tmp_path, {"dependencies": [dep("a", vulns=[vuln]), dep("b")]})
    assert code == audit_verdict.FAILED
    assert "VULNERABLE: a 1.0: PYSEC-1" in out


def test_one_package_not_audited_among_audited_ones_fails(tmp_path):
    code, _ = run(tmp_path, {"dependencies": [dep("a"), dep("b", skip_reason="not on PyPI")]})
    assert code == audit_verdict.FAILED


def test_clean_audit_passes(tmp_path):
    code, out = run(tmp_path, {"dependencies": [dep("a"), dep("b")]})
    assert code == audit_verdict.AUDITED == 0
    assert "no known vulnerabilities" in out


def test_ci_reports_unaudited_with_its_own_final_line():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "grep -q '^!! UNAUDITED:'" in ci
    assert "dependencies UNAUDITED" in ci
