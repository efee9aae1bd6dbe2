"""Codes and tokens, swapped in for django-oauth-toolkit's models (JWT ids, families, DPoP keys)."""

from __future__ import annotations

import uuid

from django.db import models
from django.dispatch import Signal
from oauth2_provider.models import (
    AbstractAccessToken,
    AbstractGrant,
    AbstractIDToken,
    AbstractRefreshToken,
)

# DOT's models call ``revoke()`` / ``revoke_family()``; the revocation service, which imports
# these models, does the work (audit event, republished list), so the models stay below it.
revocation_requested = Signal()  # sender=model class, token=row or None, family=uuid or None


def _request_revocation(token, *, family) -> None:
    answered = revocation_requested.send(sender=RefreshToken, token=token, family=family)
    if not answered:  # fail closed: a revocation nobody performs must not pass silently
        raise RuntimeError("no receiver for revocation_requested (authserver.revocation.service)")


class Grant(AbstractGrant):
    """An authorization code (RFC 6749 §4.1.2)."""

    # The family every token issued from this code joins; a replayed code revokes it
    # (RFC 6749 §4.1.2: "SHOULD revoke ... all tokens previously issued based on that code").
    token_family = models.UUIDField(default=uuid.uuid4, editable=False, db_index=True)
    auth_time = models.DateTimeField(null=True, blank=True)
    consumed_at = models.DateTimeField(null=True, blank=True)
    # RFC 9396: the tools the user approved (authserver.tool_grants); None: none registered.
    authorization_details = models.JSONField(null=True, blank=True)

    class Meta(AbstractGrant.Meta):
        swappable = "OAUTH2_PROVIDER_GRANT_MODEL"


class AccessToken(AbstractAccessToken):
    """One issued JWT access token (RFC 9068). The JWT itself is never stored, only its
    SHA-256 checksum (DOT's hashed token storage), for revocation and introspection."""

    jti = models.CharField(max_length=64, unique=True, null=True, blank=True)
    kid = models.CharField(max_length=128, blank=True, help_text="Signing key id")
    token_family = models.UUIDField(null=True, blank=True, db_index=True)
    auth_time = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    jkt = models.CharField(
        max_length=64, blank=True, help_text="RFC 9449 cnf.jkt: the DPoP key it is bound to"
    )
    authorization_details = models.JSONField(null=True, blank=True)  # RFC 9396, as signed

    class Meta(AbstractAccessToken.Meta):
        swappable = "OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL"
        indexes = [
            models.Index(fields=["expires"]),
            models.Index(fields=["kid"]),
            # The revocation list: revoked tokens that have not expired yet.
            models.Index(
                fields=["expires"],
                condition=models.Q(revoked_at__isnull=False),
                name="revoked_live_tokens",
            ),
        ]

    def is_valid(self, scopes=None) -> bool:
        return self.revoked_at is None and super().is_valid(scopes)

    def revoke(self) -> None:
        """DOT's hook: mark revoked instead of deleting (the row is what the revocation list is
        made of). authserver.revocation.service receives ``revocation_requested`` and does it."""
        _request_revocation(self, family=None)
        self.refresh_from_db(fields=["revoked_at"])


class RefreshToken(AbstractRefreshToken):
    """A refresh token; rotated on every use, its family revoked on reuse (OAuth 2.1 §4.3.1)."""

    absolute_expires = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    jkt = models.CharField(max_length=64, blank=True, help_text="DPoP key (RFC 9449 §5)")

    class Meta(AbstractRefreshToken.Meta):
        swappable = "OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL"

    @classmethod
    def revoke_family(cls, token_family) -> None:
        """DOT deletes the family's access tokens; we mark them revoked (revocation list)."""
        _request_revocation(None, family=token_family)


class IDToken(AbstractIDToken):
    class Meta(AbstractIDToken.Meta):
        swappable = "OAUTH2_PROVIDER_ID_TOKEN_MODEL"
