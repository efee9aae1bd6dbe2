"""A client that registered itself (DCR, or a metadata document) completes the real flow."""

from __future__ import annotations

import pytest

from clients.models import Client
from tests.clients.conftest import MCP_PYTHON_SDK_BODY
from tests.clients.support import document
from tests.factories import MCP, make_resource
from tests.oauthflow import REDIRECT, exchange, get_code

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.urls("tests.clients.urls"),
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
]


@pytest.fixture
def signed_in(client, user):
    make_resource()
    client.force_login(user)
    return client


def test_dcr_registered_sdk_client_gets_tokens_and_is_marked_used(signed_in, register):
    info = register(MCP_PYTHON_SDK_BODY).json()  # registered port 34439, any port matches
    code, verifier, _ = get_code(signed_in, info["client_id"], resource=MCP, scope="tools:read")
    response = exchange(signed_in, info["client_id"], code, verifier, resource=MCP)
    assert response.status_code == 200, response.content
    assert Client.objects.get(client_id=info["client_id"]).last_used_at is not None


def test_disabled_dcr_client_cannot_start_an_authorization(signed_in, register):
    info = register(MCP_PYTHON_SDK_BODY).json()
    Client.objects.filter(client_id=info["client_id"]).update(is_active=False)
    response = signed_in.get(f"/authorize?response_type=code&client_id={info['client_id']}")
    assert response.status_code in (400, 401, 403)


def test_metadata_document_client_gets_tokens(
    signed_in, settings, registration_policy, document_server
):
    registration_policy(cimd_allow_loopback=True)
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "CIMD_ENABLED": True,
        "CIMD_METADATA_FETCHER": "clients.cimd.MetadataFetcher",
        "CIMD_REGISTRATION_PERMISSION_CLASSES": ["clients.cimd.DynamicClientCapPermission"],
    }
    url = document_server("/mcp-client.json", {})
    document_server("/mcp-client.json", document(url, redirect_uris=[REDIRECT]))
    code, verifier, _ = get_code(signed_in, url, resource=MCP, scope="tools:read")
    response = exchange(signed_in, url, code, verifier, resource=MCP)
    assert response.status_code == 200, response.content
    assert Client.objects.get(client_id=url).registration_source == "cimd"
