"""Our OAuth2Validator (DOT's ``OAUTH2_VALIDATOR_CLASS``)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote_plus

from django.conf import settings
from django.db.models import F
from django.utils import timezone
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.oauth2.rfc6749 import errors as oauthlib_errors

from authserver import audit, metrics, revocation, scopes
from authserver.errors import InvalidScope
from authserver.models import AccessToken, Grant, RefreshToken
from clients import secrets

LAST_USED_RESOLUTION = timedelta(minutes=5)
log = logging.getLogger("authserver.tokens")


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
        ok = super().authenticate_client(request, *args, **kwargs)
        # One client per request: a body client_id naming another client than the Basic
        # credentials is a failed authentication (401), not oauthlib's 400 server_error.
        if ok and request.client_id and request.client_id != request.client.client_id:
            ok = False
        if not ok and (
            self._extract_basic_auth(request) or getattr(request, "client_secret", None)
        ):
            self._audit_auth_failure(request)
        return ok

    def authenticate_client_id(self, client_id, request, *args, **kwargs) -> bool:
        ok = super().authenticate_client_id(client_id, request, *args, **kwargs)
        if not ok:
            self._audit_auth_failure(request)
        return ok

    def _audit_auth_failure(self, request) -> None:
        # The client_id as presented (truncated), never the secret or the header.
        client_id = getattr(request, "client_id", "") or self._basic_auth_client_id(request)
        audit.record(
            "client.auth_failed",
            client_id=str(client_id or "")[:100],
            detail={"grant_type": str(getattr(request, "grant_type", "") or "")[:40]},
        )

    def _basic_auth_client_id(self, request) -> str:
        """The client_id half of Basic credentials (RFC 6749 §2.3.1: form-encoded), for the
        audit trail only: the secret half is dropped unread."""
        encoded = self._extract_basic_auth(request)
        if not encoded:
            return ""
        try:
            decoded = base64.b64decode(encoded, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return unquote_plus(decoded.partition(":")[0])

    def revoke_token(self, token, token_type_hint, request, *args, **kwargs) -> None:
        """RFC 7009 §2.1: only the authenticated client's own tokens; unknown ones are ignored
        (the endpoint answers 200 either way, §2.2)."""
        client_pk = getattr(request.client, "pk", None)
        if client_pk is None or not token:
            return
        checksum = hashlib.sha256(token.encode()).hexdigest()
        models = [AccessToken, RefreshToken]
        if token_type_hint == "refresh_token":  # noqa: S105 - a hint name
            models.reverse()
        now = timezone.now()
        for model in models:
            rows = list(model.objects.filter(token_checksum=checksum, application_id=client_pk))
            for row in rows:
                revocation.revoke_token_row(
                    row, now=now, actor=f"client:{request.client.client_id}"
                )
            if rows:
                return

    def validate_response_type(self, client_id, response_type, client, request, *args, **kwargs):
        # OAuth 2.1 §3.1.1: "code" only; no implicit, no hybrid.
        if response_type != "code":
            raise oauthlib_errors.UnsupportedResponseTypeError(request=request)
        return client.allows_grant_type(client.GRANT_AUTHORIZATION_CODE)

    def _create_authorization_code(self, request, code, expires=None):
        grant = super()._create_authorization_code(request, code, expires)
        last_login = getattr(request.user, "last_login", None)
        if last_login is not None:
            grant.auth_time = last_login
            grant.save(update_fields=["auth_time"])
        return grant

    def validate_code(self, client_id, code, client, request, *args, **kwargs) -> bool:
        grant = Grant.objects.filter(code=code, application=client).first()
        if grant is None:
            return False
        if grant.consumed_at is not None:
            # RFC 6749 §4.1.2: a code used twice revokes what was issued from it.
            log.warning("authorization code replayed; revoking family %s", grant.token_family)
            revocation.revoke_family(grant.token_family, now=timezone.now(), reason="code_replay")
            return False
        if grant.is_expired():
            return False
        request.scopes = grant.scope.split()
        request.user = grant.user
        return True

    def invalidate_authorization_code(self, client_id, code, request, *args, **kwargs) -> None:
        # Consumed (atomically) in authserver.grants before the token was minted; the row
        # stays, so a replay can be recognised and answered by revoking the family.
        return None

    def rotate_refresh_token(self, request) -> bool:
        return True  # OAuth 2.1 §4.3.1: public clients' refresh tokens rotate on every use

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs) -> bool:
        checksum = hashlib.sha256(refresh_token.encode()).hexdigest()
        rt = (
            RefreshToken.objects.filter(token_checksum=checksum)
            .select_related("access_token", "application")
            .order_by(F("revoked").desc(nulls_first=True))
            .first()
        )
        if rt is None or rt.application_id != client.pk:
            return False
        now = timezone.now()
        if rt.revoked is not None:
            grace = timedelta(seconds=settings.CONFIG.refresh_token_grace)
            if now - rt.revoked <= grace:
                # A retry or a second process sharing the token store: refuse, but do not
                # treat it as theft (README: refresh grace window).
                log.info("refresh token re-presented within grace; family %s", rt.token_family)
                return False
            # OAuth 2.1 §4.3.1: reuse of a rotated-out refresh token revokes the family.
            log.warning("refresh token reuse detected; revoking family %s", rt.token_family)
            revocation.revoke_family(rt.token_family, now=now, reason="refresh_reuse")
            return False
        if rt.absolute_expires is not None and now >= rt.absolute_expires:
            return False
        idle = timedelta(seconds=settings.CONFIG.refresh_token_idle_lifetime)
        if rt.access_token is None or rt.access_token.expires + idle <= now:
            return False
        request.user = rt.user
        request.refresh_token = refresh_token
        request.refresh_token_instance = rt
        return True

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
            jkt=getattr(request, "dpop_jkt", None) or "",
        )
        self._set_token_value(access_token, token["access_token"])
        access_token.save()
        audit.record(
            "token.refreshed" if request.grant_type == "refresh_token" else "token.issued",
            client_id=request.client.client_id,
            user_id=request.user.pk if request.user else "",
            resource=access_token.resource[0] if access_token.resource else "",
            jti=issued.jti,
            family=access_token.token_family or "",
            scope=access_token.scope,
            detail={"grant_type": request.grant_type, "kid": issued.kid},
        )
        metrics.token_issued(
            request.grant_type, access_token.resource[0] if access_token.resource else ""
        )
        self._touch_client(request.client)
        return access_token

    def _create_refresh_token(self, request, refresh_token_code, access_token, previous):
        family = (
            previous.token_family
            if previous
            else (getattr(request, "token_family", None) or uuid.uuid4())
        )
        absolute = (
            previous.absolute_expires
            if previous
            else timezone.now() + timedelta(seconds=settings.CONFIG.refresh_token_lifetime)
        )
        refresh_token = RefreshToken(
            user=request.user,
            application=request.client,
            access_token=access_token,
            token_family=family,
            resource=getattr(request, "resource", []),
            absolute_expires=absolute,
            # RFC 9449 §5: refresh tokens stay bound to the key they were issued with.
            jkt=getattr(request, "dpop_jkt", None) or (previous.jkt if previous else ""),
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
