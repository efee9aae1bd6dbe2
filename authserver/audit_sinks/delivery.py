"""Delivering the audit trail to each sink: in chain order, in batches, at least once.

One delivery at a time per sink, and no database lock held over the network (STYLE §4): a
run claims the sink's lease with one conditional UPDATE (``lease_until`` past or empty), sends
the sealed events after ``cursor`` (``audit.sealed_after``: a gap-free prefix of the chain),
and only once the sink acknowledged moves the cursor, with a compare-and-set on the cursor
and the lease it holds. A run that lost its lease (it outlived ``LEASE``) or whose cursor an
admin moved stops without writing. A failure leaves the cursor where it was and raises
``SinkUnavailable`` (the Celery task retries with backoff; the beat job comes back anyway).
The lease lives in the database, not the cache, so delivery keeps its guarantees while Redis
is down. A receiver may see a batch twice (the sink took it but its answer was lost): every
record carries its stable ``id`` and ``chain_index`` to deduplicate on.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from authserver import audit
from authserver.audit_sinks import otlp, syslog, webhook
from authserver.audit_sinks.targets import SinkUnavailable
from authserver.keys import secretbox
from authserver.models import AuditChainHead, AuditSink

log = logging.getLogger("authserver.audit")
SENDERS = {"webhook": webhook.send, "syslog": syslog.send, "otlp": otlp.send}
MAX_TIMEOUT = 30  # seconds, AuditSink.timeout's bound
LEASE = timedelta(seconds=MAX_TIMEOUT * 2 + 15)  # outlives one batch's send and writes
MAX_BATCHES = 20  # per run; the next run (or the retry) goes on


def _aad(sink: AuditSink) -> bytes:
    return f"AuditSink:{sink.uid}:secret".encode()


def seal_secret(sink: AuditSink, secret: str) -> None:
    """Store the webhook secret encrypted, bound to this sink (not saved)."""
    sink.secret_encrypted = secretbox.encrypt(
        secret.encode(), associated_data=_aad(sink), keys=settings.CONFIG.key_encryption_keys
    )


def open_secret(sink: AuditSink) -> str:
    if not sink.secret_encrypted:
        return ""
    return secretbox.decrypt(
        sink.secret_encrypted, associated_data=_aad(sink), keys=settings.CONFIG.key_encryption_keys
    ).decode()


def reseal_secrets() -> int:
    """Re-encrypt every webhook secret under the first KEY_ENCRYPTION_KEY (``reencrypt_keys``,
    after the key-encryption key is rotated); call inside a transaction."""
    keys = settings.CONFIG.key_encryption_keys
    done = 0
    for sink in AuditSink.objects.select_for_update().exclude(secret_encrypted=""):
        if secretbox.needs_reencryption(sink.secret_encrypted, keys=keys):
            seal_secret(sink, open_secret(sink))
            sink.save(update_fields=["secret_encrypted"])
            done += 1
    return done


def sinks_behind() -> list[int]:
    """Enabled sinks with sealed events past their cursor."""
    head = AuditChainHead.objects.filter(pk=1).values_list("last_index", flat=True).first() or 0
    return list(
        AuditSink.objects.filter(enabled=True, cursor__lt=head)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _take_lease(pk: int, holder: str, now: datetime) -> bool:
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    return bool(
        AuditSink.objects.filter(free, pk=pk, enabled=True).update(
            lease_until=now + LEASE, lease_holder=holder
        )
    )


def _release_lease(pk: int, holder: str) -> None:
    AuditSink.objects.filter(pk=pk, lease_holder=holder).update(lease_until=None, lease_holder="")


def deliver(pk: int, *, max_batches: int = MAX_BATCHES) -> int:
    """Send sink ``pk`` what it has not acknowledged yet; the number of events delivered.
    Idempotent; 0 when another run holds the sink. Raises SinkUnavailable on a failure."""
    holder = secrets.token_hex(8)
    if not _take_lease(pk, holder, timezone.now()):
        return 0
    delivered = 0
    try:
        for _ in range(max_batches):
            sink = AuditSink.objects.get(pk=pk)
            if not sink.enabled or sink.lease_holder != holder:
                break
            events = audit.sealed_after(sink.cursor, sink.batch_size)
            if not events:
                break
            _send(sink, [audit.as_record(e) for e in events])
            now = timezone.now()
            moved = AuditSink.objects.filter(pk=pk, lease_holder=holder, cursor=sink.cursor).update(
                cursor=events[-1].chain_index,
                delivered_at=now,
                failures=0,
                last_error="",
                lease_until=now + LEASE,
            )
            if not moved:
                break
            delivered += len(events)
    finally:
        _release_lease(pk, holder)
    return delivered


def _send(sink: AuditSink, records: list[dict]) -> None:
    try:
        SENDERS[sink.kind](sink, records, open_secret(sink))
    except SinkUnavailable as exc:
        AuditSink.objects.filter(pk=sink.pk).update(
            failures=F("failures") + 1, last_error=exc.reason
        )
        log.warning(
            "audit sink %s (%s) did not take events %d-%d: %s",
            sink.name,
            sink.kind,
            records[0]["chain_index"],
            records[-1]["chain_index"],
            exc.reason,
        )
        raise
