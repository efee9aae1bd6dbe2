"""Celery tasks for clients: thin, idempotent, each calling one function."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import OperationalError
from django.utils import timezone

from clients import cleanup


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True)
def remove_stale_clients() -> int:
    """Delete self-registered clients never used or long idle (clients/cleanup.py)."""
    config = settings.CONFIG
    return cleanup.remove_stale_clients(
        now=timezone.now(),
        unused_days=config.dynamic_client_unused_days,
        idle_days=config.dynamic_client_idle_days,
    )
