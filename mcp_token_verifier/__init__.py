"""Verify the RFC 9068 JWT access tokens our authorization server issues, in an MCP server.

Depends on the standard library and jwcrypto only. Usage::

    from mcp_token_verifier import TokenError, TokenVerifier, www_authenticate

    verifier = TokenVerifier(issuer="https://auth.example.com",
                             resource="https://mcp.example.com/mcp")
    PRM = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"

    def authorize(authorization_header: str | None) -> dict:  # the claims, or raises
        scheme, _, token = (authorization_header or "").partition(" ")
        if scheme.lower() != "bearer" or not token:  # Unauthorized: your framework's
            raise Unauthorized(401, www_authenticate(None, resource_metadata=PRM))
        try:
            return verifier.verify(token, required_scopes=["tools:read"])
        except TokenError as exc:  # 401 invalid_token or 403 insufficient_scope
            raise Unauthorized(exc.status, www_authenticate(exc, resource_metadata=PRM))

Per tool call, the token's tool grants (RFC 9396 ``authorization_details``, ``mcp_tool``)::

    decision = authorize_tool_call(claims, "add_note", {"text": "todo: milk"})
    if not decision.allowed:  # decision.rule names what refused it
        raise Forbidden(403, decision.rule)

One ``TokenVerifier`` per (issuer, resource) pair, shared across threads: it caches the
issuer's JWKS.
"""

from mcp_token_verifier.errors import TokenError, www_authenticate
from mcp_token_verifier.tools import Decision, authorize_tool_call
from mcp_token_verifier.verifier import SUPPORTED_ALGORITHMS, TokenVerifier

__all__ = [
    "SUPPORTED_ALGORITHMS",
    "Decision",
    "TokenError",
    "TokenVerifier",
    "authorize_tool_call",
    "www_authenticate",
]
