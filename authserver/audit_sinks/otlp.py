"""A batch of audit records as OpenTelemetry log records, OTLP/HTTP with JSON encoding
(opentelemetry-proto ``ExportLogsServiceRequest``), POSTed to the collector's logs URL
(usually ``https://collector:4318/v1/logs``). A 2xx answer acknowledges the batch."""

from __future__ import annotations

import json
import time
from datetime import datetime

from authserver.audit_sinks.webhook import post

SEVERITY_INFO = 9  # OpenTelemetry log data model: INFO
SCALARS = ("id", "chain_index", "kind", "actor", "client_id", "user_id", "resource", "jti")


def _value(value) -> dict:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}  # int64 as a string (protobuf JSON mapping)
    return {"stringValue": str(value)}


def _nanos(iso: str) -> str:
    at = datetime.fromisoformat(iso)
    return str(int(at.timestamp()) * 1_000_000_000 + at.microsecond * 1000)


def log_record(record: dict, observed: str) -> dict:
    attributes = [
        {"key": f"audit.{name}", "value": _value(record[name])}
        for name in SCALARS
        if record.get(name) not in (None, "")
    ]
    return {
        "timeUnixNano": _nanos(record["at"]),
        "observedTimeUnixNano": observed,
        "severityNumber": SEVERITY_INFO,
        "severityText": "INFO",
        "eventName": record["kind"],
        "body": {"stringValue": json.dumps(record, sort_keys=True, separators=(",", ":"))},
        "attributes": attributes,
    }


def payload(records: list[dict]) -> dict:
    observed = str(time.time_ns())
    return {
        "resourceLogs": [
            {
                "resource": {
                    "attributes": [
                        {"key": "service.name", "value": {"stringValue": "mcp-authserver"}}
                    ]
                },
                "scopeLogs": [
                    {
                        "scope": {"name": "authserver.audit"},
                        "logRecords": [log_record(r, observed) for r in records],
                    }
                ],
            }
        ]
    }


def send(sink, records: list[dict], secret: str = "") -> None:
    body = json.dumps(payload(records), separators=(",", ":")).encode()
    post(sink, body, {"content-type": "application/json"})
