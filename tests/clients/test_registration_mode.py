"""REGISTRATION_MODE=cimd-only|dcr+cimd|closed (clients/modes.py): the metadata, the answers
to a client that tries a way that is off, and the admin's line."""

from __future__ import annotations

import pytest

from clients import modes
from tests.clients.conftest import MCP_PYTHON_SDK_BODY

pytestmark = pytest.mark.django_db


def metadata(client):
    response = client.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    return response.json()


def test_default_mode_advertises_dynamic_registration_and_documents(client, registration_policy):
    registration_policy(registration_mode="dcr+cimd")
    doc = metadata(client)
    assert doc["registration_endpoint"].endswith("/register")
    assert doc["client_id_metadata_document_supported"] is True


def test_cimd_only_drops_the_registration_endpoint_and_says_to_use_a_document(
    client, register, registration_policy
):
    """MCP 2026-07-28 deprecates DCR: in cimd-only mode a client that registers anyway is
    told what to do, in JSON, and nothing is created."""
    from clients.models import Client

    registration_policy(registration_mode="cimd-only")
    doc = metadata(client)
    assert "registration_endpoint" not in doc
    assert doc["client_id_metadata_document_supported"] is True
    response = register(MCP_PYTHON_SDK_BODY)
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["error"] == "access_denied"
    assert "Client ID Metadata Document" in body["error_description"]
    assert not Client.objects.exists()


def test_closed_mode_refuses_registration_and_documents(client, register, registration_policy):
    registration_policy(registration_mode="closed")
    doc = metadata(client)
    assert "registration_endpoint" not in doc
    assert doc["client_id_metadata_document_supported"] is False
    response = register(MCP_PYTHON_SDK_BODY)
    assert response.status_code == 403
    assert "administrator" in response.json()["error_description"]


def test_closed_mode_fetches_no_new_metadata_document(registration_policy):
    from clients.cimd import DynamicClientCapPermission

    registration_policy(registration_mode="closed")
    assert not DynamicClientCapPermission().has_permission(None, "https://new.example/c.json")


@pytest.mark.parametrize(
    ("mode", "line"),
    [
        ("open", "REGISTRATION_MODE=dcr+cimd: dynamic registration (RFC 7591) on; "),
        ("cimd-only", "dynamic registration (RFC 7591) off; Client ID Metadata Documents on"),
        ("closed", "off; Client ID Metadata Documents off"),
    ],
)
def test_admin_line_says_what_is_on(registration_policy, mode, line):
    registration_policy(registration_mode=mode)
    assert line in modes.describe()
