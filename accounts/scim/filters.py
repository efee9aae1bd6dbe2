"""The SCIM filters provisioning clients send: ``<attribute> eq "<value>"`` (RFC 7644 §3.4.2.2).

Anything else is refused with ``invalidFilter`` rather than guessed at.
"""

from __future__ import annotations

import json
import re

from accounts.scim.errors import ScimError

_EQ = re.compile(r'^\s*([A-Za-z][\w.]*)\s+eq\s+("(?:[^"\\]|\\.)*")\s*$', re.IGNORECASE)


def parse_eq(expression: str, allowed: dict[str, str]) -> tuple[str, str]:
    """``(field, value)`` for an allowed attribute (case-insensitive, RFC 7643 §2.1)."""
    match = _EQ.fullmatch(expression or "")
    if not match:
        raise ScimError(400, 'only filters of the form attribute eq "value"', "invalidFilter")
    attribute = match.group(1).lower()
    if attribute not in allowed:
        raise ScimError(400, f"cannot filter on {match.group(1)}", "invalidFilter")
    try:
        value = json.loads(match.group(2))
    except ValueError:
        raise ScimError(400, "malformed string in filter", "invalidFilter") from None
    if "\x00" in value:  # PostgreSQL text holds no NUL
        raise ScimError(400, "a filter value cannot contain a NUL character", "invalidFilter")
    return allowed[attribute], value


MAX_START = 2**31 - 1  # an OFFSET PostgreSQL takes; far beyond any directory we hold
_INTEGER = re.compile(r"[+-]?[0-9]{1,12}", re.ASCII)


def _integer(params, name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    # ASCII digits, bounded: int() takes "²"-free Unicode digits and a thousand-digit value.
    if not _INTEGER.fullmatch(raw.strip()):
        raise ScimError(400, "startIndex and count must be integers", "invalidValue")
    return int(raw)


def page(params) -> tuple[int, int]:
    """RFC 7644 §3.4.2.4: 1-based startIndex (values < 1 mean 1), count (negative means 0)."""
    start = max(_integer(params, "startIndex", 1), 1)
    count = min(max(_integer(params, "count", 100), 0), 200)
    if start > MAX_START:
        raise ScimError(400, f"startIndex must be at most {MAX_START}", "invalidValue")
    return start, count
