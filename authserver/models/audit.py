"""The append-only audit trail, the head of its hash chain, and the sinks it streams to."""

from __future__ import annotations

import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


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


class AuditSink(models.Model):
    """Where the audit trail is streamed as it happens (authserver.audit_sinks): a signed
    webhook, syslog or an OpenTelemetry collector. ``cursor`` is the ``chain_index`` of the
    last event the sink acknowledged; it only moves forward, and only after the sink took the
    batch, so a sink that was down gets everything after it once it is back. The webhook's
    signing secret is kept encrypted under KEY_ENCRYPTION_KEY (authserver.keys.secretbox)."""

    class Kind(models.TextChoices):
        WEBHOOK = "webhook", "Signed webhook"
        SYSLOG = "syslog", "Syslog"
        OTLP = "otlp", "OpenTelemetry logs"

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    url = models.CharField(
        max_length=512,
        help_text=(
            "Webhook and OpenTelemetry: an https URL (http only on loopback), e.g. "
            "`https://collector.example:4318/v1/logs`. Syslog: `udp://host:514` or "
            "`tcp://host:601`."
        ),
    )
    secret_encrypted = models.TextField(blank=True, editable=False)
    batch_size = models.PositiveSmallIntegerField(
        default=100,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
        help_text="Events per request (1 to 1000).",
    )
    timeout = models.PositiveSmallIntegerField(
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(30)],
        help_text="Seconds to wait for the sink (1 to 30); a slower answer is retried later.",
    )
    enabled = models.BooleanField(default=True)
    cursor = models.BigIntegerField(
        default=0,
        validators=[MinValueValidator(0)],
        help_text=(
            "Chain index of the last event the sink acknowledged; the next delivery starts "
            "after it. 0 sends the whole trail; lower it to send events again."
        ),
    )
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    lease_holder = models.CharField(max_length=32, blank=True, editable=False)
    delivered_at = models.DateTimeField(null=True, blank=True, editable=False)
    failures = models.PositiveIntegerField(default=0, editable=False)
    last_error = models.CharField(max_length=200, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "audit sink"

    def __str__(self) -> str:
        return self.name
