"""The oauthlib server DOT runs (``OAUTH2_SERVER_CLASS``) for the authorization endpoint.

Only the authorization code response type (PKCE S256) is routed; the token endpoint does not
run through oauthlib's grant classes at all (authserver.token_endpoint, README "Token
endpoint"). DOT's revocation endpoint still uses this server to authenticate clients.
"""

from __future__ import annotations

from oauthlib.oauth2 import Server

from authserver.authorization import binding
from authserver.protocol import pkce


class AuthorizationServer(Server):
    def __init__(self, request_validator, *args, **kwargs):
        super().__init__(request_validator, *args, **kwargs)
        self._grant_types = {}  # /token is authserver.token_endpoint, not oauthlib
        self._response_types = {"code": self.auth_grant}
        # OAuth 2.1 §4.1.1: PKCE with S256 only. A challenge without a method defaults to
        # "plain" (RFC 7636 §4.3) and is therefore refused too.
        self.auth_grant._code_challenge_methods = {"S256": pkce.verify_s256}
        self.auth_grant.custom_validators.post_auth.append(binding.bind_authorization_request)
