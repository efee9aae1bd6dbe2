"""Scope hierarchies per MCP server (MCP 2026-07-28, SEP-2350; ``Scope.implies``): consent and
tokens carry what is granted, a step-up to a broader scope subsumes the narrower one, and a
refresh never widens, even after an admin adds an implication."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from authserver.models import Scope
from tests.factories import MCP, make_client, make_resource
from tests.oauthflow import claims_of, exchange, get_code, refresh

pytestmark = pytest.mark.django_db

NOTES = {"notes:read": "Read your notes", "notes:write": "Change your notes"}


@pytest.fixture
def resource():
    resource = make_resource(scopes=NOTES, defaults=("notes:read",))
    Scope.objects.filter(resource=resource, name="notes:write").update(implies=["notes:read"])
    return resource


@pytest.fixture
def app(resource):
    client, _ = make_client(
        confidential=False,
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris="http://127.0.0.1/callback",
        registration_source="dcr",
    )
    return client


def token_for(signed_in, app, scope: str) -> dict:
    code, verifier, _ = get_code(signed_in, app.client_id, resource=MCP, scope=scope)
    response = exchange(signed_in, app.client_id, code, verifier, resource=MCP)
    assert response.status_code == 200, response.content
    return response.json()


def test_consent_and_token_carry_the_implied_scope(signed_in, app):
    response = signed_in.get(
        "/authorize?response_type=code&client_id=" + app.client_id
        + "&redirect_uri=http%3A%2F%2F127.0.0.1%3A45678%2Fcallback&code_challenge="
        + "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
        + "&resource=" + MCP + "&scope=notes%3Awrite"
    )  # fmt: skip
    assert response.status_code == 200
    assert b"Read your notes" in response.content  # shown: it is granted too
    body = token_for(signed_in, app, "notes:write")
    assert set(body["scope"].split()) == {"notes:write", "notes:read"}
    assert set(claims_of(body["access_token"])["scope"].split()) == {"notes:write", "notes:read"}


def test_step_up_to_the_broader_scope_subsumes_the_narrower(signed_in, app):
    first = token_for(signed_in, app, "notes:read")
    assert first["scope"].split() == ["notes:read"]
    # insufficient_scope for notes:write: asking for the broader scope alone is enough.
    second = token_for(signed_in, app, "notes:write")
    assert set(second["scope"].split()) == {"notes:read", "notes:write"}


def test_refresh_never_widens_when_an_implication_is_added_later(signed_in, app, resource):
    """An admin who makes notes:read imply notes:write after the user consented to notes:read
    widens nothing on refresh: that needs a new consent."""
    body = token_for(signed_in, app, "notes:read offline_access")
    Scope.objects.filter(resource=resource, name="notes:read").update(implies=["notes:write"])
    again = refresh(signed_in, app.client_id, body["refresh_token"], resource=MCP)
    assert again.status_code == 200, again.content
    assert "notes:write" not in again.json()["scope"].split()
    assert "notes:write" not in claims_of(again.json()["access_token"])["scope"].split()


def test_implied_scopes_must_be_defined_by_the_same_server(resource):
    other = make_resource("https://other.example.com/mcp", scopes={"x:y": "X"}, defaults=())
    scope = Scope.objects.get(resource=resource, name="notes:write")
    scope.implies = ["x:y"]
    with pytest.raises(ValidationError):
        scope.full_clean()
    scope.implies = ["notes:write"]
    with pytest.raises(ValidationError):
        scope.full_clean()
    assert other.scopes.count() == 1
