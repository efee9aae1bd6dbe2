"""The one JWS verification path every signed token goes through, here and in the server.

One set of rules (RFC 7515, RFC 8725 JWT BCP), whoever calls:

- the algorithm comes from ``SIGNATURE_ALGORITHMS`` (or a caller's subset), never from the
  token alone; ``none`` and HMAC never pass (RFC 8725 §3.1-3.2);
- a key verifies only the algorithm it fits; RSA keys have at least ``MIN_RSA_BITS``
  (RFC 7518 §3.3), whether they come from a JWKS, a database or a DPoP proof's header;
- ``typ`` is compared exactly with the profile's media type (RFC 8725 §3.11; RFC 7515 §4.1.9:
  case-insensitive, ``application/`` optional); every caller states the ``typ`` it expects;
- ``crit`` and ``b64`` are refused: we understand no JWS extension (RFC 7515 §4.1.11);
- header and claims are strict JSON objects (UTF-8, no duplicate members, no NaN);
- time claims are NumericDates checked against the caller's ``now``, with zero leeway unless
  the caller passes one (``check_times``).

Errors are ``JWSError`` (a ValueError) whose message reads after the token's name
("token " + message) and never contains the token; callers turn it into their own error.
"""

from __future__ import annotations

import math
from binascii import a2b_base64
from collections.abc import Callable, Collection, Iterable, MutableMapping
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from jwcrypto import jwk
from jwcrypto.common import base64url_decode

from mcp_token_verifier.strictjson import loads_json_object

# RFC 7518 §3.1 and RFC 8037 §3.1 names: the only algorithms anything here signs or accepts
# (access tokens, revocation lists, DPoP proofs, client assertions, ID-JAGs, metadata).
SIGNATURE_ALGORITHMS = ("ES256", "EdDSA", "RS256")
MIN_RSA_BITS = 2048
# RFC 7518 §6.2.2, §6.3.2, §6.4.1: members that only a private or symmetric key carries.
PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
MAX_JWS_CHARS = 16 * 1024
# Bound of a caller's ``accepted_headers`` (verify): cleared when an insert would pass it.
MAX_ACCEPTED_HEADERS = 64
# (signature, signing input) -> None, or raises: one per key and algorithm.
SignatureCheck = Callable[[bytes, bytes], None]
# (alg, kid, header) -> the check for the key that may verify this token; None (or raising)
# when there is none.
Resolve = Callable[[str, "str | None", dict], "SignatureCheck | None"]


class JWSError(ValueError):
    """A JWS refused. ``reason`` names what failed: the header member or claim, or one of
    ``malformed``, ``header``, ``key``, ``signature``, ``claims``."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class Verified(NamedTuple):
    header: dict
    claims: dict
    alg: str
    kid: str | None


_new_tuple = tuple.__new__


# --- base64url ----------------------------------------------------------------------------


_PADDING = (b"", b"", b"==", b"=")  # by length % 4; 1 is impossible, and a2b_base64 says so
# base64url (RFC 4648 §5) to base64 (§4); "+", "/" and "=" are not base64url, so they become
# "*", which the strict decode refuses like any other byte outside the alphabet.
_FROM_URLSAFE = bytes.maketrans(b"-_+/=", b"+/***")


def b64url_decode(part: bytes) -> bytes:
    """RFC 7515 §2: unpadded base64url, non-empty, nothing outside the alphabet.

    Raises ValueError (binascii.Error). What base64.urlsafe_b64decode does, strictly, and
    without its three layers of Python.
    """
    if not part:
        raise ValueError("empty base64url")
    return a2b_base64(part.translate(_FROM_URLSAFE) + _PADDING[len(part) % 4], strict_mode=True)


# --- compact serialization and the JOSE header --------------------------------------------


def split_compact(
    token: object, max_chars: int = MAX_JWS_CHARS
) -> tuple[bytes, bytes, bytes, bytes]:
    """RFC 7515 §7.1: three base64url parts, header and payload non-empty. Returns (header,
    payload, signing input, signature), still encoded. An empty signature (an unsecured JWS,
    RFC 7515 §A.5) is left for ``verify`` to refuse once the header says why (``alg: none``).
    """
    if not isinstance(token, str) or len(token) > max_chars or not token.isascii():
        raise JWSError("is not a compact JWS", reason="malformed")
    signing_input, _, signature_b64 = token.encode("ascii").rpartition(b".")
    header_b64, _, payload_b64 = signing_input.partition(b".")
    if not (header_b64 and payload_b64):  # a third "." fails the payload's decode
        raise JWSError("is not a compact JWS", reason="malformed")
    return header_b64, payload_b64, signing_input, signature_b64


def parse_header(header_b64: bytes) -> dict:
    """RFC 7515 §7.1: the first part is a base64url JSON object."""
    try:
        return loads_json_object(b64url_decode(header_b64))
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        raise JWSError("header is not a JSON object", reason="header") from None


def unverified_claims(token: object, max_chars: int = MAX_JWS_CHARS) -> dict:
    """The payload, NOT verified: only to pick whose keys verify it (an ``iss``)."""
    payload_b64 = split_compact(token, max_chars)[1]
    try:
        return loads_json_object(b64url_decode(payload_b64))
    except ValueError:
        raise JWSError("claims are not a JSON object", reason="claims") from None


def type_matches(typ: object, expected: str) -> bool:
    """RFC 7515 §4.1.9: media types compare case-insensitively; "application/" may be left out."""
    if not isinstance(typ, str):
        return False
    typ = typ.lower()
    expected = expected.lower()
    return typ == expected or typ == "application/" + expected


def check_header(
    header: dict, *, typ: str | None, algorithms: Collection[str], kid_required: bool
) -> tuple[str, str | None]:
    """The header's ``alg`` and ``kid`` if we accept it. ``typ=None`` only for profiles that
    define no type (RFC 7523 client assertions); a ``kid`` is optional unless required."""
    # RFC 8725 §3.11: explicit typing, so one kind of JWT cannot pass for another.
    if typ is not None and not type_matches(header.get("typ"), typ):
        raise JWSError(f"type is not {typ}", reason="typ")
    # RFC 8725 §3.1: only the algorithms we allow, never "none" or an HMAC.
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algorithms:
        raise JWSError("algorithm is not allowed", reason="alg")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise JWSError("has no key id", reason="kid")
    if kid_required and not kid:
        raise JWSError("has no key id", reason="kid")
    # RFC 7515 §4.1.11: we understand no extension, so any "crit" header must fail;
    # "b64" (RFC 7797) changes what is signed, and nothing we accept sets it.
    if "crit" in header or "b64" in header:
        raise JWSError("uses an unsupported JWS extension", reason="crit")
    return alg, kid


# --- keys --------------------------------------------------------------------------------


def key_fits(key: jwk.JWK, alg: str) -> bool:
    """Whether ``key`` may verify ``alg`` (RFC 7518 §3, RFC 8037 §3.1)."""
    if key.get("alg") not in (None, alg):
        return False
    if key.get("use") not in (None, "sig"):
        return False
    ops = key.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        return False
    kty = key.get("kty")
    if alg == "ES256":
        return kty == "EC" and key.get("crv") == "P-256"
    if alg == "EdDSA":
        return kty == "OKP" and key.get("crv") == "Ed25519"
    if alg == "RS256":
        # RFC 7518 §3.3: a key of size 2048 bits or larger MUST be used.
        try:
            bits = int.from_bytes(base64url_decode(key.get("n", "")), "big").bit_length()
        except (ValueError, TypeError):
            return False
        return kty == "RSA" and bits >= MIN_RSA_BITS
    return False


def public_key_from_jwk(member: object) -> jwk.JWK:
    """A public JWK from a JSON object (a DPoP proof's ``jwk`` header); never a private one."""
    if not isinstance(member, dict) or PRIVATE_JWK_MEMBERS & member.keys():
        raise JWSError("key refused", reason="key")
    try:
        return jwk.JWK(**member)
    except Exception:  # jwcrypto raises many types for a malformed key
        raise JWSError("key refused", reason="key") from None


_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_SHA256 = hashes.SHA256()
_PKCS1V15 = padding.PKCS1v15()


def signature_check(key: jwk.JWK, alg: str) -> SignatureCheck:
    """RFC 7515 §5.2 for a key that fits ``alg``: raises unless the signature verifies.

    The ``cryptography`` key object is made here, once, so a token costs one verify call.
    A key that does not fit ``alg`` (``key_fits``) gets a check that refuses everything.
    """
    if not key_fits(key, alg):
        return _refuse
    try:
        public = key.get_op_key("verify")
    except Exception:  # jwcrypto raises many types: a key we cannot use verifies nothing
        return _refuse

    if alg == "ES256":

        def check(signature: bytes, signing_input: bytes) -> None:
            # RFC 7518 §3.4: r || s, 32 bytes each; cryptography takes the DER ECDSA-Sig-Value.
            if len(signature) != 64:
                raise InvalidSignature
            r0, s0 = signature[0], signature[32]
            if r0 and s0:
                head, middle = _DER_HEADERS[r0 > 0x7F][s0 > 0x7F]
                der = head + signature[:32] + middle + signature[32:]
            else:  # a leading zero byte, 1 in 128: the general encoder strips it
                der = encode_dss_signature(
                    int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
                )
            public.verify(der, signing_input, _ECDSA_SHA256)

    elif alg == "RS256":

        def check(signature: bytes, signing_input: bytes) -> None:
            public.verify(signature, signing_input, _PKCS1V15, _SHA256)

    else:  # EdDSA: key_fits admitted Ed25519 only

        def check(signature: bytes, signing_input: bytes) -> None:
            public.verify(signature, signing_input)

    return check


def first_that_verifies(checks: Iterable[SignatureCheck]) -> SignatureCheck:
    """One check trying each in turn: for a signer whose token names no ``kid``."""
    checks = tuple(checks)

    def check(signature: bytes, signing_input: bytes) -> None:
        for candidate in checks:
            try:
                candidate(signature, signing_input)
            except Exception:  # noqa: S112 -- InvalidSignature or an unusable key: next one
                continue
            return
        raise InvalidSignature

    return check


def _refuse(signature: bytes, signing_input: bytes) -> None:
    raise InvalidSignature


def _der_headers(r_high: bool, s_high: bool) -> tuple[bytes, bytes]:
    """DER (X.690 §8.3) around r and s, 32 bytes each, neither starting with a zero byte:
    SEQUENCE and INTEGER headers before r, INTEGER header before s. A first byte of 0x80 or
    more takes a zero byte in front, or the INTEGER would read as negative."""
    r_head = b"\x02\x21\x00" if r_high else b"\x02\x20"
    s_head = b"\x02\x21\x00" if s_high else b"\x02\x20"
    return b"\x30" + bytes((len(r_head) + len(s_head) + 64,)) + r_head, s_head


# [r_high][s_high]: building the DER from the bytes saves a round trip through two ints.
_DER_HEADERS = tuple(tuple(_der_headers(r, s) for s in (False, True)) for r in (False, True))


# --- the path ------------------------------------------------------------------------------


def verify(
    token: object,
    *,
    typ: str | None,
    algorithms: Collection[str],
    resolve: Resolve,
    kid_required: bool = False,
    max_chars: int = MAX_JWS_CHARS,
    accepted_headers: MutableMapping[bytes, tuple[dict, str, str | None]] | None = None,
) -> Verified:
    """The header and claims of a compact JWS whose header and signature we accept.

    ``resolve(alg, kid, header)`` returns the check of the one key that may verify it; None
    (refused with ``reason`` "key") or its own exception when there is none.
    ``accepted_headers``, when given, remembers up to ``MAX_ACCEPTED_HEADERS`` header parts
    already accepted under these same ``typ`` and ``algorithms``, so a signer's repeated
    header is parsed once. Claims are not checked here: see ``check_times``.
    """
    header_b64, payload_b64, signing_input, signature_b64 = split_compact(token, max_chars)
    accepted = None if accepted_headers is None else accepted_headers.get(header_b64)
    if accepted is None:
        header = parse_header(header_b64)
        alg, kid = check_header(header, typ=typ, algorithms=algorithms, kid_required=kid_required)
        accepted = (header, alg, kid)
        if accepted_headers is not None:
            if len(accepted_headers) >= MAX_ACCEPTED_HEADERS:
                accepted_headers.clear()
            accepted_headers[header_b64] = accepted
    header, alg, kid = accepted
    if alg not in algorithms:  # a remembered header, and the allowed list changed since
        raise JWSError("algorithm is not allowed", reason="alg")
    try:
        signature = b64url_decode(signature_b64)
        payload = b64url_decode(payload_b64)
    except ValueError:  # binascii.Error is a ValueError
        raise JWSError("is not a compact JWS", reason="malformed") from None
    check = resolve(alg, kid, header)
    if check is None:
        raise JWSError("signed with an unknown key", reason="key")
    # RFC 7515 §5.2: nothing in the payload is looked at before the signature verifies.
    try:
        check(signature, signing_input)
    except Exception:  # InvalidSignature, a key of the wrong type: not verified
        raise JWSError("signature invalid", reason="signature") from None
    try:
        claims = loads_json_object(payload)
    except ValueError:  # UnicodeDecodeError too; a RecursionError is turned into one
        raise JWSError("claims are not a JSON object", reason="claims") from None
    # tuple.__new__: a NamedTuple's own __new__ is a Python call, and this is the hot path.
    return _new_tuple(Verified, (header, claims, alg, kid))


# --- time claims ---------------------------------------------------------------------------


def numeric_date(claims: dict, name: str) -> float:
    """RFC 7519 §2 NumericDate: a JSON number (not a boolean), finite."""
    value = claims.get(name)
    if value is None:
        raise JWSError(f"has no {name} claim", reason=name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise JWSError(f"{name} claim is not a NumericDate", reason=name)
    if isinstance(value, float) and not math.isfinite(value):  # 1e400 parses as inf
        raise JWSError(f"{name} claim is not a NumericDate", reason=name)
    return value


def check_times(
    claims: dict,
    *,
    now: float,
    leeway: float = 0.0,
    exp_leeway: float | None = None,
    required: Collection[str] = ("exp",),
    max_age: float | None = None,
    max_lifetime: float | None = None,
) -> None:
    """RFC 7519 §4.1.4-4.1.6: ``exp``, ``nbf`` and ``iat``, when present or ``required``.

    ``now`` is the caller's clock; ``leeway`` (seconds, default none) tolerates a signer's
    clock ahead of ours on ``nbf`` and ``iat``, and ours ahead on ``exp`` unless
    ``exp_leeway`` says otherwise. ``max_age`` bounds how old ``iat`` may be (RFC 9449
    §11.1), ``max_lifetime`` how far ahead ``exp`` may be (RFC 7523 §3).
    """
    # An int is a NumericDate as it is; and arithmetic stays on our side: a huge integer
    # claim must not overflow a float.
    exp = claims.get("exp")
    if exp is not None or "exp" in required:
        if type(exp) is not int:
            exp = numeric_date(claims, "exp")
        if not now - (leeway if exp_leeway is None else exp_leeway) < exp:
            raise JWSError("expired", reason="exp")
        if max_lifetime is not None and exp > now + max_lifetime + leeway:
            raise JWSError(
                f"expires too far in the future (at most {max_lifetime:g} s)", reason="exp"
            )
    if ("nbf" in claims or "nbf" in required) and now + leeway < numeric_date(claims, "nbf"):
        raise JWSError("not yet valid", reason="nbf")
    iat = claims.get("iat")
    if iat is not None or "iat" in required:
        if type(iat) is not int:
            iat = numeric_date(claims, "iat")
        if iat > now + leeway:
            raise JWSError("issued in the future", reason="iat")
        if max_age is not None and now - iat > max_age:
            raise JWSError("is too old", reason="iat")
