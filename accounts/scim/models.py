"""SCIM bearer tokens (stored as SHA-256 digests) and the provider's externalId of a user."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models

from authserver.token_hash import token_hash

TOKEN_PREFIX = "scim_"  # noqa: S105 - a prefix, not a secret


# The stored form of a SCIM token: the server's one token digest (authserver/token_hash.py).
digest = token_hash


class ScimToken(models.Model):
    """A provisioning client's bearer token. Only its digest is kept; shown once on creation."""

    name = models.CharField(max_length=100, help_text="Who uses it, e.g. 'Okta provisioning'.")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "SCIM token"

    def __str__(self) -> str:
        return self.name

    @classmethod
    def issue(cls, name: str) -> tuple[ScimToken, str]:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        return cls.objects.create(name=name, digest=digest(token)), token


class ScimIdentity(models.Model):
    """What the provisioning client calls a user (``externalId``), to link first sign-ins."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="scim_identity"
    )
    external_id = models.CharField(max_length=255, unique=True, null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.user} ({self.external_id})"
