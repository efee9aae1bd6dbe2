"""Our tokens against the MCP-server-side verifier, JWKS served by this server."""

from __future__ import annotations

import base64
import json

import pytest
from jwcrypto import jwk, jws
from jwcrypto.common import json_encode

from authserver.keys import keyring as keys
from mcp_token_verifier import TokenError, TokenVerifier
from tests.factories import MCP, OTHER_MCP, make_client, make_resource
from tests.support.inprocess import ISSUER, django_fetch

pytestmark = pytest.mark.django_db


def verifier(resource: str, **kwargs) -> TokenVerifier:
    return TokenVerifier(issuer=ISSUER, resource=resource, fetch=django_fetch, **kwargs)


@pytest.fixture
def token(client):
    a = make_resource(MCP)
    b = make_resource(OTHER_MCP)
    machine, secret = make_client(access={a: "tools:read", b: "tools:read"})
    auth = "Basic " + base64.b64encode(f"{machine.client_id}:{secret}".encode()).decode()
    response = client.post(
        "/token",
        {"grant_type": "client_credentials", "resource": MCP, "scope": "tools:read"},
        HTTP_AUTHORIZATION=auth,
    )
    return response.json()["access_token"]


def test_token_for_a_verifies_at_a(token):
    claims = verifier(MCP).verify(token, required_scopes=["tools:read"])
    assert claims["aud"] == MCP


def test_token_for_a_fails_at_b(token):
    with pytest.raises(TokenError) as err:
        verifier(OTHER_MCP).verify(token)
    assert err.value.status == 401
    assert err.value.error == "invalid_token"


def test_scope_the_token_lacks_is_insufficient_scope(token):
    with pytest.raises(TokenError) as err:
        verifier(MCP).verify(token, required_scopes=["tools:write"])
    assert err.value.status == 403
    assert err.value.error == "insufficient_scope"


def test_wrong_issuer_fails(token):
    with pytest.raises(TokenError):
        TokenVerifier(
            issuer="http://127.0.0.1:8000/",
            resource=MCP,
            fetch=django_fetch,
            jwks_uri=f"{ISSUER}/.well-known/jwks.json",
        ).verify(token)


def forge(header: dict, claims: dict, key: jwk.JWK) -> str:
    signed = jws.JWS(json_encode(claims).encode())
    signed.add_signature(key, alg=header["alg"], protected=json_encode(header))
    return signed.serialize(compact=True)


def test_hs256_keyed_with_our_public_key_is_refused(token):
    header, claims = (json.loads(base64.urlsafe_b64decode(p + "==")) for p in token.split(".")[:2])
    public = json.dumps(keys.public_jwk(keys.active_key())).encode()
    forged = forge(
        {"alg": "HS256", "kid": header["kid"], "typ": "at+jwt"},
        claims,
        jwk.JWK(kty="oct", k=base64.urlsafe_b64encode(public).decode().rstrip("=")),
    )
    with pytest.raises(TokenError):
        verifier(MCP).verify(forged)


def test_alg_none_is_refused(token):
    header, claims = (json.loads(base64.urlsafe_b64decode(p + "==")) for p in token.split(".")[:2])

    def b64(d):
        return base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")

    unsigned = f"{b64({**header, 'alg': 'none'})}.{b64(claims)}."
    with pytest.raises(TokenError):
        verifier(MCP).verify(unsigned)


def test_expired_and_not_yet_valid_tokens_fail(token):
    claims = verifier(MCP).verify(token)
    with pytest.raises(TokenError):
        verifier(MCP, clock=lambda: claims["exp"] + 60).verify(token)
    with pytest.raises(TokenError):
        verifier(MCP, clock=lambda: claims["iat"] - 60).verify(token)


def test_wrong_typ_is_refused(token):
    header, claims = (json.loads(base64.urlsafe_b64decode(p + "==")) for p in token.split(".")[:2])
    row = keys.active_key()
    forged = forge({**header, "typ": "JWT"}, claims, keys.private_jwk(row))
    with pytest.raises(TokenError):
        verifier(MCP).verify(forged)


@pytest.mark.parametrize("alg", ["ES256", "RS256", "EdDSA"])
def test_access_token_is_signed_on_the_one_jws_path(client, monkeypatch, alg):
    """The token endpoint signs through mcp_token_verifier.jws_sign (the primitives the
    verifier checks with), never a second JWS implementation: jwcrypto's signing is cut off,
    and the token still verifies with jwcrypto and with the verifier."""
    from mcp_token_verifier import jws_sign

    keys.active_key(alg)  # the first key of this algorithm
    monkeypatch.setattr(keys, "default_algorithm", lambda: alg)
    signed: list[str] = []
    real_sign = jws_sign.Signer.sign

    def spy(self, claims, *, typ):
        signed.append(typ)
        return real_sign(self, claims, typ=typ)

    def no_second_path(*args, **kwargs):
        raise AssertionError("signed outside the one JWS path")

    monkeypatch.setattr(jws_sign.Signer, "sign", spy)
    monkeypatch.setattr(jws.JWS, "add_signature", no_second_path)
    a = make_resource(MCP)
    machine, secret = make_client(access={a: "tools:read"})
    auth = "Basic " + base64.b64encode(f"{machine.client_id}:{secret}".encode()).decode()
    response = client.post(
        "/token",
        {"grant_type": "client_credentials", "resource": MCP, "scope": "tools:read"},
        HTTP_AUTHORIZATION=auth,
    )
    assert response.status_code == 200, response.content
    token = response.json()["access_token"]
    assert signed == ["at+jwt"]
    parsed = jws.JWS()
    parsed.deserialize(token)
    assert parsed.jose_header["alg"] == alg
    published = jwk.JWKSet.from_json(json.dumps(keys.jwks_document()))
    parsed.verify(published.get_key(parsed.jose_header["kid"]), alg=alg)
    assert json.loads(parsed.payload)["aud"] == MCP
    assert verifier(MCP).verify(token, required_scopes=["tools:read"])["client_id"] == (
        machine.client_id
    )
