"""The login lockout and the registration limit hold under concurrency, in every cache the
product runs on: Redis (production) and the file cache (the embedded default)."""

from __future__ import annotations

import dataclasses
import threading

import pytest
from django.db import connection
from django.test import Client as HttpClient

from authserver.ops import counters
from clients import policy
from clients.errors import RegistrationRateLimited

WRONG = "not the password"
INVALID = b"Please enter a correct username and password"
LOCKED = b"Too many failed sign-in attempts"


@pytest.fixture(params=["redis", "file"])
def cache_backend(request, settings, tmp_path):
    """The configured Redis as is, or the embedded default's file cache in a fresh directory."""
    if request.param == "file":
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                "LOCATION": str(tmp_path / "cache"),
                "OPTIONS": {"MAX_ENTRIES": 10000},
            }
        }
    return request.param


def run_concurrently(count: int, work) -> list:
    """``count`` real threads released together by a barrier; their results in order."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # reported by the assertion on results
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_password_guesses_check_no_more_than_the_lockout_allows(
    cache_backend, settings, make_user
):
    """30 concurrent guesses checked 12 passwords against a lockout of 5 (check-then-act)."""
    # Production's hasher: each check takes long enough that every guess overlaps the others.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    make_user("victim")

    def guess(i: int) -> bytes:
        response = HttpClient().post(
            "/accounts/login/",
            {"username": "victim", "password": f"{WRONG} {i}"},
            REMOTE_ADDR=f"198.51.100.{i + 1}",  # a botnet: the per-address slow-down never trips
        )
        return response.content

    bodies = run_concurrently(30, guess)
    checked = sum(1 for body in bodies if INVALID in body)
    locked = sum(1 for body in bodies if LOCKED in body)
    assert checked == 5  # throttle.MAX_PER_USERNAME, exactly
    assert locked == 25


def test_concurrent_registrations_get_no_more_than_the_rate_limit(cache_backend, settings):
    """45 concurrent registrations from one address: 26 admitted against a limit of 20 on the
    file cache (its incr is get-then-set)."""
    settings.CONFIG = dataclasses.replace(settings.CONFIG, registration_rate_limit=20)
    now = 1_800_000_100.0

    def register(_i: int) -> bool:
        try:
            policy.check_rate_limit("203.0.113.45", now=now)
        except RegistrationRateLimited:
            return False
        return True

    results = run_concurrently(45, register)
    assert all(isinstance(r, bool) for r in results), results
    assert sum(results) == 20


def test_counter_window_is_not_extended_by_later_hits(cache_backend):
    assert counters.hit("t:window", window=60, now=1000.0) == 1
    assert counters.hit("t:window", window=60, now=1059.0) == 2
    if cache_backend == "file":  # the value carries its expiry; Redis's TTL is its own clock
        assert counters.hit("t:window", window=60, now=1061.0) == 1
    counters.clear("t:window")
    assert counters.read_many(["t:window"]) == {"t:window": 0}
