"""Celery tasks: thin, idempotent, each calling one service."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import task_failure
from django.db import OperationalError
from django.utils import timezone

from authserver import audit
from authserver.audit_sinks import delivery
from authserver.audit_sinks.targets import SinkUnavailable
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


log = logging.getLogger("authserver.audit")


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True)
def seal_audit_trail() -> int:
    """Chain newly written audit events into the hash chain, then have the sinks (if any)
    take them at once: an event reaches a SIEM about one sealing period after it happened."""
    sealed = audit.seal_pending(now=timezone.now())
    if sealed:
        try:
            stream_audit_trail.delay()
        except Exception:  # the queue is down: the beat job delivers when it is back
            log.warning("audit sinks not kicked after sealing: job queue unavailable")
    return sealed


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True)
def stream_audit_trail() -> int:
    """Beat, and after each sealing: queue a delivery for every sink that is behind."""
    behind = delivery.sinks_behind()
    for pk in behind:
        deliver_audit_events.delay(pk)
    return len(behind)


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError, SinkUnavailable),
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=6,
)
def deliver_audit_events(sink_id: int) -> int:
    """Send one sink what it has not acknowledged (authserver.audit_sinks.delivery);
    idempotent, one run per sink at a time. After the retries, the beat job goes on."""
    return delivery.deliver(sink_id)


@task_failure.connect
def count_task_failure(sender=None, **kwargs) -> None:
    metrics.task_failed(getattr(sender, "name", "unknown"))
