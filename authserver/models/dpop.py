"""Seen DPoP proof ids (RFC 9449 §11.1) when no Redis is configured."""

from __future__ import annotations

from django.db import models


class DPoPProofJti(models.Model):
    """Seen DPoP proof ids (RFC 9449 §11.1), when no Redis is configured for the cache."""

    jti = models.CharField(max_length=128, primary_key=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.jti
