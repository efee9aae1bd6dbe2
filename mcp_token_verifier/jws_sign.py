"""Signing on the one JWS path: compact JWS (RFC 7515 §3.1, §5.1) made with the same
``cryptography`` primitives, padding and hash objects ``jws.signature_check`` verifies with.

``Signer`` turns a private JWK into its ``cryptography`` key object once, so a token costs
one JSON encoding, two base64url encodings and one ``sign`` call. The bytes are the ones
jwcrypto's ``JWS.add_signature`` + ``serialize(compact=True)`` produced for the same header
and claims: JSON with sorted keys and no whitespace (``jwcrypto.common.json_encode``),
unpadded base64url, and for ES256 the raw ``r || s`` of RFC 7518 §3.4.
"""

from __future__ import annotations

import json
from base64 import urlsafe_b64encode

from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from jwcrypto import jwk

from mcp_token_verifier.jws import (
    _ECDSA_SHA256,
    _PKCS1V15,
    _SHA256,
    SIGNATURE_ALGORITHMS,
    JWSError,
    key_fits,
)

# A signer keeps one encoded header per ``typ``; a few are in use (at+jwt, the revocation
# list's type), so this bound is only a guard.
MAX_HEADERS = 16


def b64url_encode(data: bytes) -> bytes:
    """RFC 7515 §2: base64url without padding."""
    return urlsafe_b64encode(data).rstrip(b"=")


def json_bytes(value: dict) -> bytes:
    """The JSON of a header or claim set, as jwcrypto's ``json_encode`` wrote it: sorted
    keys, no whitespace, ASCII only (RFC 8259 §8.1 allows the escapes)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode("ascii")


class Signer:
    """Signs compact JWS with one private key for one algorithm and key id."""

    __slots__ = ("_headers", "_sign", "alg", "kid")

    def __init__(self, key: jwk.JWK, *, alg: str, kid: str) -> None:
        if alg not in SIGNATURE_ALGORITHMS or not key.has_private:
            raise JWSError("key cannot sign", reason="key")
        # The verifier's own rule for which key fits which algorithm (RSA at least 2048
        # bits, RFC 7518 §3.3), applied to the public half.
        public = key.export_public(as_dict=True)
        public.pop("key_ops", None)
        if not key_fits(jwk.JWK(**public), alg):
            raise JWSError("key cannot sign", reason="key")
        private = key.get_op_key("sign")
        if alg == "ES256":

            def sign(signing_input: bytes) -> bytes:
                # RFC 7518 §3.4: the DER ECDSA-Sig-Value becomes r || s, 32 bytes each.
                r, s = decode_dss_signature(private.sign(signing_input, _ECDSA_SHA256))
                return r.to_bytes(32, "big") + s.to_bytes(32, "big")

        elif alg == "RS256":

            def sign(signing_input: bytes) -> bytes:
                return private.sign(signing_input, _PKCS1V15, _SHA256)

        else:  # EdDSA: key_fits admitted Ed25519 only

            def sign(signing_input: bytes) -> bytes:
                return private.sign(signing_input)

        self.alg = alg
        self.kid = kid
        self._sign = sign
        self._headers: dict[str, bytes] = {}

    def header(self, typ: str) -> bytes:
        """The encoded protected header (``alg``, ``kid``, ``typ``) and its ``.``."""
        encoded = self._headers.get(typ)
        if encoded is None:
            header = {"alg": self.alg, "kid": self.kid, "typ": typ}
            encoded = b64url_encode(json_bytes(header)) + b"."
            if len(self._headers) >= MAX_HEADERS:
                self._headers.clear()
            self._headers[typ] = encoded
        return encoded

    def sign(self, claims: dict, *, typ: str) -> str:
        """The compact serialization of ``claims`` signed under a ``typ`` header."""
        signing_input = self.header(typ) + b64url_encode(json_bytes(claims))
        signature = b64url_encode(self._sign(signing_input))
        return (signing_input + b"." + signature).decode("ascii")
