"""Removal of self-registered clients nobody uses (the policy in clients/policy.py).

A DCR or CIMD client is removed, with its grants and tokens (foreign keys cascade), when
it was never used within ``DYNAMIC_CLIENT_UNUSED_DAYS`` of registering, or has not been
used for ``DYNAMIC_CLIENT_IDLE_DAYS``. "Used" means a token was issued
(``Client.last_used_at``). Clients an admin verified, and clients registered by an admin,
are never removed. A CIMD client removed here is simply fetched again on its next use.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db.models import Q

from clients.models import Client
from clients.policy import SELF_REGISTERED

logger = logging.getLogger("clients.cleanup")


def stale_clients(*, now: datetime, unused_days: int, idle_days: int):
    never_used = Q(last_used_at__isnull=True, created__lt=now - timedelta(days=unused_days))
    idle = Q(last_used_at__lt=now - timedelta(days=idle_days))
    return Client.objects.filter(
        never_used | idle, registration_source__in=SELF_REGISTERED, verified=False
    )


def remove_stale_clients(
    *, now: datetime, unused_days: int, idle_days: int, batch_size: int = 500
) -> int:
    """Delete stale self-registered clients in batches; safe to run again (idempotent)."""
    removed = 0
    while True:
        batch = list(
            stale_clients(now=now, unused_days=unused_days, idle_days=idle_days)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not batch:
            break
        Client.objects.filter(pk__in=batch).delete()
        removed += len(batch)
    if removed:
        logger.info("removed %d stale self-registered clients", removed)
    return removed
