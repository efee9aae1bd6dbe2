"""SCIM bearer tokens (stored as SHA-256 digests) and the identities they provisioned.

A SCIM token belongs to one upstream sign-in provider (``provider``, the allauth provider id
such as ``okta``): the users it creates carry that provider, and a first sign-in links to
them only through the same provider's subject (docs/IDENTITY.md, "Who a principal is").
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models

from authserver.token_hash import token_hash

TOKEN_PREFIX = "scim_"  # noqa: S105 - a prefix, not a secret

# The stored form of a SCIM token: the server's one token digest (authserver/token_hash.py).
digest = token_hash

PROVIDER_HELP = (
    "The upstream sign-in provider id (e.g. okta) whose users this token provisions. Empty: "
    "the users it creates are never linked to a sign-in (fail closed) until bound."
)


class ScimToken(models.Model):
    """A provisioning client's bearer token. Only its digest is kept; shown once on creation."""

    name = models.CharField(max_length=100, help_text="Who uses it, e.g. 'Okta provisioning'.")
    provider = models.CharField(max_length=40, blank=True, default="", help_text=PROVIDER_HELP)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "SCIM token"

    def __str__(self) -> str:
        return self.name

    @classmethod
    def issue(cls, name: str, *, provider: str = "") -> tuple[ScimToken, str]:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        return cls.objects.create(name=name, provider=provider, digest=digest(token)), token


class ScimIdentity(models.Model):
    """A user a provisioning client created: its provider and what it calls the user
    (``externalId``). The pair (provider, externalId) links that provider's first sign-in;
    an identity with no provider links nothing."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="scim_identity"
    )
    provider = models.CharField(max_length=40, blank=True, default="", help_text=PROVIDER_HELP)
    # NULL, not "": any number of users may have no externalId under the unique pair.
    external_id = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "external_id"], name="one_user_per_provider_external_id"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.provider or 'unbound'}:{self.external_id})"
