"""The one error a verification raises, and its RFC 6750 §3 / RFC 9728 §5.1 challenge."""

from __future__ import annotations

import re

INVALID_TOKEN = "invalid_token"  # noqa: S105 -- an RFC 6750 error code
INSUFFICIENT_SCOPE = "insufficient_scope"

# RFC 9110 §5.5: a header value never carries CR, LF, NUL or other control characters.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class TokenError(Exception):
    """A bearer token was refused.

    Attributes:
        error: ``"invalid_token"`` (401) or ``"insufficient_scope"`` (403), RFC 6750 §3.1.
        description: why, for humans and logs; never contains the token.
        status: the HTTP status to answer with.
        scope: for ``insufficient_scope``, the required scopes, space-separated; else None.
    """

    def __init__(self, description: str, *, scope: str | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.scope = scope
        if scope is None:
            self.error, self.status = INVALID_TOKEN, 401
        else:
            self.error, self.status = INSUFFICIENT_SCOPE, 403

    def __repr__(self) -> str:
        return f"TokenError(error={self.error!r}, description={self.description!r})"


def _quote(value: str) -> str:
    """RFC 9110 §5.6.4 quoted-string: escape ``"`` and ``\\``; refuse control characters."""
    if _CONTROL.search(value):
        raise ValueError("header parameter values must not contain control characters")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def www_authenticate(
    error: TokenError | None, *, resource_metadata: str, scope: str | None = None
) -> str:
    """The ``WWW-Authenticate`` value for a 401 or 403 from a protected resource.

    ``error`` is None when the request carried no token (RFC 6750 §3.1: no error code then).
    ``resource_metadata`` is this resource's RFC 9728 metadata URL (RFC 9728 §5.1), which
    MCP clients follow to find the authorization server. ``scope`` is the scope needed;
    for ``insufficient_scope`` it defaults to the scopes the verifier required.

    >>> www_authenticate(None, resource_metadata="https://mcp.example.com/.well-known/x")
    'Bearer resource_metadata="https://mcp.example.com/.well-known/x"'
    """
    params: list[tuple[str, str]] = []
    if error is not None:
        params.append(("error", error.error))
        if scope is None:
            scope = error.scope
    if error is None:
        params.append(("resource_metadata", resource_metadata))
        if scope:
            params.append(("scope", scope))
    else:
        if scope:
            params.append(("scope", scope))
        params.append(("resource_metadata", resource_metadata))
    return "Bearer " + ", ".join(f"{name}={_quote(value)}" for name, value in params)
