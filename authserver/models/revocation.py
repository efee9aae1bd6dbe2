"""Revocation cut-offs and the latest signed revocation list."""

from __future__ import annotations

from django.db import models


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
