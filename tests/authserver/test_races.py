"""Races on real PostgreSQL: single-use codes and refresh tokens under concurrent requests."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client as HttpClient

from authserver.models import AccessToken, RefreshToken
from tests.factories import MCP, make_client, make_resource
from tests.oauthflow import exchange, get_code, refresh

pytestmark = pytest.mark.django_db(transaction=True)

PARALLEL = 20  # issue 12: the same code or refresh token, 20 times at once


def run_parallel(fn) -> list[int]:
    barrier = threading.Barrier(PARALLEL)
    statuses: list[int] = []
    lock = threading.Lock()

    def worker():
        try:
            barrier.wait()
            status = fn()
            with lock:
                statuses.append(status)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(PARALLEL)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


@pytest.fixture
def app(user):
    make_resource()
    client, _ = make_client(
        confidential=False,
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris="http://127.0.0.1/callback",
        skip_authorization=True,
    )
    return client


def test_one_code_redeemed_in_parallel_yields_exactly_one_token(app, user):
    assert connection.vendor == "postgresql"
    browser = HttpClient()
    browser.force_login(user)
    code, verifier, _ = get_code(browser, app.client_id, resource=MCP)
    statuses = run_parallel(
        lambda: exchange(HttpClient(), app.client_id, code, verifier).status_code
    )
    assert sorted(statuses).count(200) == 1
    assert len(statuses) == PARALLEL
    assert AccessToken.objects.count() == 1


def test_one_refresh_token_used_in_parallel_yields_exactly_one_new_pair(app, user):
    browser = HttpClient()
    browser.force_login(user)
    code, verifier, _ = get_code(browser, app.client_id, resource=MCP, scope="offline_access")
    rt = exchange(browser, app.client_id, code, verifier).json()["refresh_token"]
    statuses = run_parallel(lambda: refresh(HttpClient(), app.client_id, rt).status_code)
    assert statuses.count(200) == 1
    assert RefreshToken.objects.filter(revoked__isnull=True).count() == 1
    # The losers were within the grace window: the winner's tokens still work.
    assert AccessToken.objects.filter(revoked_at__isnull=True).count() == 2
