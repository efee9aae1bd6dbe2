"""The audit trail: append-only events, sealed into a SHA-256 hash chain.

``record`` is cheap (one INSERT, no lock) so it can sit on the token endpoint's hot path.
``seal_pending`` (a Celery beat job, and the ``verify_audit_chain`` command) gives each
unsealed event, in id order, the next chain index, the previous event's hash and its own
hash over every field. Events are never updated after sealing and never deleted.

Nothing secret is ever recorded: ids (client_id, user id, jti, token family), scopes and
resources only. Callers must not put tokens, codes, secrets or verifiers in ``detail``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from authserver.models import AuditChainHead, AuditEvent
from authserver.ops import metrics

log = logging.getLogger("authserver.audit")
REDACTED = "[redacted]"
_SECRET_KEY = re.compile(
    r"(?i)(token|secret|password|passwd|assertion|verifier|private|credential|cookie|"
    r"^authorization$|^code$|_code$|^d$|^p$|^q$|^dp$|^dq$|^qi$|^k$)"
)
_SAFE_KEYS = {"tokens_revoked", "token_family", "token_type", "token_endpoint_auth_method"}
EXPORTED_FIELDS = (
    "at",
    "kind",
    "actor",
    "client_id",
    "user_id",
    "resource",
    "jti",
    "family",
    "scope",
)
GENESIS = "0" * 64
SEAL_MIN_AGE = timedelta(seconds=2)  # let in-flight transactions with lower ids commit


def record(
    kind: str,
    *,
    actor: str = "",
    client_id: str = "",
    user_id: object = "",
    resource: str = "",
    jti: str = "",
    family: object = "",
    scope: str = "",
    ip: str | None = None,
    detail: dict | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    metrics.audited(kind, actor)
    return AuditEvent.objects.create(
        at=at or timezone.now(),
        kind=kind,
        actor=actor[:200],
        client_id=(client_id or "")[:255],
        user_id=str(user_id or "")[:64],
        resource=(resource or "")[:512],
        jti=jti or "",
        family=str(family or ""),
        scope=scope or "",
        ip=ip,
        detail=detail or {},
    )


def event_hash(event: AuditEvent, prev_hash: str) -> str:
    fields = {
        "id": event.pk,
        "chain_index": event.chain_index,
        "at": event.at.isoformat(),
        "kind": event.kind,
        "actor": event.actor,
        "client_id": event.client_id,
        "user_id": event.user_id,
        "resource": event.resource,
        "jti": event.jti,
        "family": event.family,
        "scope": event.scope,
        "ip": event.ip,
        "detail": event.detail,
    }
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()


def seal_pending(*, now: datetime | None = None, batch_size: int = 5000) -> int:
    """Chain every unsealed event older than a moment; idempotent and safe to run twice."""
    now = now or timezone.now()
    with transaction.atomic():
        AuditChainHead.objects.get_or_create(id=1)
        head = AuditChainHead.objects.select_for_update().get(id=1)
        pending = list(
            AuditEvent.objects.filter(
                chain_index__isnull=True, at__lte=now - SEAL_MIN_AGE
            ).order_by("id")[:batch_size]
        )
        for event in pending:
            head.last_index += 1
            event.chain_index = head.last_index
            event.prev_hash = head.last_hash
            event.hash = event_hash(event, head.last_hash)
            head.last_hash = event.hash
        AuditEvent.objects.bulk_update(pending, ["chain_index", "prev_hash", "hash"])
        head.save()
    return len(pending)


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    unsealed: int
    first_bad_index: int | None = None
    reason: str = ""


def verify_chain(batch_size: int = 5000) -> ChainReport:
    """Recompute every sealed event's hash in chain order; report the first mismatch."""
    prev_hash = GENESIS
    expected_index = 1
    checked = 0
    queryset = AuditEvent.objects.filter(chain_index__isnull=False).order_by("chain_index")
    for event in queryset.iterator(chunk_size=batch_size):
        if event.chain_index != expected_index:
            return ChainReport(False, checked, _unsealed(), expected_index, "event missing")
        if event.prev_hash != prev_hash:
            return ChainReport(False, checked, _unsealed(), event.chain_index, "broken link")
        if event.hash != event_hash(event, prev_hash):
            return ChainReport(False, checked, _unsealed(), event.chain_index, "edited event")
        prev_hash = event.hash
        expected_index += 1
        checked += 1
    head = AuditChainHead.objects.filter(id=1).first()
    if head is not None and (head.last_index != checked or head.last_hash != prev_hash):
        return ChainReport(False, checked, _unsealed(), checked + 1, "events removed at the end")
    return ChainReport(True, checked, _unsealed())


def _unsealed() -> int:
    return AuditEvent.objects.filter(chain_index__isnull=True).count()


def scrub(value):
    """``detail`` with any secret-named member replaced, at every depth (a second guard:
    nothing secret is recorded in the first place)."""
    if isinstance(value, dict):
        return {
            k: REDACTED if _SECRET_KEY.search(str(k)) and k not in _SAFE_KEYS else scrub(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def as_record(event: AuditEvent) -> dict:
    """A sealed event as it leaves the server (the NDJSON stream, export_audit, every sink):
    docs/ADMIN.md, "Streaming to a SIEM", lists the fields."""
    record = {"id": event.pk, "chain_index": event.chain_index}
    record.update({name: getattr(event, name) for name in EXPORTED_FIELDS})
    record["at"] = event.at.isoformat()
    record["ip"] = event.ip
    record["detail"] = scrub(event.detail)
    record["prev_hash"], record["hash"] = event.prev_hash, event.hash
    return record


def sealed_after(since: int, limit: int) -> list[AuditEvent]:
    """Up to ``limit`` sealed events after chain index ``since``, in chain order. Sealing
    commits each run's indexes at once, under the head's lock, so readers only ever see a
    gap-free prefix: resuming from the last index read never misses an event."""
    return list(AuditEvent.objects.filter(chain_index__gt=since).order_by("chain_index")[:limit])
