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
import base64
import hashlib
import json
import os
import re
import secrets
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.flows import basic  # noqa: E402
from bench.scale_probe import BENCH_SECRETS, FORM, HOST, Probe  # noqa: E402

TARGET = 0.9  # each case's floor-normalised ratio, seeded against unseeded
SCIM = "application/scim+json"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
CONSENT_MCP = "https://consent.bench.example/mcp"
REVIEWED = "small-user-2@corp.example"  # one consent, one live token and grant
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


class Cases:
    """Every case as ``send(i) -> (status, bytes)``."""

    def __init__(self, seeded, n: int) -> None:
        from accounts.models import Consent  # noqa: F401 - models loaded
        from accounts.scim.models import ScimToken
        from django.contrib.auth import get_user_model
        from django.test import Client

        self.seeded, self.n = seeded, n
        self.http = Client(HTTP_HOST=HOST)
        self.browser = Client(HTTP_HOST=HOST)
        self.browser.force_login(get_user_model().objects.get(pk=seeded.user_pk))
        admin = get_user_model().objects.create_superuser("bench-admin", "admin@bench.example")
        self.admin = Client(HTTP_HOST=HOST)
        self.admin.force_login(admin)
        _, self.scim_token = ScimToken.issue("bench provisioning")
        created = self.http.post(
            "/scim/v2/Users",
            json.dumps(
                {
                    "schemas": [USER_SCHEMA],
                    "userName": "scim-0@bench.example",
                    "externalId": "bench-scim",
                    "active": True,
                }
            ),
            content_type=SCIM,
            HTTP_AUTHORIZATION=f"Bearer {self.scim_token}",
        )
        if created.status_code != 201:
            raise RuntimeError(f"SCIM create: {created.status_code} {created.content[:300]!r}")
        self.scim_user = created.json()["id"]
        self.machine = basic(seeded.machine_id, seeded.machine_secret)
        self.rs = basic(seeded.rs_id, seeded.rs_secret)
        self.cc_body = urlencode(
            {"grant_type": "client_credentials", "resource": seeded.resource, "scope": "tools:read"}
        )
        self.fresh_token()
        from bench import seed

        # One pool for both phases (its rows are named by position); codes live an hour.
        size = 2 * (self.n + 10) + 50
        self.refresh_pool = seed.seed_refresh_pool(self.seeded, size)
        self.code_pool = seed.seed_code_pool(self.seeded, size)
        self.cursor = {"refresh": 0, "code": 0}

    def _take(self, pool: str) -> str:
        items = self.refresh_pool if pool == "refresh" else self.code_pool
        item = items[self.cursor[pool]]
        self.cursor[pool] += 1
        return item

    def fresh_token(self) -> None:
        """The introspected token, issued anew for each phase: seeding outlasts its lifetime
        (300 s), and an expired token takes the cheaper ``{"active": false}`` path."""
        token = self.http.post(
            "/token", self.cc_body, content_type=FORM, HTTP_AUTHORIZATION=self.machine
        ).json()["access_token"]
        self.intro_body = urlencode({"token": token})

    @staticmethod
    def _out(response) -> tuple[int, int]:
        return response.status_code, len(response.content)

    def reference(self, _i: int):
        """A request through the same middleware chain plus four database round trips: the
        shape of a token request with no data behind it."""
        from django.db import connection

        response = self.http.get("/healthz")
        with connection.cursor() as cursor:
            for _ in range(4):
                cursor.execute("SELECT 1")
        return self._out(response)

    def client_credentials(self, _i: int):
        return self._out(
            self.http.post(
                "/token", self.cc_body, content_type=FORM, HTTP_AUTHORIZATION=self.machine
            )
        )

    def refresh(self, _i: int):
        body = urlencode(
            {
                "grant_type": "refresh_token",
                "client_id": self.seeded.app_id,
                "refresh_token": self._take("refresh"),
            }
        )
        return self._out(self.http.post("/token", body, content_type=FORM))

    def code(self, _i: int):
        return self._out(self.http.post("/token", self._take("code"), content_type=FORM))

    def introspection(self, _i: int):
        return self._out(
            self.http.post(
                "/introspect", self.intro_body, content_type=FORM, HTTP_AUTHORIZATION=self.rs
            )
        )

    def _authorize_query(self, resource: str, scope: str) -> str:
        from bench.seed import REDIRECT

        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).decode().rstrip("=")
        return urlencode(
            {
                "response_type": "code",
                "client_id": self.seeded.app_id,
                "redirect_uri": REDIRECT,
                "state": secrets.token_hex(4),
                "scope": scope,
                "resource": resource,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )

    def authorize_remembered(self, _i: int):
        response = self.browser.get("/authorize?" + self._authorize_query(
            self.seeded.resource, "tools:read"
        ))  # fmt: skip
        location = response.get("Location", "")
        if response.status_code != 302 or not parse_qs(urlsplit(location).query).get("code"):
            raise RuntimeError(f"authorize: {response.status_code} {location[:120]}")
        return self._out(response)

    def consent_page(self, _i: int):
        query = self._authorize_query(CONSENT_MCP, "tools:read tools:write")
        response = self.browser.get("/authorize?" + query)
        if response.status_code != 200 or b"read_24" not in response.content:
            raise RuntimeError(f"consent page: {response.status_code}")
        return self._out(response)

    def admin_clients(self, _i: int):
        return self._out(self.admin.get("/admin/clients/client/"))

    def admin_users(self, _i: int):
        return self._out(self.admin.get("/admin/auth/user/"))

    def access_review(self, _i: int):
        # A person of the small company: the same rows in both phases (the bench's own
        # user gains tokens from the refresh and code cases as the probe runs).
        return self._out(self.admin.get("/admin/review/access/", {"user": REVIEWED}))

    def scim_patch(self, i: int):
        body = {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "value": {"userName": f"scim-{i}@bench.example"}}],
        }
        response = self.http.patch(
            f"/scim/v2/Users/{self.scim_user}",
            json.dumps(body),
            content_type=SCIM,
            HTTP_AUTHORIZATION=f"Bearer {self.scim_token}",
        )
        if response.status_code != 200:
            raise RuntimeError(f"SCIM PATCH: {response.status_code} {response.content[:200]}")
        return self._out(response)

    def revocation_list(self, _i: int):
        return self._out(self.http.get("/revocations"))

    def all(self) -> list[tuple[str, object]]:
        return [
            ("reference: /healthz + 4 SELECT 1", self.reference),
            ("(a) client credentials", self.client_credentials),
            ("(b) refresh", self.refresh),
            ("(b2) code redemption", self.code),
            ("(g) introspection", self.introspection),
            ("authorize, remembered consent (302)", self.authorize_remembered),
            ("consent page, 50 tools", self.consent_page),
            ("admin: client list", self.admin_clients),
            ("admin: user list", self.admin_users),
            ("admin: access review", self.access_review),
            ("SCIM PATCH with userName", self.scim_patch),
            ("revocation list", self.revocation_list),
        ]


def consent_resource() -> None:
    """An MCP server with 50 tools in two scopes and a tool policy, not yet consented to."""
    from authserver.models import Resource, Scope
    from authserver.tool_grants.models import ToolPolicy
    from django.contrib.auth.models import Group

    from bench.company import tool_names

    resource = Resource.objects.create(identifier=CONSENT_MCP, name="Consent bench MCP")
    for name, kind in (("tools:read", "read"), ("tools:write", "write")):
        Scope.objects.create(
            resource=resource,
            name=name,
            description=f"{kind} tools",
            tools=tool_names(kind),
            is_default=kind == "read",
        )
    group = Group.objects.create(name="bench-readers")
    ToolPolicy.objects.create(resource=resource, group=group, tools=tool_names("read")[:5])
    ToolPolicy.objects.create(resource=resource, effect="deny", tools=tool_names("write")[-1:])


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
    from tests.services import running_services

    started = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    workdir = Path(tempfile.mkdtemp(prefix="authserver-company-"))
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
            result = measure(args)
        finally:
            from django.db import connections

            connections.close_all()
    result["started"] = started
    out = Path(args.out_dir)
    (out / f"{started}-company.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    (out / f"{started}-company.md").write_text(markdown(result))
    print(markdown(result))
    log(f"written {out}/{started}-company.json and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
