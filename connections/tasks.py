"""Celery tasks for connections: thin, idempotent, each calling one service."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from connections import services
from connections.services import revoke_upstream_tokens  # noqa: F401 - registers it


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True)
def refresh_due_connections() -> int:
    """Beat: queue a refresh for every connection past 80% of its token's lifetime."""
    due = services.due_connections(now=timezone.now())
    for pk in due:
        refresh_connection.delay(pk)
    return len(due)


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True)
def refresh_connection(pk: int) -> str:
    """Refresh one connection if still due (re-checked under its row lock)."""
    return services.refresh_connection(pk, now=timezone.now()).status
