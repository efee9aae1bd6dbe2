"""The oauthlib server DOT runs (``OAUTH2_SERVER_CLASS``), narrowed to OAuth 2.1.

Only the authorization code (PKCE), refresh token and client credentials grants exist here;
implicit, password and device flows are not routed at all. Each token grant binds its
request to one resource before a token is minted (authserver.grants).
"""

from __future__ import annotations

from oauthlib.oauth2 import Server

from authserver import exchange, grants, pkce, tokens
from authserver.exchange import TokenExchangeGrant


class AuthorizationServer(Server):
    def __init__(self, request_validator, token_expires_in=None, *args, **kwargs):
        # Per-resource lifetimes instead of DOT's single ACCESS_TOKEN_EXPIRE_SECONDS.
        super().__init__(request_validator, tokens.access_token_lifetime, *args, **kwargs)
        self.exchange_grant = TokenExchangeGrant(request_validator)
        self._grant_types = {
            "authorization_code": self.auth_grant,
            "client_credentials": self.credentials_grant,
            "refresh_token": self.refresh_grant,
            exchange.GRANT_TYPE: self.exchange_grant,  # RFC 8693
        }
        self._response_types = {"code": self.auth_grant}
        # OAuth 2.1 §4.1.1: PKCE with S256 only. A challenge without a method defaults to
        # "plain" (RFC 7636 §4.3) and is therefore refused too.
        self.auth_grant._code_challenge_methods = {"S256": pkce.verify_s256}
        self.auth_grant.custom_validators.post_auth.append(grants.bind_authorization_request)
        for grant in (self.auth_grant, self.credentials_grant, self.refresh_grant):
            grant.custom_validators.post_token.append(grants.bind_token_request)
        for grant in (self.auth_grant, self.refresh_grant):
            grant.register_token_modifier(grants.refresh_token_policy)
