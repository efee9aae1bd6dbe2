"""Our OAuth2Validator (DOT's ``OAUTH2_VALIDATOR_CLASS``) for what still runs through DOT:
the authorization endpoint, where no client authenticates. The token, revocation and
introspection endpoints authenticate clients on one path (authserver.token_endpoint
.client_auth) and do not use it."""

from __future__ import annotations

import logging

from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.oauth2.rfc6749 import errors as oauthlib_errors

from authserver.errors import InvalidScope
from authserver.protocol import scopes
from authserver.token_endpoint.params import is_client_id
from authserver.token_hash import token_hash

log = logging.getLogger("authserver.authorization")


class Validator(OAuth2Validator):
    def _load_application(self, client_id, request):
        # RFC 6749 Appendix A.1: client-id = *VSCHAR. Anything else names no client, and is
        # never looked up (PostgreSQL refuses a NUL with an error, which would be a 500).
        if not is_client_id(client_id):
            return None
        return super()._load_application(client_id, request)

    def validate_response_type(self, client_id, response_type, client, request, *args, **kwargs):
        # OAuth 2.1 §3.1.1: "code" only; no implicit, no hybrid.
        if response_type != "code":
            raise oauthlib_errors.UnsupportedResponseTypeError(request=request)
        return client.allows_grant_type(client.GRANT_AUTHORIZATION_CODE)

    def _create_authorization_code(self, request, code, expires=None):
        """DOT's Grant row, with the code stored only as its SHA-256: DOT gets a copy of the
        code dict holding the digest, the client still gets the code itself. The token
        endpoint looks codes up the same way (token_endpoint.grants.authorization_code)."""
        digest = token_hash(code["code"])
        grant = super()._create_authorization_code(request, {**code, "code": digest}, expires)
        last_login = getattr(request.user, "last_login", None)
        # RFC 9396: the tool grants the user approved (authserver.tool_grants.consent).
        grant.authorization_details = getattr(request, "approved_authorization_details", None)
        if last_login is not None or grant.authorization_details is not None:
            grant.auth_time = last_login
            grant.save(update_fields=["auth_time", "authorization_details"])
        return grant

    def validate_scopes(self, client_id, scopes_, client, request, *args, **kwargs) -> bool:
        # Syntax only here: which scopes a grant carries depends on the resource, decided at
        # authorization (authserver.authorization.binding) and at the token endpoint.
        try:
            scopes.parse_scope(list(scopes_))
        except InvalidScope:
            return False
        return True

    def get_default_scopes(self, client_id, request, *args, **kwargs) -> list[str]:
        return []
