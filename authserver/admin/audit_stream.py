"""Audit events for a security team's SIEM: newline-delimited JSON, in chain order, by cursor.

``GET /admin/audit/stream.ndjson?since=<chain index>&limit=<n>`` (staff with permission to
view audit events) answers the sealed events after ``since``, oldest first, one JSON object a
line, and the cursor to ask with next in ``X-Audit-Cursor``. Only sealed events are streamed:
sealing gives every event its place in the hash chain once no earlier transaction can still
commit (authserver.audit.SEAL_MIN_AGE), so a reader that resumes from its last
``chain_index`` never misses one and can check each ``prev_hash``/``hash`` link itself.
``bin/manage export_audit --since N`` prints the same lines for a log shipper.

Nothing secret is ever recorded (authserver.audit); as a second guard every key of ``detail``
whose name says token, secret, password, code, assertion or key material is replaced
(``authserver.audit.scrub``). The configured sinks (authserver.audit_sinks) push the same
records as they are sealed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from authserver import audit
from authserver.models import AuditChainHead, AuditEvent

PERMISSION = "authserver.view_auditevent"
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
# One record shape for the stream, the export and every sink (authserver.audit).
scrub, as_record, sealed_after = audit.scrub, audit.as_record, audit.sealed_after


def lines(events: list[AuditEvent]) -> Iterator[str]:
    for event in events:
        yield json.dumps(as_record(event), sort_keys=True, separators=(",", ":")) + "\n"


def parse_cursor(raw: str | None, default: int) -> int:
    text = (raw or "").strip()
    if not text:
        return default
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise ValueError("must be a non-negative integer")
    return int(text)


def ndjson(site, request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    try:
        since = parse_cursor(request.GET.get("since"), 0)
        limit = min(parse_cursor(request.GET.get("limit"), DEFAULT_LIMIT), MAX_LIMIT) or 1
    except ValueError as exc:
        return HttpResponse(f"since and limit {exc}\n", status=400, content_type="text/plain")
    events = sealed_after(since, limit)
    response = StreamingHttpResponse(lines(events), content_type="application/x-ndjson")
    response["X-Audit-Cursor"] = str(events[-1].chain_index if events else since)
    response["Cache-Control"] = "no-store"
    return response


def help_page(site, request: HttpRequest) -> HttpResponse:
    """How to stream the trail, the chain's head, and (POST) a verification of the chain."""
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    report = audit.verify_chain() if request.method == "POST" else None
    context = {
        **site.each_context(request),
        "title": "Streaming the audit trail",
        "stream_url": request.build_absolute_uri(reverse("admin:audit_stream")),
        "head": AuditChainHead.objects.filter(pk=1).first(),
        "unsealed": AuditEvent.objects.filter(chain_index__isnull=True).count(),
        "report": report,
    }
    return TemplateResponse(request, "admin/audit_stream.html", context)
