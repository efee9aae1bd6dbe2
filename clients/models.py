"""The OAuth client, swapped in for django-oauth-toolkit's Application.

DOT's abstract model already carries ``client_id``, the hashed ``client_secret``,
``redirect_uris``, ``client_type``, ``name`` (our RFC 7591 ``client_name``),
``skip_authorization`` (trusted first-party clients), ``registration_source`` (admin,
dynamic registration or metadata document) and ``cimd_expires_at``. We add the rest of the
RFC 7591 §2 client metadata and the state an operator needs.
"""

from __future__ import annotations

from django.db import models
from oauth2_provider.models import AbstractApplication

from clients import secrets

# RFC 7591 §2 grant type names, mapped to DOT's internal identifiers.
GRANT_TYPE_TO_DOT = {
    "authorization_code": AbstractApplication.GRANT_AUTHORIZATION_CODE,
    "client_credentials": AbstractApplication.GRANT_CLIENT_CREDENTIALS,
    # A refresh is allowed by the grant that issued the refresh token (RFC 6749 §6).
    "refresh_token": AbstractApplication.GRANT_AUTHORIZATION_CODE,
}


class Client(AbstractApplication):
    class AuthMethod(models.TextChoices):
        NONE = "none", "none (public client)"
        CLIENT_SECRET_BASIC = "client_secret_basic", "client_secret_basic"
        CLIENT_SECRET_POST = "client_secret_post", "client_secret_post"

    class ApplicationType(models.TextChoices):
        NATIVE = "native", "native"
        WEB = "web", "web"

    # RFC 7591 §2 metadata. ``name`` (from DOT) is the client_name.
    client_uri = models.URLField(max_length=512, blank=True)
    logo_uri = models.URLField(max_length=512, blank=True)
    tos_uri = models.URLField(max_length=512, blank=True)
    policy_uri = models.URLField(max_length=512, blank=True)
    contacts = models.JSONField(default=list, blank=True)
    software_id = models.CharField(max_length=255, blank=True)
    software_version = models.CharField(max_length=255, blank=True)
    application_type = models.CharField(
        max_length=16, choices=ApplicationType.choices, default=ApplicationType.WEB
    )
    token_endpoint_auth_method = models.CharField(
        max_length=32, choices=AuthMethod.choices, default=AuthMethod.CLIENT_SECRET_BASIC
    )
    grant_types = models.JSONField(default=list, blank=True)
    response_types = models.JSONField(default=list, blank=True)
    scope = models.TextField(
        blank=True, help_text="Scope the client registered with (recorded; not a ceiling)."
    )

    # Operator state.
    verified = models.BooleanField(
        default=False, help_text="Reviewed by an admin; unverified clients carry a warning."
    )
    is_active = models.BooleanField(default=True, help_text="Disabled clients get no tokens.")
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractApplication.Meta):
        swappable = "OAUTH2_PROVIDER_APPLICATION_MODEL"
        indexes = [models.Index(fields=["registration_source", "created"])]

    def natural_key(self):
        return (self.client_id,)

    def save(self, *args, **kwargs) -> None:
        # Secrets are never stored in plaintext: DOT's default generator (or an admin form)
        # may hand us one; hash it with ours. Public clients keep no secret at all.
        self.hash_client_secret = False
        if self.client_type == self.CLIENT_PUBLIC:
            self.client_secret = ""
        elif self.client_secret and not secrets.is_hashed(self.client_secret):
            self.client_secret = secrets.hash_secret(self.client_secret)
        super().save(*args, **kwargs)

    def set_new_secret(self) -> str:
        """Give a confidential client a fresh secret; returns it (the only time it is seen)."""
        plaintext = secrets.generate_secret()
        self.client_secret = secrets.hash_secret(plaintext)
        return plaintext

    @property
    def client_name(self) -> str:
        return self.name

    @property
    def is_public(self) -> bool:
        return self.client_type == self.CLIENT_PUBLIC

    def allows_grant_type(self, *grant_types: str) -> bool:
        """DOT asks with its own identifiers; we keep the RFC 7591 list in ``grant_types``."""
        if not self.is_active:
            return False
        allowed = {GRANT_TYPE_TO_DOT[g] for g in self.grant_types if g in GRANT_TYPE_TO_DOT}
        allowed.add(self.authorization_grant_type)
        return any(g in allowed for g in grant_types)

    def is_usable(self, request) -> bool:
        return self.is_active
