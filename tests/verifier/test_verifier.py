"""mcp_token_verifier: RFC 9068 access token checks, in the order the verifier runs them."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import given
from hypothesis import strategies as st
from jwcrypto import jwk

from mcp_token_verifier import TokenError, TokenVerifier
from mcp_token_verifier.jwks import signature_check
from mcp_token_verifier.verifier import MAX_ACCEPTED_HEADERS
from tests.verifier.support import (
    ALGS,
    ISSUER,
    NOW,
    RESOURCE,
    Clock,
    FakeIssuer,
    b64url,
    generate,
    make_claims,
    make_verifier,
    public_jwk,
    sign,
    signing_key,
    unsigned,
)


def refused(verifier: TokenVerifier, token: object, **kwargs) -> TokenError:
    with pytest.raises(TokenError) as info:
        verifier.verify(token, **kwargs)
    return info.value


# --- a valid token -------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ALGS)
def test_valid_token_returns_claims(alg):
    claims = make_claims()
    assert make_verifier().verify(sign(claims, alg)) == claims


def test_required_scopes_granted_returns_claims():
    claims = make_claims(scope="tools:read tools:write")
    verifier = make_verifier()
    assert verifier.verify(sign(claims), required_scopes=["tools:write", "tools:read"]) == claims


# --- shape -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "a.b",
        "a.b.c.d",
        "a..c",
        "e30.e30.",
        "!!!.e30.c2ln",
        "a.e30.c2ln",  # header of impossible base64url length
        "e30=.e30.c2ln",  # padding is not base64url
        b64url(b"not json") + ".e30.c2ln",
        b64url(b"[1, 2]") + ".e30.c2ln",
        b64url(b"\xff\xfe") + ".e30.c2ln",
        b64url(b"[" * 5000) + ".e30.c2ln",
        b64url(b'{"alg": "ES256", "alg": "none"}') + ".e30.c2ln",  # duplicate member
        "e30.e30.c2ln" + "A" * 20_000,
        " " + sign(make_claims()),
        None,
        b"e30.e30.c2ln",
        12,
    ],
)
def test_malformed_token_is_invalid_token(token):
    error = refused(make_verifier(), token)
    assert (error.error, error.status) == ("invalid_token", 401)


@pytest.mark.parametrize("part", [0, 1, 2])
@pytest.mark.parametrize("char", ["+", "/", "=", " ", "\n", "é"])
def test_character_outside_base64url_in_any_part_is_refused(part, char):
    """RFC 7515 §2: base64url, unpadded; "+", "/" and "=" belong to other encodings."""
    parts = sign(make_claims()).split(".")
    parts[part] = parts[part][:8] + char + parts[part][9:]
    assert refused(make_verifier(), ".".join(parts)).error == "invalid_token"


def test_padded_signature_is_refused():
    assert refused(make_verifier(), sign(make_claims()) + "==").error == "invalid_token"


@given(st.text())
def test_arbitrary_text_raises_only_token_error(text):
    with pytest.raises(TokenError):
        make_verifier().verify(text)


@given(
    st.from_regex(r"[A-Za-z0-9_-]{0,40}\.[A-Za-z0-9_-]{0,40}\.[A-Za-z0-9_-]{0,40}", fullmatch=True)
)
def test_arbitrary_three_part_token_raises_only_token_error(text):
    with pytest.raises(TokenError):
        make_verifier().verify(text)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=10,
)


@given(
    header=st.fixed_dictionaries(
        {},
        optional={
            "alg": st.sampled_from(["ES256", "RS256", "EdDSA", "none", "HS256"]) | _json,
            "kid": st.just(signing_key("ES256").thumbprint()) | _json,
            "typ": st.sampled_from(["at+jwt", "JWT"]) | _json,
            "crit": _json,
        },
    ),
    claims=st.dictionaries(st.text(max_size=8), _json, max_size=5),
    signature=st.binary(max_size=80),
)
def test_arbitrary_header_and_claims_raise_only_token_error(header, claims, signature):
    token = unsigned(header, claims, signature)
    with pytest.raises(TokenError):
        make_verifier().verify(token)


# --- header --------------------------------------------------------------------------------


@pytest.mark.parametrize("typ", [None, "JWT", "jwt", "at+jwt ", "application/jwt", 1])
def test_typ_other_than_at_jwt_is_refused(typ):
    error = refused(make_verifier(), sign(make_claims(), typ=typ))
    assert error.description == "token type is not at+jwt"


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt", "Application/At+JWT"])
def test_typ_at_jwt_is_accepted_with_media_type_prefix_any_case(typ):
    assert make_verifier().verify(sign(make_claims(), typ=typ))["sub"] == "user-42"


@pytest.mark.parametrize("signature", [b"", b"x"])
def test_alg_none_is_refused(signature):
    kid = signing_key("ES256").thumbprint()
    token = unsigned({"alg": "none", "kid": kid, "typ": "at+jwt"}, make_claims(), signature)
    error = refused(make_verifier(), token)
    assert error.error == "invalid_token"


def test_hs256_token_keyed_with_the_public_key_bytes_is_refused():
    """Algorithm confusion (RFC 8725 §2.1): the public key used as an HMAC secret."""
    rsa = signing_key("RS256")
    for secret in (rsa.export_to_pem(), json.dumps(public_jwk(rsa, "RS256")).encode()):
        for alg in ("HS256", "RS256"):
            header = {"alg": alg, "kid": rsa.thumbprint(), "typ": "at+jwt"}
            signing_input = ".".join(
                b64url(json.dumps(part).encode()) for part in (header, make_claims())
            )
            mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
            error = refused(make_verifier(), f"{signing_input}.{b64url(mac)}")
            assert error.error == "invalid_token"


def test_hs256_token_with_symmetric_key_in_jwks_is_refused():
    secret = jwk.JWK.generate(kty="oct", size=256)
    issuer = FakeIssuer.with_keys("ES256")
    issuer.keys.append({**json.loads(secret.export()), "kid": "shared"})
    token = sign(make_claims(), "HS256", key=secret, kid="shared")
    assert refused(make_verifier(issuer), token).description == "token algorithm is not allowed"


@pytest.mark.parametrize("alg", ["none", "HS256", "HS384", "HS512", "PS256", "ES512", "RSA1_5"])
def test_algorithm_outside_the_supported_set_is_rejected_at_construction(alg):
    with pytest.raises(ValueError, match="refused"):
        TokenVerifier(ISSUER, RESOURCE, algorithms=["ES256", alg])


def test_empty_algorithm_list_is_rejected_at_construction():
    with pytest.raises(ValueError, match="non-empty"):
        TokenVerifier(ISSUER, RESOURCE, algorithms=[])


def test_algorithm_not_configured_is_refused():
    verifier = make_verifier(algorithms=["ES256"])
    assert verifier.verify(sign(make_claims(), "ES256"))
    error = refused(verifier, sign(make_claims(), "RS256"))
    assert error.description == "token algorithm is not allowed"


@pytest.mark.parametrize("kid", [None, "", 7])
def test_missing_kid_is_refused(kid):
    assert refused(make_verifier(), sign(make_claims(), kid=kid)).description == (
        "token has no key id"
    )


def test_crit_header_is_refused():
    error = refused(make_verifier(), sign(make_claims(), crit=["b64"], b64=True))
    assert error.description == "token uses an unsupported JWS extension"


def test_a_remembered_header_still_needs_a_valid_signature():
    verifier = make_verifier()
    verifier.verify(sign(make_claims()))
    kid = signing_key("ES256").thumbprint()
    forged = sign(make_claims(scope="admin"), key=generate("ES256"), kid=kid)
    assert forged.split(".")[0] == sign(make_claims()).split(".")[0]  # the same header
    assert refused(verifier, forged).description == "token signature invalid"


def test_algorithms_narrowed_after_construction_apply_to_remembered_headers():
    verifier = make_verifier()
    token = sign(make_claims())
    verifier.verify(token)
    verifier.algorithms = ("RS256",)
    assert refused(verifier, token).description == "token algorithm is not allowed"


def test_remembered_headers_stay_bounded():
    verifier = make_verifier()
    for n in range(MAX_ACCEPTED_HEADERS * 2):
        verifier.verify(sign(make_claims(), x=n))  # an unknown header member: another header
    assert len(verifier._accepted_headers) <= MAX_ACCEPTED_HEADERS


# --- key -----------------------------------------------------------------------------------


def test_rsa_key_presented_with_es256_header_is_refused():
    """The kid names our RSA key but the header says ES256: the key type must fit the alg."""
    token = sign(make_claims(), "ES256", kid=signing_key("RS256").thumbprint())
    error = refused(make_verifier(), token)
    assert error.description == "token key does not match its algorithm"


@pytest.mark.parametrize(
    ("alg", "other"), [("EdDSA", "ES256"), ("ES256", "EdDSA"), ("RS256", "ES256")]
)
def test_key_of_another_type_under_the_kid_is_refused(alg, other):
    token = sign(make_claims(), alg, kid=signing_key(other).thumbprint())
    assert refused(make_verifier(), token).description == "token key does not match its algorithm"


def test_jwk_whose_alg_member_differs_is_refused():
    issuer = FakeIssuer(keys=[{**public_jwk(signing_key("ES256")), "alg": "ES384"}])
    error = refused(make_verifier(issuer), sign(make_claims()))
    assert error.description == "token key does not match its algorithm"


def test_jwk_for_encryption_is_refused():
    issuer = FakeIssuer(keys=[{**public_jwk(signing_key("ES256")), "use": "enc"}])
    assert refused(make_verifier(issuer), sign(make_claims())).error == "invalid_token"


def test_rsa_key_under_2048_bits_is_refused():
    small = jwk.JWK.generate(kty="RSA", size=1024)
    issuer = FakeIssuer(keys=[public_jwk(small, "RS256")])
    error = refused(make_verifier(issuer), sign(make_claims(), "RS256", key=small))
    assert error.description == "token key does not match its algorithm"


def test_unknown_kid_is_refused():
    stranger = generate("ES256")
    error = refused(make_verifier(), sign(make_claims(), key=stranger))
    assert error.description == "token signed with an unknown key"


# --- signature -----------------------------------------------------------------------------


def test_tampered_claims_fail_the_signature():
    header, _, signature = sign(make_claims()).split(".")
    forged = b64url(json.dumps(make_claims(scope="admin")).encode())
    error = refused(make_verifier(), f"{header}.{forged}.{signature}")
    assert error.description == "token signature invalid"


def test_published_kid_signed_by_another_key_fails_the_signature():
    token = sign(make_claims(), key=generate("ES256"), kid=signing_key("ES256").thumbprint())
    assert refused(make_verifier(), token).description == "token signature invalid"


def _first_byte_kind(byte: int) -> str:
    return "zero" if byte == 0 else "high" if byte >= 0x80 else "low"


def test_es256_check_verifies_every_shape_of_r_and_s():
    """RFC 7518 §3.4 r || s becomes DER: a first byte of 0x80 or more needs a zero byte in
    front, a zero first byte is dropped. Sign until each shape of r and of s was seen."""
    key = signing_key("ES256")
    check = signature_check(jwk.JWK(**public_jwk(key, "ES256")), "ES256")
    private = key.get_op_key("sign")
    seen_r, seen_s, seen_pairs = set(), set(), set()
    for n in range(20_000):
        message = b"message %d" % n
        r, s = decode_dss_signature(private.sign(message, ec.ECDSA(hashes.SHA256())))
        raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        kinds = (_first_byte_kind(raw[0]), _first_byte_kind(raw[32]))
        if kinds in seen_pairs:
            continue
        seen_pairs.add(kinds)
        seen_r.add(kinds[0])
        seen_s.add(kinds[1])
        check(raw, message)
        with pytest.raises(InvalidSignature):
            check(raw, message + b".")
        if len(seen_r) == len(seen_s) == 3 and len(seen_pairs) >= 6:
            break
    assert seen_r == seen_s == {"zero", "low", "high"}


def test_es256_signature_of_another_length_is_refused():
    header, payload, _ = sign(make_claims()).split(".")
    short = b64url(b"\x01" * 63)
    assert refused(make_verifier(), f"{header}.{payload}.{short}").description == (
        "token signature invalid"
    )


def test_claims_with_whitespace_around_the_object_are_accepted():
    claims = make_claims()
    assert make_verifier().verify(sign(b" \n" + json.dumps(claims).encode() + b"\n")) == claims


def test_claims_with_a_duplicate_member_are_refused():
    body = json.dumps(make_claims())[:-1] + ', "aud": "https://other.example.com/mcp"}'
    error = refused(make_verifier(), sign(body.encode()))
    assert error.description == "token claims are not a JSON object"


def test_payload_that_is_not_a_json_object_is_refused():
    error = refused(make_verifier(), sign(b"[1, 2, 3]"))
    assert error.description == "token claims are not a JSON object"


# --- claims --------------------------------------------------------------------------------


def test_token_for_resource_a_fails_at_the_verifier_for_resource_b():
    token = sign(make_claims(aud="https://a.example.com/mcp"))
    verifier = TokenVerifier(
        ISSUER,
        "https://b.example.com/mcp",
        fetch=FakeIssuer.with_keys("ES256").fetch,
        clock=Clock(),
    )
    assert refused(verifier, token).description == "token audience is not this resource"


@pytest.mark.parametrize("aud", [[RESOURCE], ["https://other.example.com", RESOURCE]])
def test_aud_list_containing_our_resource_is_accepted(aud):
    assert make_verifier().verify(sign(make_claims(aud=aud)))["aud"] == aud


@pytest.mark.parametrize(
    "aud", [[], ["https://other.example.com"], RESOURCE + "/", RESOURCE.upper(), {"a": 1}, 1]
)
def test_aud_not_naming_our_resource_is_refused(aud):
    error = refused(make_verifier(), sign(make_claims(aud=aud)))
    assert error.description == "token audience is not this resource"


@pytest.mark.parametrize(
    "iss", [ISSUER + "/", "https://127.0.0.1:8000", "http://localhost:8000", ISSUER.upper(), 1]
)
def test_issuer_must_match_exactly(iss):
    assert refused(make_verifier(), sign(make_claims(iss=iss))).description == (
        "token issuer mismatch"
    )


def test_expired_beyond_leeway_is_refused():
    token = sign(make_claims(exp=int(NOW) - 10))  # now < exp + leeway is false at the edge
    assert refused(make_verifier(leeway=10), token).description == "token expired"


def test_expired_within_leeway_is_accepted():
    token = sign(make_claims(exp=int(NOW) - 9))
    assert make_verifier(leeway=10).verify(token)["exp"] == int(NOW) - 9


def test_zero_leeway_refuses_token_at_its_exp():
    token = sign(make_claims(exp=int(NOW)))
    assert refused(make_verifier(leeway=0), token).description == "token expired"


def test_nbf_in_the_future_beyond_leeway_is_refused():
    token = sign(make_claims(nbf=int(NOW) + 11))
    assert refused(make_verifier(leeway=10), token).description == "token not yet valid"


def test_nbf_within_leeway_is_accepted():
    assert make_verifier(leeway=10).verify(sign(make_claims(nbf=int(NOW) + 10)))


def test_iat_in_the_future_beyond_leeway_is_refused():
    token = sign(make_claims(iat=int(NOW) + 11))
    assert refused(make_verifier(leeway=10), token).description == "token issued in the future"


@pytest.mark.parametrize("name", ["exp", "iat", "sub", "client_id", "jti", "iss", "aud"])
def test_missing_required_claim_is_refused(name):
    error = refused(make_verifier(), sign(make_claims(**{name: None})))
    assert error.error == "invalid_token"


@pytest.mark.parametrize("name", ["exp", "iat", "nbf"])
@pytest.mark.parametrize("literal", ['"1800000300"', "true", "[1]", "null", "1e400", "NaN"])
def test_time_claim_that_is_not_a_finite_number_is_refused(name, literal):
    payload = json.dumps(make_claims(**{name: "@"})).replace('"@"', literal)
    error = refused(make_verifier(), sign(payload.encode()))
    assert error.error == "invalid_token"


def test_huge_integer_exp_does_not_overflow():
    claims = make_claims(exp=10**400)
    assert make_verifier(leeway=0.5).verify(sign(claims))["exp"] == 10**400


@pytest.mark.parametrize("name", ["sub", "client_id", "jti"])
@pytest.mark.parametrize("value", ["", 42, ["x"]])
def test_string_claim_that_is_empty_or_not_a_string_is_refused(name, value):
    assert refused(make_verifier(), sign(make_claims(**{name: value}))).description == (
        f"token has no {name} claim"
    )


def test_scope_that_is_not_a_string_is_refused():
    error = refused(make_verifier(), sign(make_claims(scope=["tools:read"])))
    assert error.description == "token scope is not a string"


# --- scopes --------------------------------------------------------------------------------


def test_insufficient_scope_is_403_with_the_required_scopes():
    token = sign(make_claims(scope="tools:read"))
    error = refused(make_verifier(), token, required_scopes=["tools:read", "tools:admin"])
    assert (error.error, error.status) == ("insufficient_scope", 403)
    assert error.scope == "tools:read tools:admin"
    assert "tools:admin" in error.description


def test_token_without_scope_claim_lacks_every_scope():
    error = refused(make_verifier(), sign(make_claims(scope=None)), required_scopes=["a"])
    assert (error.status, error.scope) == (403, "a")


def test_required_scopes_given_as_a_string_is_a_type_error():
    with pytest.raises(TypeError):
        make_verifier().verify(sign(make_claims()), required_scopes="tools:read")


# --- revocation hook -----------------------------------------------------------------------


def test_revocation_check_receives_verified_claims_and_true_rejects():
    seen = []

    def revoked(claims: dict) -> bool:
        seen.append(claims)
        return claims["jti"] == "jti-revoked"

    verifier = make_verifier(revocation_check=revoked)
    assert verifier.verify(sign(make_claims(jti="jti-ok")))
    error = refused(verifier, sign(make_claims(jti="jti-revoked")))
    assert (error.error, error.status, error.description) == ("invalid_token", 401, "token revoked")
    assert [c["jti"] for c in seen] == ["jti-ok", "jti-revoked"]


def test_revocation_check_not_called_for_an_invalid_token():
    calls = []
    verifier = make_verifier(revocation_check=lambda claims: calls.append(claims) or False)
    refused(verifier, sign(make_claims(aud="https://other.example.com")))
    assert calls == []


def test_revoked_token_is_invalid_token_even_when_scope_is_insufficient():
    verifier = make_verifier(revocation_check=lambda claims: True)
    error = refused(verifier, sign(make_claims(scope="")), required_scopes=["tools:read"])
    assert error.description == "token revoked"


def test_revocation_check_that_raises_fails_closed():
    def broken(claims: dict) -> bool:
        raise ConnectionError("revocation list down")

    error = refused(make_verifier(revocation_check=broken), sign(make_claims()))
    assert (error.error, error.description) == ("invalid_token", "revocation status unavailable")


# --- errors never leak the token ----------------------------------------------------------


def test_error_never_contains_the_token():
    verifier = make_verifier()
    tokens = [
        sign(make_claims(exp=1)),
        sign(make_claims(aud="x")),
        sign(make_claims(), key=generate("ES256")),
        sign(make_claims(), typ="JWT"),
        sign(make_claims())[:-4] + "AAAA",
    ]
    for token in tokens:
        error = refused(verifier, token)
        for text in (error.description, str(error), repr(error)):
            assert token not in text
            assert token.split(".")[2] not in text


# --- construction --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "issuer", ["", "auth.example.com", "ftp://auth.example.com", "https://a.example#x", None]
)
def test_issuer_that_is_not_an_http_url_is_rejected_at_construction(issuer):
    with pytest.raises(ValueError, match="issuer"):
        TokenVerifier(issuer, RESOURCE)


def test_negative_leeway_is_rejected_at_construction():
    with pytest.raises(ValueError, match="leeway"):
        TokenVerifier(ISSUER, RESOURCE, leeway=-1)


def test_package_imports_neither_django_nor_the_project():
    code = (
        "import sys, mcp_token_verifier; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'django', 'authserver', 'accounts', 'clients', 'httpx', 'requests'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
