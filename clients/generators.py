"""Client identifiers (and DOT's placeholder secrets) from one read of the OS's random source.

DOT's generators draw each character with ``SystemRandom.choice``: 168 reads of the random
source for every client created (a 40-character id and a 128-character secret), about 0.7 ms
of a registration's CPU (``make bench``, case f). These draw from the same alphabet at the same
lengths, so with the same entropy (40 x log2(62), about 238 bits for an id), by rejection
sampling over ``secrets.token_bytes``: every character is uniform.
"""

from __future__ import annotations

import secrets

from oauth2_provider.generators import BaseHashGenerator
from oauth2_provider.settings import oauth2_settings
from oauthlib.common import UNICODE_ASCII_CHARACTER_SET

ALPHABET = UNICODE_ASCII_CHARACTER_SET  # A-Z a-z 0-9
_CUTOFF = 256 - 256 % len(ALPHABET)  # bytes at or above it are dropped: no modulo bias


def random_string(length: int) -> str:
    chars: list[str] = []
    while len(chars) < length:
        chars.extend(
            ALPHABET[b % len(ALPHABET)] for b in secrets.token_bytes(length + 8) if b < _CUTOFF
        )
    return "".join(chars[:length])


class ClientIdGenerator(BaseHashGenerator):
    def hash(self) -> str:
        return random_string(40)  # DOT's length; no colon (RFC 7617 §2, Basic's separator)


class ClientSecretGenerator(BaseHashGenerator):
    def hash(self) -> str:
        return random_string(oauth2_settings.CLIENT_SECRET_GENERATOR_LENGTH)
