"""Races on real PostgreSQL: single-use codes and refresh tokens under concurrent requests,
and family revocation against a rotation in flight (docs/TOKEN-ENDPOINT.md, "Token
families")."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction
from django.test import Client as HttpClient
from django.utils import timezone

from authserver.models import AccessToken, RefreshToken
from authserver.revocation import service as revocation
from tests.factories import MCP, make_client, make_resource
from tests.oauthflow import exchange, get_code, refresh

pytestmark = pytest.mark.django_db(transaction=True)

PARALLEL = 20  # the same code or refresh token, 20 times at once


def run_parallel(fn) -> list:
    barrier = threading.Barrier(PARALLEL)
    statuses: list = []
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
    # RFC 6749 §4.1.2: the code was used more than once, so what it gave is revoked.
    assert AccessToken.objects.filter(revoked_at__isnull=True).count() == 0


def test_parallel_refreshes_by_the_same_client_each_get_a_working_pair(app, user):
    """Gemini CLI refreshes twice in parallel with the same refresh token: within the grace
    window every presentation gets a valid pair (one rotation, the rest its siblings), and
    the family's next rotation supersedes the siblings: presenting one then is reuse."""
    browser = HttpClient()
    browser.force_login(user)
    code, verifier, _ = get_code(browser, app.client_id, resource=MCP, scope="offline_access")
    rt = exchange(browser, app.client_id, code, verifier).json()["refresh_token"]
    responses = run_parallel(lambda: refresh(HttpClient(), app.client_id, rt))
    assert [r.status_code for r in responses] == [200] * PARALLEL
    pairs = [r.json() for r in responses]
    assert RefreshToken.objects.filter(revoked__isnull=True).count() == PARALLEL
    # Any one of them rotates; the others are superseded by it.
    assert refresh(HttpClient(), app.client_id, pairs[0]["refresh_token"]).status_code == 200
    superseded = refresh(HttpClient(), app.client_id, pairs[1]["refresh_token"])
    assert superseded.json()["error"] == "invalid_grant"
    assert RefreshToken.objects.filter(revoked__isnull=True).count() == 0
    assert AccessToken.objects.filter(revoked_at__isnull=True).count() == 0


# --- family revocation against a rotation in flight ----------------------------------------

ITERATIONS = 25  # rotation and family revocation started together, this many times


def offline_tokens(app, user) -> dict:
    browser = HttpClient()
    browser.force_login(user)
    code, verifier, _ = get_code(browser, app.client_id, resource=MCP, scope="offline_access")
    return exchange(browser, app.client_id, code, verifier).json()


def family_of(refresh_token_value: str):
    from authserver.token_hash import token_hash

    return RefreshToken.objects.get(token_checksum=token_hash(refresh_token_value)).token_family


def live_in_family(family) -> tuple[int, int]:
    return (
        RefreshToken.objects.filter(token_family=family, revoked__isnull=True).count(),
        AccessToken.objects.filter(token_family=family, revoked_at__isnull=True).count(),
    )


def blocked_backends() -> int:
    """Backends of this database waiting for a lock another transaction holds."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def wait_until_blocked(what: threading.Thread) -> None:
    """Until some backend waits on a lock (bounded: fails rather than hangs)."""
    for _ in range(2000):
        if blocked_backends():
            return
        assert what.is_alive(), "the second transaction finished without waiting"
        time.sleep(0.005)
    raise AssertionError("the second transaction never waited for the first")


def in_thread(fn, results: dict, key: str) -> threading.Thread:
    def run():
        try:
            results[key] = fn()
        except BaseException as exc:  # reported by the test, not lost in the thread
            results[key] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_family_revocation_never_misses_a_refresh_token_rotated_in_flight(app, user):
    """A rotation has claimed the old refresh token and written its successor, not yet
    committed, when the family is revoked: the revocation must wait for it and take the
    successor too (before the family cut-off it skipped the claimed row and never saw the
    new one, which stayed usable)."""
    tokens = offline_tokens(app, user)
    family = family_of(tokens["refresh_token"])
    results: dict = {}
    committed = threading.Event()
    go = threading.Event()

    def rotate_and_hold():
        with transaction.atomic():
            response = refresh(HttpClient(), app.client_id, tokens["refresh_token"])
            committed.set()
            assert go.wait(60)
        return response

    rotation = in_thread(rotate_and_hold, results, "rotation")
    assert committed.wait(60)
    revoker = in_thread(
        lambda: revocation.revoke_family(family, now=timezone.now(), reason="test"),
        results,
        "revoked",
    )
    wait_until_blocked(revoker)
    go.set()
    rotation.join(60)
    revoker.join(60)
    response = results["rotation"]
    assert not isinstance(response, BaseException), response
    assert not isinstance(results["revoked"], BaseException), results["revoked"]
    assert response.status_code == 200
    assert live_in_family(family) == (0, 0)
    successor = response.json()["refresh_token"]
    assert refresh(HttpClient(), app.client_id, successor).json()["error"] == "invalid_grant"


def test_rotation_after_family_revocation_began_issues_nothing(app, user):
    """The other order: the revocation holds its transaction open, then a rotation comes."""
    tokens = offline_tokens(app, user)
    family = family_of(tokens["refresh_token"])
    results: dict = {}
    revoked = threading.Event()
    go = threading.Event()

    def revoke_and_hold():
        with transaction.atomic():
            revocation.revoke_family(family, now=timezone.now(), reason="test")
            revoked.set()
            assert go.wait(60)

    revoker = in_thread(revoke_and_hold, results, "revoked")
    assert revoked.wait(60)
    rotation = in_thread(
        lambda: refresh(HttpClient(), app.client_id, tokens["refresh_token"]), results, "rotation"
    )
    wait_until_blocked(rotation)
    go.set()
    revoker.join(60)
    rotation.join(60)
    assert results["rotation"].json()["error"] == "invalid_grant"
    assert live_in_family(family) == (0, 0)


def test_rotation_and_family_revocation_in_parallel_never_leave_a_live_token(app, user):
    """Started together, many times: whichever wins, nothing of the family stays live."""
    for _ in range(ITERATIONS):
        tokens = offline_tokens(app, user)
        family = family_of(tokens["refresh_token"])
        barrier = threading.Barrier(2)
        results: dict = {}

        def rotate(value=tokens["refresh_token"], barrier=barrier):
            barrier.wait()
            return refresh(HttpClient(), app.client_id, value)

        def revoke(family=family, barrier=barrier):
            barrier.wait()
            return revocation.revoke_family(family, now=timezone.now(), reason="test")

        threads = [in_thread(rotate, results, "rotation"), in_thread(revoke, results, "revoked")]
        for thread in threads:
            thread.join(60)
        assert not isinstance(results["revoked"], BaseException), results["revoked"]
        assert live_in_family(family) == (0, 0)
        body = results["rotation"].json()
        # Either order, never a deadlock or a server error: refused, or issued and revoked.
        assert results["rotation"].status_code == 200 or body["error"] == "invalid_grant"
        if "refresh_token" in body:
            again = refresh(HttpClient(), app.client_id, body["refresh_token"])
            assert again.json()["error"] == "invalid_grant"


# --- a code redeemed twice at once -----------------------------------------------------------


def test_concurrent_second_redemption_of_a_code_revokes_what_the_first_issued(app, user):
    """The first redemption has claimed the code and written its tokens, not yet committed,
    when the second arrives (it found the code unused): the second is refused and, RFC 6749
    §4.1.2, revokes what the first issued (before, it only answered "already used")."""
    browser = HttpClient()
    browser.force_login(user)
    code, verifier, _ = get_code(browser, app.client_id, resource=MCP, scope="offline_access")
    results: dict = {}
    written = threading.Event()
    go = threading.Event()

    def redeem_and_hold():
        with transaction.atomic():
            response = exchange(HttpClient(), app.client_id, code, verifier)
            written.set()
            assert go.wait(60)
        return response

    first = in_thread(redeem_and_hold, results, "first")
    assert written.wait(60)
    second = in_thread(
        lambda: exchange(HttpClient(), app.client_id, code, verifier), results, "second"
    )
    wait_until_blocked(second)
    go.set()
    first.join(60)
    second.join(60)
    assert results["first"].status_code == 200
    assert results["second"].json()["error"] == "invalid_grant"
    assert AccessToken.objects.filter(revoked_at__isnull=True).count() == 0
    assert RefreshToken.objects.filter(revoked__isnull=True).count() == 0
    issued = results["first"].json()["refresh_token"]
    assert refresh(HttpClient(), app.client_id, issued).json()["error"] == "invalid_grant"
