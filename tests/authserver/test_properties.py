"""Property-based tests (hypothesis) for the parsers and validators."""

from __future__ import annotations

import contextlib
import string

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from authserver.errors import InvalidScope
from authserver.protocol import pkce, scopes
from clients.models import Client

scope_token = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters='"\\'),
    min_size=1,
    max_size=20,
)
verifier_text = st.text(
    alphabet=string.ascii_letters + string.digits + "-._~", min_size=43, max_size=128
)


@given(st.lists(scope_token, max_size=10), st.lists(scope_token, max_size=10))
def test_narrowing_never_widens(requested, granted):
    try:
        result = scopes.narrow(requested, granted)
    except InvalidScope:
        assert set(requested) - set(granted)
        return
    assert set(result) <= set(granted)


@given(st.text())
def test_scope_parsing_raises_only_invalid_scope(value):
    with contextlib.suppress(InvalidScope):
        parsed = scopes.parse_scope(value)
        assert all(" " not in s and s for s in parsed)
        assert len(parsed) == len(set(parsed))


@given(verifier_text)
def test_pkce_s256_accepts_its_own_verifier(verifier):
    challenge = pkce.s256(verifier)
    assert pkce.is_valid_challenge(challenge)
    assert pkce.verify_s256(verifier, challenge)


@given(verifier_text, verifier_text)
def test_pkce_s256_refuses_any_other_verifier(verifier, other):
    assume(verifier != other)
    assert not pkce.verify_s256(other, pkce.s256(verifier))


@given(st.text(max_size=200), st.text(max_size=60))
def test_pkce_verification_never_raises(verifier, challenge):
    assert pkce.verify_s256(verifier, challenge) in (True, False)


REGISTERED = "https://agent.example.com/oauth/cb?tenant=a"
host = st.from_regex(r"[a-z]{1,8}(\.[a-z]{2,4}){1,2}", fullmatch=True)
path = st.from_regex(r"(/[a-z0-9]{0,6}){1,3}", fullmatch=True)
query = st.one_of(st.just(""), st.from_regex(r"\?[a-z]{1,5}=[a-z0-9]{0,5}", fullmatch=True))


def client_with(uris: str) -> Client:
    return Client(redirect_uris=uris, client_type="public")


@settings(max_examples=200)
@given(st.sampled_from(["http", "https"]), host, path, query, st.sampled_from(["", ":8443"]))
def test_no_uri_differing_in_scheme_host_path_or_query_is_accepted(scheme, h, p, q, port):
    candidate = f"{scheme}://{h}{port}{p}{q}"
    assume(candidate != REGISTERED)
    assert not client_with(REGISTERED).redirect_uri_allowed(candidate)


@given(
    st.integers(min_value=1, max_value=65535), st.sampled_from(["127.0.0.1", "[::1]", "localhost"])
)
def test_loopback_redirects_accept_any_port(port, loopback):
    registered = f"http://{loopback}/callback"
    assert client_with(registered).redirect_uri_allowed(f"http://{loopback}:{port}/callback")


@given(st.integers(min_value=1, max_value=65535), path)
def test_loopback_redirects_keep_the_path_exact(port, p):
    assume(p != "/callback")
    registered = "http://127.0.0.1/callback"
    assert not client_with(registered).redirect_uri_allowed(f"http://127.0.0.1:{port}{p}")


@pytest.mark.parametrize(
    ("registered", "requested", "allowed"),
    [
        (
            "cursor://anysphere.cursor-mcp/oauth/callback",
            "cursor://anysphere.cursor-mcp/oauth/callback",
            True,
        ),
        (
            "cursor://anysphere.cursor-mcp/oauth/callback",
            "cursor://anysphere.cursor-mcp/oauth/other",
            False,
        ),
        (
            "cursor://anysphere.cursor-mcp/oauth/callback",
            "vscode://anysphere.cursor-mcp/oauth/callback",
            False,
        ),
        ("com.example.app:/callback", "com.example.app:/callback", True),
    ],
)
def test_private_use_scheme_redirects_match_exactly(registered, requested, allowed):
    assert client_with(registered).redirect_uri_allowed(requested) is allowed
