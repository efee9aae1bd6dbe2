"""The grant types the token endpoint knows, one module each, looked up by ``grant_type``.

A grant class validates a request into a :class:`~authserver.token_endpoint.binding.Binding`
without writing anything; ``register`` adds it (token_endpoint.registry). RFC 7523
jwt-bearer (ID-JAG) is a feature's: enterprise/jwt_bearer.py, registered from
``EnterpriseConfig.ready()``.
"""

from __future__ import annotations

# Importing the modules registers their grants.
from authserver.token_endpoint.grants import (  # noqa: F401
    authorization_code,
    client_credentials,
    refresh_token,
    token_exchange,
)
from authserver.token_endpoint.grants.base import GRANTS, Grant, register

__all__ = ["GRANTS", "Grant", "register"]
