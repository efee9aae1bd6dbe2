"""Storage for per-call approvals: which tools need one, the requests, the ping settings of an
MCP server's client, and the passkeys people approve with. Models call no service."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from mcp_token_verifier import approvals as rules

DEFAULT_LIFETIME = timedelta(minutes=5)
DEFAULT_INTERVAL = 5  # seconds between polls (CIBA Core §7.3)


def default_expiry():
    return timezone.now() + DEFAULT_LIFETIME


def validate_rule(value: str) -> None:
    if value:
        try:
            rules.parse_rule(value)
        except rules.InvalidRule as exc:
            raise ValidationError(str(exc)) from None


class ToolApprovalRule(models.Model):
    """An administrator's mark: calls of ``tool`` at ``resource`` need a person's approval,
    every call or only those matching ``rule`` (``amount > 1000``)."""

    resource = models.ForeignKey(
        "authserver.Resource", on_delete=models.CASCADE, related_name="approval_rules"
    )
    tool = models.CharField(max_length=128)
    rule = models.CharField(
        max_length=rules.MAX_RULE,
        blank=True,
        validators=[validate_rule],
        help_text='Empty: every call. Else one comparison: amount > 1000, currency != "EUR".',
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["resource", "tool"], name="approval_rule_per_tool")
        ]

    def __str__(self) -> str:
        return f"{self.tool} ({self.rule or 'every call'})"


class ApprovalClient(models.Model):
    """CIBA Core §4 client metadata for an MCP server's client: how it learns of a decision."""

    class Mode(models.TextChoices):
        POLL = "poll"
        PING = "ping"

    client = models.OneToOneField(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
        on_delete=models.CASCADE,
        related_name="approval_settings",
    )
    delivery_mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.POLL)
    notification_endpoint = models.URLField(
        blank=True, help_text="backchannel_client_notification_endpoint (ping mode; HTTPS)."
    )
    # The MCP servers this client speaks for: it may ask for approvals of their tools only.
    resources = models.ManyToManyField("authserver.Resource", related_name="approval_clients")

    def __str__(self) -> str:
        return f"{self.client_id} ({self.delivery_mode})"


class Method(models.TextChoices):
    """How the person proved it was them when approving."""

    PASSKEY = "passkey"  # a fresh WebAuthn assertion with user verification
    PASSWORD = "password"  # noqa: S105 - re-entered password, only where the policy allows it


class ApprovalPolicy(models.Model):
    """The one row (pk 1) of approval settings an administrator edits in the admin."""

    require_passkeys = models.BooleanField(
        default=True,
        help_text="On: approving needs a passkey (WebAuthn, user verification). Off: a "
        "person without a passkey may approve by re-entering their password (rate-limited "
        "like sign-in); people with a passkey still use it.",
    )

    class Meta:
        verbose_name = verbose_name_plural = "approval policy"

    def __str__(self) -> str:
        return "Passkeys required" if self.require_passkeys else "Password allowed without passkey"

    @classmethod
    def current(cls) -> ApprovalPolicy:
        """The policy; before an administrator saved one, the default (passkeys required)."""
        return cls.objects.filter(pk=1).first() or cls(pk=1)


class ApprovalRequest(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        DENIED = "denied"
        EXPIRED = "expired"
        USED = "used"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    auth_req_hash = models.CharField(max_length=64, unique=True)  # token_hash(auth_req_id)
    client = models.ForeignKey(settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    resource = models.ForeignKey("authserver.Resource", on_delete=models.CASCADE)
    tool = models.CharField(max_length=128)
    arguments = models.JSONField()
    arguments_digest = models.CharField(max_length=43)
    summary = models.CharField(max_length=500)
    binding_message = models.CharField(max_length=100, blank=True)
    authorization_details = models.JSONField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    expires_at = models.DateTimeField(default=default_expiry)
    interval = models.PositiveIntegerField(default=DEFAULT_INTERVAL)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    delivery_mode = models.CharField(
        max_length=8, choices=ApprovalClient.Mode.choices, default=ApprovalClient.Mode.POLL
    )
    # Ping needs the token back to send it (CIBA §10.2): encrypted at rest (secretbox).
    notification_token_encrypted = models.TextField(blank=True)
    notification_endpoint = models.URLField(blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)  # the person's notice, sent once
    credential_id = models.CharField(max_length=512, blank=True)  # the passkey that approved
    approved_with = models.CharField(max_length=8, choices=Method.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    shown_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "status"], name="approval_user_status")]

    def __str__(self) -> str:
        return f"{self.tool} for user {self.user_id} ({self.status})"


class Passkey(models.Model):
    """A WebAuthn credential a person approves with (public key only)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="passkeys"
    )
    credential_id = models.CharField(max_length=512, unique=True)  # base64url
    public_key = models.BinaryField()  # COSE
    sign_count = models.PositiveBigIntegerField(default=0)
    name = models.CharField(max_length=60, default="Passkey")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} of user {self.user_id}"
