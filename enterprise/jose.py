"""Strict verification of the JWTs others sign for us (client assertions, ID-JAGs,
workload tokens), through the one JWS path (``mcp_token_verifier.jws``).

RFC 7523 §3 lists the claim rules; RFC 8725 (JWT BCP) the rest, in ``jws``: the algorithm
comes from our allow-list, never from the token alone (§2.1, §3.1); a key verifies only the
algorithm it fits, RSA at least 2048 bits (RFC 7518 §3.3, ``key_fits``); ``typ`` is checked
where a profile defines one (§3.11); time claims against the caller's ``now``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from jwcrypto import jwk
from jwcrypto.common import JWException

from mcp_token_verifier import jws

# The one list (jws.SIGNATURE_ALGORITHMS); symmetric (HS*) and "none" are never accepted.
ALLOWED_ALGS = jws.SIGNATURE_ALGORITHMS
MAX_JWT_LENGTH = jws.MAX_JWS_CHARS
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
    """The payload without checking the signature: only to find out whose keys to use.

    ``iss`` and ``sub`` are looked up (the trusted issuer, the client, a workload rule)
    before any signature is checked: RFC 7519 §4.1.1-2 make them StringOrURI, and one with a
    control character (a NUL, which PostgreSQL refuses with an error) names no one."""
    try:
        claims = jws.unverified_claims(token, MAX_JWT_LENGTH)
    except jws.JWSError as exc:
        raise RefusedAssertion(_describe(exc)) from None
    for name in ("iss", "sub"):
        value = claims.get(name)
        if isinstance(value, str) and not value.isprintable():
            raise RefusedAssertion(f"{name} is not a printable string")
    return claims


def header_kid(token: str) -> str | None:
    """The ``kid`` of a compact JWS header (unverified; to pick the key set to refresh)."""
    try:
        kid = jws.parse_header(jws.split_compact(token, MAX_JWT_LENGTH)[0]).get("kid")
    except jws.JWSError:
        return None
    return kid if isinstance(kid, str) else None


def verify_signature(token: str, keyset: jwk.JWKSet, *, typ: str | None = None) -> Verified:
    """The header and claims of ``token`` if a key from ``keyset`` fitting its allowed
    ``alg`` (and ``kid``, when given) verifies it. ``typ`` None: a profile without one
    (RFC 7523 client assertions and workload tokens define none)."""

    def fitting_keys(alg: str, kid: str | None, _header: dict) -> jws.SignatureCheck:
        candidates = [k for k in _keys(keyset) if kid is None or k.get("kid") == kid]
        fitting = [k for k in candidates if jws.key_fits(k, alg)]
        if not fitting:
            raise RefusedAssertion(
                "no acceptable key for this assertion (kid unknown, or key type/size unfit for alg)"
            )
        # Without a kid, a client with several keys is tried key by key (RFC 7523 §3).
        return jws.first_that_verifies(jws.signature_check(k, alg) for k in fitting)

    try:
        verified = jws.verify(
            token, typ=typ, algorithms=ALLOWED_ALGS, resolve=fitting_keys, max_chars=MAX_JWT_LENGTH
        )
    except jws.JWSError as exc:
        raise RefusedAssertion(_describe(exc, typ=typ)) from None
    return Verified(verified.header, verified.claims)


def _describe(exc: jws.JWSError, *, typ: str | None = None) -> str:
    """The description sent back for a refusal of the JWS itself."""
    if exc.reason == "alg":
        return f"alg must be one of {', '.join(ALLOWED_ALGS)}"
    if exc.reason == "typ":
        return f"typ must be {typ}"
    if exc.reason == "signature":
        return "the assertion's signature does not verify"
    if exc.reason in ("malformed", "header", "claims"):
        return "the assertion is not a well-formed JWT"
    return f"the assertion {exc}"


def _keys(keyset: jwk.JWKSet) -> Iterable[jwk.JWK]:
    return list(keyset["keys"])


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
    try:
        # §3 items 4-6: exp required, with no leeway and not unreasonably far ahead; nbf
        # and iat, when present, may be LEEWAY ahead of our clock (the signer's runs fast).
        jws.check_times(claims, now=now, leeway=LEEWAY, exp_leeway=0, max_lifetime=max_lifetime)
    except jws.JWSError as exc:
        raise RefusedAssertion(f"the assertion {exc}") from None
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
        if not isinstance(member, dict) or jws.PRIVATE_JWK_MEMBERS & member.keys():
            continue  # private or symmetric material is never a verification key
        try:
            keyset.add(jwk.JWK(**member))
        except (JWException, ValueError, TypeError):
            continue
    return keyset
