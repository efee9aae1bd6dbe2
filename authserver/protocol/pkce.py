"""PKCE (RFC 7636), S256 only (OAuth 2.1 §4.1.1), compared in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

# RFC 7636 §4.1: code-verifier = 43*128unreserved
VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
# RFC 7636 §4.2: BASE64URL(SHA256(verifier)) without padding is exactly 43 characters.
S256_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def is_valid_challenge(challenge: str | None) -> bool:
    return bool(challenge) and bool(S256_CHALLENGE.fullmatch(challenge))


def verify_s256(verifier: str | None, challenge: str | None) -> bool:
    """oauthlib's challenge-method signature: (verifier, challenge) -> bool."""
    if not verifier or not challenge or not VERIFIER.fullmatch(verifier):
        return False
    return hmac.compare_digest(s256(verifier), challenge)
