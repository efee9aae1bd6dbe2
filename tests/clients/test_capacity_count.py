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


def test_between_recounts_only_rows_newer_than_the_count_are_read(registration_policy):
    registration_policy(max_dynamic_clients=1000)
    self_registered()
    policy.self_registered_count(1000)  # the full count
    self_registered()
    with CaptureQueriesContext(connection) as captured:
        assert policy.self_registered_count(1000) == 2
    (query,) = [q["sql"] for q in captured.captured_queries]
    assert '"created" >' in query
    assert "LIMIT 1000" in query


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


def test_in_a_registration_storm_each_count_reads_only_the_rows_since_the_last(
    registration_policy,
):
    registration_policy(max_dynamic_clients=1000)
    policy.self_registered_count(1000)  # the full count: none yet
    burst = [self_registered() for _ in range(3)]
    assert policy.self_registered_count(1000) == 3
    assert policy._counted[1000][1:] == (3, burst[-1].created)  # they joined the count
    later = self_registered()
    with CaptureQueriesContext(connection) as captured:
        assert policy.self_registered_count(1000) == 4
    (query,) = [q["sql"] for q in captured.captured_queries]
    assert burst[-1].created.isoformat(sep=" ")[:19] in query  # not the whole burst again
    assert policy._counted[1000][1:] == (4, later.created)
