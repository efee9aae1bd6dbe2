"""SCIM bearer-token authentication (RFC 7644 §2: OAuth bearer tokens, RFC 6750)."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import authentication, exceptions, permissions

from accounts.scim.models import TOKEN_PREFIX, ScimToken, digest


class ScimClient:
    """The provisioning client a token belongs to (not a Django user)."""

    is_authenticated = True

    def __init__(self, token: ScimToken) -> None:
        self.token = token
        self.actor = f"scim:{token.pk}:{token.name}"[:200]


class ScimTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise exceptions.NotAuthenticated()
        token = token.strip()
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            raise exceptions.AuthenticationFailed()
        # A digest lookup of a 256-bit random token: nothing to learn from its timing.
        row = ScimToken.objects.filter(digest=digest(token), revoked_at__isnull=True).first()
        if row is None:
            raise exceptions.AuthenticationFailed()
        ScimToken.objects.filter(pk=row.pk).update(last_used_at=timezone.now())
        return ScimClient(row), row

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="scim"'


class IsScimClient(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, ScimClient)
