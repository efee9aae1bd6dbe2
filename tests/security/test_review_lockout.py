"""docs/SECURITY.md, "What the review found", items 2 and 3: the outside review's lockout
and proxy attacks, each refused."""

from __future__ import annotations

import dataclasses

import pytest
from django.test import Client as HttpClient

from accounts import throttle
from authserver.ops import client_address
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.1"  # the documented nginx / ingress in front of us
MATH_BOLD_A = "\U0001d41a"  # MATHEMATICAL BOLD SMALL A, NFKC "a"
FULLWIDTH_A = "\uff41"  # FULLWIDTH LATIN SMALL LETTER A, NFKC "a"


@pytest.fixture
def behind_proxy(settings):
    settings.CONFIG = dataclasses.replace(settings.CONFIG, trusted_proxy_count=1)


def login(client, path: str, username: str, password: str, **extra):
    return client.post(path, {"username": username, "password": password}, **extra)


def signed_in(response) -> bool:
    return response.status_code == 302 or response.wsgi_request.user.is_authenticated


# --- item 2: Unicode look-alikes share the lockout ---------------------------------------------


def test_lockout_bypass_with_mathematical_bold_lookalike_is_refused(client, user):
    for _ in range(throttle.MAX_PER_USERNAME):
        login(client, "/accounts/login/", "alice", "wrong")
    attempt = login(client, "/accounts/login/", f"{MATH_BOLD_A}lice", PASSWORD)
    assert not signed_in(attempt)
    assert b"Too many failed sign-in attempts" in attempt.content


def test_admin_lockout_bypass_with_fullwidth_lookalike_is_refused(make_user):
    make_user("admin", superuser=True)
    client = HttpClient()
    for _ in range(throttle.MAX_PER_USERNAME):
        login(client, "/admin/login/", "admin", "wrong")
    attempt = login(client, "/admin/login/?next=/admin/", f"{FULLWIDTH_A}dmin", PASSWORD)
    assert attempt.status_code == 200
    assert b"Too many failed sign-in attempts" in attempt.content


def test_lookalike_variants_get_no_fresh_tries(client, user):
    """Each variant used to get five tries of its own: 5 x (number of look-alikes)."""
    variants = ["alice", "ALICE", f"{MATH_BOLD_A}lice", f"{FULLWIDTH_A}lice", " Alice "]
    for name in variants[:-1]:
        login(client, "/accounts/login/", name, "wrong")
    login(client, "/accounts/login/", variants[-1], "wrong")
    assert throttle.check("alice", "192.0.2.1", now=0) == "locked"


def test_throttle_key_is_the_name_django_authenticates():
    assert throttle.normalize_username(f"{MATH_BOLD_A}lice") == "alice"
    assert throttle.normalize_username(f"{FULLWIDTH_A}DMIN") == "admin"
    assert throttle.normalize_username("Stra\u00dfe") == throttle.normalize_username("STRASSE")


# --- item 3: one client-address rule, proxy-aware ------------------------------------------------


def test_one_attacker_behind_the_proxy_cannot_lock_everyone_out(behind_proxy, user):
    attacker = HttpClient(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.66")
    for i in range(throttle.MAX_PER_ADDRESS + 5):
        login(attacker, "/accounts/login/", f"guess{i}", "wrong")
    victim = HttpClient(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert signed_in(login(victim, "/accounts/login/", "alice", PASSWORD))


def test_spoofed_forwarded_for_without_a_trusted_proxy_escapes_nothing(client):
    for i in range(throttle.MAX_PER_ADDRESS):
        login(
            client,
            "/accounts/login/",
            f"spray{i}",
            "wrong",
            REMOTE_ADDR="198.51.100.66",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{i}",
        )
    assert throttle.check("someone-else", "198.51.100.66", now=0) == "slowed"


def test_address_over_its_cap_is_slowed_for_seconds_not_locked():
    now = 1_900_000_000.0
    for i in range(throttle.MAX_PER_ADDRESS):
        throttle.record_failure(f"user{i}", "198.51.100.66", now=now)
    assert throttle.check("bob", "198.51.100.66", now=now + 1) == "slowed"
    assert throttle.check("bob", "203.0.113.7", now=now + 1) == ""  # other addresses: untouched
    assert throttle.check("bob", "198.51.100.66", now=now + throttle.SLOW_INTERVAL) == ""


def test_per_username_lock_holds_whatever_the_address(user):
    for i in range(throttle.MAX_PER_USERNAME):
        throttle.record_failure("alice", f"198.51.100.{i}", now=0)
    assert throttle.check("Alice", "203.0.113.99", now=10_000) == "locked"


def test_client_ip_takes_the_address_the_trusted_proxy_saw(rf, settings):
    request = rf.get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7")
    assert client_address.client_ip(request) == PROXY  # no proxy trusted: header ignored
    settings.CONFIG = dataclasses.replace(settings.CONFIG, trusted_proxy_count=1)
    assert client_address.client_ip(request) == "198.51.100.7"
    settings.CONFIG = dataclasses.replace(settings.CONFIG, trusted_proxy_count=2)
    assert client_address.client_ip(request) == "6.6.6.6"
    bare = rf.get("/", REMOTE_ADDR=PROXY)
    assert client_address.client_ip(bare) == PROXY


def test_metrics_behind_a_proxy_are_not_public_from_loopback(client, behind_proxy, settings):
    # The proxy connects from loopback: the allow-list used to admit everyone behind it.
    for forwarded in ("203.0.113.9", "127.0.0.1"):
        response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
        assert response.status_code == 404
    settings.CONFIG = dataclasses.replace(settings.CONFIG, metrics_token="m-secret")
    allowed = client.get(
        "/metrics",
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_FORWARDED_FOR="203.0.113.9",
        HTTP_AUTHORIZATION="Bearer m-secret",
    )
    assert allowed.status_code == 200


def test_registration_rate_limit_uses_the_same_client_address(behind_proxy, rf):
    from clients import policy

    request = rf.post("/register", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert policy.client_ip(request) == client_address.client_ip(request) == "198.51.100.7"
