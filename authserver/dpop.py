"""DPoP (RFC 9449): proof-of-possession proofs at the token endpoint.

A proof is a JWT the client signs with its own key: header ``typ: dpop+jwt``, an asymmetric
``alg`` and the public ``jwk``; claims ``jti`` (single use), ``htm``, ``htu``, ``iat`` (and
``nonce`` when the server demands nonces, §8). Tokens issued with a valid proof carry
``cnf.jkt`` (the key's RFC 7638 thumbprint) and ``token_type: DPoP``.

Replay cache (§11.1): the Django cache when Redis is configured, else the database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction

from authserver.errors import OAuthError
from authserver.models import DPoPProofJti
from mcp_token_verifier.dpop import check_proof_times, normalize_htu, parse_proof
from mcp_token_verifier.jws import JWSError

log = logging.getLogger("authserver.dpop")
NONCE_WINDOW = 300  # seconds one server nonce stays current (the previous one also works)


class InvalidDPoPProof(OAuthError):
    error, status = "invalid_dpop_proof", 400  # RFC 9449 §5


class UseDPoPNonce(OAuthError):
    error, status = "use_dpop_nonce", 400  # RFC 9449 §8


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def current_nonce(now: float | None = None, *, offset: int = 0) -> str:
    """Stateless server nonce: an HMAC of the current time window under SECRET_KEY."""
    window = int((now or time.time()) // NONCE_WINDOW) + offset
    mac = hmac.new(settings.SECRET_KEY.encode(), f"dpop-nonce:{window}".encode(), "sha256")
    return _b64(mac.digest()[:18])


def nonce_is_valid(nonce: object, now: float) -> bool:
    # Bytes: compare_digest refuses str with non-ASCII characters (a client-chosen value).
    return isinstance(nonce, str) and any(
        hmac.compare_digest(nonce.encode(), current_nonce(now, offset=o).encode()) for o in (0, -1)
    )


def validate_proof(proof: str, *, htm: str, htu: str, now: float | None = None) -> str:
    """Check one proof; return the thumbprint (``jkt``) of its key. Single use."""
    now = time.time() if now is None else now
    try:
        # RFC 9449 §4.2: typ dpop+jwt; an asymmetric alg; the public key in the header. The
        # one JWS path, as in the verifier (mcp_token_verifier.jws): RSA keys >= 2048 bits.
        key, claims = parse_proof(proof)
    except JWSError as exc:
        raise InvalidDPoPProof(f"DPoP proof {exc}") from None
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 8 <= len(jti) <= 128:
        raise InvalidDPoPProof("DPoP proof needs a jti")
    if claims.get("htm") != htm:
        raise InvalidDPoPProof("DPoP proof htm does not match the request method")
    if not isinstance(claims.get("htu"), str) or normalize_htu(claims["htu"]) != normalize_htu(htu):
        raise InvalidDPoPProof("DPoP proof htu does not match the request URL")
    window = settings.CONFIG.dpop_proof_window
    try:
        check_proof_times(claims, now=now, window=window)  # RFC 9449 §11.1
    except JWSError:
        raise InvalidDPoPProof("DPoP proof iat is outside the acceptable window") from None
    if settings.CONFIG.dpop_nonce_required and not nonce_is_valid(claims.get("nonce"), now):
        raise UseDPoPNonce("a fresh DPoP nonce is required")
    remember_jti(f"{key.thumbprint()}:{jti}", now=now, ttl=2 * window)
    return key.thumbprint()


def remember_jti(jti: str, *, now: float, ttl: float) -> None:
    """Refuse a proof seen before (RFC 9449 §11.1)."""
    digest = hashlib.sha256(jti.encode()).hexdigest()
    if settings.CONFIG.redis_url:
        try:
            if not cache.add(f"dpop-jti:{digest}", 1, int(ttl) + 1):
                raise InvalidDPoPProof("DPoP proof replayed")
            return
        except InvalidDPoPProof:
            raise
        except Exception:  # Redis down: fall back to the database, still exactly once
            log.warning("DPoP replay cache unavailable; using the database")
    expires = datetime.fromtimestamp(now + ttl, tz=UTC)
    try:
        with transaction.atomic():
            DPoPProofJti.objects.filter(expires_at__lt=datetime.fromtimestamp(now, tz=UTC)).filter(
                jti=digest
            ).delete()
            DPoPProofJti.objects.create(jti=digest, expires_at=expires)
    except IntegrityError:
        raise InvalidDPoPProof("DPoP proof replayed") from None
