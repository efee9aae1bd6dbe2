"""Connections bench (docs/CONNECTIONS.md): vending an upstream token (RFC 8693 at /token)
against a cached-token read, in-process on real PostgreSQL and the real upstream provider
(tests/upstream).

    make bench-connections          # writes bench/results/connections-latest.json

Cases, each for ``--seconds``: (1) vend: the whole /token request through Django's full
middleware stack (client auth, subject-token signature and row check, policy, connection
read, AES-GCM decrypt, audit INSERT); (2) cached-token read: what a vend cannot avoid,
the connection row read plus the decrypt; (3) vend throughput with 4 threads. The upstream
token is fresh, so no case refreshes (a refresh is one upstream round trip, measured once).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "authserver.settings")


def percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return {
        "n": len(ordered),
        "p50_ms": round(pick(0.50), 3),
        "p95_ms": round(pick(0.95), 3),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
        "per_second": round(len(ordered) / sum(ordered), 1),
    }


def timed(call, seconds: float) -> list[float]:
    samples, end = [], time.perf_counter() + seconds
    while time.perf_counter() < end:
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return samples


def setup_world():
    from authserver.token_endpoint.grants.subject_token import GRANT_TYPE
    from connections.models import ConnectionPolicy
    from connections.views import callback_url
    from django.test import Client
    from tests.connections.conftest import basic, connect, make_provider
    from tests.factories import MCP, make_client, make_resource
    from tests.oauthflow import exchange, get_code
    from tests.upstream.harness import Upstream

    upstream = Upstream([callback_url()])
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("bench-user", password="x" * 20)
    provider = make_provider(upstream)
    resource = make_resource(MCP)
    app, _ = make_client(
        confidential=False,
        grant_types=("authorization_code",),
        redirect_uris="http://127.0.0.1/callback",
        skip_authorization=True,
    )
    server, secret = make_client(name="bench MCP server", grant_types=(GRANT_TYPE,))
    ConnectionPolicy.objects.create(
        client=server, resource=resource, provider=provider, scopes="api:read"
    )
    client = Client()
    client.force_login(user)
    connect(client, upstream)
    code, verifier, _ = get_code(client, app.client_id, resource=MCP, scope="tools:read")
    token = exchange(client, app.client_id, code, verifier).json()["access_token"]
    return upstream, user, provider, basic(server, secret), token


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()

    import django

    django.setup()
    from connections.models import Connection
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections as db_connections
    from django.test import Client

    from connections import services, vault

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]  # Django's test Client
    call_command("migrate", verbosity=0)
    upstream, user, provider, auth, subject = setup_world()
    form = {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": subject,
        "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "audience": "upstream",
    }
    try:
        http = Client()

        def vend() -> None:
            response = http.post("/token", form, HTTP_AUTHORIZATION=auth)
            if response.status_code != 200:
                raise RuntimeError(response.content)

        def cached_read() -> None:
            conn = Connection.objects.select_related("provider").get(user=user, provider=provider)
            if not vault.open_(conn, "access_token_encrypted"):
                raise RuntimeError("no token")

        for _ in range(50):  # warm caches and connections
            vend()
            cached_read()
        results = {
            "vend": percentiles(timed(vend, args.seconds)),
            "cached_read": percentiles(timed(cached_read, args.seconds)),
        }
        counts: list[int] = []

        def worker() -> None:
            mine, local = 0, Client()
            end = time.perf_counter() + args.seconds
            while time.perf_counter() < end:
                if local.post("/token", form, HTTP_AUTHORIZATION=auth).status_code != 200:
                    raise RuntimeError("vend failed")
                mine += 1
            counts.append(mine)
            db_connections.close_all()

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        results["vend_4_threads_per_second"] = round(sum(counts) / args.seconds, 1)
        conn = Connection.objects.get(user=user, provider=provider)
        start = time.perf_counter()
        services.refresh_connection(conn.pk, now=conn.refresh_at)
        results["one_upstream_refresh_ms"] = round((time.perf_counter() - start) * 1000, 2)
        results["vend_over_cached_read_p50"] = round(
            results["vend"]["p50_ms"] / results["cached_read"]["p50_ms"], 1
        )
    finally:
        upstream.stop()
    out = ROOT / "bench" / "results" / "connections-latest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
