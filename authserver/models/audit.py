"""The append-only audit trail and the head of its hash chain."""

from __future__ import annotations

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
