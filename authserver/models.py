"""Grants and tokens, swapped in for django-oauth-toolkit's models.

DOT's abstract models already carry the RFC 8707 ``resource`` (a JSON list) on grants and
tokens and ``token_family`` on refresh tokens; we add what JWT access tokens, reuse
detection and the revocation list need.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
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
        """Mark revoked instead of deleting: the row is what the revocation list is made of."""
        from django.utils import timezone

        from authserver.revocation import revoke_token_row

        revoke_token_row(self, now=timezone.now(), actor="admin")
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
        from django.utils import timezone

        from authserver.revocation import revoke_family

        revoke_family(token_family, now=timezone.now(), reason="reuse")


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


def _validate_scope_token(value: str) -> None:
    from authserver.scopes import is_scope_token

    if not is_scope_token(value) or value == "offline_access":
        raise ValidationError(
            "a scope name is printable ASCII without spaces, quotes or backslashes "
            "(RFC 6749 §3.3), and offline_access is reserved"
        )


class Resource(models.Model):
    """An MCP server we issue tokens for (an RFC 8707 resource; the tokens' ``aud``)."""

    identifier = models.CharField(
        max_length=512,
        unique=True,
        help_text="Exactly the `resource` the MCP server publishes in its RFC 9728 metadata; "
        "tokens carry it as `aud`.",
    )
    canonical = models.CharField(max_length=512, unique=True, editable=False)
    name = models.CharField(max_length=120, help_text="Shown to users on the consent screen.")
    description = models.TextField(blank=True)
    enabled = models.BooleanField(default=True)
    access_token_lifetime = models.PositiveIntegerField(
        default=300, help_text="Seconds (at most ACCESS_TOKEN_MAX_LIFETIME)."
    )
    issue_refresh_tokens = models.BooleanField(
        default=True, help_text="Issue refresh tokens to clients that ask for offline_access."
    )
    require_dpop = models.BooleanField(
        default=False, help_text="Only DPoP-bound tokens (RFC 9449) for this MCP server."
    )
    introspection_client = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="introspects_for",
        help_text="Confidential client this MCP server authenticates with at /introspect.",
    )
    allowed_groups = models.ManyToManyField(  # issue 21: authserver.grouppolicy
        "auth.Group", blank=True, related_name="+", help_text="Only these groups (empty: all)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return f"{self.name} ({self.identifier})"

    def save(self, *args, **kwargs) -> None:
        from authserver.resources import canonicalize

        self.canonical = canonicalize(self.identifier)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        from authserver.resources import validate_registered_identifier

        try:
            validate_registered_identifier(self.identifier)
        except Exception as exc:
            raise ValidationError({"identifier": str(getattr(exc, "description", exc))}) from exc
        max_lifetime = settings.CONFIG.access_token_max_lifetime
        if not 1 <= self.access_token_lifetime <= max_lifetime:
            raise ValidationError(
                {"access_token_lifetime": f"between 1 and {max_lifetime} seconds"}
            )


class Scope(models.Model):
    """A scope an MCP server defines, with the words and tools a user sees on consent."""

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="scopes")
    name = models.CharField(max_length=64, validators=[_validate_scope_token])
    description = models.CharField(max_length=300, help_text="Plain words: what it allows.")
    tools = models.JSONField(
        default=list, blank=True, help_text="Names of the MCP tools this scope unlocks."
    )
    is_default = models.BooleanField(
        default=False, help_text="Granted when a request names no scope of this resource."
    )
    allowed_groups = models.ManyToManyField(  # issue 21: authserver.grouppolicy
        "auth.Group", blank=True, related_name="+", help_text="Only these groups (empty: all)."
    )

    class Meta:
        ordering = ("resource", "name")
        constraints = [
            models.UniqueConstraint(fields=["resource", "name"], name="unique_scope_per_resource")
        ]

    def __str__(self) -> str:
        return self.name


class ResourceAccess(models.Model):
    """What an admin allows a (confidential) client to get with client credentials."""

    client = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
        on_delete=models.CASCADE,
        related_name="resource_access",
    )
    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="access")
    scope = models.TextField(
        help_text="Space-separated scopes of this resource the client may get."
    )

    class Meta:
        verbose_name_plural = "resource access"
        constraints = [
            models.UniqueConstraint(fields=["client", "resource"], name="unique_access_per_pair")
        ]

    def __str__(self) -> str:
        return f"{self.client} -> {self.resource.identifier}"

    @property
    def scopes(self) -> list[str]:
        return self.scope.split()

    def clean(self) -> None:
        if self.resource_id is None:
            return
        defined = set(self.resource.scopes.values_list("name", flat=True))
        unknown = [s for s in self.scopes if s not in defined]
        if unknown:
            raise ValidationError({"scope": f"not defined by this resource: {' '.join(unknown)}"})


class RevocationCutoff(models.Model):
    """Every token of a subject or client issued before ``before`` is revoked.

    Used when a user is deactivated or deleted, or a client disabled or deleted: their token
    rows may be gone with them, but the revocation list must still name them until the last
    token they could hold has expired (``expires_at``).
    """

    class Kind(models.TextChoices):
        SUBJECT = "sub", "subject (user)"
        CLIENT = "client_id", "client"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    value = models.CharField(max_length=255)
    before = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "value"], name="one_cutoff_per_subject")
        ]

    def __str__(self) -> str:
        return f"{self.kind}={self.value} before {self.before:%Y-%m-%d %H:%M:%S}"


class RevocationListSnapshot(models.Model):
    """The latest published, signed revocation list (one row). Redis caches it when present."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    token = models.TextField()
    etag = models.CharField(max_length=64)
    issued_at = models.DateTimeField()
    issuer = models.CharField(max_length=512, blank=True)
    entries = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"revocation list of {self.issued_at:%Y-%m-%d %H:%M:%S} ({self.entries} entries)"


class AuditEvent(models.Model):
    """An append-only audit record. Never a token, code, secret or verifier: ids only.

    Rows are written on the hot path without a lock and sealed shortly after into a hash
    chain (``chain_index``, ``prev_hash``, ``hash``) by authserver.audit.seal_pending, so
    editing or deleting a sealed row breaks the chain that ``verify_audit_chain`` checks.
    """

    at = models.DateTimeField(db_index=True)
    kind = models.CharField(max_length=48, db_index=True)
    actor = models.CharField(max_length=200, blank=True)
    client_id = models.CharField(max_length=255, blank=True, db_index=True)
    user_id = models.CharField(max_length=64, blank=True, db_index=True)
    resource = models.CharField(max_length=512, blank=True)
    jti = models.CharField(max_length=64, blank=True)
    family = models.CharField(max_length=64, blank=True)
    scope = models.TextField(blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    chain_index = models.BigIntegerField(null=True, blank=True, unique=True)
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ("-id",)
        indexes = [
            models.Index(
                fields=["id"], condition=models.Q(chain_index__isnull=True), name="audit_unsealed"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"


class AuditChainHead(models.Model):
    """The end of the audit hash chain (one row), locked while sealing."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    last_index = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)

    def __str__(self) -> str:
        return f"audit chain at {self.last_index}"


class TokenExchangePolicy(models.Model):
    """RFC 8693: which client may exchange a token for resource ``source`` into one for
    ``target``, carrying at most ``scope``. No policy, no exchange."""

    client = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
        on_delete=models.CASCADE,
        related_name="exchange_policies",
        help_text="The exchanging client (an MCP server or gateway acting for `source`).",
    )
    source = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="+")
    target = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="+")
    scope = models.TextField(help_text="Space-separated scopes of the target it may carry.")
    enabled = models.BooleanField(default=True)

    class Meta:
        verbose_name_plural = "token exchange policies"
        constraints = [
            models.UniqueConstraint(
                fields=["client", "source", "target"], name="one_policy_per_exchange"
            )
        ]

    def __str__(self) -> str:
        return f"{self.client}: {self.source.identifier} -> {self.target.identifier}"

    def clean(self) -> None:
        if self.target_id is None:
            return
        defined = set(self.target.scopes.values_list("name", flat=True))
        unknown = [s for s in self.scope.split() if s not in defined]
        if unknown:
            raise ValidationError({"scope": f"not defined by the target: {' '.join(unknown)}"})


class DPoPProofJti(models.Model):
    """Seen DPoP proof ids (RFC 9449 §11.1), when no Redis is configured for the cache."""

    jti = models.CharField(max_length=128, primary_key=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.jti


class CacheGeneration(models.Model):
    """A number PostgreSQL triggers renew (from a sequence) on every change to what the token
    endpoint caches per process (clients, resource access, resources, scopes, signing keys, exchange
    policies, tool policies). A worker compares it once per request, so a change made anywhere,
    by any code path (queryset ``update()`` included), is seen on the very next request."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"cache generation {self.value}"


from authserver.tool_grants.models import ToolPolicy  # noqa: E402, F401 - one of this app's models
