"""Client secrets and registration access tokens: generated, hashed, compared in constant time.

They are 256-bit random values, so a password KDF buys nothing but latency (DOT's default
PBKDF2 costs ~180 ms per check and caps a confidential client near 11 token requests/s).
We store HMAC-SHA-256 under a key derived from SECRET_KEY: a stolen database alone cannot
confirm a guess, and a check costs microseconds. SECRET_KEY_FALLBACKS keep old hashes valid
while SECRET_KEY rotates.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings

PREFIX = "hmac-sha256$"
SECRET_BYTES = 32  # 256 bits


def generate_secret() -> str:
    # token_urlsafe may contain '-' and '_'; MCP clients (and Basic auth encoders that do
    # not URL-encode) are happiest with alphanumerics, so use hex.
    return secrets.token_hex(SECRET_BYTES)


def _key(secret_key: str) -> bytes:
    return hashlib.sha256(b"mcp-authserver client-secret hmac\x00" + secret_key.encode()).digest()


def hash_secret(plaintext: str, *, secret_key: str | None = None) -> str:
    key = _key(secret_key or settings.SECRET_KEY)
    return PREFIX + hmac.new(key, plaintext.encode(), hashlib.sha256).hexdigest()


def is_hashed(stored: str) -> bool:
    return stored.startswith(PREFIX)


def check_secret(plaintext: str, stored: str) -> bool:
    """Constant-time check of a presented secret against its stored hash.

    An empty or unhashed stored value never matches: a public client has no secret, and a
    plaintext column would mean something wrote around this module.
    """
    if not plaintext or not stored or not is_hashed(stored):
        return False
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return any(hmac.compare_digest(hash_secret(plaintext, secret_key=k), stored) for k in keys)
