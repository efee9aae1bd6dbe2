"""The token claims tool grants add: a claims contributor (authserver.token_endpoint.registry),
registered from ``AuthserverConfig.ready()``."""

from __future__ import annotations


def contribute(token) -> dict:
    """RFC 9396 §9.1 (the JWT) and §9.2 (introspection): the ``authorization_details`` the
    token was granted, as stored with it; nothing for a token granted none."""
    if token.authorization_details is None:
        return {}
    return {"authorization_details": token.authorization_details}
