"""Strict JSON for everything the verifier parses: JWS headers and claims, JWKS, metadata."""

from __future__ import annotations

import json


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate JSON member")
    return obj


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


# One decoder for every call: json.loads with hooks would build a new one each time.
STRICT_JSON = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
_scan_once = STRICT_JSON.scan_once


def loads_json_object(body: bytes | str) -> dict:
    """Strict JSON: UTF-8, an object, no duplicate members, no NaN. Raises ValueError."""
    if isinstance(body, bytes):
        body = body.decode("utf-8")  # RFC 8259 §8.1: UTF-8, not json's UTF-16/32 sniffing
    try:
        # Compact JSON (a JWS part) ends where the value does; anything else, such as
        # surrounding whitespace, takes the full decode, which also refuses trailing data.
        # The C scanner itself (what raw_decode wraps): it raises StopIteration, not a
        # JSONDecodeError, where no value starts; the full decode then says why.
        try:
            value, end = _scan_once(body, 0)
        except (StopIteration, ValueError):
            end = -1
        if end != len(body):
            value = STRICT_JSON.decode(body)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value
