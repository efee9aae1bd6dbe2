"""mcp_token_verifier/jws_sign.py: signing on the one JWS path, checked against jwcrypto and
against jws.verify, without a server."""

from __future__ import annotations

import functools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jwcrypto import jwk
from jwcrypto import jws as jwcrypto_jws
from jwcrypto.common import json_encode

from mcp_token_verifier import jws
from mcp_token_verifier.jws_sign import Signer, json_bytes
from tests.verifier.support import public_jwk, signing_key

ALGS = jws.SIGNATURE_ALGORITHMS


@functools.cache
def weak_rsa() -> jwk.JWK:
    return jwk.JWK.generate(kty="RSA", size=1024)


def signer(alg: str) -> Signer:
    key = signing_key(alg)
    return Signer(key, alg=alg, kid=key.thumbprint())


def jwcrypto_verified(token: str, key: jwk.JWK, alg: str) -> tuple[dict, dict]:
    parsed = jwcrypto_jws.JWS()
    parsed.deserialize(token)
    parsed.verify(jwk.JWK(**public_jwk(key)), alg=alg)
    return parsed.jose_header, json.loads(parsed.payload)


def one_path_verified(token: str, key: jwk.JWK, typ: str) -> jws.Verified:
    public = jwk.JWK(**public_jwk(key))
    return jws.verify(
        token,
        typ=typ,
        algorithms=ALGS,
        resolve=lambda alg, _kid, _header: jws.signature_check(public, alg),
        kid_required=True,
    )


def jwcrypto_signed(claims: dict, key: jwk.JWK, alg: str, typ: str) -> str:
    """What keys.sign wrote before: jwcrypto's JWS over json_encode'd header and claims."""
    token = jwcrypto_jws.JWS(json_encode(claims).encode())
    token.add_signature(
        key, alg=alg, protected=json_encode({"alg": alg, "kid": key.thumbprint(), "typ": typ})
    )
    return token.serialize(compact=True)


CLAIMS = {
    "iss": "https://as.example.com",
    "sub": "user-1",
    "aud": "https://mcp.example.com/mcp",
    "client_id": "c-1",
    "scope": "tools:read tools:write",
    "iat": 1_800_000_000,
    "exp": 1_800_000_300,
    "jti": "Zm9vYmFy",
    "act": {"sub": "agent", "act": {"sub": "other"}},
    "cnf": {"jkt": "abc"},
    "name": 'Zoë \u2028 "quoted" </script>',
}


@pytest.mark.parametrize("alg", ALGS)
def test_signed_token_verifies_with_jwcrypto_and_the_one_path(alg):
    key = signing_key(alg)
    token = signer(alg).sign(CLAIMS, typ="at+jwt")
    header, claims = jwcrypto_verified(token, key, alg)
    assert header == {"alg": alg, "kid": key.thumbprint(), "typ": "at+jwt"}
    assert claims == CLAIMS
    verified = one_path_verified(token, key, "at+jwt")
    assert verified.claims == CLAIMS
    assert (verified.alg, verified.kid) == (alg, key.thumbprint())


@pytest.mark.parametrize("alg", ["RS256", "EdDSA"])  # deterministic signatures: whole token
def test_token_is_byte_for_byte_what_jwcrypto_signed(alg):
    key = signing_key(alg)
    for typ in ("at+jwt", "revocation-list+jwt"):
        assert signer(alg).sign(CLAIMS, typ=typ) == jwcrypto_signed(CLAIMS, key, alg, typ)


def test_es256_header_and_payload_are_what_jwcrypto_signed():
    # ECDSA signatures are randomised (RFC 7518 §3.4): compare the signing input, and the
    # signature's form, 64 bytes of r || s.
    key = signing_key("ES256")
    ours = signer("ES256").sign(CLAIMS, typ="at+jwt")
    theirs = jwcrypto_signed(CLAIMS, key, "ES256", "at+jwt")
    assert ours.rsplit(".", 1)[0] == theirs.rsplit(".", 1)[0]
    assert len(jws.b64url_decode(ours.rsplit(".", 1)[1].encode())) == 64


@settings(max_examples=60, deadline=None)
@given(
    claims=st.dictionaries(
        st.text(max_size=12),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(max_size=8), inner, max_size=3)
            ),
            max_leaves=8,
        ),
        max_size=8,
    ),
    alg=st.sampled_from(ALGS),
)
def test_any_claim_set_round_trips_through_both_verifiers(claims, alg):
    key = signing_key(alg)
    token = signer(alg).sign(claims, typ="at+jwt")
    assert jwcrypto_verified(token, key, alg)[1] == claims
    assert one_path_verified(token, key, "at+jwt").claims == claims
    assert token.split(".")[1] == jwcrypto_signed(claims, key, alg, "at+jwt").split(".")[1]


def test_json_bytes_is_jwcrypto_json_encode():
    assert json_bytes(CLAIMS) == json_encode(CLAIMS).encode()


@pytest.mark.parametrize(
    ("key", "alg"),
    [
        (signing_key("ES256"), "RS256"),  # a key signs only the algorithm it fits
        (signing_key("EdDSA"), "ES256"),
        (signing_key("RS256"), "EdDSA"),
        (weak_rsa(), "RS256"),  # RFC 7518 §3.3: at least 2048 bits, as for verification
        (jwk.JWK(**public_jwk(signing_key("ES256"))), "ES256"),  # no private half
        (signing_key("ES256"), "HS256"),
        (signing_key("ES256"), "none"),
    ],
)
def test_a_key_that_cannot_sign_the_algorithm_is_refused(key, alg):
    with pytest.raises(jws.JWSError) as info:
        Signer(key, alg=alg, kid="k")
    assert info.value.reason == "key"
