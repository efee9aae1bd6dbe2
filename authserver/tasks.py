"""Celery tasks: thin, idempotent, each calling one service."""

from __future__ import annotations

from celery import shared_task
from celery.signals import task_failure
from django.db import OperationalError
from django.utils import timezone

from authserver import audit
from authserver.keys import keyring as keys
from authserver.ops import cleanup, metrics
from authserver.revocation.published import publish_revocation_list  # noqa: F401 - registers it


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True)
def rotate_signing_keys() -> dict:
    """Advance every algorithm's key schedule to now (safe when two schedulers fire)."""
    now = timezone.now()
    return {alg: keys.rotate(alg, now=now).__dict__ for alg in keys.algorithms_in_use()}


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True)
def clear_expired_tokens() -> dict:
    """Delete what can no longer be used, in short batches (authserver.ops.cleanup)."""
    return cleanup.purge_expired(now=timezone.now())


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True)
def seal_audit_trail() -> int:
    """Chain newly written audit events into the hash chain."""
    return audit.seal_pending(now=timezone.now())


@task_failure.connect
def count_task_failure(sender=None, **kwargs) -> None:
    metrics.task_failed(getattr(sender, "name", "unknown"))
