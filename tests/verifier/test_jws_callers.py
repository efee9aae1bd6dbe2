"""The verifier's other JWS paths, DPoP proofs and the revocation list, under jws.py's rules."""

from __future__ import annotations

import base64
import functools
import hashlib
import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from jwcrypto import jwk, jws
from jwcrypto.common import json_encode

from mcp_token_verifier import TokenError, TokenVerifier
from mcp_token_verifier import jws as one_path
from mcp_token_verifier.dpop import InvalidDPoPProof, ReplayCache, check_proof, parse_proof
from mcp_token_verifier.revocation import LIST_TYPE
from tests.verifier.support import (
    ISSUER,
    NOW,
    RESOURCE,
    Clock,
    FakeIssuer,
    b64url,
    make_claims,
    sign,
    signing_key,
    unsigned,
)

HTU = "https://mcp.example.com/mcp"
LIST_URL = f"{ISSUER}/revocations"


@functools.cache
def weak_rsa() -> jwk.JWK:
    return jwk.JWK.generate(kty="RSA", size=1024)


def proof(key: jwk.JWK, alg: str = "ES256", *, header: dict | None = None, **claims) -> str:
    body = {"jti": "proof-jti-1", "htm": "POST", "htu": HTU, "iat": int(NOW), **claims}
    protected = {"typ": "dpop+jwt", "alg": alg, "jwk": json.loads(key.export_public())}
    protected.update(header or {})
    signed = jws.JWS(json_encode(body).encode())
    signed.add_signature(key, alg=alg, protected=json_encode(protected))
    return signed.serialize(compact=True)


def sign_es256_raw(header: dict, claims: dict) -> str:
    """ES256 over any header, even one jwcrypto refuses to sign (an unknown ``crit``)."""
    key = signing_key("ES256")
    header = {"alg": "ES256", "kid": key.thumbprint(), **header}
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    der = key.get_op_key("sign").sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def ath(token: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).decode().rstrip("=")


# --- DPoP proofs (RFC 9449) ------------------------------------------------------------------


def test_dpop_proof_with_1024_bit_rsa_key_is_refused():
    with pytest.raises(one_path.JWSError) as info:
        parse_proof(proof(weak_rsa(), "RS256"))
    assert info.value.reason == "key"


def test_dpop_proof_with_2048_bit_rsa_key_is_accepted():
    key, claims = parse_proof(proof(signing_key("RS256"), "RS256"))
    assert (key.thumbprint(), claims["htu"]) == (signing_key("RS256").thumbprint(), HTU)


def test_dpop_proof_with_a_1024_bit_rsa_key_is_refused_by_the_verifier():
    key = weak_rsa()
    with pytest.raises(InvalidDPoPProof):
        check_proof(
            proof(key, "RS256", ath=ath("tok")),
            access_token="tok",
            jkt=key.thumbprint(),
            htm="POST",
            htu=HTU,
            now=NOW,
            replay=ReplayCache(Clock()),
        )


@pytest.mark.parametrize("typ", ["JWT", "at+jwt", None])
def test_dpop_proof_typ_other_than_dpop_jwt_is_refused(typ):
    with pytest.raises(one_path.JWSError) as info:
        parse_proof(proof(signing_key("ES256"), header={"typ": typ}))
    assert info.value.reason == "typ"


def test_dpop_proof_with_a_private_key_in_its_header_is_refused():
    private = json.loads(signing_key("ES256").export_private())
    with pytest.raises(one_path.JWSError):
        parse_proof(proof(signing_key("ES256"), header={"jwk": private}))


def test_dpop_proof_whose_header_key_did_not_sign_it_is_refused():
    other = json.loads(signing_key("EdDSA").export_public())
    with pytest.raises(one_path.JWSError):
        parse_proof(proof(signing_key("ES256"), header={"jwk": other}))


def test_dpop_proof_freshness_uses_the_injected_now():
    key = signing_key("ES256")
    signed = proof(key, ath=ath("tok"))

    def check(now: float) -> None:
        check_proof(
            signed,
            access_token="tok",
            jkt=key.thumbprint(),
            htm="POST",
            htu=HTU,
            now=now,
            window=60,
            replay=ReplayCache(Clock(now)),
        )

    check(NOW + 60)
    check(NOW - 60)
    for now in (NOW + 61, NOW - 61):
        with pytest.raises(InvalidDPoPProof, match="stale"):
            check(now)


def test_dpop_proof_with_a_past_exp_is_refused():
    key = signing_key("ES256")
    with pytest.raises(InvalidDPoPProof, match="stale"):
        check_proof(
            proof(key, ath=ath("tok"), exp=int(NOW) - 61),
            access_token="tok",
            jkt=key.thumbprint(),
            htm="POST",
            htu=HTU,
            now=NOW,
            window=60,
            replay=ReplayCache(Clock()),
        )


# --- the revocation list -------------------------------------------------------------------


def list_claims(**overrides) -> dict:
    claims = {"iss": ISSUER, "iat": int(NOW), "exp": int(NOW) + 60, "jti": ["revoked-jti"]}
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def verifier_with_list(body: str) -> TokenVerifier:
    issuer = FakeIssuer.with_keys("ES256")

    def fetch(url: str, headers: dict):
        if url == LIST_URL:
            return 200, {}, body.encode()
        return issuer.fetch(url, headers)

    return TokenVerifier(ISSUER, RESOURCE, fetch=fetch, clock=Clock(), revocation_list_uri=LIST_URL)


def list_outcome(body: str, jti: str = "jti-1") -> str:
    """What a token with ``jti`` meets under this list body: accepted, revoked, unavailable."""
    try:
        verifier_with_list(body).verify(sign(make_claims(jti=jti)))
    except TokenError as exc:
        return exc.description
    return "accepted"


def test_a_valid_revocation_list_is_used():
    body = sign(list_claims(), typ=LIST_TYPE)
    assert list_outcome(body) == "accepted"
    assert list_outcome(body, jti="revoked-jti") == "token revoked"
    raw = sign_es256_raw({"typ": LIST_TYPE}, list_claims())  # the helper signs validly
    assert list_outcome(raw, jti="revoked-jti") == "token revoked"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(sign(list_claims(exp=None), typ=LIST_TYPE), id="no exp"),
        pytest.param(sign(list_claims(iat=None), typ=LIST_TYPE), id="no iat"),
        pytest.param(sign(list_claims(exp=int(NOW)), typ=LIST_TYPE), id="exp now"),
        pytest.param(sign(list_claims(exp=True), typ=LIST_TYPE), id="boolean exp"),
        pytest.param(sign(list_claims(iat=int(NOW) + 11), typ=LIST_TYPE), id="iat ahead"),
        pytest.param(sign(list_claims(iss="https://other.example"), typ=LIST_TYPE), id="iss"),
        pytest.param(sign(list_claims(), typ="JWT"), id="typ"),
        pytest.param(sign(list_claims(), typ="at+jwt"), id="an access token's typ"),
        pytest.param(unsigned({"alg": "none", "typ": LIST_TYPE}, list_claims()), id="alg none"),
        pytest.param(
            sign_es256_raw({"typ": LIST_TYPE, "crit": ["exp"], "exp": 1}, list_claims()),
            id="crit",
        ),
    ],
)
def test_revocation_list_refused_by_the_jws_rules_fails_closed(body):
    assert list_outcome(body) == "revocation status unavailable"


def test_revocation_list_time_claims_use_the_verifiers_leeway():
    # iat 10 s ahead: within the verifier's default 10 s of clock skew.
    assert list_outcome(sign(list_claims(iat=int(NOW) + 10), typ=LIST_TYPE)) == "accepted"
