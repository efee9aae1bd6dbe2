"""Introspection with the per-process cache: a configuration that changes under every try
(clients registering, say) still gets an answer from fresh rows, never a 503."""

from __future__ import annotations

import pytest
from django.db import connection

from authserver.introspection import service as introspection
from authserver.models import CacheGeneration
from authserver.token_endpoint import hotcache
from tests.factories import MCP, make_client, make_resource
from tests.support.http import basic

pytestmark = pytest.mark.django_db


def test_introspection_answers_from_fresh_rows_while_the_generation_keeps_changing(
    client, monkeypatch
):
    CacheGeneration.objects.get_or_create(id=1)
    hotcache.clear()
    resource = make_resource(MCP)
    machine, machine_secret = make_client(access={resource: "tools:read"})
    rs, rs_secret = make_client(name="mcp server", access={})
    resource.introspection_client = rs
    resource.save()
    bystander, _ = make_client(name="registering meanwhile", access={})
    token = client.post(
        "/token",
        {"grant_type": "client_credentials", "resource": MCP, "scope": "tools:read"},
        HTTP_AUTHORIZATION=basic(machine.client_id, machine_secret),
    ).json()["access_token"]
    real_lookup = introspection.lookup
    changes = []

    def lookup_after_a_change(value):
        # A real change to a watched table before every lookup: its trigger renews the
        # generation, so every try finds its cached snapshot stale.
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE clients_client SET name = name || '.' WHERE id = %s", [bystander.pk]
            )
        changes.append(1)
        return real_lookup(value)

    monkeypatch.setattr(introspection, "lookup", lookup_after_a_change)
    response = client.post(
        "/introspect", {"token": token}, HTTP_AUTHORIZATION=basic(rs.client_id, rs_secret)
    )
    assert response.status_code == 200, response.content
    assert response.json()["active"] is True
    assert len(changes) == 3  # two cached tries went stale, the third read fresh rows
