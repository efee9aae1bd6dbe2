"""Which spellings of ``resource`` name the same MCP server (RFC 8707 §2, RFC 3986 §6.2.2),
and that the token's ``aud`` is always the registered identifier the MCP server checks."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from authserver.models import Resource
from authserver.protocol.resources import canonicalize
from tests.factories import make_client, make_resource
from tests.oauthflow import claims_of, exchange, get_code, refresh


@pytest.mark.parametrize(
    ("sent", "registered"),
    [
        ("https://mcp.example.com/mcp/", "https://mcp.example.com/mcp"),  # Claude Code
        ("https://MCP.Example.com/mcp", "https://mcp.example.com/mcp"),  # host case
        ("https://mcp.example.com/%7Emcp", "https://mcp.example.com/~mcp"),  # §6.2.2.2
        ("https://mcp.example.com/a%2fb", "https://mcp.example.com/a%2Fb"),  # §6.2.2.1
        ("https://mcp.example.com/mcp/?t=1", "https://mcp.example.com/mcp?t=1"),
    ],
)
def test_equivalent_spellings_share_one_canonical_form(sent, registered):
    assert canonicalize(sent) == canonicalize(registered)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("https://mcp.example.com/mcp", "https://mcp.example.com/MCP"),  # path is exact
        ("https://mcp.example.com/mcp", "https://mcp.example.com/mcp?x=1"),
        ("https://mcp.example.com/mcp", "https://mcp.example.com/mcp//"),
        ("https://mcp.example.com/mcp", "https://mcp.example.com:8443/mcp"),
        ("https://mcp.example.com/a%2Fb", "https://mcp.example.com/a/b"),  # reserved stays
    ],
)
def test_different_servers_stay_different(one, other):
    assert canonicalize(one) != canonicalize(other)


@given(
    st.from_regex(
        r"https://[a-zA-Z]{1,8}\.example(/[A-Za-z0-9~%/._-]{0,12}){0,3}/?", fullmatch=True
    )
)
def test_canonical_form_is_stable(uri):
    try:
        once = canonicalize(uri)
    except Exception:
        return
    assert canonicalize(once) == once


@pytest.mark.django_db
def test_second_registration_of_the_same_server_with_a_slash_is_refused():
    make_resource("https://mcp.example.com/mcp")
    twin = Resource(identifier="https://mcp.example.com/mcp/", name="twin")
    with pytest.raises(ValidationError, match="same MCP server"):
        twin.full_clean()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("registered", "sent"),
    [
        ("https://mcp.example.com/mcp", "https://mcp.example.com/mcp/"),
        ("https://mcp.example.com/mcp/", "https://mcp.example.com/mcp"),
        ("https://mcp.example.com/mcp", "https://MCP.EXAMPLE.COM/mcp"),
    ],
)
def test_token_aud_is_the_registered_identifier_whatever_spelling_the_client_sent(
    signed_in, registered, sent
):
    """Claude Code appended a trailing slash to resource (anthropics/claude-code#52871): it
    gets a token for the registered server, and its aud is the string the MCP server checks
    (its RFC 9728 resource), not the client's spelling."""
    make_resource(registered)
    app, _ = make_client(
        confidential=False,
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris="http://127.0.0.1/callback",
        registration_source="dcr",
    )
    code, verifier, _query = get_code(signed_in, app.client_id, resource=sent, scope="tools:read")
    response = exchange(signed_in, app.client_id, code, verifier, resource=sent)
    assert response.status_code == 200, response.content
    body = response.json()
    assert claims_of(body["access_token"])["aud"] == registered
    again = refresh(signed_in, app.client_id, body["refresh_token"], resource=sent)
    assert again.status_code == 200, again.content
    assert claims_of(again.json()["access_token"])["aud"] == registered
