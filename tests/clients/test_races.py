"""Registration under concurrency, on real PostgreSQL and Redis."""

from __future__ import annotations

import dataclasses
import threading

import pytest
from django.db import connection
from django.test import Client as HttpClient

from clients.models import Client

pytestmark = pytest.mark.django_db(transaction=True)
BODY = {
    "client_name": "racer",
    "redirect_uris": ["http://127.0.0.1/callback"],
    "token_endpoint_auth_method": "none",
}


def test_rate_limit_holds_under_parallel_registrations(settings):
    settings.CONFIG = dataclasses.replace(settings.CONFIG, registration_rate_limit=5)
    barrier = threading.Barrier(12)
    statuses: list[int] = []
    lock = threading.Lock()

    def register() -> None:
        try:
            barrier.wait()
            status = (
                HttpClient()
                .post(
                    "/register", BODY, content_type="application/json", REMOTE_ADDR="198.51.100.7"
                )
                .status_code
            )
            with lock:
                statuses.append(status)
        finally:
            connection.close()

    threads = [threading.Thread(target=register) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses.count(201) == 5
    assert statuses.count(429) == 7
    assert Client.objects.filter(registration_source="dcr").count() == 5
