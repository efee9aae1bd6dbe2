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
            # A client's live tokens (the admin's client list counts them for its page's
            # rows): a range scan that skips revoked rows and, by ``expires``, expired ones.
            models.Index(
                fields=["application", "expires"],
                condition=models.Q(revoked_at__isnull=True),
                name="live_tokens_by_client",
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
        indexes = [
            *AbstractRefreshToken.Meta.indexes,
            # A client's live grants (the admin's client list), without its rotated-out rows.
            models.Index(
                fields=["application"],
                condition=models.Q(revoked__isnull=True),
                name="live_grants_by_client",
            ),
        ]

    @classmethod
    def revoke_family(cls, token_family) -> None:
        """DOT deletes the family's access tokens; we mark them revoked (revocation list)."""
        _request_revocation(None, family=token_family)


class TokenFamily(models.Model):
    """What every token of one family shares: its cut-off and its place in the rotation.

    Every write into a family locks this row first (the token writer's ``INSERT ... ON
    CONFLICT DO UPDATE``, which sees the latest committed version whatever its snapshot),
    and so does every revocation before it marks rows (authserver.revocation.service). A
    revocation therefore waits for a rotation in flight and then sees its new tokens, and a
    rotation that comes after a revocation finds ``revoked_at`` and writes nothing.

    Rotation (OAuth 2.1 §4.3.1): rotating refresh token ``rotated_from`` opened the current
    generation, the refresh tokens with ``id >= floor``. Within the reuse grace window after
    ``rotated_at`` that same token may be presented again and gets a sibling in the current
    generation (a client refreshing twice in parallel); the next rotation of any member
    raises ``floor`` and so supersedes the others. docs/TOKEN-ENDPOINT.md, "Token families".
    """

    id = models.UUIDField(primary_key=True)  # the tokens' ``token_family``
    revoked_at = models.DateTimeField(null=True, blank=True)
    rotated_from = models.BigIntegerField(null=True, blank=True)
    rotated_at = models.DateTimeField(null=True, blank=True)
    floor = models.BigIntegerField(default=0)
    expires_at = models.DateTimeField(db_index=True)  # no token of the family outlives it

    def __str__(self) -> str:
        return f"family {self.id}{' (revoked)' if self.revoked_at else ''}"


class IDToken(AbstractIDToken):
    class Meta(AbstractIDToken.Meta):
        swappable = "OAUTH2_PROVIDER_ID_TOKEN_MODEL"
