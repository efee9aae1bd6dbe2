"""The hot path's raw statements (authserver.token_endpoint.sql) are prepared once per
database connection, so PostgreSQL parses and plans them once instead of on every request;
Django's own queries stay unprepared."""

from __future__ import annotations

import pytest
from django.db import connection

from authserver.token_endpoint import hotcache
from tests.factories import MCP, make_client, make_resource
from tests.support.http import basic

pytestmark = pytest.mark.django_db


def prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE NOT from_sql")
        return [row[0] for row in cursor.fetchall()]


@pytest.fixture
def machine():
    hotcache.clear()
    resource = make_resource()
    rs, rs_secret = make_client(name="introspecting resource server", access={})
    resource.introspection_client = rs
    resource.save()
    client, secret = make_client(access={resource: "tools:read"})
    return client, secret, rs, rs_secret


def _token_and_introspection(client, machine) -> None:
    c, secret, rs, rs_secret = machine
    response = client.post(
        "/token",
        {"grant_type": "client_credentials", "resource": MCP},
        HTTP_AUTHORIZATION=basic(c.client_id, secret),
    )
    assert response.status_code == 200, response.content
    response = client.post(
        "/introspect",
        {"token": response.json()["access_token"]},
        HTTP_AUTHORIZATION=basic(rs.client_id, rs_secret),
    )
    assert response.status_code == 200, response.content
    assert response.json()["active"] is True


def test_token_and_introspection_statements_are_prepared_once_per_connection(client, machine):
    for _ in range(2):  # the first write also stamps the client's last use: its own text
        _token_and_introspection(client, machine)
    prepared = prepared_statements()
    assert [s for s in prepared if s.startswith("WITH gen AS")]
    assert len([s for s in prepared if "FROM authserver_accesstoken t" in s]) == 1
    for _ in range(3):
        _token_and_introspection(client, machine)
    assert sorted(prepared_statements()) == sorted(prepared)  # reused, not prepared again
    # The ORM's statements (quoted identifiers) are never prepared.
    assert not [s for s in prepared if '"' in s.split("FROM", 1)[0]]
