"""Streaming the audit trail to a security team's SIEM as it happens, with no loss.

Each configured sink (``authserver.models.AuditSink``, admin, Audit, Audit sinks) gets the
sealed events after its cursor, in chain order, in batches (``delivery.deliver``, run by the
Celery tasks in ``authserver.tasks``); the cursor moves only once the sink took the batch.
The senders, one module per kind: ``webhook`` (a JSON array signed as Standard Webhooks
specifies), ``syslog`` (RFC 5424 over UDP or TCP), ``otlp`` (OpenTelemetry logs, OTLP/HTTP
JSON). What each sends, field by field: docs/ADMIN.md, "Streaming to a SIEM".
"""
