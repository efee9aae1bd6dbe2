"""enterprise/jose.py without a database: malformed input only ever raises RefusedAssertion."""

from __future__ import annotations

import base64
import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jwcrypto import jwk

from enterprise.jose import RefusedAssertion, check_claims, unverified_claims, verify_signature
from tests.enterprise.support import new_key, public_jwks, sign

KEY = new_key()
KEYSET = jwk.JWKSet.from_json(json.dumps(public_jwks(KEY)))


def segment(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


compact = st.lists(st.binary(max_size=60).map(segment), min_size=3, max_size=3).map(".".join)


@given(st.one_of(st.text(max_size=300), compact))
def test_unverified_claims_raises_only_refused_assertion(value):
    with contextlib.suppress(RefusedAssertion):
        assert isinstance(unverified_claims(value), dict)


@given(st.one_of(st.text(max_size=300), compact))
def test_verify_signature_raises_only_refused_assertion(value):
    # Random input never carries a valid signature by KEY: refused, and nothing else.
    with refused_with():
        verify_signature(value, KEYSET)


@given(
    st.dictionaries(
        st.sampled_from(["iss", "sub", "aud", "exp", "jti", "nbf", "iat"]),
        st.one_of(st.none(), st.integers(), st.text(max_size=5), st.booleans()),
    )
)
def test_check_claims_raises_only_refused_assertion(claims):
    with contextlib.suppress(RefusedAssertion):
        check_claims(claims, issuer="i", audiences={"a"}, now=1000.0)


def test_a_valid_signature_verifies_and_typ_is_enforced():
    token = sign({"iss": "i"}, KEY, typ="oauth-id-jag+jwt")
    assert verify_signature(token, KEYSET, typ="oauth-id-jag+jwt").claims == {"iss": "i"}
    with refused_with("typ must be"):
        verify_signature(sign({"iss": "i"}, KEY, typ="JWT"), KEYSET, typ="oauth-id-jag+jwt")


def test_alg_none_is_refused():
    header = segment(b'{"alg":"none"}')
    with refused_with("alg must be one of"):
        verify_signature(f"{header}.{segment(b'{}')}.", KEYSET)


def test_boolean_exp_is_not_a_numeric_date():
    claims = {"iss": "i", "sub": "s", "aud": "a", "exp": True, "jti": "j"}
    with refused_with("NumericDate"):
        check_claims(claims, issuer="i", audiences={"a"}, now=0.0)


def refused_with(match: str | None = None):
    return pytest.raises(RefusedAssertion, match=match)
