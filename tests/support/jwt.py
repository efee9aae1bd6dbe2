"""JWT helpers for assertions on tokens the server issued."""

from __future__ import annotations

import base64
import json


def claims_of(token: str) -> dict:
    """A compact JWT's claims, decoded without verifying the signature (tests/oauthflow.py's
    ``claims_of`` verifies it against the published keys)."""
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
