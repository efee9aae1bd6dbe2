"""DPoP (RFC 9449 §7): checking the proof that comes with a DPoP-bound access token.

The request carries ``Authorization: DPoP <token>`` and ``DPoP: <proof>``. The proof must be
signed by the key the token is bound to (``cnf.jkt``), name this request (``htm``, ``htu``),
be fresh (``iat``), hash the token (``ath``), and never be seen twice (``jti``).
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from jwcrypto import jwk

from mcp_token_verifier import jws
from mcp_token_verifier.errors import TokenError

# RFC 9449 §5.1 dpop_signing_alg_values_supported: the one list (jws.SIGNATURE_ALGORITHMS).
PROOF_ALGS = jws.SIGNATURE_ALGORITHMS
PROOF_TYPE = "dpop+jwt"  # RFC 9449 §4.2
MAX_PROOF_CHARS = 8192


class InvalidDPoPProof(TokenError):
    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.error = "invalid_dpop_proof"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def normalize_htu(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path}"


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
    public ``jwk`` that signed it, through the one JWS path (``jws.verify``: the key fits
    the algorithm, RSA at least 2048 bits). Returns the key and the claims; ValueError
    (``jws.JWSError``) otherwise. Shared by the authorization server's token endpoint and
    this verifier; each checks ``iat`` with ``check_proof_times``."""
    keys: list[jwk.JWK] = []

    def embedded_key(alg: str, _kid: str | None, header: dict) -> jws.SignatureCheck:
        # RFC 9449 §4.3 item 7: the public key in the header, never a private one.
        key = jws.public_key_from_jwk(header.get("jwk"))
        if not jws.key_fits(key, alg):
            raise jws.JWSError("key refused", reason="key")
        keys.append(key)
        return jws.signature_check(key, alg)

    verified = jws.verify(
        proof,
        typ=PROOF_TYPE,
        algorithms=PROOF_ALGS,
        resolve=embedded_key,
        max_chars=MAX_PROOF_CHARS,
    )
    return keys[0], verified.claims


def check_proof_times(claims: dict, *, now: float, window: float) -> None:
    """RFC 9449 §11.1: ``iat`` within ``window`` seconds of ``now`` either way (and ``exp``,
    ``nbf`` when present, with the same tolerance). Raises ``jws.JWSError``."""
    jws.check_times(claims, now=now, leeway=window, required=("iat",), max_age=window)


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
    try:
        check_proof_times(claims, now=now, window=window)
    except jws.JWSError:
        raise InvalidDPoPProof("DPoP proof is stale") from None
    expected_ath = _b64(hashlib.sha256(access_token.encode()).digest())
    if claims.get("ath") != expected_ath:
        raise InvalidDPoPProof("DPoP proof is for another access token")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or not replay.first_use(f"{jkt}:{jti}", 2 * window):
        raise InvalidDPoPProof("DPoP proof replayed")
