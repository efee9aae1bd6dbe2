"""The generation number that invalidates per-process caches of the token endpoint."""

from __future__ import annotations

from django.db import models


class CacheGeneration(models.Model):
    """A number PostgreSQL triggers renew (from a sequence) on every change to what the token
    endpoint caches per process (clients, resource access, resources, scopes, signing keys, exchange
    policies, tool policies). A worker compares it once per request, so a change made anywhere,
    by any code path (queryset ``update()`` included), is seen on the very next request."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"cache generation {self.value}"
