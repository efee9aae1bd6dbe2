"""Data migrations of the clients app, run against real rows."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from tests.factories import make_client

pytestmark = pytest.mark.django_db

refresh_migration = importlib.import_module("clients.migrations.0004_refresh_for_code_clients")


def test_self_registered_code_clients_gain_refresh_token_and_admin_clients_do_not():
    dcr, _ = make_client(
        confidential=False,
        grant_types=("authorization_code",),
        redirect_uris="http://127.0.0.1/cb",
        registration_source="dcr",
    )
    cimd, _ = make_client(
        confidential=False,
        grant_types=("authorization_code",),
        redirect_uris="https://app.example.com/cb",
        registration_source="cimd",
        client_id="https://app.example.com/client.json",
    )
    manual, _ = make_client(
        confidential=False, grant_types=("authorization_code",), redirect_uris="http://127.0.0.1/cb"
    )
    machine, _ = make_client(registration_source="dcr")  # client credentials only

    refresh_migration.grant_refresh_to_code_clients(apps, None)
    refresh_migration.grant_refresh_to_code_clients(apps, None)  # idempotent

    for client in (dcr, cimd):
        client.refresh_from_db()
        assert client.grant_types == ["authorization_code", "refresh_token"]
    manual.refresh_from_db()
    assert manual.grant_types == ["authorization_code"]
    machine.refresh_from_db()
    assert machine.grant_types == ["client_credentials"]
