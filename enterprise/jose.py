"""Strict verification of the JWTs others sign for us (client assertions, ID-JAGs,
workload tokens): explicit algorithms, fitting keys only, required claims, injected clock.

RFC 7523 §3 lists the claim rules; RFC 8725 (JWT BCP) the rest: the algorithm comes from
our allow-list, never from the token alone (§2.1, §3.1); a key verifies only the algorithm
it fits, RSA at least 2048 bits (RFC 7518 §3.3, ``key_fits``); ``typ`` is checked where a
profile defines one (§3.11).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from jwcrypto import jwk, jws
from jwcrypto.common import JWException

from mcp_token_verifier.jwks import key_fits, loads_json_object

# RFC 7518 §3.1 names; symmetric (HS*) and "none" are never accepted.
ALLOWED_ALGS = ("RS256", "ES256", "EdDSA")
MAX_JWT_LENGTH = 16 * 1024
# Clock skew tolerated on iat/nbf (a signer's clock slightly ahead); exp has none.
LEEWAY = 30
# How far in the future an assertion may expire (RFC 7523 §3: "the authorization server
# may reject JWTs with an exp claim value that is unreasonably far in the future"). The MCP
# SDK's SignedJWTParameters default is 300 seconds.
MAX_LIFETIME = 300


class RefusedAssertion(Exception):
    """A JWT we refuse; ``description`` is safe to send back."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


@dataclass(frozen=True)
class Verified:
    header: dict
    claims: dict


def unverified_claims(token: str) -> dict:
    """The payload without checking the signature: only to find out whose keys to use."""
    if not isinstance(token, str) or len(token) > MAX_JWT_LENGTH or token.count(".") != 2:
        raise RefusedAssertion("the assertion is not a compact JWS")
    try:
        obj = jws.JWS()
        obj.deserialize(token)
        return loads_json_object(obj.objects["payload"])
    except (JWException, ValueError, KeyError, UnicodeDecodeError):
        raise RefusedAssertion("the assertion is not a well-formed JWT") from None


def header_kid(token: str) -> str | None:
    """The ``kid`` of a compact JWS header (unverified; to pick the key set to refresh)."""
    try:
        obj = jws.JWS()
        obj.deserialize(token)
        kid = loads_json_object(obj.objects["protected"]).get("kid")
    except (JWException, ValueError, KeyError, UnicodeDecodeError):
        return None
    return kid if isinstance(kid, str) else None


def verify_signature(token: str, keyset: jwk.JWKSet, *, typ: str | None = None) -> Verified:
    """The header and claims of ``token`` if a key from ``keyset`` fitting its allowed
    ``alg`` (and ``kid``, when given) verifies it."""
    if len(token) > MAX_JWT_LENGTH or token.count(".") != 2:
        raise RefusedAssertion("the assertion is not a compact JWS")
    obj = jws.JWS()
    try:
        obj.deserialize(token)
        header = loads_json_object(obj.objects["protected"])
    except (JWException, ValueError, KeyError, UnicodeDecodeError):
        raise RefusedAssertion("the assertion is not a well-formed JWT") from None
    alg = header.get("alg")
    if alg not in ALLOWED_ALGS:
        raise RefusedAssertion(f"alg must be one of {', '.join(ALLOWED_ALGS)}")
    if typ is not None and str(header.get("typ", "")).lower() != typ:
        raise RefusedAssertion(f"typ must be {typ}")
    if "crit" in header:
        raise RefusedAssertion("critical header parameters are not supported")  # RFC 7515 §4.1.11
    kid = header.get("kid")
    candidates = [k for k in _keys(keyset) if kid is None or k.get("kid") == kid]
    fitting = [k for k in candidates if key_fits(k, alg)]
    if not fitting:
        raise RefusedAssertion(
            "no acceptable key for this assertion (kid unknown, or key type/size unfit for alg)"
        )
    for key in fitting:
        try:
            obj.verify(key, alg=alg)
        except JWException:
            continue
        try:
            return Verified(header, loads_json_object(obj.payload))
        except (ValueError, UnicodeDecodeError):
            raise RefusedAssertion("the assertion's claims are not a JSON object") from None
    raise RefusedAssertion("the assertion's signature does not verify")


def _keys(keyset: jwk.JWKSet) -> Iterable[jwk.JWK]:
    return list(keyset["keys"])


def _numeric(claims: dict, name: str) -> int | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RefusedAssertion(f"{name} must be a NumericDate")
    return int(value)


def check_claims(
    claims: dict,
    *,
    issuer: str,
    audiences: Iterable[str],
    now: float,
    subject: str | None = None,
    max_lifetime: int = MAX_LIFETIME,
    require_jti: bool = True,
) -> None:
    """RFC 7523 §3: iss, sub, aud, exp (required, near future), nbf and iat, jti present."""
    if claims.get("iss") != issuer:  # §3 item 1
        raise RefusedAssertion("iss is not the expected issuer")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:  # §3 item 2
        raise RefusedAssertion("sub is required")
    if subject is not None and sub != subject:
        raise RefusedAssertion("sub is not the expected subject")
    aud = claims.get("aud")
    auds = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    accepted = set(audiences)
    # §3 item 3: "The JWT MUST contain an aud claim containing a value that identifies the
    # authorization server as an intended audience."
    if not any(isinstance(a, str) and a in accepted for a in auds):
        raise RefusedAssertion("aud does not name this authorization server")
    exp = _numeric(claims, "exp")
    if exp is None:  # §3 item 4
        raise RefusedAssertion("exp is required")
    if exp <= now:
        raise RefusedAssertion("the assertion has expired")
    if exp > now + max_lifetime + LEEWAY:
        raise RefusedAssertion(f"exp is too far in the future (at most {max_lifetime} s)")
    nbf = _numeric(claims, "nbf")
    if nbf is not None and nbf > now + LEEWAY:  # §3 item 5
        raise RefusedAssertion("the assertion is not yet valid")
    iat = _numeric(claims, "iat")
    if iat is not None and iat > now + LEEWAY:  # §3 item 6
        raise RefusedAssertion("iat is in the future")
    jti = claims.get("jti")
    if jti is None and not require_jti:
        return
    if not isinstance(jti, str) or not jti or len(jti) > 255:  # §3 item 7, single use
        raise RefusedAssertion("jti is required (at most 255 characters)")


def keyset_from_json(document: object) -> jwk.JWKSet:
    """A JWK Set from a parsed document; keys that cannot be imported are skipped."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise RefusedAssertion("the JWK Set has no keys array")
    keyset = jwk.JWKSet()
    for member in document["keys"][:50]:
        if not isinstance(member, dict) or "d" in member or "k" in member:
            continue  # private or symmetric material is never a verification key
        try:
            keyset.add(jwk.JWK(**member))
        except (JWException, ValueError, TypeError):
            continue
    return keyset
