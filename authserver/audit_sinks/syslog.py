"""Audit records as RFC 5424 syslog messages, one per event, over UDP (RFC 5426: one
datagram each) or TCP (RFC 6587 §3.4.1 octet counting). The standard library's
SysLogHandler writes the older BSD format (RFC 3164), so the few lines of the 5424 header are
ours (docs/LIBRARIES.md)."""

from __future__ import annotations

import json
import socket

from authserver.audit_sinks.targets import SinkUnavailable, host_port

FACILITY_LOG_AUDIT = 13  # RFC 5424 §6.2.1 table 1: "log audit"
SEVERITY_INFORMATIONAL = 6
PRI = FACILITY_LOG_AUDIT * 8 + SEVERITY_INFORMATIONAL
APP_NAME = "mcp-authserver"
BOM = b"\xef\xbb\xbf"  # RFC 5424 §6.4: MSG in UTF-8 starts with the BOM
# RFC 5426 §3.2: one message per datagram; a larger one would fail to send for ever and hold
# the sink back, so its ``detail`` is left out (the stream and the admin still have it).
MAX_DATAGRAM = 8192
OMITTED = {"omitted": "detail too large for one syslog datagram; see the audit trail"}


def _printable(value: str, limit: int) -> str:
    """RFC 5424 §6: header fields are PRINTUSASCII (33-126), bounded; "-" when empty."""
    kept = "".join(c for c in value if 33 <= ord(c) <= 126)[:limit]
    return kept or "-"


def message(record: dict, *, hostname: str) -> bytes:
    """``<110>1 TIMESTAMP HOSTNAME mcp-authserver - KIND - BOM{json}``: no structured data;
    the whole record (the event's ``id`` to deduplicate on) is the JSON message."""
    header = " ".join(
        (
            f"<{PRI}>1",
            record["at"],  # RFC 3339 with microseconds and offset (§6.2.3)
            _printable(hostname, 255),
            APP_NAME,
            "-",  # PROCID
            _printable(record["kind"], 32),  # MSGID
            "-",  # STRUCTURED-DATA
        )
    )
    body = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
    return header.encode() + b" " + BOM + body


def send(sink, records: list[dict], secret: str = "") -> None:
    scheme, host, port = host_port(sink.url)
    hostname = socket.gethostname()
    messages = [message(r, hostname=hostname) for r in records]
    if scheme == "udp":
        messages = [
            m if len(m) <= MAX_DATAGRAM else message({**r, "detail": OMITTED}, hostname=hostname)
            for m, r in zip(messages, records, strict=True)
        ]
    try:
        if scheme == "tcp":
            with socket.create_connection((host, port), timeout=sink.timeout) as conn:
                conn.sendall(b"".join(b"%d %s" % (len(m), m) for m in messages))
                conn.shutdown(socket.SHUT_WR)  # everything handed to the receiver's kernel
        else:
            family, kind, proto, _, address = socket.getaddrinfo(
                host, port, type=socket.SOCK_DGRAM
            )[0]
            with socket.socket(family, kind, proto) as udp:
                udp.settimeout(sink.timeout)
                for m in messages:
                    udp.sendto(m, address)
    except TimeoutError:
        raise SinkUnavailable("timeout") from None
    except OSError as exc:
        raise SinkUnavailable(f"connection failed ({type(exc).__name__})") from None
