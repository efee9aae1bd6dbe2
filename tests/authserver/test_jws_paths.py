"""One JWS path (docs/JWS.md): every signed token the server or the verifier accepts goes
through mcp_token_verifier/jws.py, so the rules (algorithms, key size, typ, clock) agree."""

from __future__ import annotations

import base64
import functools
import json
from datetime import UTC, datetime

import pytest
from jwcrypto import jwk

from authserver import config
from authserver import dpop as server_dpop
from authserver.discovery import openapi_schemas
from authserver.errors import InvalidClientMetadata, InvalidGrant
from authserver.keys import keyring
from authserver.token_endpoint.grants.subject_token import verify_subject_token
from clients.registration import validate_keys
from enterprise import jose
from mcp_token_verifier import TokenError, TokenVerifier, jwks
from mcp_token_verifier import dpop as verifier_dpop
from mcp_token_verifier import jws as one_path
from mcp_token_verifier.revocation import LIST_TYPE
from tests.factories import MCP, make_client, make_resource
from tests.support.dpop import TOKEN_URL, cc, proof
from tests.support.inprocess import ISSUER, django_fetch

pytestmark = pytest.mark.django_db


@functools.cache
def weak_rsa() -> jwk.JWK:
    return jwk.JWK.generate(kty="RSA", size=1024)


def segment(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def unsecured(typ: str | None, claims: dict, **header) -> str:
    """RFC 7515 §A.5: ``alg: none`` and an empty signature."""
    header = {"alg": "none", **({"typ": typ} if typ else {}), **header}
    return f"{segment(header)}.{segment(claims)}."


def access_token(client) -> tuple[str, dict]:
    machine_client, secret = make_client(access={make_resource(MCP): "tools:read"})
    response = client.post(
        "/token",
        {"grant_type": "client_credentials", "resource": MCP},
        HTTP_AUTHORIZATION="Basic "
        + base64.b64encode(f"{machine_client.client_id}:{secret}".encode()).decode(),
    )
    token = response.json()["access_token"]
    part = token.split(".")[1]
    return token, json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


# --- alg none, on every path ------------------------------------------------------------------


def refuse_access_token(token, claims):
    kid = keyring.active_key().kid
    with pytest.raises(TokenError):
        TokenVerifier(ISSUER, MCP, fetch=django_fetch).verify(unsecured("at+jwt", claims, kid=kid))


def refuse_revocation_list(token, claims):
    listed = unsecured(LIST_TYPE, {"iss": ISSUER, "iat": claims["iat"], "exp": claims["exp"]})

    def fetch(url, headers):
        if url.endswith("/unsecured-list"):
            return 200, {}, listed.encode()
        return django_fetch(url, headers)

    verifier = TokenVerifier(
        ISSUER, MCP, fetch=fetch, revocation_list_uri=f"{ISSUER}/unsecured-list"
    )
    with pytest.raises(TokenError, match="revocation status unavailable"):
        verifier.verify(token)


def refuse_dpop_proof_at_the_verifier(token, claims):
    header = {"jwk": json.loads(jwk.JWK.generate(kty="EC", crv="P-256").export_public())}
    with pytest.raises(one_path.JWSError):
        verifier_dpop.parse_proof(unsecured("dpop+jwt", claims, **header))


def refuse_dpop_proof_at_the_token_endpoint(token, claims):
    header = {"jwk": json.loads(jwk.JWK.generate(kty="EC", crv="P-256").export_public())}
    with pytest.raises(server_dpop.InvalidDPoPProof):
        server_dpop.validate_proof(
            unsecured("dpop+jwt", {**claims, "htm": "POST", "htu": TOKEN_URL}, **header),
            htm="POST",
            htu=TOKEN_URL,
            now=claims["iat"],
        )


def refuse_subject_token(token, claims):
    kid = keyring.active_key().kid
    with pytest.raises(InvalidGrant, match="not a valid access token"):
        verify_subject_token(
            unsecured("at+jwt", claims, kid=kid), now=datetime.fromtimestamp(claims["iat"], UTC)
        )


def refuse_enterprise_assertion(token, claims):
    keyset = jose.keyset_from_json(
        {"keys": [json.loads(jwk.JWK.generate(kty="EC", crv="P-256").export_public())]}
    )
    for typ in (None, "oauth-id-jag+jwt"):
        with pytest.raises(jose.RefusedAssertion, match="alg must be one of"):
            jose.verify_signature(unsecured(typ, claims), keyset, typ=typ)


@pytest.mark.parametrize(
    "path",
    [
        refuse_access_token,
        refuse_revocation_list,
        refuse_dpop_proof_at_the_verifier,
        refuse_dpop_proof_at_the_token_endpoint,
        refuse_subject_token,
        refuse_enterprise_assertion,
    ],
    ids=lambda path: path.__name__.removeprefix("refuse_"),
)
def test_every_jws_path_refuses_alg_none(client, path):
    token, claims = access_token(client)
    path(token, {**claims, "jti": "unsecured-jti-1"})


# --- DPoP proofs: RSA at least 2048 bits, as on the JWKS path ---------------------------------


def test_dpop_proof_with_1024_bit_rsa_key_is_refused(client, machine):
    weak = proof(weak_rsa(), "POST", TOKEN_URL, header={"alg": "RS256"})
    response = cc(client, machine, weak)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_dpop_proof"


def test_dpop_proof_with_2048_bit_rsa_key_is_accepted(client, machine):
    strong = jwk.JWK.generate(kty="RSA", size=2048)
    response = cc(client, machine, proof(strong, "POST", TOKEN_URL, header={"alg": "RS256"}))
    assert response.status_code == 200, response.content
    assert response.json()["token_type"] == "DPoP"


# --- token-exchange subject tokens ------------------------------------------------------------


def test_subject_token_expiry_uses_injected_clock(client):
    token, claims = access_token(client)
    before_exp = datetime.fromtimestamp(claims["exp"] - 1, UTC)
    assert verify_subject_token(token, now=before_exp)[0]["jti"] == claims["jti"]
    # RFC 7519 §4.1.4: at exp it is expired; no leeway on our own tokens.
    with pytest.raises(InvalidGrant, match="expired"):
        verify_subject_token(token, now=datetime.fromtimestamp(claims["exp"], UTC))


def test_subject_token_issued_after_the_injected_now_is_refused(client):
    token, claims = access_token(client)
    with pytest.raises(InvalidGrant):
        verify_subject_token(token, now=datetime.fromtimestamp(claims["iat"] - 1, UTC))


def test_subject_token_of_another_typ_is_refused(client):
    _, claims = access_token(client)
    for typ in ("JWT", LIST_TYPE, "dpop+jwt"):
        token, _kid = keyring.sign(claims, typ=typ)
        with pytest.raises(InvalidGrant, match="not a valid access token"):
            verify_subject_token(token, now=datetime.fromtimestamp(claims["iat"], UTC))


# --- lists defined once ------------------------------------------------------------------------


def test_signature_algorithms_are_defined_once():
    for copy in (
        config.SIGNING_ALGORITHMS,
        jose.ALLOWED_ALGS,
        verifier_dpop.PROOF_ALGS,
        jwks.SUPPORTED_ALGORITHMS,
    ):
        assert copy is one_path.SIGNATURE_ALGORITHMS


def test_metadata_advertises_the_one_signature_algorithm_list(client):
    doc = client.get("/.well-known/oauth-authorization-server").json()
    for member in (
        "token_endpoint_auth_signing_alg_values_supported",
        "revocation_endpoint_auth_signing_alg_values_supported",
        "introspection_endpoint_auth_signing_alg_values_supported",
        "dpop_signing_alg_values_supported",
    ):
        assert doc[member] == list(one_path.SIGNATURE_ALGORITHMS), member


def test_private_jwk_members_are_defined_once():
    assert keyring.PRIVATE_MEMBERS is one_path.PRIVATE_JWK_MEMBERS
    assert set(openapi_schemas.PRIVATE_JWK_MEMBERS) == one_path.PRIVATE_JWK_MEMBERS


@pytest.mark.parametrize("member", sorted(one_path.PRIVATE_JWK_MEMBERS))
def test_registered_jwks_with_any_private_member_is_refused(member):
    public = json.loads(jwk.JWK.generate(kty="EC", crv="P-256").export_public())
    with pytest.raises(InvalidClientMetadata, match="public keys only"):
        validate_keys(None, {"keys": [{**public, member: "AQAB"}]})


def test_jwks_of_enterprise_signers_skips_keys_with_any_private_member():
    public = json.loads(jwk.JWK.generate(kty="EC", crv="P-256").export_public())
    keyset = jose.keyset_from_json({"keys": [{**public, "p": "AQAB"}, public]})
    assert len(keyset["keys"]) == 1
