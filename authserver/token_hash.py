"""The one-way digest stored in place of a token or code: SHA-256, hex, of its UTF-8 bytes.

The same function as django-oauth-toolkit's ``TokenChecksumField`` (``token_checksum``), so a
row DOT wrote and a row we wrote are found by the same lookup. Used for access and refresh
tokens, authorization codes (stored hashed, never in plaintext) and SCIM bearer tokens.
"""

from __future__ import annotations

import hashlib


def token_hash(value: str) -> str:
    """The hex SHA-256 of ``value``; tokens carry 256 bits of randomness, so no salt or
    stretching is needed, and lookups stay one indexed equality."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()
