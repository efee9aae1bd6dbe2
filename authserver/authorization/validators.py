"""Our OAuth2Validator (DOT's ``OAUTH2_VALIDATOR_CLASS``) for what still runs through DOT:
the authorization endpoint and the revocation endpoint (whose rules are
authserver.revocation.service). The token endpoint is
authserver.token_endpoint and does not use it."""

from __future__ import annotations

import logging

from django.utils import timezone
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.oauth2.rfc6749 import errors as oauthlib_errors

from authserver import audit
from authserver.errors import InvalidScope, OAuthError
from authserver.resources import scopes
from authserver.revocation import service as revocation
from authserver.token_endpoint.params import is_client_id
from authserver.token_hash import token_hash
from clients import client_secrets as secrets
from enterprise import client_assertion

log = logging.getLogger("authserver.authorization")


class Validator(OAuth2Validator):
    def _check_secret(self, provided_secret, stored_secret) -> bool:
        # HMAC-SHA-256, constant time; DOT's default is a 1,000,000-round PBKDF2.
        return secrets.check_secret(provided_secret, stored_secret)

    def client_authentication_required(self, request, *args, **kwargs) -> bool:
        if _assertion_params(request):
            return True  # RFC 7523 §2.2: a client assertion is always checked
        return super().client_authentication_required(request, *args, **kwargs)

    def authenticate_client(self, request, *args, **kwargs) -> bool:
        params = _assertion_params(request)
        if params:
            return self._authenticate_assertion(request, params)
        ok = super().authenticate_client(request, *args, **kwargs)
        # One client per request: a body client_id naming another client than the Basic
        # credentials is a failed authentication (401), not oauthlib's 400 server_error.
        if ok and request.client_id and request.client_id != request.client.client_id:
            ok = False
        # The registered method is enforced: a private_key_jwt client has no secret.
        if ok and request.client.token_endpoint_auth_method == "private_key_jwt":  # noqa: S105
            ok = False
        if not ok and (
            self._extract_basic_auth(request) or getattr(request, "client_secret", None)
        ):
            self._audit_auth_failure(request)
        return ok

    def _authenticate_assertion(self, request, params: dict) -> bool:
        """RFC 7523 §2.2 at the revocation endpoint (enterprise/client_assertion.py)."""
        if self._extract_basic_auth(request) or params.get("client_secret"):
            return False  # RFC 6749 §2.3: one authentication method per request
        try:
            client = client_assertion.authenticate(params)
        except OAuthError:
            return False
        request.client = client
        request.client_id = client.client_id
        return True

    def _load_application(self, client_id, request):
        # RFC 6749 Appendix A.1: client-id = *VSCHAR. Anything else names no client, and is
        # never looked up (PostgreSQL refuses a NUL with an error, which would be a 500).
        if not is_client_id(client_id):
            return None
        return super()._load_application(client_id, request)

    def authenticate_client_id(self, client_id, request, *args, **kwargs) -> bool:
        ok = super().authenticate_client_id(client_id, request, *args, **kwargs)
        if not ok:
            self._audit_auth_failure(request)
        return ok

    def _audit_auth_failure(self, request) -> None:
        # The client_id as presented (truncated), never the secret or the header.
        audit.record(
            "client.auth_failed",
            client_id=_printable(str(getattr(request, "client_id", "") or ""))[:100],
            detail={"grant_type": str(getattr(request, "grant_type", "") or "")[:40]},
        )

    def revoke_token(self, token, token_type_hint, request, *args, **kwargs) -> None:
        """DOT's RFC 7009 hook: authserver.revocation.service does it."""
        revocation.revoke_presented_token(
            token, hint=token_type_hint, client=request.client, now=timezone.now()
        )

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


def _printable(value: str) -> str:
    """A presented value for the audit log: control characters (a NUL) replaced."""
    return "".join(c if c.isprintable() else "?" for c in value[:200])


def _assertion_params(request) -> dict | None:
    params = dict(request.decoded_body or [])
    if "client_assertion" in params or "client_assertion_type" in params:
        return params
    return None
