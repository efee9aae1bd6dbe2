"""Registration policy: rate limit, initial access tokens, the cap, duplicates, cleanup."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from authserver.models import AccessToken
from clients import cleanup, policy, tasks
from clients.errors import RegistrationRateLimited
from clients.models import Client, InitialAccessToken
from tests.clients.conftest import MCP_PYTHON_SDK_BODY
from tests.factories import make_client

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.clients.urls")]


def random_ip() -> str:
    """A fresh address per test: rate-limit counters live in the shared Redis."""
    return f"198.51.{random.randrange(256)}.{random.randrange(1, 255)}"  # noqa: S311


# --- rate limit ---------------------------------------------------------------------------


def test_registration_over_the_hourly_limit_is_429_with_retry_after(register, registration_policy):
    registration_policy(registration_rate_limit=3)
    ip = random_ip()
    for _ in range(3):
        assert register(MCP_PYTHON_SDK_BODY, REMOTE_ADDR=ip).status_code == 201
    response = register(MCP_PYTHON_SDK_BODY, REMOTE_ADDR=ip)
    assert response.status_code == 429
    assert response.json()["error"] == "temporarily_unavailable"
    assert 0 < int(response["Retry-After"]) <= 3601
    # Another address is not affected.
    assert register(MCP_PYTHON_SDK_BODY, REMOTE_ADDR=random_ip()).status_code == 201


def test_rate_limit_window_resets_after_the_hour(registration_policy):
    registration_policy(registration_rate_limit=1)
    ip, now = random_ip(), 1_800_000_000.0  # a window boundary
    policy.check_rate_limit(ip, now=now)
    with pytest.raises(RegistrationRateLimited) as exc:
        policy.check_rate_limit(ip, now=now + 10)
    assert exc.value.retry_after == 3600 - 10 + 1
    policy.check_rate_limit(ip, now=now + 3600)  # next window


def test_ipv6_addresses_share_a_limit_per_64(registration_policy):
    registration_policy(registration_rate_limit=1)
    prefix = f"2001:db8:{random.randrange(65536):x}:1"  # noqa: S311
    policy.check_rate_limit(f"{prefix}::1", now=1_900_000_000.0)
    with pytest.raises(RegistrationRateLimited):
        policy.check_rate_limit(f"{prefix}::2", now=1_900_000_000.0)


def test_client_ip_uses_x_forwarded_for_only_behind_trusted_proxies(registration_policy):
    request = RequestFactory().post(
        "/register", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9"
    )
    assert policy.client_ip(request) == "10.0.0.2"
    registration_policy(trusted_proxy_count=1)
    assert policy.client_ip(request) == "203.0.113.9"


def test_rate_limiter_down_answers_503_not_500(
    register, registration_policy, settings, unused_tcp_port
):
    registration_policy(registration_rate_limit=5)
    settings.CACHES = {  # a Redis nobody listens on
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{unused_tcp_port}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    response = register(MCP_PYTHON_SDK_BODY, REMOTE_ADDR=random_ip())
    assert response.status_code == 503
    assert response.json() == {"error": "temporarily_unavailable"}


# --- initial access token (RFC 7591 §3) ------------------------------------------------------


@pytest.fixture
def iat_mode(registration_policy):
    registration_policy(registration_mode="initial_access_token")


def issue(**kwargs):
    defaults = {"label": "ci", "expires_at": timezone.now() + timedelta(days=1)}
    return policy.issue_initial_access_token(**{**defaults, **kwargs})


def test_initial_access_token_mode_refuses_registration_without_token(register, iat_mode):
    response = register(MCP_PYTHON_SDK_BODY)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert not Client.objects.exists()


def test_initial_access_token_mode_accepts_a_valid_token_and_counts_its_use(register, iat_mode):
    token, plaintext = issue(max_uses=1)
    response = register(MCP_PYTHON_SDK_BODY, HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert response.status_code == 201
    client = Client.objects.get(client_id=response.json()["client_id"])
    assert client.initial_access_token == token
    token.refresh_from_db()
    assert token.uses == 1
    # max_uses reached
    again = register(MCP_PYTHON_SDK_BODY, HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert again.status_code == 401


@pytest.mark.parametrize("state", ["expired", "revoked", "wrong"])
def test_expired_revoked_or_wrong_initial_access_token_is_401(register, iat_mode, state):
    token, plaintext = issue()
    if state == "expired":
        InitialAccessToken.objects.filter(pk=token.pk).update(expires_at=timezone.now())
    elif state == "revoked":
        InitialAccessToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    else:
        plaintext += "x"
    response = register(MCP_PYTHON_SDK_BODY, HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert response.status_code == 401


def test_invalid_metadata_does_not_use_up_an_initial_access_token(register, iat_mode):
    token, plaintext = issue(max_uses=1)
    bad = {**MCP_PYTHON_SDK_BODY, "redirect_uris": ["javascript:x"]}
    assert register(bad, HTTP_AUTHORIZATION=f"Bearer {plaintext}").status_code == 400
    token.refresh_from_db()
    assert token.uses == 0


def test_initial_access_token_is_checked_before_the_metadata(register, iat_mode):
    response = register({**MCP_PYTHON_SDK_BODY, "redirect_uris": ["javascript:x"]})
    assert response.status_code == 401


def test_open_mode_ignores_any_bearer_token(register):
    response = register(MCP_PYTHON_SDK_BODY, HTTP_AUTHORIZATION="Bearer whatever")
    assert response.status_code == 201


def test_issue_initial_access_token_command_prints_it_once_and_stores_a_hash():
    out = StringIO()
    call_command("issue_initial_access_token", "--label", "team", "--max-uses", "2", stdout=out)
    printed = json.loads(out.getvalue())
    token = InitialAccessToken.objects.get()
    assert token.max_uses == 2
    assert printed["initial_access_token"] not in token.token_hash


# --- cap ------------------------------------------------------------------------------------


def test_registration_beyond_max_dynamic_clients_is_503_with_retry_after(
    register, registration_policy
):
    registration_policy(max_dynamic_clients=2)
    make_client()  # admin-registered clients do not count
    assert register(MCP_PYTHON_SDK_BODY).status_code == 201
    assert register({**MCP_PYTHON_SDK_BODY, "client_name": "b"}).status_code == 201
    response = register({**MCP_PYTHON_SDK_BODY, "client_name": "c"})
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert response["Retry-After"]
    assert Client.objects.filter(registration_source="dcr").count() == 2


# --- duplicates -----------------------------------------------------------------------------


def age(client_id: str, minutes: int) -> None:
    """Move a registration back in time; no process could have seen that coming, so each
    forgets when it expected the next duplicate (clients.policy._next_probe)."""
    Client.objects.filter(client_id=client_id).update(
        created=timezone.now() - timedelta(minutes=minutes)
    )
    policy.forget_duplicates()


def test_identical_unused_registrations_from_the_same_address_collapse(register):
    first = register({**MCP_PYTHON_SDK_BODY, "redirect_uris": ["http://localhost:1111/callback"]})
    age(first.json()["client_id"], 31)
    second = register({**MCP_PYTHON_SDK_BODY, "redirect_uris": ["http://localhost:2222/callback"]})
    assert list(Client.objects.values_list("client_id", flat=True)) == [second.json()["client_id"]]


def test_recent_duplicate_is_kept_while_its_authorization_may_be_in_progress(register):
    first = register(MCP_PYTHON_SDK_BODY).json()
    age(first["client_id"], 5)
    register(MCP_PYTHON_SDK_BODY)
    assert Client.objects.count() == 2


def test_used_duplicate_is_never_collapsed(register):
    first = register(MCP_PYTHON_SDK_BODY).json()
    age(first["client_id"], 60)
    Client.objects.filter(client_id=first["client_id"]).update(last_used_at=timezone.now())
    register(MCP_PYTHON_SDK_BODY)
    assert Client.objects.count() == 2


def test_duplicate_from_another_address_or_with_other_metadata_is_kept(register):
    first = register(MCP_PYTHON_SDK_BODY).json()
    age(first["client_id"], 60)
    register(MCP_PYTHON_SDK_BODY, REMOTE_ADDR="203.0.113.50")
    register({**MCP_PYTHON_SDK_BODY, "client_name": "another app"})
    assert Client.objects.count() == 3


def test_one_hosted_clients_users_do_not_make_every_registration_scan_the_clients_table(
    register,
):
    """A hosted MCP client registers from one address with the same metadata for every
    user: thousands of used clients share its fingerprint. The duplicate collapse must
    reach only never-used candidates (clients_index_dup_candidates), not every sibling."""
    first = register(MCP_PYTHON_SDK_BODY).json()
    template = Client.objects.get(client_id=first["client_id"])
    long_ago, now = timezone.now() - timedelta(days=2), timezone.now()
    siblings = []
    for i in range(3000):
        template.pk, template.id = None, None
        template.client_id = f"sibling-{i}"
        template.created, template.last_used_at = long_ago, now
        siblings.append(
            Client(
                **{f.attname: getattr(template, f.attname) for f in Client._meta.concrete_fields}
            )
        )
    Client.objects.bulk_create(siblings, batch_size=1000)
    policy.forget_duplicates()  # rows written two days into the past, by hand
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE clients_client")
    with CaptureQueriesContext(connection) as captured:
        assert register(MCP_PYTHON_SDK_BODY).status_code == 201
    collapse = next(
        q["sql"]
        for q in captured.captured_queries
        if "metadata_fingerprint" in q["sql"] and q["sql"].startswith("SELECT")
    )
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + collapse)
        statements = [row[0] for row in cursor.fetchall()]
    plan = "\n".join(statements)
    assert "clients_index_dup_candidates" in plan, plan
    assert "Seq Scan on clients_client" not in plan, plan


def test_the_cap_counts_no_further_than_the_cap(registration_policy):
    registration_policy(max_dynamic_clients=2)
    with CaptureQueriesContext(connection) as captured:
        policy.check_capacity()
    count = next(q["sql"] for q in captured.captured_queries if "COUNT" in q["sql"])
    assert "LIMIT 2" in count


# --- cleanup task ---------------------------------------------------------------------------


def dcr_client(*, created_days_ago: float, last_used_days_ago: float | None = None, **fields):
    client, _ = make_client(
        confidential=False,
        grant_types=("authorization_code",),
        redirect_uris="http://127.0.0.1/cb",
        registration_source="dcr",
        **fields,
    )
    now = timezone.now()
    Client.objects.filter(pk=client.pk).update(
        created=now - timedelta(days=created_days_ago),
        last_used_at=None
        if last_used_days_ago is None
        else now - timedelta(days=last_used_days_ago),
    )
    return client


def test_cleanup_removes_never_used_and_idle_dynamic_clients_with_their_tokens(
    registration_policy, user
):
    registration_policy(dynamic_client_unused_days=1, dynamic_client_idle_days=90)
    never_used = dcr_client(created_days_ago=2)
    idle = dcr_client(created_days_ago=200, last_used_days_ago=91)
    AccessToken.objects.create(
        application=idle, user=user, token="old", expires=timezone.now() - timedelta(days=91)
    )
    fresh = dcr_client(created_days_ago=0.5)
    active = dcr_client(created_days_ago=200, last_used_days_ago=3)
    verified = dcr_client(created_days_ago=30, verified=True)
    admin_made, _ = make_client()
    Client.objects.filter(pk=admin_made.pk).update(created=timezone.now() - timedelta(days=400))

    assert tasks.remove_stale_clients() == 2
    remaining = set(Client.objects.values_list("pk", flat=True))
    assert remaining == {fresh.pk, active.pk, verified.pk, admin_made.pk}
    assert never_used.pk not in remaining
    assert not AccessToken.objects.exists()
    assert tasks.remove_stale_clients() == 0  # idempotent


def test_cleanup_works_in_batches():
    for _ in range(5):
        dcr_client(created_days_ago=3)
    removed = cleanup.remove_stale_clients(
        now=timezone.now(), unused_days=1, idle_days=90, batch_size=2
    )
    assert removed == 5
    assert not Client.objects.exists()
