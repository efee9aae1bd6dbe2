"""Where a sink may send, checked before anything is stored; one error type for sending."""

from __future__ import annotations

from urllib.parse import urlsplit

from authserver.loopback import is_loopback_host

HTTP_KINDS = ("webhook", "otlp")
SYSLOG_PORTS = {"udp": 514, "tcp": 601}  # RFC 5426 §3.3, RFC 6587 §3.3 (IANA syslog-conn)


class SinkUnavailable(Exception):
    """The sink did not take the batch (refused, timed out, answered an error). ``reason``
    is a short category for the admin and the log, never a body or a secret."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason[:200]


def check_url(kind: str, url: str) -> str:
    """``url`` if a sink of ``kind`` may send there; ValueError saying exactly why not."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a port that is not a number in range
    except ValueError:
        raise ValueError("not a valid URL (check the host and port)") from None
    if parts.username or parts.password:
        raise ValueError("no user or password in the URL: it would be shown in the admin")
    if parts.fragment or "#" in url:
        raise ValueError("no fragment (#...) in the URL")
    if not parts.hostname:
        raise ValueError("the URL has no host")
    if kind in HTTP_KINDS:
        # Audit events leave the server: over TLS, except to a collector on this machine.
        if parts.scheme == "http" and not is_loopback_host(parts.hostname):
            raise ValueError("use https (http only for 127.0.0.1, [::1] or localhost)")
        if parts.scheme not in ("https", "http"):
            raise ValueError("a webhook or OpenTelemetry URL starts with https://")
        return url
    if kind == "syslog":
        if parts.scheme not in SYSLOG_PORTS:
            raise ValueError("a syslog URL is udp://host:port or tcp://host:port")
        if parts.path not in ("", "/") or parts.query:
            raise ValueError("a syslog URL has only a host and a port")
        return url
    raise ValueError(f"unknown sink kind {kind!r}")


def host_port(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a checked syslog URL."""
    parts = urlsplit(url)
    return parts.scheme, parts.hostname or "", parts.port or SYSLOG_PORTS[parts.scheme]
