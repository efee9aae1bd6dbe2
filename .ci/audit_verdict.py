"""Turn a pip-audit run into one of three outcomes, each with its own exit status.

Usage: audit_verdict.py REPORT_JSON PIP_AUDIT_STATUS PIP_AUDIT_LOG (the Makefile's `audit`).

* 0 ``AUDITED``: every locked package was checked, no known vulnerability.
* 1 ``FAILED``: a known vulnerability, a package that could not be audited while others
  could (strict: every package counts), or pip-audit failing for another reason.
* 3 ``UNAUDITED``: the vulnerability service could not be reached (no route, or a mirror
  without per-version pages, so every package came back "skipped"). Nothing was checked:
  this is not a pass, and .ci/run reports it as its own outcome (docs/SECURITY.md).
"""

from __future__ import annotations

import json
import pathlib
import sys

AUDITED, FAILED, UNAUDITED = 0, 1, 3
UNREACHABLE_MARKERS = ("ConnectionError", "connect", "resolve", "Max retries", "timed out")


def unaudited(why: str, log: pathlib.Path) -> int:
    bar = "!" * 78
    print(f"{bar}\n!! UNAUDITED: dependencies NOT audited: {why}\n!! (see {log})\n{bar}")
    return UNAUDITED


def verdict(report: pathlib.Path, status: int, log: pathlib.Path) -> int:
    try:
        deps = json.loads(report.read_text())["dependencies"]
    except (OSError, ValueError, KeyError):
        text = log.read_text(errors="replace") if log.exists() else ""
        if status == 124 or any(marker in text for marker in UNREACHABLE_MARKERS):
            return unaudited("pip-audit could not reach its vulnerability service", log)
        print(text)
        print(f"audit FAILED: pip-audit exited {status} without a report")
        return FAILED
    found = [
        (d["name"], d["version"], v["id"], v["fix_versions"])
        for d in deps
        for v in d.get("vulns", [])
    ]
    for name, version, vuln, fixed in found:
        print(f"VULNERABLE: {name} {version}: {vuln} (fixed in {', '.join(fixed) or 'no release'})")
    if found:
        print(f"audit FAILED: {len(found)} known vulnerabilities in requirements.lock")
        return FAILED
    skipped = [d["name"] for d in deps if "skip_reason" in d]
    if not deps or len(skipped) == len(deps):
        return unaudited(f"the service answered for none of the {len(deps)} locked packages", log)
    if skipped:
        print(f"audit FAILED: could not audit {', '.join(skipped)} (strict: every package counts)")
        return FAILED
    print(f"== pip-audit: {len(deps)} locked packages, no known vulnerabilities")
    return AUDITED


if __name__ == "__main__":
    report, status, log = sys.argv[1:4]
    sys.exit(verdict(pathlib.Path(report), int(status), pathlib.Path(log)))
