"""Grants and tokens, swapped in for django-oauth-toolkit's models.

DOT's abstract models already carry the RFC 8707 ``resource`` (a JSON list) on grants and
tokens and ``token_family`` on refresh tokens; we add what JWT access tokens, reuse
detection and the revocation list need.
"""

from __future__ import annotations

import uuid

from django.db import models
from oauth2_provider.models import (
    AbstractAccessToken,
    AbstractGrant,
    AbstractIDToken,
    AbstractRefreshToken,
)


class Grant(AbstractGrant):
    """An authorization code (RFC 6749 §4.1.2)."""

    # The family every token issued from this code joins; a replayed code revokes it
    # (RFC 6749 §4.1.2: "SHOULD revoke ... all tokens previously issued based on that code").
    token_family = models.UUIDField(default=uuid.uuid4, editable=False, db_index=True)
    auth_time = models.DateTimeField(null=True, blank=True)
    consumed_at = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractGrant.Meta):
        swappable = "OAUTH2_PROVIDER_GRANT_MODEL"


class AccessToken(AbstractAccessToken):
    """One issued JWT access token (RFC 9068). The JWT itself is never stored."""

    jti = models.CharField(max_length=64, unique=True, null=True, blank=True)
    kid = models.CharField(max_length=128, blank=True, help_text="Signing key id")
    token_family = models.UUIDField(null=True, blank=True, db_index=True)
    auth_time = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractAccessToken.Meta):
        swappable = "OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL"
        indexes = [
            models.Index(fields=["expires"]),
            models.Index(fields=["kid"]),
        ]


class RefreshToken(AbstractRefreshToken):
    """A refresh token; rotated on every use, its family revoked on reuse (OAuth 2.1 §4.3.1)."""

    absolute_expires = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractRefreshToken.Meta):
        swappable = "OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL"


class IDToken(AbstractIDToken):
    class Meta(AbstractIDToken.Meta):
        swappable = "OAUTH2_PROVIDER_ID_TOKEN_MODEL"


class SigningKey(models.Model):
    """A JWS signing key. Lifecycle (see authserver.keys): pending -> active -> retiring -> retired.

    The private JWK is stored encrypted under KEY_ENCRYPTION_KEY (authserver.secretbox) and
    destroyed when the key retires or is marked compromised.
    """

    class State(models.TextChoices):
        PENDING = "pending", "pending (published, not signing yet)"
        ACTIVE = "active", "active (signing)"
        RETIRING = "retiring", "retiring (published, no longer signing)"
        RETIRED = "retired", "retired (unpublished, private key destroyed)"
        COMPROMISED = "compromised", "compromised (unpublished, its tokens revoked)"

    class Algorithm(models.TextChoices):
        ES256 = "ES256", "ES256 (ECDSA P-256)"
        RS256 = "RS256", "RS256 (RSA 2048)"
        EDDSA = "EdDSA", "EdDSA (Ed25519)"

    kid = models.CharField(max_length=64, unique=True, help_text="RFC 7638 JWK thumbprint")
    alg = models.CharField(max_length=8, choices=Algorithm.choices)
    state = models.CharField(max_length=12, choices=State.choices, db_index=True)
    public_jwk = models.JSONField()
    private_jwk_encrypted = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField()
    activates_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    retiring_at = models.DateTimeField(null=True, blank=True)
    retire_after = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        constraints = [
            # Exactly one signing key per algorithm, even if two rotations race.
            models.UniqueConstraint(
                fields=["alg"], condition=models.Q(state="active"), name="one_active_key_per_alg"
            ),
            models.UniqueConstraint(
                fields=["alg"], condition=models.Q(state="pending"), name="one_pending_key_per_alg"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.alg} {self.kid[:12]}… ({self.state})"


class KeyRotationLock(models.Model):
    """One row per algorithm, locked with SELECT ... FOR UPDATE to serialise rotations."""

    alg = models.CharField(max_length=8, primary_key=True)

    def __str__(self) -> str:
        return f"rotation lock {self.alg}"
