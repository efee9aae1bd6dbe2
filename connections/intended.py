"""Whom a connect link is for. A vending error hands the MCP server a connect URL that the
client may show to anyone (URL-mode elicitation): it names the user the MCP server acts for,
so that a forwarded link cannot connect *another* signed-in person's upstream account into
the flow meant for the first.

The ``for`` parameter is ``django.core.signing`` over ``{"u": user id, "p": provider slug}``
(HMAC-SHA256 with SECRET_KEY and a purpose salt, timestamped): readable, not secret (the
user id is the access token's ``sub``), and it cannot be altered or moved to another provider.
"""

from __future__ import annotations

from django.core import signing

PARAMETER = "for"
SALT = "connections.connect-link"
MAX_AGE = 1800  # seconds a connect link stays valid: long enough to sign in and connect
MAX_LENGTH = 200


class LinkRefused(Exception):
    """The link is altered, expired, or made for another provider."""


def sign(user_id: int, slug: str) -> str:
    return signing.dumps({"u": user_id, "p": slug}, salt=SALT, compress=False)


def intended_user_id(value: str, slug: str, *, max_age: int = MAX_AGE) -> int:
    """The user id a link was made for, or LinkRefused (fail closed on anything odd)."""
    if len(value) > MAX_LENGTH:
        raise LinkRefused("too long")
    try:
        payload = signing.loads(value, salt=SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise LinkRefused("expired") from None
    except signing.BadSignature:
        raise LinkRefused("altered") from None
    if not isinstance(payload, dict) or payload.get("p") != slug:
        raise LinkRefused("another provider")
    user_id = payload.get("u")
    if not isinstance(user_id, int) or isinstance(user_id, bool):
        raise LinkRefused("no user")
    return user_id


def mask(name: str) -> str:
    """Enough of the intended account's name to tell whom to sign in as, not to reveal it:
    its first character and, for an e-mail address, the domain."""
    local, at, domain = name.partition("@")
    return (local[:1] or "?") + "…" + (at + domain if at else "")
