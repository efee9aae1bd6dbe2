"""MAX_DYNAMIC_CLIENTS counted once a minute plus the newest rows (clients.policy)."""

from __future__ import annotations

import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clients import policy
from clients.errors import RegistrationUnavailable
from clients.models import Client
from tests.factories import make_client

pytestmark = pytest.mark.django_db


def self_registered(source: str = "dcr") -> Client:
    client, _ = make_client(confidential=False, redirect_uris="http://127.0.0.1/cb",
                            registration_source=source)  # fmt: skip
    return client


def exact(limit: int) -> int:
    return min(Client.objects.filter(registration_source__in=policy.SELF_REGISTERED).count(),
               limit)  # fmt: skip


@pytest.mark.parametrize("seed", range(6))
def test_the_count_equals_a_full_count_after_any_sequence_of_registrations_and_deletions(
    seed, registration_policy
):
    rng = random.Random(seed)  # noqa: S311 - a reproducible order of events, not a secret
    limit = 7
    registration_policy(max_dynamic_clients=limit)
    for _ in range(25):
        step = rng.choice(["dcr", "cimd", "admin", "delete", "check"])
        if step in ("dcr", "cimd"):
            self_registered(step)
        elif step == "admin":
            self_registered("admin")  # not self-registered: never counted
        elif step == "delete":
            victim = Client.objects.order_by("?").first()
            if victim is not None:
                victim.delete()
        assert min(policy.self_registered_count(limit), limit) == exact(limit), step


def elsewhere(n: int) -> list[Client]:
    """Self-registered rows as another worker creates them: no signal reaches this process."""
    return Client.objects.bulk_create(
        Client(client_type=Client.CLIENT_PUBLIC, registration_source="dcr",
               authorization_grant_type=Client.GRANT_AUTHORIZATION_CODE)
        for _ in range(n)
    )  # fmt: skip


def seconds_later(monkeypatch, seconds: float) -> None:
    later = policy.time.monotonic() + seconds
    monkeypatch.setattr(policy.time, "monotonic", lambda: later)


def test_this_process_registrations_are_counted_without_a_query(registration_policy):
    registration_policy(max_dynamic_clients=1000)
    policy.self_registered_count(1000)  # the full count: none yet
    for _ in range(3):
        self_registered()
    with CaptureQueriesContext(connection) as captured:
        assert policy.self_registered_count(1000) == 3
        policy.check_capacity()
    assert captured.captured_queries == []


def test_other_processes_rows_are_read_at_the_next_read_and_only_they_are_read(
    registration_policy, monkeypatch
):
    registration_policy(max_dynamic_clients=1000)
    self_registered()
    policy.self_registered_count(1000)  # the full count
    first = elsewhere(2)
    assert policy.self_registered_count(1000) == 1  # not read yet: within READ_SECONDS
    seconds_later(monkeypatch, policy.READ_SECONDS + 0.5)
    with CaptureQueriesContext(connection) as captured:
        assert policy.self_registered_count(1000) == 3
    (query,) = [q["sql"] for q in captured.captured_queries]
    assert '"created" >' in query
    assert "LIMIT 1000" in query
    self_registered()  # counted here at once, and not counted twice by the next read
    elsewhere(1)
    seconds_later(monkeypatch, 2 * policy.READ_SECONDS + 1)
    with CaptureQueriesContext(connection) as captured:
        assert policy.self_registered_count(1000) == 5
    (query,) = [q["sql"] for q in captured.captured_queries]
    newest = max(c.created for c in first)
    assert newest.isoformat(sep=" ")[:19] in query  # from the last read on, not the start


def test_near_the_cap_every_check_reads_so_other_workers_rows_stop_it_at_once(
    registration_policy,
):
    registration_policy(max_dynamic_clients=10)
    for _ in range(9):  # 90% of the cap: from here on every check reads
        self_registered()
    policy.check_capacity()
    with CaptureQueriesContext(connection) as captured:
        policy.check_capacity()
    assert len(captured.captured_queries) == 1
    elsewhere(1)  # the last free place, taken by another worker a moment ago
    with pytest.raises(RegistrationUnavailable):
        policy.check_capacity()


def test_a_deletion_another_process_made_holds_the_brake_early_until_the_recount(
    registration_policy, monkeypatch
):
    registration_policy(max_dynamic_clients=2)
    first, _second = self_registered(), self_registered()
    with pytest.raises(RegistrationUnavailable):
        policy.check_capacity()
    with connection.cursor() as cursor:  # as another worker would: no signal in this one
        cursor.execute("DELETE FROM clients_client WHERE id = %s", [first.pk])
    with pytest.raises(RegistrationUnavailable):
        policy.check_capacity()  # the count is too high, never too low
    later = policy.time.monotonic() + policy.RECOUNT_SECONDS + 1
    monkeypatch.setattr(policy.time, "monotonic", lambda: later)
    policy.check_capacity()  # recounted: room again


def test_a_deletion_in_this_process_frees_room_at_once(registration_policy):
    registration_policy(max_dynamic_clients=2)
    first, _second = self_registered(), self_registered()
    with pytest.raises(RegistrationUnavailable):
        policy.check_capacity()
    first.delete()
    policy.check_capacity()
