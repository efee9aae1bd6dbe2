"""Token claims contributors (authserver.token_endpoint.registry.ClaimsContributor): a
feature adds claims to the JWT and to introspection's answer through the registry, and may
only add. A contributor naming a core claim (or one another contributor added) refuses the
token: nothing is signed, written or answered."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client as HttpClient

from authserver.introspection.service import introspect_row
from authserver.models import AccessToken
from authserver.token_endpoint import access_token, registry
from tests.factories import MCP, make_client, make_resource
from tests.support.http import basic

pytestmark = pytest.mark.django_db

DETAILS = [{"type": "mcp_tool", "locations": [MCP], "tools": {"search": {}}}]
CORE = {
    "iss": "https://as.example",
    "sub": "7",
    "aud": MCP,
    "client_id": "c1",
    "scope": "tools:read",
    "iat": 1,
    "exp": 2,
    "jti": "j",
}


def row(details):
    now = datetime.now(UTC)
    return ("tools:read", now + timedelta(minutes=5), now, None, json.dumps([MCP]), "jti-1", "",
            None, 7, "client-1", True, details)  # fmt: skip


@pytest.fixture
def machine():
    resource = make_resource()
    return make_client(access={resource: "tools:read"})


def token_request(creds):
    c, secret = creds
    return HttpClient(raise_request_exception=False).post(
        "/token",
        {"grant_type": "client_credentials", "resource": MCP, "scope": "tools:read"},
        HTTP_AUTHORIZATION=basic(c.client_id, secret),
    )


@pytest.mark.parametrize(
    "claim", ["sub", "aud", "iss", "exp", "jti", "client_id", "scope", "act", "cnf", "active"]
)
def test_claims_contributor_overwriting_a_core_claim_is_refused(monkeypatch, claim):
    """Even a core claim the token lacks (cnf on a bearer token, act on a direct one)."""
    monkeypatch.setitem(registry.CLAIMS_CONTRIBUTORS, "forge", lambda token: {claim: "x"})
    with pytest.raises(ImproperlyConfigured, match="may not set"):
        access_token.with_contributions(dict(CORE), authorization_details=None)


def test_two_contributors_adding_the_same_claim_are_refused(monkeypatch):
    monkeypatch.setitem(registry.CLAIMS_CONTRIBUTORS, "one", lambda token: {"x_team": "a"})
    monkeypatch.setitem(registry.CLAIMS_CONTRIBUTORS, "two", lambda token: {"x_team": "b"})
    with pytest.raises(ImproperlyConfigured, match="may not set"):
        access_token.with_contributions(dict(CORE), authorization_details=None)


def test_token_request_with_a_contributor_forging_sub_issues_nothing(monkeypatch, machine):
    monkeypatch.setitem(registry.CLAIMS_CONTRIBUTORS, "forge", lambda token: {"sub": "admin"})
    response = token_request(machine)
    assert response.status_code == 500
    assert response.json() == {"error": "server_error"}
    assert not AccessToken.objects.exists()


def test_introspection_with_a_contributor_forging_a_claim_answers_no_claims(monkeypatch):
    monkeypatch.setitem(registry.CLAIMS_CONTRIBUTORS, "forge", lambda token: {"scope": "admin"})
    with pytest.raises(ImproperlyConfigured, match="may not set"):
        introspect_row(row(DETAILS), audiences=frozenset({MCP}), issuer="x", now=datetime.now(UTC))


def test_contributors_are_told_the_tokens_facts_and_may_add(monkeypatch, machine):
    seen = []

    def team(token):
        seen.append(token)
        return {"x_team": "blue"}

    monkeypatch.setitem(registry.CLAIMS_CONTRIBUTORS, "team", team)
    response = token_request(machine)
    assert response.status_code == 200
    payload = response.json()["access_token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    assert claims["x_team"] == "blue"
    assert (seen[0].sub, seen[0].aud, seen[0].scope) == (machine[0].client_id, MCP, "tools:read")


def test_tool_grants_add_authorization_details_through_the_registry(monkeypatch):
    """The core knows no feature: without tool grants' contributor, neither the JWT nor
    introspection carries authorization_details; with it, both carry what was stored."""
    assert "tool_grants" in registry.CLAIMS_CONTRIBUTORS  # AuthserverConfig.ready()
    now = datetime.now(UTC)
    with_tools = introspect_row(row(DETAILS), audiences=frozenset({MCP}), issuer="x", now=now)
    assert with_tools["authorization_details"] == DETAILS
    assert (
        access_token.with_contributions(dict(CORE), authorization_details=DETAILS)[
            "authorization_details"
        ]
        == DETAILS
    )
    monkeypatch.delitem(registry.CLAIMS_CONTRIBUTORS, "tool_grants")
    bare = introspect_row(row(DETAILS), audiences=frozenset({MCP}), issuer="x", now=now)
    assert "authorization_details" not in bare
    assert "authorization_details" not in access_token.with_contributions(
        dict(CORE), authorization_details=DETAILS
    )


def test_claims_contributor_registered_twice_is_a_configuration_error():
    with pytest.raises(ImproperlyConfigured):
        registry.register_claims_contributor("tool_grants", lambda token: {})
