#!/usr/bin/env python3
"""In-process evidence for the expired-token cleanup at 1.1M rows: every statement's time and
the plan of each slow one.

Usage::

    python bench/cleanup_probe.py [--expired N] [--live N] [--batch-size N] [--slow-ms MS]
                                  [--out FILE]

Starts throwaway PostgreSQL + Redis and migrates (bench/scale_probe.py's
``django_on_throwaway_services``), seeds as `make bench`'s scale phase does
(bench/seed.py ``seed_scale``: 1,000,000 expired + 100,000 live token rows by default, plus a
pool of fresh refresh-token families), then runs ``authserver.tasks.clear_expired_tokens``
with every statement timed by shape (values folded): as this process saw it, and as
PostgreSQL measured it (bench/inprocess.py ``server_timings``), with ``auto_explain``'s plan
(``ANALYZE, BUFFERS``) of each statement slower than ``--slow-ms``. Prints the shapes by
longest time and what the cleanup left, and writes everything as JSON. Statement durations
are what matter here (they bound how long a statement holds its row locks), not the total,
which a shared machine bends.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.scale_probe import django_on_throwaway_services  # noqa: E402


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 4)


def summary(times: dict[str, list[float]]) -> dict:
    return {
        k: {"count": len(v), "total_s": round(sum(v), 3), "p99_s": p99(v), "max_s": max(v)}
        for k, v in sorted(times.items(), key=lambda kv: -max(kv[1]))
    }


def log(msg: str) -> None:
    print(f"[cleanup-probe] {msg}", flush=True)


def measure(args) -> dict:
    from authserver.ops import cleanup
    from authserver.tasks import clear_expired_tokens
    from django.utils import timezone

    from bench import seed
    from bench.inprocess import longest, server_timings, timed_statements

    seeded = seed.seed_base()
    seed.seed_refresh_pool(seeded, 2_000)
    log(f"seeding {args.expired:,} expired + {args.live:,} live token rows")
    started = time.perf_counter()
    out: dict = {"counts_before": seed.seed_scale(seeded, expired=args.expired, live=args.live)}
    out["seed_seconds"] = round(time.perf_counter() - started, 1)
    log(f"seeded in {out['seed_seconds']} s: {out['counts_before']}")

    times: dict[str, list[float]] = defaultdict(list)  # as this process saw them
    server: dict[str, list[float]] = defaultdict(list)  # as PostgreSQL measured them
    plans: list[str] = []

    started = time.perf_counter()
    with server_timings(server, plans, args.slow_ms), timed_statements(times):
        if args.batch_size:
            counts = cleanup.purge_expired(now=timezone.now(), batch_size=args.batch_size)
        else:
            counts = clear_expired_tokens()
    out["cleanup_seconds"] = round(time.perf_counter() - started, 2)
    out["deleted"] = counts
    out["counts_after"] = seed.table_counts()
    out["statements"], out["server_statements"] = summary(times), summary(server)
    out["slow_plans"] = plans
    out["longest_statement_s"], out["longest_delete_s"] = longest(times), longest(times, "DELETE")
    out["server_longest_statement_s"] = longest(server)
    out["server_longest_delete_s"] = longest(server, "DELETE")
    return out


def show(statements: dict) -> None:
    for sql, s in list(statements.items())[:12]:
        log(
            f"  max {s['max_s']:.4f} p99 {s['p99_s']:.4f} s  x{s['count']:<5}"
            f" total {s['total_s']:>7} s  {sql[:140]}"
        )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--expired", type=int, default=1_000_000)
    parser.add_argument("--live", type=int, default=100_000)
    parser.add_argument("--slow-ms", type=int, default=25)
    parser.add_argument("--batch-size", type=int, default=0, help="default: the task's")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "cleanup-probe.json"))
    args = parser.parse_args(argv)
    with django_on_throwaway_services("authserver-cleanup-probe-"):
        result = measure(args)
    Path(args.out).write_text(json.dumps(result, indent=2, default=str) + "\n")
    log(f"cleanup {result['cleanup_seconds']} s; deleted {result['deleted']}")
    log(f"after: {result['counts_after']}")
    log(
        f"as this process saw them: longest statement {result['longest_statement_s']} s, "
        f"longest DELETE {result['longest_delete_s']} s"
    )
    show(result["statements"])
    log(
        f"as PostgreSQL measured them: longest statement "
        f"{result['server_longest_statement_s']} s, longest DELETE "
        f"{result['server_longest_delete_s']} s"
    )
    show(result["server_statements"])
    log(f"{len(result['slow_plans'])} plans over {args.slow_ms} ms (in the JSON)")
    log(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
