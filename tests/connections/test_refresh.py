"""Refresh is the server's job: ahead of expiry, once per connection, rotation never lost,
backoff, and broken after three failures or invalid_grant. ``now`` is passed in."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connections as db_connections
from django.test import Client
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from connections import services, tasks, vault
from connections.models import Connection, UpstreamProvider
from tests.connections.conftest import connect, connection_of, vend

CONNECT_PATH = "/accounts/connections/upstream/connect"


@pytest.mark.django_db
def test_job_refreshes_at_80_percent_of_the_lifetime(client, user, upstream, provider):
    client.force_login(user)
    connect(client, upstream)
    conn = connection_of(user, provider)
    lifetime = conn.access_expires_at - conn.last_refreshed_at
    assert conn.refresh_at == conn.last_refreshed_at + lifetime * 0.8
    before = conn.refresh_at - timedelta(seconds=1)
    assert services.due_connections(now=before) == []
    assert services.due_connections(now=conn.refresh_at) == [conn.pk]


@pytest.mark.django_db
def test_proactive_refresh_rotates_and_keeps_the_new_refresh_token(
    client, user, upstream, provider
):
    client.force_login(user)
    connect(client, upstream)
    conn = connection_of(user, provider)
    old_access = vault.open_(conn, "access_token_encrypted")
    old_refresh = vault.open_(conn, "refresh_token_encrypted")
    now = conn.refresh_at + timedelta(seconds=1)
    services.refresh_connection(conn.pk, now=now)
    conn.refresh_from_db()
    new_refresh = vault.open_(conn, "refresh_token_encrypted")
    assert vault.open_(conn, "access_token_encrypted") != old_access
    assert new_refresh != old_refresh
    assert conn.last_refreshed_at == now
    assert conn.refresh_at > now
    assert upstream.control("stats")["refreshes"] == 1
    # The provider rotated: only the stored (new) refresh token still works there.
    assert upstream.refresh_directly(old_refresh).json()["error"] == "invalid_grant"
    assert services.refresh_connection(conn.pk, now=now).refresh_at == conn.refresh_at


@pytest.mark.django_db
def test_beat_task_refreshes_what_is_due(client, user, upstream, provider):
    client.force_login(user)
    connect(client, upstream)
    Connection.objects.update(refresh_at=timezone.now() - timedelta(seconds=1))
    assert tasks.refresh_due_connections.delay().get() == 1
    assert upstream.control("stats")["refreshes"] == 1
    assert tasks.refresh_due_connections.delay().get() == 0  # idempotent


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_vends_refresh_once_and_lose_no_rotation(
    client, world, user, upstream, provider
):
    connect(client, upstream)
    # The access token is about to expire and the job has not run: vends must refresh.
    soon = timezone.now() + timedelta(seconds=10)
    Connection.objects.update(access_expires_at=soon, refresh_at=soon)
    results: list[tuple[int, str]] = []
    start = threading.Barrier(20)

    def one_vend() -> None:
        try:
            start.wait()
            response = vend(Client(), world["auth"], world["user_token"])
            results.append((response.status_code, response.json().get("access_token", "")))
        finally:
            db_connections.close_all()

    threads = [threading.Thread(target=one_vend) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [status for status, _ in results] == [200] * 20
    assert len({token for _, token in results}) == 1
    assert upstream.control("stats")["refreshes"] == 1
    conn = connection_of(user, provider)
    assert upstream.call_api(results[0][1]).status_code == 200
    # The rotated refresh token was stored: it still works at the provider.
    stored = vault.open_(conn, "refresh_token_encrypted")
    assert upstream.refresh_directly(stored).status_code == 200


@pytest.mark.django_db
def test_three_consecutive_failures_break_the_connection(client, world, user, upstream, provider):
    connect(client, upstream)
    conn = connection_of(user, provider)
    upstream.control("token-down")
    now = conn.refresh_at
    for failures, wait in ((1, 30), (2, 60)):
        conn = services.refresh_connection(conn.pk, now=now)
        assert conn.status == Connection.Status.ACTIVE
        assert conn.failures == failures
        assert conn.refresh_at == now + timedelta(seconds=wait)  # exponential backoff
        assert services.refresh_connection(conn.pk, now=now).failures == failures  # not due
        now = conn.refresh_at
    conn = services.refresh_connection(conn.pk, now=now)
    assert conn.status == Connection.Status.BROKEN
    assert conn.refresh_token_encrypted == ""
    assert conn.last_error == "temporarily_unavailable"
    response = vend(client, world["auth"], world["user_token"])
    assert response.json()["error_uri"].split("?")[0].endswith(CONNECT_PATH)
    assert "access_token" not in response.json()
    page = client.get("/accounts/connections/").content.decode()
    assert "Broken · <a" in page
    assert CONNECT_PATH in page  # the way back: reconnect


@pytest.mark.django_db
def test_a_success_resets_the_failure_count(client, user, upstream, provider):
    client.force_login(user)
    connect(client, upstream)
    conn = connection_of(user, provider)
    upstream.control("token-down")
    conn = services.refresh_connection(conn.pk, now=conn.refresh_at)
    upstream.control("token-up")
    conn = services.refresh_connection(conn.pk, now=conn.refresh_at)
    assert conn.failures == 0
    assert conn.status == Connection.Status.ACTIVE


@pytest.mark.django_db
def test_invalid_grant_breaks_the_connection_at_once(client, user, upstream, provider):
    client.force_login(user)
    connect(client, upstream)
    conn = connection_of(user, provider)
    # Someone else used the refresh token: the provider rotated it away from us.
    upstream.refresh_directly(vault.open_(conn, "refresh_token_encrypted"))
    conn = services.refresh_connection(conn.pk, now=conn.refresh_at)
    assert conn.status == Connection.Status.BROKEN
    assert conn.failures == 1
    assert conn.last_error == "invalid_grant"


@pytest.mark.django_db
def test_reconnecting_a_broken_connection_makes_it_active(client, user, upstream, provider):
    client.force_login(user)
    connect(client, upstream)
    Connection.objects.update(status=Connection.Status.BROKEN, failures=3)
    connect(client, upstream)
    conn = connection_of(user, provider)
    assert conn.status == Connection.Status.ACTIVE
    assert conn.failures == 0


@pytest.mark.django_db
def test_vend_during_backoff_with_an_expired_token_is_temporarily_unavailable(
    client, world, user, upstream, provider
):
    connect(client, upstream)
    upstream.control("token-down")
    now = timezone.now()
    Connection.objects.update(access_expires_at=now + timedelta(seconds=5), refresh_at=now)
    first = vend(client, world["auth"], world["user_token"])
    # The inline refresh failed once; the token is still valid for 5 s, so it is handed out
    # with its true remaining lifetime. Once expired, the vend says "try later" instead.
    conn = connection_of(user, provider)
    assert conn.failures == 1
    assert conn.status == Connection.Status.ACTIVE
    assert first.status_code == 200
    assert first.json()["expires_in"] <= 5
    Connection.objects.update(access_expires_at=now - timedelta(seconds=1))
    second = vend(client, world["auth"], world["user_token"])
    assert second.status_code == 503
    assert second.json()["error"] == "temporarily_unavailable"
    assert connection_of(user, provider).failures == 1  # backing off: no retry per vend


@pytest.mark.django_db
def test_deleting_the_user_revokes_upstream(
    client, user, upstream, provider, django_capture_on_commit_callbacks
):
    client.force_login(user)
    connect(client, upstream)
    refresh = vault.open_(connection_of(user, provider), "refresh_token_encrypted")
    with django_capture_on_commit_callbacks(execute=True):
        user.delete()
    assert not Connection.objects.exists()
    assert upstream.refresh_directly(refresh).json()["error"] == "invalid_grant"


@pytest.mark.django_db
def test_a_vend_past_80_percent_leaves_the_refresh_to_the_job(
    client, world, user, upstream, provider
):
    connect(client, upstream)
    Connection.objects.update(refresh_at=timezone.now() - timedelta(seconds=1))
    before = vault.open_(connection_of(user, provider), "access_token_encrypted")
    response = vend(client, world["auth"], world["user_token"])
    assert response.json()["access_token"] == before
    assert upstream.control("stats")["refreshes"] == 0


@pytest.fixture
def commit_fails_once():
    """Arms a real PostgreSQL failure at COMMIT of the next write that changes a connection's
    refresh token (a deferred constraint trigger; the sequence counts outside transactions)."""
    if db_connections["default"].vendor != "postgresql":
        pytest.skip("the injection is a PostgreSQL trigger")

    def arm() -> None:
        with db_connections["default"].cursor() as cursor:
            cursor.execute("CREATE SEQUENCE test_refresh_commit_failures")
            cursor.execute(
                """
                CREATE FUNCTION test_refresh_commit_fails() RETURNS trigger AS $$
                BEGIN
                    IF nextval('test_refresh_commit_failures') = 1 THEN
                        RAISE EXCEPTION 'injected commit failure';
                    END IF;
                    RETURN NEW;
                END $$ LANGUAGE plpgsql
                """
            )
            cursor.execute(
                "CREATE CONSTRAINT TRIGGER test_refresh_commit_fails AFTER UPDATE "
                "ON connections_connection DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                "WHEN (OLD.refresh_token_encrypted IS DISTINCT FROM "
                "NEW.refresh_token_encrypted) EXECUTE FUNCTION test_refresh_commit_fails()"
            )

    yield arm
    with db_connections["default"].cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS test_refresh_commit_fails ON connections_connection")
        cursor.execute("DROP FUNCTION IF EXISTS test_refresh_commit_fails()")
        cursor.execute("DROP SEQUENCE IF EXISTS test_refresh_commit_failures")


@pytest.mark.django_db(transaction=True)
def test_rotated_refresh_token_survives_a_failed_local_commit(
    client, world, user, upstream, provider, commit_fails_once
):
    connect(client, upstream)
    # The access token is about to expire: the vend refreshes inline, the provider rotates
    # the refresh token, and then the local commit fails.
    soon = timezone.now() + timedelta(seconds=10)
    Connection.objects.update(access_expires_at=soon, refresh_at=soon)
    commit_fails_once()
    failed = vend(client, world["auth"], world["user_token"])
    assert failed.status_code in (500, 503)
    assert "access_token" not in failed.json()
    assert upstream.control("stats")["refreshes"] == 1
    # The connection still works: the next vend applies the recorded rotation, no new refresh.
    response = vend(client, world["auth"], world["user_token"])
    assert response.status_code == 200, response.content
    assert upstream.call_api(response.json()["access_token"]).status_code == 200
    assert upstream.control("stats")["refreshes"] == 1
    conn = connection_of(user, provider)
    assert conn.status == Connection.Status.ACTIVE
    stored = vault.open_(conn, "refresh_token_encrypted")
    assert upstream.refresh_directly(stored).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_no_database_transaction_is_open_during_the_upstream_refresh(
    client, user, upstream, provider, monkeypatch
):
    client.force_login(user)
    connect(client, upstream)
    conn = connection_of(user, provider)
    seen = []
    real_refresh = services.upstream.refresh

    def watching_refresh(*args, **kwargs):
        seen.append(db_connections["default"].in_atomic_block)
        return real_refresh(*args, **kwargs)

    monkeypatch.setattr(services.upstream, "refresh", watching_refresh)
    services.refresh_connection(conn.pk, now=conn.refresh_at + timedelta(seconds=1))
    assert seen == [False]


def _simulated(lifetime: int, phase: int) -> list[int]:
    """The beat job every 60 s (first run ``phase`` s after the token was issued) refreshing
    one connection whose provider issues ``lifetime``-second tokens; returns, per run, the
    seconds the token had left when the run decided (negative: it had expired)."""
    start = timezone.now()
    conn = Connection(
        provider=UpstreamProvider(enabled=True),
        status=Connection.Status.ACTIVE,
        refresh_token_encrypted="sealed",
    )

    def issue(at) -> None:
        conn.access_expires_at = at + timedelta(seconds=lifetime)
        conn.refresh_at = at + timedelta(seconds=lifetime * services.REFRESH_FRACTION)

    issue(start)
    left = []
    interval = services.REFRESH_JOB_INTERVAL
    for run in range(min(lifetime // 60 * 2 + 4, 400)):
        now = start + timedelta(seconds=phase) + run * interval
        left.append(int((conn.access_expires_at - now).total_seconds()))
        if services.needs_refresh(conn, now=now, vend=False):
            issue(now)
    return left


@settings(max_examples=200, deadline=None)
@given(lifetime=st.integers(min_value=61, max_value=3 * 3600), phase=st.integers(0, 59))
def test_job_refreshes_every_token_before_it_expires_whatever_its_phase(lifetime, phase):
    """A 75 s upstream token, due at 60 s, used to wait for the next run up to a whole period
    past its expiry (measured: refreshed 19 s after). Any token living longer than the job's
    period is now refreshed while it still has time left, whenever the job runs."""
    assert min(_simulated(lifetime, phase)) > 0


def test_the_job_runs_as_often_as_its_look_ahead_assumes():
    beat = django_settings.CELERY_BEAT_SCHEDULE["refresh-upstream-connections"]
    assert beat["schedule"] == services.REFRESH_JOB_INTERVAL


@pytest.mark.django_db
def test_job_refreshes_a_token_that_would_expire_before_its_next_run(
    client, user, upstream, provider
):
    client.force_login(user)
    connect(client, upstream)
    conn = connection_of(user, provider)
    now = timezone.now()
    # Not at 80% yet, but expiring before the run after this one.
    Connection.objects.update(
        refresh_at=now + timedelta(seconds=1), access_expires_at=now + timedelta(seconds=16)
    )
    assert services.due_connections(now=now) == [conn.pk]
    assert tasks.refresh_due_connections.delay().get() == 1
    assert upstream.control("stats")["refreshes"] == 1
    assert connection_of(user, provider).access_expires_at > now + timedelta(seconds=500)


@pytest.mark.django_db
def test_backing_off_connection_is_not_refreshed_before_its_backoff(
    client, user, upstream, provider
):
    client.force_login(user)
    connect(client, upstream)
    now = timezone.now()
    Connection.objects.update(
        failures=1,
        refresh_at=now + timedelta(seconds=30),
        access_expires_at=now + timedelta(seconds=10),
    )
    assert services.due_connections(now=now) == []
    assert services.due_connections(now=now + timedelta(seconds=30)) != []
