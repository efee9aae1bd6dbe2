"""Per-client token issuance limits (authserver/token_endpoint/issuance_limit.py): 429 with
``Retry-After`` and an RFC 6749 §5.2 body past a client's limit, nothing written, one audit
event per window, shared by every process through the cache, in Redis and the file cache."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from authserver.models import AccessToken, AuditEvent
from authserver.ops import counters
from authserver.token_endpoint import issuance_limit
from authserver.token_endpoint.grants import GRANTS
from tests.factories import MCP, make_client
from tests.security.test_seams_counters import cache_backend, run_concurrently  # noqa: F401
from tests.support.http import basic

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
NOW = 1_800_000_000.0  # the start of a window (a multiple of issuance_limit.WINDOW)


@pytest.fixture
def clock(monkeypatch):
    """The limit's clock, pinned: ``clock.now`` is what the token endpoint sees."""
    clock = types.SimpleNamespace(now=NOW + 10)
    monkeypatch.setattr(issuance_limit, "time", types.SimpleNamespace(time=lambda: clock.now))
    return clock


def limited(resource, limit: int | None):
    return make_client(access={resource: "tools:read"}, token_rate_limit=limit)


def cc(http, creds, secret: str | None = None):
    c, own_secret = creds
    return http.post(
        "/token",
        {"grant_type": "client_credentials", "resource": MCP},
        HTTP_AUTHORIZATION=basic(c.client_id, secret or own_secret),
    )


def test_client_over_its_limit_gets_429_with_retry_after_and_nothing_written(
    client, resource, clock
):
    creds = limited(resource, 2)
    assert [cc(client, creds).status_code for _ in range(2)] == [200, 200]
    tokens = AccessToken.objects.count()

    refused = cc(client, creds)

    assert refused.status_code == 429
    assert refused["Retry-After"] == "50"  # the window ends 50 s after clock.now
    assert refused["Cache-Control"] == "no-store"
    body = refused.json()
    assert body["error"] == "temporarily_unavailable"  # RFC 6749 §5.2 format
    assert "too many token requests" in body["error_description"]
    assert "access_token" not in body
    assert AccessToken.objects.count() == tokens


def test_over_the_limit_is_audited_once_per_window_and_counted_each_time(client, resource, clock):
    creds = limited(resource, 1)
    before = issuance_limit.RATE_LIMITED._value.get()
    statuses = [cc(client, creds).status_code for _ in range(4)]
    assert statuses == [200, 429, 429, 429]
    events = AuditEvent.objects.filter(kind="client.rate_limited")
    assert [(e.client_id, e.detail["limit"]) for e in events] == [(creds[0].client_id, 1)]
    assert issuance_limit.RATE_LIMITED._value.get() == before + 3


def test_another_client_is_unaffected_by_one_over_its_limit(client, resource, clock):
    noisy, quiet = limited(resource, 1), limited(resource, 1)
    assert [cc(client, noisy).status_code for _ in range(3)] == [200, 429, 429]
    assert cc(client, quiet).status_code == 200


def test_the_limit_resets_when_its_window_ends(client, resource, clock):
    creds = limited(resource, 1)
    assert [cc(client, creds).status_code for _ in range(2)] == [200, 429]
    clock.now = NOW + issuance_limit.WINDOW - 0.5
    refused = cc(client, creds)
    assert refused.status_code == 429
    assert refused["Retry-After"] == "1"
    clock.now = NOW + issuance_limit.WINDOW
    assert cc(client, creds).status_code == 200


def test_unauthenticated_caller_cannot_spend_a_clients_budget(client, resource, clock):
    """A request that fails client authentication is refused before it is counted."""
    creds = limited(resource, 2)
    wrong = [cc(client, creds, secret="not-the-secret").status_code for _ in range(5)]
    assert wrong == [401] * 5
    assert [cc(client, creds).status_code for _ in range(2)] == [200, 200]


def test_every_grant_counts_against_the_clients_limit(client, resource, clock):
    """The check sits before the grant: every grant type (and the exchange strategies a
    feature registers, such as vending) spends the same budget."""
    c, secret = limited(resource, 1)
    for grant_type in sorted(GRANTS):
        AccessToken.objects.all().delete()
        clock.now += issuance_limit.WINDOW  # a fresh window for each grant
        first = client.post(
            "/token", {"grant_type": grant_type}, HTTP_AUTHORIZATION=basic(c.client_id, secret)
        )
        assert first.status_code != 429, grant_type
        second = client.post(
            "/token", {"grant_type": grant_type}, HTTP_AUTHORIZATION=basic(c.client_id, secret)
        )
        assert second.status_code == 429, (grant_type, second.json())


def test_default_limit_applies_unless_the_client_overrides_it(client, resource, clock, settings):
    settings.CONFIG = dataclasses.replace(settings.CONFIG, client_token_rate_limit=1)
    default, unlimited = limited(resource, None), limited(resource, 0)
    assert [cc(client, default).status_code for _ in range(2)] == [200, 429]
    assert [cc(client, unlimited).status_code for _ in range(3)] == [200, 200, 200]


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_get_no_more_than_the_limit(cache_backend):  # noqa: F811
    """Every worker spends one budget: 30 concurrent requests against a limit of 20, on Redis
    and on the embedded default's file cache."""
    creds = make_client(token_rate_limit=20)

    def request(_i: int) -> bool:
        try:
            issuance_limit.count_request(creds[0], now=NOW)
        except issuance_limit.IssuanceRateLimited:
            return False
        return True

    results = run_concurrently(30, request)
    assert all(isinstance(r, bool) for r in results), results
    assert sum(results) == 20


CHILD = """
import json, sys, types
import django
django.setup()
from authserver.token_endpoint import issuance_limit
client = types.SimpleNamespace(**json.loads(sys.argv[1]))
admitted = 0
for _ in range(int(sys.argv[2])):
    issuance_limit.count_request(client, now=float(sys.argv[3]))
    admitted += 1
print(admitted)
"""


def test_the_limit_is_shared_with_another_process_through_redis(client, resource, clock):
    """Another process (its own Redis connection) spends the same client's budget."""
    c, _ = creds = limited(resource, 5)
    assert [cc(client, creds).status_code for _ in range(3)] == [200, 200, 200]
    other = {"pk": c.pk, "client_id": c.client_id, "token_rate_limit": 5}
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "authserver.settings"}
    result = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(other), "2", str(clock.now)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "2"
    assert cc(client, creds).status_code == 429  # 3 here + 2 there: the budget of 5 is spent


def test_a_process_takes_slots_in_chunks_and_never_admits_more_than_the_limit(monkeypatch):
    """A limit of 300 is taken 3 slots a round trip: 100 round trips for 300 requests, then
    the 301st is refused."""
    calls = []
    real = counters.hit_named_window

    def counted(*args, **kwargs):
        calls.append(kwargs["amount"])
        return real(*args, **kwargs)

    monkeypatch.setattr(counters, "hit_named_window", counted)
    machine = types.SimpleNamespace(pk=987_654, client_id="chunked", token_rate_limit=300)
    for _ in range(300):
        issuance_limit.count_request(machine, now=NOW)
    with pytest.raises(issuance_limit.IssuanceRateLimited):
        issuance_limit.count_request(machine, now=NOW)
    assert calls == [3] * 101
