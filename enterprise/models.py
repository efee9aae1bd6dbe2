"""What an admin trusts beyond our own clients: enterprise identity providers that issue
ID-JAGs (SEP-990), workload issuers whose tokens stand in for a client secret, the link
from an enterprise subject to a local user, and the single-use record of assertions."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class TrustedIdentityProvider(models.Model):
    """An enterprise IdP whose Identity Assertion JWT Authorization Grants we accept."""

    name = models.CharField(max_length=120)
    issuer = models.CharField(
        max_length=512, unique=True, help_text="The IdP's issuer, exactly as in its JWTs' iss."
    )
    jwks_uri = models.URLField(max_length=512, help_text="Where the IdP publishes its keys.")
    clients = models.ManyToManyField(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
        related_name="trusted_identity_providers",
        blank=True,
        help_text="Clients this IdP may speak for (the ID-JAG's client_id).",
    )
    resources = models.ManyToManyField(
        "authserver.Resource",
        related_name="trusted_identity_providers",
        blank=True,
        help_text="Resources (MCP servers) this IdP may grant access to.",
    )
    provision_users = models.BooleanField(
        default=False,
        help_text="Create a local user for a subject seen for the first time; otherwise an "
        "unknown subject is refused.",
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name or self.issuer


class EnterpriseSubject(models.Model):
    """The link from an issuer's subject to a local user (issuer + sub, never email)."""

    issuer = models.CharField(max_length=512)
    subject = models.CharField(max_length=255)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enterprise_subjects"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="one_user_per_subject")
        ]

    def __str__(self) -> str:
        return f"{self.issuer} {self.subject}"


class WorkloadTrustRule(models.Model):
    """A workload's platform-issued JWT accepted as the client assertion of one client."""

    name = models.CharField(max_length=120)
    issuer = models.CharField(
        max_length=512, help_text="e.g. https://token.actions.githubusercontent.com"
    )
    jwks_uri = models.URLField(max_length=512)
    subject_pattern = models.CharField(
        max_length=512,
        help_text="The sub to accept; '*' matches any run of characters, everything else is "
        "literal (e.g. repo:acme/deploy:ref:refs/heads/main).",
    )
    audience = models.CharField(
        max_length=512, help_text="The aud the token must carry (set on the workload's side)."
    )
    client = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
        on_delete=models.CASCADE,
        related_name="workload_trust_rules",
        help_text="The confidential client the workload acts as.",
    )
    single_use = models.BooleanField(
        default=True,
        help_text="Refuse a token whose jti was seen before (RFC 7523 §3). Turn off for "
        "Kubernetes projected tokens, which the kubelet reuses until it rotates them.",
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["issuer"])]

    def __str__(self) -> str:
        return self.name


class UsedAssertion(models.Model):
    """RFC 7523 §3: a jti seen from an issuer, kept until the assertion expires."""

    issuer = models.CharField(max_length=512)
    jti = models.CharField(max_length=255)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "jti"], name="one_use_per_assertion")
        ]

    def __str__(self) -> str:
        return f"{self.issuer} {self.jti}"
