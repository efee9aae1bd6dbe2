"""Our OAuth2Validator (DOT's ``OAUTH2_VALIDATOR_CLASS``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from django.utils import timezone
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.oauth2.rfc6749 import errors as oauthlib_errors

from authserver import scopes
from authserver.errors import InvalidScope
from authserver.models import AccessToken, RefreshToken
from clients import secrets

LAST_USED_RESOLUTION = timedelta(minutes=5)


class Validator(OAuth2Validator):
    def _check_secret(self, provided_secret, stored_secret) -> bool:
        # HMAC-SHA-256, constant time; DOT's default is a 1,000,000-round PBKDF2.
        return secrets.check_secret(provided_secret, stored_secret)

    def authenticate_client(self, request, *args, **kwargs) -> bool:
        if request.grant_type == "client_credentials" and request.client_id:
            client = self._load_application(request.client_id, request)
            if client is not None and client.is_public:
                # RFC 6749 §4.4: client credentials is for confidential clients only.
                raise oauthlib_errors.UnauthorizedClientError(
                    description="public clients cannot use the client_credentials grant",
                    request=request,
                )
        return super().authenticate_client(request, *args, **kwargs)

    def validate_scopes(self, client_id, scopes_, client, request, *args, **kwargs) -> bool:
        # Syntax only here: which scopes a token carries depends on the resource, decided
        # in authserver.grants (token endpoint) and at authorization.
        try:
            scopes.parse_scope(list(scopes_))
        except InvalidScope:
            return False
        return True

    def get_default_scopes(self, client_id, request, *args, **kwargs) -> list[str]:
        return []

    def _create_access_token(self, expires, request, token, source_refresh_token=None):
        issued = request.issued_token
        access_token = AccessToken(
            user=request.user,
            scope=token["scope"],
            expires=datetime.fromtimestamp(issued.exp, tz=UTC),
            application=request.client,
            source_refresh_token=source_refresh_token,
            resource=getattr(request, "resource", []),
            jti=issued.jti,
            kid=issued.kid,
            token_family=getattr(request, "token_family", None),
            auth_time=getattr(request, "auth_time", None),
        )
        self._set_token_value(access_token, token["access_token"])
        access_token.save()
        self._touch_client(request.client)
        return access_token

    def _create_refresh_token(self, request, refresh_token_code, access_token, previous):
        family = (
            previous.token_family
            if previous
            else (getattr(request, "token_family", None) or uuid.uuid4())
        )
        refresh_token = RefreshToken(
            user=request.user,
            application=request.client,
            access_token=access_token,
            token_family=family,
            resource=getattr(request, "resource", []),
        )
        self._set_token_value(refresh_token, refresh_token_code)
        refresh_token.save()
        return refresh_token

    @staticmethod
    def _touch_client(client) -> None:
        """Record last use, at most every few minutes (no write per token on the hot path)."""
        now = timezone.now()
        if client.last_used_at is None or now - client.last_used_at > LAST_USED_RESOLUTION:
            type(client).objects.filter(pk=client.pk).update(last_used_at=now)
            client.last_used_at = now
