"""Upstream providers, users' connections to them, and which MCP server may use which.

Secrets (the provider's client secret, users' upstream access and refresh tokens) are
stored only as AES-GCM ciphertexts under KEY_ENCRYPTION_KEY (connections.vault), each bound
to its row's ``uid`` and field name, so a ciphertext copied to another row or field does
not open.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class UpstreamProvider(models.Model):
    """An OAuth 2.0 / OpenID Connect provider users connect accounts of (GitHub, Google...)."""

    class AuthMethod(models.TextChoices):
        BASIC = "client_secret_basic", "client_secret_basic"
        POST = "client_secret_post", "client_secret_post"

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    slug = models.SlugField(
        max_length=64,
        unique=True,
        help_text="The name MCP servers pass as `audience` in the token exchange, e.g. github.",
    )
    name = models.CharField(max_length=120)
    discovery_url = models.URLField(
        max_length=512, blank=True, help_text="RFC 8414 / OIDC discovery; fills empty endpoints."
    )
    authorization_endpoint = models.URLField(max_length=512)
    token_endpoint = models.URLField(max_length=512)
    revocation_endpoint = models.URLField(
        max_length=512, blank=True, help_text="RFC 7009; disconnecting revokes there."
    )
    userinfo_endpoint = models.URLField(
        max_length=512, blank=True, help_text="Read once after connecting, for the account name."
    )
    client_id = models.CharField(max_length=255)
    client_secret_encrypted = models.TextField(blank=True, editable=False)
    token_endpoint_auth_method = models.CharField(
        max_length=32, choices=AuthMethod.choices, default=AuthMethod.BASIC
    )
    scopes = models.CharField(
        max_length=1000, blank=True, help_text="Space-separated upstream scopes to request."
    )
    extra_authorize_params = models.JSONField(
        default=dict, blank=True, help_text='e.g. {"access_type": "offline"} for Google.'
    )
    use_pkce = models.BooleanField(default=True, help_text="RFC 7636 S256.")
    rotates_refresh_tokens = models.BooleanField(
        default=False, help_text="The provider returns a new refresh token on every refresh."
    )
    default_access_lifetime = models.PositiveIntegerField(
        default=3600, help_text="Seconds, when the provider sends no expires_in."
    )
    enabled = models.BooleanField(
        default=True, help_text="Disabling stops every vend at once and revokes upstream."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


class Connection(models.Model):
    """One user's account at one provider: its tokens (encrypted), scopes and health."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        BROKEN = "broken", "Broken: reconnect"
        DISCONNECTED = "disconnected", "Disconnected"

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="connections"
    )
    provider = models.ForeignKey(
        UpstreamProvider, on_delete=models.CASCADE, related_name="connections"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    account = models.CharField(max_length=255, blank=True)
    scopes = models.CharField(max_length=1000, blank=True)
    access_token_encrypted = models.TextField(blank=True)
    refresh_token_encrypted = models.TextField(blank=True)
    access_expires_at = models.DateTimeField(null=True, blank=True)
    refresh_at = models.DateTimeField(null=True, blank=True, db_index=True)
    failures = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=64, blank=True)  # an error code, never a token
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    upstream_revoke_pending = models.BooleanField(default=False)
    connected_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "provider"], name="one_connection_per_provider")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.provider.slug}"


class ConnectionPolicy(models.Model):
    """An admin's rule: this MCP server (its confidential client, acting for its resource)
    may obtain users' tokens of this provider, with at most these upstream scopes."""

    client = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    resource = models.ForeignKey(
        "authserver.Resource",
        on_delete=models.CASCADE,
        related_name="+",
        help_text="The MCP server: subject tokens must carry it as aud.",
    )
    provider = models.ForeignKey(
        UpstreamProvider, on_delete=models.CASCADE, related_name="policies"
    )
    scopes = models.CharField(max_length=1000, help_text="Space-separated upstream scopes.")
    enabled = models.BooleanField(default=True)

    class Meta:
        verbose_name_plural = "connection policies"
        constraints = [
            models.UniqueConstraint(
                fields=["client", "resource", "provider"], name="one_policy_per_server_provider"
            )
        ]

    def __str__(self) -> str:
        return f"{self.client} -> {self.provider.slug}"
