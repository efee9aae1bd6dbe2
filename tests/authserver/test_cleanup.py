"""The expired-token cleanup removes what can no longer be used, and nothing else."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import threading
import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import connection, transaction
from django.utils import timezone

from authserver.models import AccessToken, DPoPProofJti, Grant, RefreshToken
from authserver.models.tokens import TokenFamily
from authserver.ops import cleanup
from authserver.ops.cleanup import purge_expired
from authserver.tasks import clear_expired_tokens
from tests.factories import MCP, make_client, make_resource
from tests.oauthflow import exchange, get_code, refresh

pytestmark = pytest.mark.django_db


@pytest.fixture
def flows(client, user):
    make_resource()
    app, _ = make_client(
        confidential=False,
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris="http://127.0.0.1/callback",
        skip_authorization=True,
    )
    client.force_login(user)
    issued = []
    for _ in range(3):
        code, verifier, _ = get_code(client, app.client_id, resource=MCP, scope="offline_access")
        issued.append(exchange(client, app.client_id, code, verifier).json())
    return issued


def test_cleanup_removes_dead_rows_and_keeps_what_reuse_detection_needs(flows):
    now = timezone.now()
    first, second, third = AccessToken.objects.order_by("pk")
    # 1: family over (absolute lifetime passed) -> refresh and access token go.
    RefreshToken.objects.filter(access_token=first).update(absolute_expires=now - timedelta(1))
    AccessToken.objects.filter(pk=first.pk).update(expires=now - timedelta(hours=1))
    # 2: access token expired but its refresh token is alive -> both stay.
    AccessToken.objects.filter(pk=second.pk).update(expires=now - timedelta(hours=1))
    # Codes: consumed ones younger than a day stay; older ones go.
    Grant.objects.filter(pk=Grant.objects.order_by("pk").first().pk).update(
        expires=now - timedelta(days=2)
    )
    counts = purge_expired(now=now, batch_size=1)  # tiny batches exercise the loop
    assert counts["refresh_tokens"] == 1
    assert counts["access_tokens"] == 1
    assert counts["grants"] == 1
    assert not AccessToken.objects.filter(pk=first.pk).exists()
    assert AccessToken.objects.filter(pk__in=[second.pk, third.pk]).count() == 2
    assert RefreshToken.objects.count() == 2
    assert Grant.objects.count() == 2


def test_family_idle_beyond_its_lifetime_goes_even_before_its_absolute_end(flows, settings):
    now = timezone.now()
    first, second, _ = AccessToken.objects.order_by("pk")
    idle = settings.CONFIG.refresh_token_idle_lifetime
    # 1: the access token expired longer than the idle lifetime ago: no refresh is possible
    # (validate_refresh_token refuses), though the absolute lifetime has weeks left.
    AccessToken.objects.filter(pk=first.pk).update(expires=now - timedelta(seconds=idle + 60))
    # 2: idle too, but only just within the idle lifetime: still refreshable, stays.
    AccessToken.objects.filter(pk=second.pk).update(expires=now - timedelta(seconds=idle - 60))
    counts = purge_expired(now=now)
    assert counts["refresh_tokens"] == 1
    assert counts["access_tokens"] == 1
    assert not AccessToken.objects.filter(pk=first.pk).exists()
    assert RefreshToken.objects.filter(access_token=second).exists()


def test_rotated_out_refresh_token_stays_while_its_family_lives(client, flows):
    app_id = RefreshToken.objects.first().application.client_id
    rotated = refresh(client, app_id, flows[0]["refresh_token"])
    assert rotated.status_code == 200
    old = RefreshToken.objects.get(token_checksum=_checksum(flows[0]["refresh_token"]))
    assert old.revoked is not None
    purge_expired(now=timezone.now())
    # Still there: presenting it again must be recognised as reuse (OAuth 2.1 §4.3.1).
    assert RefreshToken.objects.filter(pk=old.pk).exists()


def test_revoked_family_is_removed_once_nothing_in_it_is_usable(flows):
    family = RefreshToken.objects.order_by("pk").first().token_family
    RefreshToken.objects.filter(token_family=family).update(revoked=timezone.now())
    counts = purge_expired(now=timezone.now())
    assert counts["refresh_tokens"] == 1
    assert not RefreshToken.objects.filter(token_family=family).exists()


def _checksum(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def test_cleanup_task_is_idempotent(flows):
    assert clear_expired_tokens.apply().get() == {
        "grants": 0,
        "refresh_tokens": 0,
        "access_tokens": 0,
        "dpop_proofs": 0,
        "token_families": 0,
        "assertion_jtis": 0,
        "approval_requests": 0,  # approvals/ (ops.cleanup.register_purge)
    }


def test_token_family_rows_go_a_day_after_their_absolute_lifetime(db):
    """A family's cut-off row (authserver.token_endpoint.families) is kept while anything of
    it could still be written or refreshed, and deleted a day after its absolute lifetime."""
    now = timezone.now()
    over = TokenFamily.objects.create(id=uuid.uuid4(), expires_at=now - timedelta(days=2))
    margin = TokenFamily.objects.create(id=uuid.uuid4(), expires_at=now - timedelta(hours=1))
    live = TokenFamily.objects.create(id=uuid.uuid4(), expires_at=now + timedelta(days=1))
    assert purge_expired(now=now)["token_families"] == 1
    assert not TokenFamily.objects.filter(pk=over.pk).exists()
    assert TokenFamily.objects.filter(pk__in=[margin.pk, live.pk]).count() == 2


def _expired_access_tokens(app, count: int, *, now) -> list[int]:
    """Machine tokens (no refresh token) that expired an hour ago."""
    rows = [
        AccessToken(
            application=app,
            expires=now - timedelta(hours=1),
            scope="tools:read",
            jti=f"gone-{uuid.uuid4().hex}",
            token_checksum=_checksum(uuid.uuid4().hex),
        )
        for _ in range(count)
    ]
    return [row.pk for row in AccessToken.objects.bulk_create(rows)]


def _rows_written(sink: list):
    """Records (statement, rows it wrote) for every DELETE and UPDATE."""

    def record(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.lstrip().split()[0] in {"DELETE", "UPDATE"}:
            sink.append((sql[:120], context["cursor"].rowcount))
        return result

    return record


def test_purge_is_batched_no_statement_writes_more_rows_than_a_batch(flows, user):
    """A million expired rows were once purged with statements over all of them at once (a
    2.3 s UPDATE of every access token minted from a dead refresh token; one DELETE of every
    expired DPoP proof): every statement now writes at most ``batch_size`` rows."""
    now = timezone.now()
    app = RefreshToken.objects.first().application
    gone = _expired_access_tokens(app, 21, now=now)
    # Six dead families (past their absolute lifetime), each with an access token minted
    # from its refresh token.
    for access_pk, minted_pk in zip(gone[:6], gone[6:12], strict=True):
        rt = RefreshToken.objects.create(
            user=user,
            application=app,
            access_token_id=access_pk,
            token_family=uuid.uuid4(),
            absolute_expires=now - timedelta(days=1),
            token_checksum=_checksum(uuid.uuid4().hex),
        )
        AccessToken.objects.filter(pk=minted_pk).update(source_refresh_token=rt)
    DPoPProofJti.objects.bulk_create(
        DPoPProofJti(jti=f"proof-{i}", expires_at=now - timedelta(minutes=1)) for i in range(6)
    )
    sink: list = []
    with connection.execute_wrapper(_rows_written(sink)):
        counts = purge_expired(now=now, batch_size=4)
    assert counts["refresh_tokens"] == 6
    assert counts["access_tokens"] == 21
    assert counts["dpop_proofs"] == 6
    too_large = [(sql, rows) for sql, rows in sink if rows > 4]
    assert too_large == []
    assert sum(1 for sql, _ in sink if sql.startswith('DELETE FROM "authserver_access')) >= 6


def test_small_batches_keep_live_rows_the_reuse_window_and_needed_family_rows(client, flows):
    """Batches go on from the last id: live rows before, between and after the dead ones are
    read, kept, and never deleted, however small the batch."""
    now = timezone.now()
    app = RefreshToken.objects.first().application
    _expired_access_tokens(app, 5, now=now)
    # A rotated-out refresh token in a live family (reuse detection needs it), then more dead
    # rows after it in id order.
    rotated = refresh(client, app.client_id, flows[0]["refresh_token"])
    assert rotated.status_code == 200
    old = RefreshToken.objects.get(token_checksum=_checksum(flows[0]["refresh_token"]))
    _expired_access_tokens(app, 5, now=now)
    live_family = TokenFamily.objects.create(id=uuid.uuid4(), expires_at=now + timedelta(1))
    keep_access = set(
        AccessToken.objects.exclude(jti__startswith="gone-").values_list("pk", flat=True)
    )
    keep_refresh = set(RefreshToken.objects.values_list("pk", flat=True))
    keep_families = set(TokenFamily.objects.values_list("pk", flat=True))
    assert old.pk in keep_refresh
    assert live_family.pk in keep_families

    counts = purge_expired(now=now, batch_size=1)

    assert counts["access_tokens"] == 10
    assert counts["refresh_tokens"] == counts["token_families"] == 0
    assert set(AccessToken.objects.values_list("pk", flat=True)) == keep_access
    assert set(RefreshToken.objects.values_list("pk", flat=True)) == keep_refresh
    assert set(TokenFamily.objects.values_list("pk", flat=True)) == keep_families


@pytest.mark.parametrize("seconds", [0.0, 1.0])  # batches growing, and shrinking
def test_every_dead_row_goes_however_the_batch_size_adapts(flows, monkeypatch, seconds):
    """The windows resize after every batch; none may be skipped or cut short."""
    monkeypatch.setattr(cleanup, "FIRST_BATCH", 2)
    monkeypatch.setattr(cleanup, "MIN_BATCH", 1)
    ticks = itertools.count(0.0, seconds)  # each batch "takes" this long
    monkeypatch.setattr(cleanup, "clock", lambda: next(ticks))
    now = timezone.now()
    app = RefreshToken.objects.first().application
    gone = _expired_access_tokens(app, 40, now=now)
    keep = set(AccessToken.objects.exclude(pk__in=gone).values_list("pk", flat=True))
    assert purge_expired(now=now, batch_size=16)["access_tokens"] == 40
    assert set(AccessToken.objects.values_list("pk", flat=True)) == keep


def _member(app, user, family, *, now, access_expires, revoked=None, absolute_expires=None):
    """A refresh token of ``family`` with its access token; ``absolute_expires=None`` means
    the refresh-token lifetime counts from ``created`` (now)."""
    access = AccessToken.objects.create(
        user=user,
        application=app,
        expires=access_expires,
        scope="tools:read",
        jti=f"member-{uuid.uuid4().hex}",
        token_checksum=_checksum(uuid.uuid4().hex),
    )
    return RefreshToken.objects.create(
        user=user,
        application=app,
        access_token=access,
        token_family=family,
        revoked=revoked,
        absolute_expires=absolute_expires,
        token_checksum=_checksum(uuid.uuid4().hex),
    )


@pytest.fixture
def families(user, settings):
    """One family per rule of what validate_refresh_token still accepts; the names say
    whether some member can still be refreshed."""
    now = timezone.now()
    app, _ = make_client(grant_types=("authorization_code", "refresh_token"))
    idle = timedelta(seconds=settings.CONFIG.refresh_token_idle_lifetime)
    later, before = now + timedelta(days=1), now - timedelta(minutes=1)
    made = {name: uuid.uuid4() for name in ("live", "live_no_absolute", "live_rotated")}
    made |= {name: uuid.uuid4() for name in ("revoked", "past_absolute", "idle", "too_old")}
    member = functools.partial(_member, app, user, now=now)
    member(made["live"], access_expires=before, absolute_expires=later)
    member(made["live_no_absolute"], access_expires=later)
    # Rotated-out members before the refreshable one: the probe reads past them.
    for _ in range(3):
        member(made["live_rotated"], access_expires=before, revoked=now, absolute_expires=later)
    member(made["live_rotated"], access_expires=later, absolute_expires=later)
    member(made["revoked"], access_expires=later, revoked=now, absolute_expires=later)
    member(made["past_absolute"], access_expires=later, absolute_expires=before)
    member(made["idle"], access_expires=now - idle - timedelta(minutes=1), absolute_expires=later)
    too_old = member(made["too_old"], access_expires=later)
    lifetime = timedelta(seconds=settings.CONFIG.refresh_token_lifetime)
    RefreshToken.objects.filter(pk=too_old.pk).update(created=now - lifetime - timedelta(1))
    return now, made


@pytest.mark.parametrize("vendor", ["postgresql", "sqlite"])  # the probe, and the fallback
def test_a_family_lives_while_one_member_can_still_be_refreshed(families, monkeypatch, vendor):
    now, made = families
    monkeypatch.setattr(connection, "vendor", vendor)
    live = cleanup.live_families(set(made.values()), now=now)
    assert live == {made["live"], made["live_no_absolute"], made["live_rotated"]}


def test_family_check_probes_each_family_once_and_stops_at_its_first_refreshable_member(
    families,
):
    """The family check stays bounded by the window, whatever the refresh-token table holds:
    one lookup per listed family (a nested loop over the list with a LIMIT 1 probe inside),
    never one pass over the table for the whole list (a hash join over every member)."""
    now, made = families
    statements: list = []

    def capture(execute, sql, params, many, context):
        statements.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        cleanup.live_families(set(made.values()), now=now)
    (sql, params), *_ = statements
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0][0]["Plan"]
    assert plan["Node Type"] == "Nested Loop"
    outer, inner = plan["Plans"]
    assert (outer["Node Type"], outer["Function Name"]) == ("Function Scan", "unnest")
    assert inner["Node Type"] == "Limit"
    assert inner["Actual Loops"] == len(made)


@pytest.mark.parametrize("batch_size", [1, 2, 3, 1000])
def test_expired_access_token_a_refresh_token_points_at_stays_in_any_window(
    flows, user, batch_size
):
    """The refresh tokens pointing into a window are read as a range of access-token ids:
    however the windows fall, an expired access token whose refresh token stays is kept,
    and the expired ones around it go."""
    now = timezone.now()
    app = RefreshToken.objects.first().application
    before = _expired_access_tokens(app, 2, now=now)
    # Expired, but their families can still be refreshed (within the idle lifetime).
    referenced = list(AccessToken.objects.exclude(pk__in=before).values_list("pk", flat=True))
    AccessToken.objects.filter(pk__in=referenced).update(expires=now - timedelta(minutes=5))
    after = _expired_access_tokens(app, 2, now=now)
    counts = purge_expired(now=now, batch_size=batch_size)
    assert counts["access_tokens"] == 4
    assert set(AccessToken.objects.values_list("pk", flat=True)) == set(referenced)
    assert not AccessToken.objects.filter(pk__in=before + after).exists()


@contextlib.contextmanager
def row_held_elsewhere(model, pk):
    """Another transaction (a token write, say) holds ``pk``'s row lock meanwhile; this
    connection gives up on any lock wait after 5 s, so a cleanup that waited would fail."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                model.objects.select_for_update().get(pk=pk)
                held.set()
                release.wait(30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(30)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '5s'")
        yield
    finally:
        release.set()
        holder.join()


@pytest.mark.django_db(transaction=True)
def test_a_row_a_token_write_holds_is_left_for_the_next_run_not_waited_for():
    """FOR UPDATE SKIP LOCKED, also where the lock and the delete are one statement: a row
    another transaction holds stays, the rest of its batch goes, and the cleanup never
    waits (a wait would run into the lock_timeout and fail the run)."""
    now = timezone.now()
    app, _ = make_client()
    gone = _expired_access_tokens(app, 6, now=now)
    with row_held_elsewhere(AccessToken, gone[2]):
        assert purge_expired(now=now)["access_tokens"] == 5
        assert list(AccessToken.objects.filter(pk__in=gone).values_list("pk", flat=True)) == [
            gone[2]
        ]
    assert purge_expired(now=now)["access_tokens"] == 1  # the next run takes it


def _dead_refresh_tokens_with_minted_tokens(user, count: int, *, now) -> tuple[list, list]:
    """``count`` refresh tokens past their absolute lifetime, each with an access token
    minted from it; returns (refresh token ids, minted access token ids)."""
    app, _ = make_client()
    gone = _expired_access_tokens(app, 2 * count, now=now)
    refresh_ids = []
    for access_pk, minted_pk in zip(gone[:count], gone[count:], strict=True):
        rt = RefreshToken.objects.create(
            user=user,
            application=app,
            access_token_id=access_pk,
            token_family=uuid.uuid4(),
            absolute_expires=now - timedelta(days=1),
            token_checksum=_checksum(uuid.uuid4().hex),
        )
        AccessToken.objects.filter(pk=minted_pk).update(source_refresh_token=rt)
        refresh_ids.append(rt.pk)
    return refresh_ids, gone[count:]


def test_a_dead_refresh_token_is_locked_detached_and_deleted_in_one_statement(user):
    """No row lock held across a round trip to the cleanup's process: the lock, the detaching
    of the access tokens minted from it and the DELETE are one statement on PostgreSQL."""
    now = timezone.now()
    refresh_ids, minted = _dead_refresh_tokens_with_minted_tokens(user, 3, now=now)
    statements: list[str] = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        assert cleanup.delete_refresh_tokens(refresh_ids) == 3
    # (Savepoints only because the test itself runs inside a transaction.)
    (statement,) = [sql for sql in statements if not sql.startswith(("SAVEPOINT", "RELEASE"))]
    assert "FOR UPDATE SKIP LOCKED" in statement
    assert "UPDATE" in statement
    assert "DELETE" in statement
    assert not RefreshToken.objects.filter(pk__in=refresh_ids).exists()
    kept = AccessToken.objects.filter(pk__in=minted)
    assert kept.count() == 3  # the minted tokens keep their rows, without the link
    assert not kept.filter(source_refresh_token__isnull=False).exists()


@pytest.mark.django_db(transaction=True)
def test_a_refresh_token_another_transaction_holds_is_left_not_waited_for(django_user_model):
    now = timezone.now()
    user = django_user_model.objects.create(username="held")
    refresh_ids, _ = _dead_refresh_tokens_with_minted_tokens(user, 3, now=now)
    with row_held_elsewhere(RefreshToken, refresh_ids[1]):
        assert purge_expired(now=now)["refresh_tokens"] == 2
        assert list(RefreshToken.objects.values_list("pk", flat=True)) == [refresh_ids[1]]
    assert purge_expired(now=now)["refresh_tokens"] == 1


@pytest.mark.django_db(transaction=True)
def test_no_cleanup_write_holds_its_locks_until_a_separate_commit(django_user_model, monkeypatch):
    """Every write is one statement in autocommit, its own transaction: a row lock ends when
    the statement does in PostgreSQL, not when this process gets round to a COMMIT."""
    now = timezone.now()
    user = django_user_model.objects.create(username="autocommit")
    _dead_refresh_tokens_with_minted_tokens(user, 3, now=now)
    opened = []
    monkeypatch.setattr(cleanup, "transaction", SimpleNamespace(atomic=lambda: opened.append(1)))
    counts = purge_expired(now=now)
    assert counts["refresh_tokens"] == 3
    assert counts["access_tokens"] == 6  # all expired: their own and the minted ones
    assert opened == []
    assert connection.get_autocommit()
