"""mcp_token_verifier/jws.py: the one JWS path and its rules, without a server."""

from __future__ import annotations

import functools
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jwcrypto import jwk

from mcp_token_verifier import jws
from tests.verifier.support import b64url, public_jwk, sign, signing_key, unsigned

NOW = 1_800_000_000


@functools.cache
def weak_rsa() -> jwk.JWK:
    return jwk.JWK.generate(kty="RSA", size=1024)


def key_check(key: jwk.JWK):
    """A resolve that verifies with ``key``'s public half, if it fits the token's alg."""

    def resolve(alg: str, _kid: str | None, _header: dict) -> jws.SignatureCheck:
        return jws.signature_check(jwk.JWK(**public_jwk(key)), alg)

    return resolve


def verify(token: object, *, typ: str | None = "at+jwt", key: jwk.JWK | None = None, **kw):
    key = key or signing_key("ES256")
    return jws.verify(
        token, typ=typ, algorithms=jws.SIGNATURE_ALGORITHMS, resolve=key_check(key), **kw
    )


def refusal(token: object, **kw) -> jws.JWSError:
    with pytest.raises(jws.JWSError) as info:
        verify(token, **kw)
    return info.value


# --- algorithms and keys -------------------------------------------------------------------


def test_signature_algorithms_are_asymmetric_only():
    assert jws.SIGNATURE_ALGORITHMS == ("ES256", "EdDSA", "RS256")


@pytest.mark.parametrize("alg", ["none", "HS256", "PS256", "ES512", "RSA1_5", ""])
def test_algorithm_outside_the_allow_list_is_refused(alg):
    token = unsigned({"alg": alg, "kid": "k", "typ": "at+jwt"}, {"sub": "x"}, b"sig")
    assert refusal(token).reason == "alg"


@pytest.mark.parametrize("signature", [b"", b"x"])
def test_unsecured_jws_with_alg_none_is_refused_for_its_algorithm(signature):
    token = unsigned({"alg": "none", "typ": "at+jwt"}, {"sub": "x"}, signature)
    assert refusal(token).reason == "alg"


def test_algorithm_subset_of_a_caller_is_enforced():
    token = sign({"sub": "x"}, "EdDSA")
    with pytest.raises(jws.JWSError) as info:
        jws.verify(
            token, typ="at+jwt", algorithms=("ES256",), resolve=key_check(signing_key("EdDSA"))
        )
    assert info.value.reason == "alg"


def test_rsa_key_under_2048_bits_fits_no_algorithm():
    assert not jws.key_fits(jwk.JWK(**public_jwk(weak_rsa())), "RS256")
    assert jws.key_fits(jwk.JWK(**public_jwk(signing_key("RS256"))), "RS256")


def test_token_signed_with_a_1024_bit_rsa_key_is_refused():
    token = sign({"sub": "x"}, "RS256", key=weak_rsa())
    assert refusal(token, key=weak_rsa()).reason == "signature"


@pytest.mark.parametrize(
    ("alg", "kty"), [("ES256", "RS256"), ("RS256", "ES256"), ("EdDSA", "ES256"), ("ES256", "EdDSA")]
)
def test_key_of_another_type_than_the_algorithm_never_verifies(alg, kty):
    assert not jws.key_fits(jwk.JWK(**public_jwk(signing_key(kty))), alg)


def test_private_jwk_members_cover_every_private_or_symmetric_member():
    assert {"d", "p", "q", "dp", "dq", "qi", "oth", "k"} == jws.PRIVATE_JWK_MEMBERS


def test_public_key_from_a_jwk_with_a_private_member_is_refused():
    private = json.loads(signing_key("ES256").export_private())
    with pytest.raises(jws.JWSError):
        jws.public_key_from_jwk(private)


def test_first_that_verifies_tries_each_key():
    other, right = signing_key("EdDSA"), signing_key("ES256")
    token = sign({"sub": "x"})
    checks = [jws.signature_check(jwk.JWK(**public_jwk(k)), "ES256") for k in (other, right)]
    resolve = lambda *_: jws.first_that_verifies(checks)  # noqa: E731
    assert jws.verify(token, typ="at+jwt", algorithms=("ES256",), resolve=resolve).claims
    only_other = lambda *_: jws.first_that_verifies(checks[:1])  # noqa: E731
    with pytest.raises(jws.JWSError):
        jws.verify(token, typ="at+jwt", algorithms=("ES256",), resolve=only_other)


# --- the header ----------------------------------------------------------------------------


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt"])
def test_typ_matches_its_media_type_in_any_case_with_or_without_application(typ):
    assert verify(sign({"sub": "x"}, typ=typ)).claims == {"sub": "x"}


@pytest.mark.parametrize("typ", [None, "JWT", "jwt", "at+jwt ", "dpop+jwt", "x/at+jwt", 1])
def test_typ_other_than_the_profiles_is_refused(typ):
    token = sign({"sub": "x"}, typ=typ) if isinstance(typ, str | None) else None
    if token is None:
        token = unsigned({"alg": "ES256", "typ": typ}, {"sub": "x"}, b"x")
    assert refusal(token).reason == "typ"


def test_typ_is_unchecked_only_when_the_caller_says_none():
    assert verify(sign({"sub": "x"}, typ="JWT"), typ=None).claims == {"sub": "x"}


@pytest.mark.parametrize("member", [{"crit": ["exp"]}, {"b64": False}])
def test_crit_and_b64_headers_are_refused(member):
    token = unsigned({"alg": "ES256", "typ": "at+jwt", **member}, {"sub": "x"}, b"x")
    assert refusal(token).reason == "crit"


def test_required_kid_must_be_a_non_empty_string():
    assert refusal(sign({"sub": "x"}, kid=None), kid_required=True).reason == "kid"
    assert refusal(sign({"sub": "x"}, kid=""), kid_required=True).reason == "kid"


def test_header_with_a_duplicate_member_is_refused():
    header = b64url(b'{"alg": "none", "alg": "ES256", "typ": "at+jwt"}')
    assert refusal(f"{header}.e30.c2ln").reason == "header"


def test_accepted_header_cache_stays_bounded():
    cache: dict = {}
    for n in range(jws.MAX_ACCEPTED_HEADERS + 5):
        verify(sign({"sub": "x"}, kid=f"kid-{n}"), accepted_headers=cache)
        assert len(cache) <= jws.MAX_ACCEPTED_HEADERS


def test_payload_is_not_parsed_before_the_signature_verifies():
    header, _, _ = sign({"sub": "x"}).split(".")
    token = f"{header}.{b64url(b'not json')}.{b64url(b'x' * 64)}"
    assert refusal(token).reason == "signature"


@given(st.text(max_size=300))
def test_arbitrary_text_raises_only_jws_error(text):
    with pytest.raises(jws.JWSError):
        verify(text)


# --- time claims ---------------------------------------------------------------------------


def test_exp_has_zero_leeway_unless_the_caller_passes_one():
    with pytest.raises(jws.JWSError):
        jws.check_times({"exp": NOW}, now=NOW)
    jws.check_times({"exp": NOW}, now=NOW, leeway=1)


def test_time_claims_are_checked_against_the_injected_now():
    jws.check_times({"exp": NOW + 1, "iat": NOW, "nbf": NOW}, now=NOW)
    for now in (NOW + 1, NOW - 1):
        with pytest.raises(jws.JWSError):
            jws.check_times({"exp": NOW + 1, "iat": NOW, "nbf": NOW}, now=now)


def test_nbf_and_iat_ahead_of_now_are_refused_beyond_the_leeway():
    for name in ("nbf", "iat"):
        with pytest.raises(jws.JWSError) as info:
            jws.check_times({name: NOW + 11}, now=NOW, leeway=10, required=())
        assert info.value.reason == name
        jws.check_times({name: NOW + 10}, now=NOW, leeway=10, required=())


def test_exp_leeway_may_differ_from_the_leeway_on_nbf_and_iat():
    with pytest.raises(jws.JWSError):
        jws.check_times({"exp": NOW, "iat": NOW + 30}, now=NOW, leeway=30, exp_leeway=0)
    jws.check_times({"exp": NOW + 1, "iat": NOW + 30}, now=NOW, leeway=30, exp_leeway=0)


@pytest.mark.parametrize("name", ["exp", "iat", "nbf"])
def test_required_time_claim_must_be_present(name):
    with pytest.raises(jws.JWSError) as info:
        jws.check_times({}, now=NOW, required=(name,))
    assert (info.value.reason, str(info.value)) == (name, f"has no {name} claim")


@pytest.mark.parametrize("value", [True, "1900000000", float("inf"), float("nan"), [1], None])
def test_time_claim_must_be_a_numeric_date(value):
    with pytest.raises(jws.JWSError):
        jws.check_times({"exp": value}, now=NOW)


def test_max_age_bounds_how_old_iat_may_be():
    jws.check_times({"iat": NOW - 60}, now=NOW, required=("iat",), max_age=60)
    with pytest.raises(jws.JWSError) as info:
        jws.check_times({"iat": NOW - 61}, now=NOW, required=("iat",), max_age=60)
    assert str(info.value) == "is too old"


def test_max_lifetime_bounds_how_far_ahead_exp_may_be():
    jws.check_times({"exp": NOW + 300}, now=NOW, max_lifetime=300)
    with pytest.raises(jws.JWSError, match="too far in the future"):
        jws.check_times({"exp": NOW + 301}, now=NOW, max_lifetime=300)
