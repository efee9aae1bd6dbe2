#!/usr/bin/env python3
"""The paths people and operators hit, before and after seeding a large company's data.

Usage::

    python bench/company_probe.py [--divide N] [--requests N] [--out-dir DIR]

Starts throwaway PostgreSQL + Redis (tests/services.py), migrates, seeds the bench's own
clients (bench/seed.py), then runs each case in-process, one request at a time (no HTTP, no
load generator: on a shared 2-core machine that is the quiet measurement), timing every SQL
statement and capturing ``EXPLAIN (ANALYZE, BUFFERS)`` of one request's statements
(bench/scale_probe.Probe), with a small company seeded (1/1000 of the large one, so every
list page is full). Then it seeds the large company (bench/company.py; ``--divide 5``: a
fifth of it) and runs every case again. Each case's p50 ratio (before / after) is divided
by the reference's (``/healthz`` through the same middleware chain, measured in the same
phase), so the machine's drift between the phases does not count. Reports the
process's memory (RSS) after each phase and every sequential scan of a seeded table.

Writes ``<out-dir>/<UTC>-company.json`` (plans included) and ``<UTC>-company.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.company_cases import Cases, consent_resource  # noqa: E402
from bench.scale_probe import Probe, django_on_throwaway_services  # noqa: E402

TARGET = 0.9  # each case's floor-normalised ratio, seeded against unseeded
# Pages that cost tenths of a second each are sampled less (p99 of 50 is the second worst).
HEAVY = {
    "admin: client list",
    "admin: user list",
    "admin: access review",
    "consent page, 50 tools",
    "authorize, remembered consent (302)",
}
SEEDED_TABLES = (
    "auth_user",
    "auth_group",
    "auth_user_groups",
    "clients_client",
    "authserver_resource",
    "authserver_scope",
    "authserver_toolpolicy",
    "accounts_consent",
    "authserver_accesstoken",
    "authserver_refreshtoken",
)


def log(msg: str) -> None:
    print(f"[company] {msg}", flush=True)


def rss_kib() -> dict[str, int]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


def timed(probe: Probe, name: str, send, count: int) -> dict:
    """``count`` sequential requests: p50/p99 (the EXPLAINed one excluded) and statements."""
    from django.db import connection

    probe.timings, probe.plans = defaultdict(list), []
    totals, statuses = [], defaultdict(int)
    with connection.execute_wrapper(probe.wrapper):
        for i in range(count):
            probe.explain_next = i == count // 2
            started = time.perf_counter()
            status, size = send(i)
            if not probe.explain_next:
                totals.append(time.perf_counter() - started)
            statuses[status] += 1
        probe.explain_next = False
    totals.sort()
    return {
        "case": name,
        "statuses": dict(statuses),
        "bytes": size,
        "p50_ms": round(statistics.median(totals) * 1000, 3),
        "p99_ms": round(totals[min(len(totals) - 1, int(len(totals) * 0.99))] * 1000, 3),
        "statements": {
            k: {"count": len(v), "median_ms": round(statistics.median(v) * 1000, 3)}
            for k, v in probe.timings.items()
        },
        "plans": probe.plans,
        "seq_scans": sorted(
            {
                table
                for plan in probe.plans
                # VERBOSE plans name the schema: "Seq Scan on public.auth_user".
                for table in re.findall(r"Seq Scan on (?:\w+\.)?(\w+)", plan["plan"])
                if table in SEEDED_TABLES
            }
        ),
    }


def run_phase(cases: Cases, probe: Probe, n: int, phase: str) -> dict:
    out = {}
    cases.fresh_token()
    for _name, send in cases.all():  # warm-up: caches, prepared statements
        for i in range(10):
            send(i)
    ref = "reference: /healthz + 4 SELECT 1"
    for name, send in cases.all():
        out[name] = timed(probe, name, send, min(n, 50) if name in HEAVY else n)
        log(f"{phase} {name}: p50 {out[name]['p50_ms']} ms, p99 {out[name]['p99_ms']} ms")
    # The reference again at the end of the phase: its p50 is the mean of both runs.
    again = timed(probe, ref, cases.reference, n)
    out[ref]["p50_runs_ms"] = [out[ref]["p50_ms"], again["p50_ms"]]
    out[ref]["p50_ms"] = round((out[ref]["p50_ms"] + again["p50_ms"]) / 2, 3)
    return out


def compare(before: dict, after: dict) -> list[dict]:
    ref = "reference: /healthz + 4 SELECT 1"
    drift = after[ref]["p50_ms"] / before[ref]["p50_ms"]
    rows = []
    for name in before:
        b, a = before[name], after[name]
        raw = b["p50_ms"] / a["p50_ms"]
        rows.append(
            {
                "case": name,
                "before_p50_ms": b["p50_ms"],
                "before_p99_ms": b["p99_ms"],
                "after_p50_ms": a["p50_ms"],
                "after_p99_ms": a["p99_ms"],
                "ratio": round(raw, 3),
                "ratio_normalised": round(raw * drift, 3),
                "meets": raw * drift >= TARGET,
                "statements_after": sum(s["count"] for s in a["statements"].values()) // n_of(a),
                "bytes_after": a["bytes"],
                "seq_scans_after": a["seq_scans"],
            }
        )
    return rows


def n_of(case: dict) -> int:
    return max(1, sum(case["statuses"].values()))


def markdown(result: dict) -> str:
    lines = [
        f"# A large company's data: in-process probe ({result['started']})",
        "",
        f"Seeded: {result['seed']['rows']}; seeding took {result['seed']['seconds']} s.",
        f"Load average before/after: {result['loadavg']}. Requests per case and phase: "
        f"{result['requests']}. Ratio = p50 before / p50 after, normalised by the reference "
        f"(drift {result['drift']}x); target >= {TARGET}.",
        "",
        "| case | p50 before ms | p99 before ms | p50 after ms | p99 after ms | ratio "
        "| normalised | SQL / request | bytes | seq scans of seeded tables |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in result["comparison"]:
        mark = "" if r["meets"] else " (below)"
        lines.append(
            f"| {r['case']} | {r['before_p50_ms']} | {r['before_p99_ms']} | "
            f"{r['after_p50_ms']} | {r['after_p99_ms']} | {r['ratio']} | "
            f"{r['ratio_normalised']}{mark} | {r['statements_after']} | {r['bytes_after']} | "
            f"{', '.join(r['seq_scans_after']) or 'none'} |"
        )
    lines += [
        "",
        f"Memory (RSS of this one process, KiB): {result['rss']}.",
        f"Table sizes after seeding (bytes, with indexes): {result['seed']['table_bytes']}.",
        "",
    ]
    return "\n".join(lines)


def measure(args) -> dict:
    from bench import company, seed

    n = args.requests
    seeded = seed.seed_base()
    seed.seed_revoked(seeded, 10_000)
    consent_resource()
    # The "before" is a small company (1/1000: 1,000 people, 100 clients, 10 MCP servers),
    # so every list page is as full before as after and only the data's size differs.
    result_small = company.seed_company(seeded, company.Scale.divided(1000), tag="small-", log=log)
    cases = Cases(seeded, n)
    probe = Probe(n)
    result: dict = {"requests": n, "rss": {"start": rss_kib()}, "loadavg": [os.getloadavg()]}
    result["seed_before"] = result_small
    result["unseeded"] = run_phase(cases, probe, n, "unseeded")
    result["rss"]["after_unseeded"] = rss_kib()
    scale = company.Scale.divided(args.divide) if args.divide > 1 else company.Scale()
    log(f"seeding {scale}")
    result["seed"] = company.seed_company(seeded, scale, log=log)
    result["loadavg"].append(os.getloadavg())
    result["seeded"] = run_phase(cases, probe, n, "seeded")
    result["rss"]["after_seeded"] = rss_kib()
    result["loadavg"].append(os.getloadavg())
    result["comparison"] = compare(result["unseeded"], result["seeded"])
    ref = "reference: /healthz + 4 SELECT 1"
    result["drift"] = round(result["seeded"][ref]["p50_ms"] / result["unseeded"][ref]["p50_ms"], 3)
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--divide", type=int, default=1, help="seed 1/N of the company")
    parser.add_argument("--out-dir", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args(argv)
    started = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    with django_on_throwaway_services("authserver-company-"):
        result = measure(args)
    result["started"] = started
    out = Path(args.out_dir)
    (out / f"{started}-company.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    (out / f"{started}-company.md").write_text(markdown(result))
    print(markdown(result))
    log(f"written {out}/{started}-company.json and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
