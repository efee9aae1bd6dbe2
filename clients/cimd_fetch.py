"""When a Client ID Metadata Document cannot be fetched: say what failed, and fall back to a
pinned copy (clients/pinned.py).

DOT's fetcher raises one ``CIMDError`` whose text names the failure; :func:`diagnose` sorts it
into a stage an operator can act on (``dns``, ``address``, ``tls``, ``connect``, ``timeout``,
``status``, ``content_type``, ``size``, ``json``) with the host, :func:`report` logs it at
WARNING and records the audit event ``client.metadata_fetch_failed`` (host, stage, detail;
never a body), and keeps it for a few minutes so the authorization error can name it
(:func:`last_failure`). Before that, an air-gapped server or one behind an egress proxy
said only "Invalid client_id parameter value".
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from django.core.cache import cache
from oauth2_provider.cimd import CIMDError

from authserver import audit
from clients import pinned

logger = logging.getLogger("clients.cimd")

REMEMBER_SECONDS = 300
_STAGES = (
    ("dns", re.compile(r"could not resolve|did not resolve", re.I)),
    ("address", re.compile(r"non-public address|is loopback", re.I)),
    ("tls", re.compile(r"SSL|certificate|TLS", re.I)),
    ("timeout", re.compile(r"timed? ?out|Timeout", re.I)),
    ("connect", re.compile(r"could not fetch|connection|refused|unreachable", re.I)),
    ("status", re.compile(r"returned HTTP (\d+)", re.I)),
    ("content_type", re.compile(r"is not JSON \(Content-Type", re.I)),
    ("size", re.compile(r"exceeds the maximum allowed size", re.I)),
    ("json", re.compile(r"not valid JSON|must be a JSON object", re.I)),
)
HINTS = {
    "dns": "this server cannot resolve the host: no internet access or DNS (pin the document)",
    "address": "the host resolves to a private or loopback address, which is never fetched",
    "tls": "the TLS handshake failed: a proxy intercepting TLS, or a certificate problem",
    "timeout": "the host did not answer in time: a firewall or an egress proxy",
    "connect": "the connection failed: a firewall or an egress proxy (pin the document)",
    "status": "the host answered with an error status (some hosts refuse datacenter fetches)",
    "content_type": "the answer was not application/json",
    "size": "the document is larger than CIMD_MAX_DOCUMENT_SIZE",
    "json": "the answer was not a JSON object",
}


@dataclass(frozen=True)
class Diagnosis:
    client_id: str
    host: str
    stage: str  # one of HINTS, or "other"
    detail: str  # DOT's message, bounded; never the document

    @property
    def message(self) -> str:
        hint = HINTS.get(self.stage, "see the server log")
        return (
            f"the client metadata document at {self.host} could not be fetched "
            f"({self.stage}: {hint})"
        )


def diagnose(client_id: str, error: Exception) -> Diagnosis:
    text = str(error)[:300]
    stage = next((name for name, pattern in _STAGES if pattern.search(text)), "other")
    return Diagnosis(client_id[:255], (urlsplit(client_id).hostname or "")[:255], stage, text)


def report(diagnosis: Diagnosis) -> None:
    logger.warning(
        "CIMD fetch failed: host=%s stage=%s detail=%s",
        diagnosis.host,
        diagnosis.stage,
        diagnosis.detail,
    )
    audit.record(
        "client.metadata_fetch_failed",
        actor="cimd",
        client_id=diagnosis.client_id,
        detail={"host": diagnosis.host, "stage": diagnosis.stage, "detail": diagnosis.detail},
    )
    cache.set(_key(diagnosis.client_id), asdict(diagnosis), REMEMBER_SECONDS)


def last_failure(client_id: str) -> Diagnosis | None:
    """The last fetch failure of this document (a few minutes), for the error page."""
    stored = cache.get(_key(client_id[:255]))
    return Diagnosis(**stored) if isinstance(stored, dict) else None


def fetch_or_pinned(client_id: str, fetch) -> tuple[dict, int]:
    """``fetch(client_id)``; when it fails, the failure is reported and a pinned copy of the
    document, if there is one, stands in for it (clients/pinned.py)."""
    try:
        return fetch(client_id)
    except CIMDError as exc:
        diagnosis = diagnose(client_id, exc)
        report(diagnosis)
        document = pinned.lookup(client_id)
        if document is None:
            raise
        logger.warning("CIMD: using the pinned document for %s", client_id[:255])
        return document, pinned.MAX_AGE


def _key(client_id: str) -> str:
    return "cimd-fetch-failure:" + client_id
