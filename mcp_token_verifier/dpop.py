"""DPoP (RFC 9449 §7): checking the proof that comes with a DPoP-bound access token.

The request carries ``Authorization: DPoP <token>`` and ``DPoP: <proof>``. The proof must be
signed by the key the token is bound to (``cnf.jkt``), name this request (``htm``, ``htu``),
be fresh (``iat``), hash the token (``ath``), and never be seen twice (``jti``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from jwcrypto import jwk, jws

from mcp_token_verifier.errors import TokenError

PROOF_ALGS = ("ES256", "EdDSA", "RS256")


class InvalidDPoPProof(TokenError):
    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.error = "invalid_dpop_proof"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def normalize_htu(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path}"


def key_fits_alg(key: jwk.JWK, alg: str) -> bool:
    """RFC 9449 §4.2: the proof's key type matches its asymmetric algorithm."""
    kty, crv = key.get("kty"), key.get("crv")
    return (
        (alg == "ES256" and kty == "EC" and crv == "P-256")
        or (alg == "EdDSA" and kty == "OKP" and crv == "Ed25519")
        or (alg == "RS256" and kty == "RSA")
    )


class ReplayCache:
    """Seen proof ids, forgotten after ``ttl`` seconds; thread-safe, bounded by time."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def first_use(self, key: str, ttl: float) -> bool:
        now = self._clock()
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen = {k: t for k, t in self._seen.items() if t > now}
            if self._seen.get(key, 0) > now:
                return False
            self._seen[key] = now + ttl
            return True


def parse_proof(proof: object) -> tuple[jwk.JWK, dict]:
    """RFC 9449 §4.2-4.3: a compact JWS with ``typ: dpop+jwt``, an asymmetric ``alg`` and a
    public ``jwk`` that signed it. Returns the key and the claims; ValueError otherwise.
    Shared by the authorization server's token endpoint and this verifier."""
    if not isinstance(proof, str) or len(proof) > 8192 or proof.count(".") != 2:
        raise ValueError("is not a compact JWS")
    try:
        parsed = jws.JWS()
        parsed.deserialize(proof)
        header = parsed.jose_header
    except Exception:
        raise ValueError("is not a compact JWS") from None
    if header.get("typ") != "dpop+jwt" or header.get("alg") not in PROOF_ALGS:
        raise ValueError("type or algorithm refused")
    try:
        key = jwk.JWK(**header["jwk"])
    except Exception:
        raise ValueError("key refused") from None
    if key.has_private or not key_fits_alg(key, header["alg"]):
        raise ValueError("key refused")
    try:
        parsed.verify(key, alg=header["alg"])
        claims = json.loads(parsed.payload)
    except Exception:  # jwcrypto and json raise many types; each means "not valid"
        raise ValueError("signature or structure invalid") from None
    if not isinstance(claims, dict):
        raise ValueError("signature or structure invalid")
    return key, claims


def check_proof(
    proof: str | None,
    *,
    access_token: str,
    jkt: str,
    htm: str,
    htu: str,
    now: float | None = None,
    window: float = 60,
    replay: ReplayCache,
) -> None:
    """Raise InvalidDPoPProof unless ``proof`` proves possession for this request."""
    now = time.time() if now is None else now
    if not proof:
        raise InvalidDPoPProof("DPoP proof missing")
    try:
        key, claims = parse_proof(proof)
    except ValueError:
        raise InvalidDPoPProof("DPoP proof invalid") from None
    # RFC 9449 §7.1: the proof's key is the one the token is bound to.
    if key.thumbprint() != jkt:
        raise InvalidDPoPProof("DPoP proof signed with another key than the token's")
    if claims.get("htm") != htm or not isinstance(claims.get("htu"), str):
        raise InvalidDPoPProof("DPoP proof is for another method")
    if normalize_htu(claims["htu"]) != normalize_htu(htu):
        raise InvalidDPoPProof("DPoP proof is for another URL")
    iat = claims.get("iat")
    if not isinstance(iat, int | float) or isinstance(iat, bool) or abs(now - iat) > window:
        raise InvalidDPoPProof("DPoP proof is stale")
    expected_ath = _b64(hashlib.sha256(access_token.encode()).digest())
    if claims.get("ath") != expected_ath:
        raise InvalidDPoPProof("DPoP proof is for another access token")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or not replay.first_use(f"{jkt}:{jti}", 2 * window):
        raise InvalidDPoPProof("DPoP proof replayed")
