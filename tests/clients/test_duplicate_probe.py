"""The duplicate collapse probes a (fingerprint, address) once per grace, not on every
registration (clients.policy._next_probe), and removes exactly what a probe on every
registration would have removed."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clients import policy
from clients.models import Client

pytestmark = pytest.mark.django_db

FINGERPRINTS, ADDRESSES = ("fp-a", "fp-b"), ("192.0.2.1", "192.0.2.2")
START = timezone.now().replace(microsecond=0)


def register(name: str, *, fingerprint: str, ip: str, at) -> Client:
    """A DCR registration as clients.services.register_client makes it, at a chosen time."""
    client = Client.objects.create(
        name=name,
        client_type=Client.CLIENT_PUBLIC,
        authorization_grant_type=Client.GRANT_AUTHORIZATION_CODE,
        registration_source=Client.RegistrationSource.DCR,
        metadata_fingerprint=fingerprint,
        registered_from=ip,
    )
    Client.objects.filter(pk=client.pk).update(created=at)  # created is auto_now_add
    client.refresh_from_db()
    policy.collapse_duplicates(client, now=at)
    return client


def survivors_of(events: list[tuple[int, str, str, str]], *, probe_every_time: bool) -> set[str]:
    """Play ``events`` (minutes since START, action, fingerprint, address) and roll back."""
    policy.forget_duplicates()
    with transaction.atomic():
        for n, (minutes, action, fingerprint, ip) in enumerate(events):
            at = START + timedelta(minutes=minutes)
            if probe_every_time:
                policy.forget_duplicates()
            if action == "register":
                register(f"copy-{n}", fingerprint=fingerprint, ip=ip, at=at)
            else:  # a copy from that address gets its first token: never collapsed after
                copy = Client.objects.filter(metadata_fingerprint=fingerprint, registered_from=ip)
                copy.filter(pk__in=copy.order_by("created", "name").values("pk")[:1]).update(
                    last_used_at=at
                )
        survivors = set(Client.objects.values_list("name", flat=True))
        transaction.set_rollback(True)
    return survivors


@pytest.mark.parametrize("seed", range(8))
def test_skipping_probes_until_a_copy_can_be_due_removes_exactly_what_probing_always_does(
    seed,
):
    rng = random.Random(seed)  # noqa: S311 - a reproducible order of events, not a secret
    minutes, events = 0, []
    for _ in range(40):
        minutes += rng.choice([0, 1, 5, 12, 29, 31, 45])
        action = rng.choice(["register"] * 4 + ["use"])
        events.append((minutes, action, rng.choice(FINGERPRINTS), rng.choice(ADDRESSES)))
    remembered = survivors_of(events, probe_every_time=False)
    assert remembered == survivors_of(events, probe_every_time=True)


def test_a_client_that_registers_on_every_connect_is_probed_once_per_grace():
    ip, fingerprint = "198.51.100.7", "f" * 64
    register("first", fingerprint=fingerprint, ip=ip, at=START)
    for minute in (1, 10, 29):
        with CaptureQueriesContext(connection) as captured:
            register(f"at-{minute}", fingerprint=fingerprint, ip=ip,
                     at=START + timedelta(minutes=minute))  # fmt: skip
        probes = [q for q in captured.captured_queries if "MIN(" in q["sql"].upper()]
        assert probes == [], minute
    # 30 minutes after the first copy it is due: probed, and collapsed.
    register("later", fingerprint=fingerprint, ip=ip, at=START + timedelta(minutes=30, seconds=1))
    assert not Client.objects.filter(name="first").exists()
    assert Client.objects.filter(name="at-1").exists()  # still within its grace
