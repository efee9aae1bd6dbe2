#!/usr/bin/env python3
"""`make bench`: measure the hot paths side by side with node-oidc-provider and the floor.

Usage::

    python bench/run.py [--quick] [--duration S] [--connections N] [--python-loadgen]

Starts throwaway PostgreSQL + Redis (tests/services.py), migrates and seeds a bench
database, starts gunicorn with our server (bench/gunicorn.conf.py: deploy's settings, access
log off), the bare-stack floor (bench/floor/) and node-oidc-provider (bench/oidc-provider/),
drives each case with wrk from a second process, measures the verifier, profile, EXPLAIN
and (full mode) the 1.1M-row scale test in-process, writes bench/results/<UTC>.json, .md
and latest.md, and stops everything it started, also on errors and Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import dbstats, flows, loadgen, pairs, report  # noqa: E402
from bench.floor import token as floor_token  # noqa: E402
from bench.loadgen import Case, LoadGenerator  # noqa: E402
from bench.processes import Processes, free_port  # noqa: E402

RESULTS = ROOT / "bench" / "results"
# Cases whose measured run is watched by bench/dbstats.py (PostgreSQL waits and counters).
SAMPLED = (
    "a", "b", "code", "g", "floor", "floor_sig", "floor_sig_raw", "floor_token", "floor_intro",
    "floor_redeem",
    "dot_a", "f", "floor_reg",
)  # fmt: skip
NODE_DIR = ROOT / "bench" / "oidc-provider"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
REGISTRATION = {
    "client_name": "bench agent",
    "application_type": "native",
    "redirect_uris": ["http://127.0.0.1:34439/callback"],
    "grant_types": ["authorization_code", "refresh_token"],
    "response_types": ["code"],
    "token_endpoint_auth_method": "none",
    "scope": "tools:read offline_access",
}
QUICK_SKIPS = {"h500", "floor500", "node_c", "node_d"}
# The token floors' own client (bench/floor/token.py), as a form post with Basic auth.
FLOOR_CLIENT = {
    **FORM,
    "Authorization": flows.basic(floor_token.CLIENT_ID, floor_token.CLIENT_SECRET),
}
# docs/AUTHZEN.md, "Speed": decisions p99 under 5 ms at this rate (case h500, floor500).
DECISION_RATE = 500
# Bench-only values; never use them anywhere else.
BENCH_SECRETS = {
    "SECRET_KEY": "bench-only-secret-key-0123456789abcdefghijklmnop",
    "KEY_ENCRYPTION_KEY": "bench-only-key-encryption-key-0123456789abcdef",
}


def log(msg: str) -> None:
    print(f"[bench] {msg}", flush=True)


class Bench:
    def __init__(self, args, services: dict[str, str], procs: Processes, workdir: Path) -> None:
        self.args = args
        self.procs = procs
        self.workdir = workdir
        self.quick = args.quick
        self.duration = args.duration or (3 if self.quick else 10)
        self.warmup = 1 if self.quick else 2
        self.load = LoadGenerator(connections=args.connections, use_wrk=not args.python_loadgen)
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        (workdir / "prometheus").mkdir()
        (workdir / "var").mkdir()
        self.env = {
            **os.environ,
            **services,
            **BENCH_SECRETS,
            "DJANGO_SETTINGS_MODULE": "authserver.settings",
            "ISSUER": self.issuer,
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "WARNING",
            "REGISTRATION_RATE_LIMIT": "0",
            # Every client's issuance limit is checked but never reached; at this limit a
            # worker takes its slots a million at a time, so (a) pays the local path only.
            # A round trip per request (limits under 200) costs ~50 µs of CPU; at the default
            # 600 a minute, ~9 µs a request (docs/SECURITY.md, "Per-client token limits").
            "CLIENT_TOKEN_RATE_LIMIT": "100000000",
            "MAX_DYNAMIC_CLIENTS": "100000000",
            "VAR_DIR": str(workdir / "var"),
            "PROMETHEUS_MULTIPROC_DIR": str(workdir / "prometheus"),
        }
        self.pool: list[str] = []
        self.pool_next = 0
        self.code_pool: list[str] = []
        self.code_pool_next = 0
        self.data: dict = {"cases": {}}

    # --- setup ---------------------------------------------------------------------------

    def setup_django(self) -> None:
        os.environ.update(self.env)  # the in-process parts use the same database and issuer
        import django
        from django.core.management import call_command

        django.setup()
        # Load every module the in-process parts use now, together with gunicorn's workers,
        # so both measure the same code.
        import mcp_token_verifier  # noqa: F401
        from django.urls import get_resolver

        get_resolver().url_patterns  # noqa: B018
        log("migrating the bench database")
        call_command("migrate", verbosity=0, interactive=False)

    def seed(self) -> None:
        from authserver.revocation import published as revocation_list

        from bench import seed

        self.seeded = seed.seed_base()
        seed.seed_revoked(self.seeded, 10_000)
        snapshot = revocation_list.publish()
        log(f"revocation list published with {snapshot.entries} entries")
        n = 8_000 if self.quick else 80_000  # (b) alone, paired twice, at scale, paired there
        started = time.perf_counter()
        self.pool = seed.seed_refresh_pool(self.seeded, n)
        log(f"{n} refresh tokens seeded in {time.perf_counter() - started:.1f}s")
        self.code_pool = seed.seed_code_pool(self.seeded, n)
        log(f"{n} authorization codes seeded")

    def start_servers(self) -> None:
        log(f"starting gunicorn (our server) on {self.issuer}")
        server = self.procs.gunicorn(
            "authserver", "authserver.wsgi:application", self.port, self.env
        )
        self.server_pids = {self.port: server.pid}
        self.floor_port = free_port()
        floor_env = {**self.env, "DJANGO_SETTINGS_MODULE": "bench.floor.settings"}
        floor = self.procs.gunicorn(
            "floor", "bench.floor.wsgi:application", self.floor_port, floor_env
        )
        self.server_pids[self.floor_port] = floor.pid
        self.start_plain_dot()
        self.node_port = None
        if self.args.no_node or not ensure_node_provider():
            log("node-oidc-provider reference skipped")
            return
        self.node_port = free_port()
        self.node_secret = "bench-node-secret-0123456789abcdef"
        self.procs.node_provider(
            self.node_port,
            client_id="bench-machine",
            secret=self.node_secret,
            resource=self.seeded.resource,
        )

    def start_plain_dot(self) -> None:
        """Plain DOT 3.4.1 (bench/dot/): its own database on the same PostgreSQL server."""
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("DROP DATABASE IF EXISTS bench_plain_dot")
            cursor.execute("CREATE DATABASE bench_plain_dot")
        base = self.env["DATABASE_URL"].rsplit("/", 1)[0]
        dot_env = {
            **self.env,
            "DJANGO_SETTINGS_MODULE": "bench.dot.settings",
            "DOT_DATABASE_URL": f"{base}/bench_plain_dot",
        }
        self.dot_secret = "bench-dot-secret-0123456789abcdef"
        cmd = [sys.executable, "-m", "bench.dot.setup", "bench-dot-machine", self.dot_secret]
        subprocess.run(cmd, cwd=ROOT, env=dot_env, check=True, timeout=300)
        self.dot_port = free_port()
        log(f"starting gunicorn (plain DOT 3.4.1) on {self.dot_port}")
        dot = self.procs.gunicorn("dot", "bench.dot.wsgi:application", self.dot_port, dot_env)
        self.server_pids[self.dot_port] = dot.pid

    # --- cases -----------------------------------------------------------------------------

    def token_body(self) -> bytes:
        return urlencode(
            {
                "grant_type": "client_credentials",
                "resource": self.seeded.resource,
                "scope": "tools:read",
            }
        ).encode()

    def decision_body(self) -> bytes:
        """One live decision (docs/AUTHZEN.md): the seeded user, through the seeded agent,
        calling a tool of the seeded resource's default scope."""
        s = self.seeded
        return json.dumps(
            {
                "subject": {
                    "type": "user",
                    "id": str(s.user_pk),
                    "properties": {"client_id": s.app_id},
                },
                "action": {"name": "tools/call", "properties": {"tool": "read_note"}},
                "resource": {"type": "mcp_server", "id": s.resource},
                "context": {"arguments": {}},
            }
        ).encode()

    def http_cases(self) -> list[tuple[int, Case]]:
        s = self.seeded
        machine = {**FORM, "Authorization": flows.basic(s.machine_id, s.machine_secret)}
        _, jwks_headers, _ = flows.probe(self.port, "GET", "/.well-known/jwks.json")
        _, rl_headers, rl_body = flows.probe(self.port, "GET", "/revocations")
        self.data["revocation_list"] = {"bytes": len(rl_body), "entries": _list_entries(rl_body)}
        token = flows.client_credentials_token(
            self.port, s.machine_id, s.machine_secret, s.resource
        )
        rs = {**FORM, "Authorization": flows.basic(s.rs_id, s.rs_secret)}
        ours = [
            Case("a", "(a) token, client credentials, ES256 at+jwt", "/token", "POST",
                 self.token_body(), machine),
            Case("b", "(b) token, refresh_token grant with rotation", "/token", "POST",
                 pool=[], pool_client_id=s.app_id),
            Case("code", "(b2) token, authorization_code redemption (PKCE)", "/token", "POST",
                 pool=[], pool_client_id=loadgen.WHOLE_BODY),
            Case("c200", "(c) JWKS GET 200", "/.well-known/jwks.json"),
            Case("c304", "(c) JWKS GET 304 (If-None-Match)", "/.well-known/jwks.json",
                 headers={"If-None-Match": jwks_headers["etag"]}, expect=(304,)),
            Case("d", "(d) metadata GET", "/.well-known/oauth-authorization-server"),
            Case("e", "(e) revocation list GET 200 (10,000 jtis)", "/revocations"),
            Case("e304", "(e) revocation list GET 304", "/revocations",
                 headers={"If-None-Match": rl_headers["etag"]}, expect=(304,)),
            Case("g", "(g) introspection", "/introspect", "POST",
                 urlencode({"token": token}).encode(), rs),
            Case("h", "(h) AuthZEN access evaluation (user via agent, tool)",
                 "/access/v1/evaluation", "POST", self.decision_body(),
                 {"Content-Type": "application/json", "Authorization": rs["Authorization"]}),
            Case("h500", "(h500) AuthZEN access evaluation paced at 500/s",
                 "/access/v1/evaluation", "POST", self.decision_body(),
                 {"Content-Type": "application/json", "Authorization": rs["Authorization"]},
                 rate=DECISION_RATE),
            # Last: every registration renews the cache generation, also the ones still in
            # flight when wrk stops, which would otherwise land in the next case.
            Case("f", "(f) POST /register", "/register", "POST",
                 json.dumps(REGISTRATION).encode(), {"Content-Type": "application/json"},
                 expect=(201,)),
        ]  # fmt: skip
        cases = [(self.port, c) for c in ours]
        if self.args.only:
            keep = set(self.args.only.split(","))
            ours = [c for c in ours if c.key in keep]
            cases = [(self.port, c) for c in ours]
        presented = self.floor_token()  # the redeem and introspection floors look it up
        cases += [
            (self.floor_port, Case("floor", "floor: bare Django JSON view", "/floor")),
            (self.floor_port, Case("floor500", "floor: bare Django JSON view paced at 500/s",
                                   "/floor", rate=DECISION_RATE)),
            (self.floor_port, Case("floor_sig", "floor + one ES256 signature", "/floor-sign")),
            (self.floor_port, Case("floor_sig_raw", "floor + one ES256 signature, one JWS path",
                                   "/floor-sign-raw")),
            # (f)'s reference: parse JSON, one INSERT of a row with a hashed secret.
            (self.floor_port, Case("floor_reg", "floor: JSON + one INSERT (registration)",
                                   "/floor-register", "POST", json.dumps(REGISTRATION).encode(),
                                   {"Content-Type": "application/json"}, expect=(201,))),
            # The token floors (bench/floor/token.py): a signature and one INSERT of the
            # token's row for (a), (b), (b2); one SELECT by the token's hash for (g).
            (self.floor_port, Case("floor_token", "floor: form + one ES256 + one INSERT (token)",
                                   "/floor-token", "POST", self.token_body(), FLOOR_CLIENT)),
            # (b) and (b2)'s: read the presented token's row by its hash, sign, INSERT.
            (self.floor_port, Case("floor_redeem",
                                   "floor: form + one SELECT + ES256 + one INSERT (redeem)",
                                   "/floor-redeem", "POST",
                                   urlencode({"grant_type": "refresh_token",
                                              "refresh_token": presented}).encode(),
                                   FLOOR_CLIENT)),
            (self.floor_port, Case("floor_intro",
                                   "floor: form + one SELECT by hash (introspection)",
                                   "/floor-introspect", "POST",
                                   urlencode({"token": presented}).encode(),
                                   FLOOR_CLIENT)),
            (self.dot_port, Case("dot_a", "plain DOT 3.4.1 (a) client credentials, opaque",
                                 "/token", "POST", b"grant_type=client_credentials",
                                 {**FORM, "Authorization": flows.basic("bench-dot-machine",
                                                                       self.dot_secret)})),
        ]  # fmt: skip
        if self.args.only:
            keep = set(self.args.only.split(","))
            return [(p, c) for p, c in cases if c.key in keep]
        if self.node_port:
            node_auth = {**FORM, "Authorization": flows.basic("bench-machine", self.node_secret)}
            cases += [
                (self.node_port, Case("node_a", "node-oidc-provider (a) client credentials",
                                      "/token", "POST", self.token_body(), node_auth)),
                (self.node_port, Case("node_c", "node-oidc-provider (c) JWKS", "/jwks")),
                (self.node_port, Case("node_d", "node-oidc-provider (d) metadata",
                                      "/.well-known/openid-configuration")),
            ]  # fmt: skip
        if self.quick:
            # Under two minutes: no paced p99 (3 s is too short to say anything about one)
            # and no node-oidc-provider documents (no target compares with them).
            cases = [(p, c) for p, c in cases if c.key not in QUICK_SKIPS]
        return cases

    def floor_token(self) -> str:
        """A token from the token floor, for its redeem and introspection floors to look up."""
        status, _, body = flows.probe(
            self.floor_port, "POST", "/floor-token", self.token_body(), FLOOR_CLIENT
        )
        if status != 200:
            raise RuntimeError(f"floor_token: {status} {body[:200]!r}")
        return json.loads(body)["access_token"]

    def take_pool(self, case: Case) -> list[str]:
        if case.pool_client_id == loadgen.WHOLE_BODY:
            return self.code_pool[self.code_pool_next :]
        return self.pool[self.pool_next :]

    def run_case(self, port: int, case: Case) -> loadgen.Result:
        if case.pool is None:
            status, _, body = flows.probe(port, case.method, case.path, case.body, case.headers)
            if status not in case.expect:
                raise RuntimeError(
                    f"{case.key}: expected {case.expect}, got {status} {body[:300]!r}"
                )
        self.measure(port, case, self.warmup)
        result = self.measure(port, case, self.duration, watch=case.key in SAMPLED)
        log(
            f"{case.key:>9}: {result.rps:9.1f} req/s  p50 {result.p50_ms:7.2f} ms  "
            f"p99 {result.p99_ms:7.2f} ms  errors {result.errors}"
        )
        return result

    def measure(self, port: int, case: Case, seconds: float, *, watch: bool = False):
        """One load run of ``case``; with ``watch``, PostgreSQL's and the server's CPU and
        waits go to ``self.data["db_during"]``."""
        if case.pool is not None:
            case.pool = self.take_pool(case)
        base = f"http://127.0.0.1:{port}"
        sampler = None
        if watch:
            pid = self.server_pids.get(port)
            sampler = dbstats.Sampler(self.env["DATABASE_URL"], server_pid=pid)
        with sampler or contextlib.nullcontext():
            result = self.load.run(base, case, seconds)
        if sampler is not None:
            stats = sampler.result
            stats["cpu_ms_per_request"] = {
                k: round(v * 1000 / max(result.requests, 1), 3)
                for k, v in stats.get("cpu_s", {}).items()
            }
            self.data.setdefault("db_during", {})[case.title] = stats
            log(f"{'':>9}  CPU ms/request: {stats['cpu_ms_per_request']}")
        if case.pool is not None:  # tokens handed out (rotated) are never used again
            used = result.used_from_pool + 2 * self.load.connections
            if case.pool_client_id == loadgen.WHOLE_BODY:
                self.code_pool_next += used
            else:
                self.pool_next += used
        return result

    def run_http_cases(self) -> None:
        for port, case in self.http_cases():
            load = os.getloadavg()[0]  # the machine's, before the case (docs/performance.md)
            self.data["cases"][case.key] = {**self.run_case(port, case).as_dict(),
                                            "load_1min_before": round(load, 2)}  # fmt: skip
        rounds = self.rounds()
        if rounds:
            log(f"paired ratios: {rounds} alternating rounds of {pairs.SECONDS:g} s a side")
            cases = {case.key: (port, case) for port, case in self.http_cases()}
            self.data["pairs"] = pairs.run(self, cases, log, rounds=rounds)

    def rounds(self) -> int:
        return self.args.rounds if self.args.rounds is not None else (0 if self.quick else 5)

    def run_inprocess(self) -> None:
        from bench import inprocess, primitives

        s = self.seeded
        n = 40 if self.quick else 300
        log(f"(h) code flow, {n} sequential iterations")
        self.data["code_flow"] = flows.code_flow_latency(
            self.port, app_id=s.app_id, resource=s.resource, redirect=_redirect(),
            username=_user()[0], password=_user()[1], n=n,
        )  # fmt: skip
        log("(i) verifier in-process")
        tokens = [
            flows.client_credentials_token(self.port, s.machine_id, s.machine_secret, s.resource)
            for _ in range(40 if self.quick else 200)
        ]
        self.data["verifier"] = inprocess.verifier_case(
            self.port, issuer=self.issuer, resource=s.resource, tokens=tokens,
            seconds=1.5 if self.quick else 4,
        )  # fmt: skip
        n = 250 if self.quick else 2000
        log(f"profiling {n} in-process token requests (pyinstrument)")
        host = f"127.0.0.1:{self.port}"
        self.data["profile"] = inprocess.profile_token_endpoint(
            s, host, n, RESULTS / f"{self.stamp}-token-profile.txt"
        )
        self.data["explain"] = inprocess.explain_token_endpoint(s, host)
        log("primitives: signing, fast path, revocation list size and verifier cost")
        self.data["primitives"] = {
            "signing": primitives.signing_case(500 if self.quick else 3000),
            "fastpath": primitives.fastpath_case(4000 if self.quick else 20000),
            "revocation_list": primitives.revocation_list_case(
                (10_000,) if self.quick else (10_000, 100_000)
            ),
        }

    def run_scale(self) -> None:
        from bench import inprocess, seed

        log("scale: seeding 1,000,000 expired + 100,000 live token rows")
        started = time.perf_counter()
        counts = seed.seed_scale(self.seeded, expired=1_000_000, live=100_000)
        scale: dict = {"seed_seconds": round(time.perf_counter() - started, 1)}
        scale["counts_before"] = counts
        scale["cases"] = {}
        for port, case in self.http_cases():
            # The floor with a signature again, beside them: how much the machine itself
            # (other work on the shared cores) slowed down since the first measurement.
            if case.key in ("a", "b", "floor_sig"):
                case.title += " (1.1M rows)"
                scale["cases"][case.key] = self.run_case(port, case).as_dict()
        if self.rounds():
            # (a) and (b) against the token floor again, in alternating rounds: their ratio
            # over the same pair's before seeding is what the rows cost (bench/pairs.py).
            cases = {c.key: (p, c) for p, c in self.http_cases()
                     if c.key in ("a", "b", "floor_token")}  # fmt: skip
            scale["pairs"] = pairs.run(self, cases, log, rounds=self.rounds())
        scale["explain"] = inprocess.explain_token_endpoint(self.seeded, f"127.0.0.1:{self.port}")
        a_case = next(c for _, c in self.http_cases() if c.key == "a")
        during: dict = {}
        worker = threading.Thread(
            target=lambda: during.update(
                self.load.run(self.issuer, a_case, self.duration).as_dict()
            )
        )
        log("scale: expired-token cleanup, with (a) under load at the same time")
        worker.start()
        scale["cleanup"] = inprocess.run_cleanup()
        worker.join()
        scale["during_cleanup"] = during
        scale["cleanup_after"] = seed.table_counts()
        log(f"cleanup took {scale['cleanup']['seconds']} s; after: {scale['cleanup_after']}")
        self.data["scale"] = scale

    def run(self, stamp: str) -> dict:
        self.stamp = stamp
        self.setup_django()
        self.seed()
        self.start_servers()
        self.run_http_cases()
        if not self.args.only:
            self.run_inprocess()
        if not self.quick and not self.args.no_scale:
            self.run_scale()
        return self.data


def _redirect() -> str:
    from bench.seed import REDIRECT

    return REDIRECT


def _user() -> tuple[str, str]:
    from bench.seed import PASSWORD, USERNAME

    return USERNAME, PASSWORD


def _list_entries(body: bytes) -> int:
    from bench.inprocess import _b64

    return len(json.loads(_b64(body.decode().split(".")[1])).get("jti", []))


def ensure_node_provider() -> bool:
    """npm install the pinned oidc-provider into bench/oidc-provider/node_modules once."""
    if shutil.which("node") is None:
        return False
    if (NODE_DIR / "node_modules" / "oidc-provider").is_dir():
        return True
    if shutil.which("npm") is None:
        return False
    log("npm install (bench/oidc-provider, dev-only reference)")
    cmd = ["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts"]
    done = subprocess.run(cmd, cwd=NODE_DIR, capture_output=True, timeout=600, check=False)
    return done.returncode == 0


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs, no scale test (<2 min)")
    parser.add_argument("--duration", type=float, help="seconds per case (3 quick, 10 full)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--python-loadgen", action="store_true", help="asyncio instead of wrk")
    parser.add_argument("--no-node", action="store_true", help="skip node-oidc-provider")
    parser.add_argument("--no-scale", action="store_true", help="full mode without §5")
    parser.add_argument(
        "--rounds",
        type=int,
        help="alternating rounds per paired ratio (bench/pairs.py; 5 full, 0 quick)",
    )
    parser.add_argument(
        "--only",
        help="comma-separated case keys (e.g. a,b,g,floor,floor_sig): those cases (and the "
        "scale test unless --no-scale), no in-process parts, JSON only",
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    from tests.services import ServiceError, Terminated, running_services

    started = datetime.now(UTC)
    load_at_start = os.getloadavg()
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(parents=True, exist_ok=True)
    use_wrk = not args.python_loadgen and loadgen.ensure_wrk()
    args.python_loadgen = not use_wrk
    workdir = Path(tempfile.mkdtemp(prefix="authserver-bench-"))
    procs = Processes(workdir)
    ok = False
    try:
        with running_services() as services:
            try:
                bench = Bench(args, services, procs, workdir)
                data = bench.run(stamp)
            finally:
                procs.stop_all()
                _close_django_connections()
        ok = True
    except ServiceError as exc:
        log(f"services failed: {exc}")
        return 1
    except (KeyboardInterrupt, Terminated):
        log("interrupted; everything started was stopped")
        return 130
    finally:
        if ok:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log(f"server logs kept in {workdir}")
    data["meta"] = {
        "started": stamp,
        "mode": "quick" if args.quick else "full",
        "seconds_total": round((datetime.now(UTC) - started).total_seconds(), 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}",
        "loadgen": "wrk -t2 (Lua scripts)" if use_wrk else "python asyncio",
        "connections": args.connections,
        "duration_s": bench.duration,
        "warmup_s": bench.warmup,
        "gunicorn": "deploy/gunicorn.conf.py, 2 workers x 4 threads (gthread), access log off",
        # The machine's load average (1, 5, 15 min) when the run began and ended: other work
        # on these shared cores moves every figure (docs/performance.md).
        "load_start": [round(x, 2) for x in load_at_start],
        "load_end": [round(x, 2) for x in os.getloadavg()],
    }
    if args.only:
        (RESULTS / f"{stamp}-only.json").write_text(json.dumps(data, indent=2, default=str) + "\n")
        log(f"wrote bench/results/{stamp}-only.json (partial run: no report)")
        return 0
    data["targets"] = report.targets(data)
    text = report.markdown(data)
    (RESULTS / f"{stamp}.json").write_text(json.dumps(data, indent=2, default=str) + "\n")
    (RESULTS / f"{stamp}.md").write_text(text)
    (RESULTS / "latest.md").write_text(text)
    print(text)
    log(f"wrote bench/results/{stamp}.json, {stamp}.md and latest.md")
    return 0


def _close_django_connections() -> None:
    if "django.db" in sys.modules:
        from django.db import connections

        connections.close_all()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
