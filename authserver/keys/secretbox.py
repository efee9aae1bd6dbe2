"""Encryption at rest for private key material, under KEY_ENCRYPTION_KEY.

AES-256-GCM with a random 96-bit nonce; the row's identity (the kid) is bound as associated
data, so a ciphertext copied onto another row does not decrypt. Several KEY_ENCRYPTION_KEY
values may be configured (comma-separated): the first encrypts, every one decrypts, so the
key-encryption key can be rotated without downtime (README, Operations).

Stored form: ``v1.<key hint>.<base64url(nonce || ciphertext)>``; the hint (8 hex characters
of a hash of the derived key) picks the right key without trial decryption.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Sequence
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from authserver.errors.codes import KeyUnavailable

_INFO = b"mcp-authserver signing-key encryption v1"


class DecryptionError(KeyUnavailable):
    """The ciphertext cannot be opened with any configured KEY_ENCRYPTION_KEY."""


@lru_cache(maxsize=16)
def _derive(secret: str) -> tuple[str, bytes]:
    # HKDF turns an operator-chosen string (>= 32 characters) into a uniform 256-bit key.
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret.encode())
    hint = hashlib.sha256(b"hint" + key).hexdigest()[:8]
    return hint, key


def encrypt(plaintext: bytes, *, associated_data: bytes, keys: Sequence[str]) -> str:
    if not keys:
        raise ValueError("no KEY_ENCRYPTION_KEY configured")
    hint, key = _derive(keys[0])
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, plaintext, associated_data)
    return f"v1.{hint}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def decrypt(token: str, *, associated_data: bytes, keys: Sequence[str]) -> bytes:
    try:
        version, hint, body = token.split(".", 2)
        raw = base64.urlsafe_b64decode(body.encode())
    except ValueError:
        raise DecryptionError("malformed ciphertext") from None
    if version != "v1" or len(raw) < 12 + 16:
        raise DecryptionError("unknown ciphertext version")
    for secret in keys:
        key_hint, key = _derive(secret)
        if key_hint != hint:
            continue
        try:
            return AESGCM(key).decrypt(raw[:12], raw[12:], associated_data)
        except InvalidTag:
            break
    raise DecryptionError("no configured KEY_ENCRYPTION_KEY opens this ciphertext")


def needs_reencryption(token: str, *, keys: Sequence[str]) -> bool:
    """True when the ciphertext was sealed under a key other than the current (first) one."""
    return not token.startswith(f"v1.{_derive(keys[0])[0]}.")
