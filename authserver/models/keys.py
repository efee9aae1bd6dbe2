"""Signing keys and the lock that serialises their rotation."""

from __future__ import annotations

from django.db import models


class SigningKey(models.Model):
    """A JWS signing key. Lifecycle (authserver.keys.keyring): pending, active, retiring, retired.

    The private JWK is stored encrypted under KEY_ENCRYPTION_KEY (authserver.keys.secretbox) and
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
