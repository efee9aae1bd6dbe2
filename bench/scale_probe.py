#!/usr/bin/env python3
"""In-process evidence for the 1.1M-row scale case: per-statement time and plans, before and after.

Usage::

    python bench/scale_probe.py [--requests N] [--out FILE]

Starts throwaway PostgreSQL + Redis (tests/services.py), migrates and seeds as `make bench`
does (bench/seed.py), then runs (a) client credentials, (b) refresh, (b2) code redemption
and (g) introspection sequentially in-process (no HTTP, no load generator: on a shared
2-core machine that is the quiet measurement), timing every SQL statement through Django's
execute wrappers, and captures ``EXPLAIN (ANALYZE, BUFFERS)`` of every statement of one
request of each case (run in a rolled-back savepoint just before the real statement). Then
it seeds 1,000,000 expired + 100,000 live token rows like the scale case and measures
again. Prints a table and writes everything (plans, index sizes, table stats) as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.flows import basic  # noqa: E402

BENCH_SECRETS = {
    "SECRET_KEY": "bench-only-secret-key-0123456789abcdefghijklmnop",
    "KEY_ENCRYPTION_KEY": "bench-only-key-encryption-key-0123456789abcdef",
}
FORM = "application/x-www-form-urlencoded"
HOST = "127.0.0.1:8999"


@contextmanager
def django_on_throwaway_services(prefix: str):
    """Django set up in this process against throwaway PostgreSQL + Redis, migrated; the
    probes (this one and bench/company_probe.py) measure inside it."""
    from tests.services import running_services

    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    (workdir / "prometheus").mkdir()
    (workdir / "var").mkdir()
    with running_services() as services:
        os.environ.update(
            {
                **services,
                **BENCH_SECRETS,
                "DJANGO_SETTINGS_MODULE": "authserver.settings",
                "ISSUER": f"http://{HOST}",
                "LOG_LEVEL": "WARNING",
                "VAR_DIR": str(workdir / "var"),
                "PROMETHEUS_MULTIPROC_DIR": str(workdir / "prometheus"),
            }
        )
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0, interactive=False)
        try:
            yield
        finally:
            from django.db import connections

            connections.close_all()


def log(msg: str) -> None:
    print(f"[probe] {msg}", flush=True)


def _label(sql: str) -> str:
    text = " ".join(sql.split())
    for marker in ("INSERT INTO authserver_refreshtoken", "UPDATE authserver_refreshtoken"):
        if marker in text and text.startswith("WITH"):
            return "write (WITH claim + inserts)"
    if text.startswith("WITH"):
        return "write (WITH inserts)"
    return text[:90]


class Probe:
    def __init__(self, n: int) -> None:
        self.n = n
        self.explain_next = False
        self.inner = False
        self.timings: dict[str, list[float]] = defaultdict(list)
        self.plans: list[dict] = []

    def wrapper(self, execute, sql, params, many, context):
        if self.inner:
            return execute(sql, params, many, context)
        if self.explain_next and sql.lstrip().split(" ", 1)[0].upper() in (
            "SELECT",
            "WITH",
            "UPDATE",
            "INSERT",
        ):
            self.plans.append({"sql": _label(sql), "plan": self.explain(sql, params)})
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.timings[_label(sql)].append(time.perf_counter() - started)

    def explain(self, sql, params) -> str:
        from django.db import DatabaseError, connection, transaction

        self.inner = True
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS, VERBOSE) " + sql, params)
                    plan = "\n".join(row[0] for row in cursor.fetchall())
                transaction.set_rollback(True)
            return plan
        except DatabaseError as exc:
            return f"EXPLAIN failed: {exc}"
        finally:
            self.inner = False

    def run_case(self, name: str, send, count: int) -> dict:
        from django.db import connection

        self.timings = defaultdict(list)
        self.plans = []
        totals = []
        statuses: dict[int, int] = defaultdict(int)
        with connection.execute_wrapper(self.wrapper):
            for i in range(count):
                self.explain_next = i == count // 2
                started = time.perf_counter()
                status = send(i)
                if not self.explain_next:
                    totals.append(time.perf_counter() - started)
                statuses[status] += 1
            self.explain_next = False
        return {
            "case": name,
            "statuses": dict(statuses),
            "ms_per_request_mean": round(statistics.fmean(totals) * 1000, 3),
            "ms_per_request_median": round(statistics.median(totals) * 1000, 3),
            "statements": {
                k: {
                    "count": len(v),
                    "mean_ms": round(statistics.fmean(v) * 1000, 3),
                    "median_ms": round(statistics.median(v) * 1000, 3),
                }
                for k, v in self.timings.items()
            },
            "plans": self.plans,
        }


def profile(send, n: int) -> str:
    """pyinstrument text of ``n`` sequential requests (it roughly doubles absolute times),
    then cProfile's top functions by own time."""
    import cProfile
    import io
    import pstats

    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0002)
    profiler.start()
    for i in range(n):
        send(i)
    profiler.stop()
    text = profiler.output_text(unicode=True, color=False, show_all=False)
    cprofile = cProfile.Profile()
    cprofile.enable()
    for i in range(n):
        send(i)
    cprofile.disable()
    out = io.StringIO()
    pstats.Stats(cprofile, stream=out).sort_stats("tottime").print_stats(35)
    return text + "\n" + out.getvalue()


def relation_stats() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_relation_size(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
            "AND c.relkind IN ('r', 'i') AND (c.relname LIKE 'authserver_accesstoken%%' "
            "OR c.relname LIKE 'authserver_refreshtoken%%' "
            "OR c.relname LIKE 'authserver_auditevent%%' OR c.relname LIKE 'authserver_grant%%')"
            " ORDER BY 2 DESC"
        )
        sizes = {name: size for name, size in cursor.fetchall()}
        cursor.execute(
            "SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_live_tup, n_dead_tup "
            "FROM pg_stat_user_tables WHERE relname IN ('authserver_accesstoken', "
            "'authserver_refreshtoken', 'authserver_auditevent', 'authserver_grant')"
        )
        tables = {r[0]: dict(zip(("ins", "upd", "hot_upd", "live", "dead"), r[1:], strict=True))
                  for r in cursor.fetchall()}  # fmt: skip
    return {"relation_bytes": sizes, "tables": tables}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "scale-probe.json"))
    parser.add_argument("--no-scale", action="store_true")
    parser.add_argument("--profile", default="", help="cases to profile first, e.g. g,b")
    args = parser.parse_args(argv)
    with django_on_throwaway_services("authserver-probe-"):
        result = measure(args)
    Path(args.out).write_text(json.dumps(result, indent=2, default=str) + "\n")
    log(f"written {args.out}")
    return 0


def measure(args) -> dict:
    from django.test import Client

    from bench import flows, seed

    n = args.requests
    seeded = seed.seed_base()
    seed.seed_revoked(seeded, 10_000)
    pool = seed.seed_refresh_pool(seeded, 5 * n + 100)
    codes = seed.seed_code_pool(seeded, 5 * n + 100)
    client = Client(HTTP_HOST=HOST)
    machine = basic(seeded.machine_id, seeded.machine_secret)
    rs = basic(seeded.rs_id, seeded.rs_secret)
    cc_body = urlencode(
        {"grant_type": "client_credentials", "resource": seeded.resource, "scope": "tools:read"}
    )
    cursor = {"refresh": 0, "code": 0}

    def cc(_i: int) -> int:
        return client.post(
            "/token", cc_body, content_type=FORM, HTTP_AUTHORIZATION=machine
        ).status_code

    def refresh(_i: int) -> int:
        token = pool[cursor["refresh"]]
        cursor["refresh"] += 1
        body = urlencode(
            {"grant_type": "refresh_token", "client_id": seeded.app_id, "refresh_token": token}
        )
        return client.post("/token", body, content_type=FORM).status_code

    def code(_i: int) -> int:
        body = codes[cursor["code"]]
        cursor["code"] += 1
        return client.post("/token", body, content_type=FORM).status_code

    response = client.post("/token", cc_body, content_type=FORM, HTTP_AUTHORIZATION=machine)
    token = response.json()["access_token"]
    intro_body = urlencode({"token": token})

    def introspect(_i: int) -> int:
        return client.post(
            "/introspect", intro_body, content_type=FORM, HTTP_AUTHORIZATION=rs
        ).status_code

    del flows
    cases = [("a", cc), ("b", refresh), ("b2", code), ("g", introspect)]
    probe = Probe(n)
    out: dict = {"requests": n, "unseeded": {}, "scaled": {}}
    for _name, send in cases:  # warm-up: caches, prepared statements
        for i in range(30):
            send(i)
    for name, send in cases:
        if name in args.profile.split(","):
            out.setdefault("profiles", {})[name] = profile(send, n)
            print(out["profiles"][name])
    for name, send in cases:
        out["unseeded"][name] = probe.run_case(name, send, n)
        log(f"unseeded {name}: {out['unseeded'][name]['ms_per_request_median']} ms median")
    out["unseeded_stats"] = relation_stats()
    if args.no_scale:
        return out
    log("seeding 1,000,000 expired + 100,000 live token rows")
    out["scale_counts"] = seed.seed_scale(seeded, expired=1_000_000, live=100_000)
    for name, send in cases:
        if name in ("a", "b"):
            for i in range(30):
                send(i)
            out["scaled"][name] = probe.run_case(name, send, n)
            log(f"scaled {name}: {out['scaled'][name]['ms_per_request_median']} ms median")
    out["scaled_stats"] = relation_stats()
    for name in out["scaled"]:
        before, after = out["unseeded"][name], out["scaled"][name]
        print(f"\n== {name}: {before['ms_per_request_median']} -> "
              f"{after['ms_per_request_median']} ms median per request")  # fmt: skip
        for stmt, t in after["statements"].items():
            b = before["statements"].get(stmt, {})
            was = b.get("median_ms", "-")
            print(f"  {was:>7} -> {t['median_ms']:>7} ms  x{t['count']}  {stmt}")
    return out


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
