"""mcp_token_verifier: TokenError and the RFC 6750 §3 / RFC 9728 §5.1 challenge."""

from __future__ import annotations

import pytest

from mcp_token_verifier import TokenError, www_authenticate

PRM = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"


def test_www_authenticate_for_a_missing_token_names_metadata_and_scope():
    assert www_authenticate(None, resource_metadata=PRM, scope="tools:read") == (
        f'Bearer resource_metadata="{PRM}", scope="tools:read"'
    )


def test_www_authenticate_for_a_missing_token_without_scope():
    assert www_authenticate(None, resource_metadata=PRM) == f'Bearer resource_metadata="{PRM}"'


def test_www_authenticate_for_insufficient_scope_carries_the_required_scopes():
    error = TokenError("token lacks scope tools:write", scope="tools:read tools:write")
    assert www_authenticate(error, resource_metadata=PRM) == (
        f'Bearer error="insufficient_scope", scope="tools:read tools:write", '
        f'resource_metadata="{PRM}"'
    )


def test_www_authenticate_for_invalid_token_has_no_description():
    header = www_authenticate(TokenError("token expired"), resource_metadata=PRM)
    assert header == f'Bearer error="invalid_token", resource_metadata="{PRM}"'


def test_www_authenticate_escapes_quotes_and_backslashes():
    header = www_authenticate(None, resource_metadata='https://x/"a\\b')
    assert header == 'Bearer resource_metadata="https://x/\\"a\\\\b"'


@pytest.mark.parametrize("bad", ["https://x/\r\nSet-Cookie: a=b", "a\x00b"])
def test_www_authenticate_refuses_control_characters(bad):
    with pytest.raises(ValueError, match="control"):
        www_authenticate(None, resource_metadata=bad)


def test_token_error_without_scope_is_invalid_token_401():
    error = TokenError("token expired")
    assert (error.error, error.status, error.scope, error.description) == (
        "invalid_token",
        401,
        None,
        "token expired",
    )


def test_token_error_with_scope_is_insufficient_scope_403():
    error = TokenError("token lacks scope a", scope="a b")
    assert (error.error, error.status, error.scope) == ("insufficient_scope", 403, "a b")
