"""When a Client ID Metadata Document cannot be fetched: say what failed, and fall back to a
pinned copy (clients/pinned.py).

DOT's fetcher raises one ``CIMDError`` whose text names the failure; :func:`diagnose` sorts it
into a stage an operator can act on (``dns``, ``address``, ``tls``, ``connect``, ``timeout``,
``status``, ``content_type``, ``size``, ``json``) with the host, :func:`report` logs it at
WARNING and records the audit event ``client.metadata_fetch_failed`` (host, stage, detail;
never a body), and keeps it for a few minutes so the authorization error can name it
(:func:`last_failure`). Before that, an air-gapped server or one behind an egress proxy
said only "Invalid client_id parameter value".

Behind an egress proxy (``HTTPS_PROXY``/``https_proxy``, minus ``NO_PROXY``: the one rule,
authserver/egress.py) documents, and ``jwks_uri`` (enterprise/jwks.py), are fetched through it
(:func:`fetch_direct_or_proxied`, :func:`fetch_via_proxy`): a CONNECT tunnel,
TLS verified end to end against the document's host, no redirects, the same timeout, size and
type checks. The SSRF rule stays ours where we can apply it: a literal address must be public,
and a name this server can resolve must resolve to public addresses only; a name it cannot
resolve (the usual case behind such a proxy) is left to the proxy to reach.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
import ssl
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

import urllib3
from django.core.cache import cache
from oauth2_provider import cimd as dot_cimd
from oauth2_provider.cimd import CIMDError
from oauth2_provider.settings import oauth2_settings

from authserver import audit
from authserver.egress import proxy_for  # the one egress rule (also for jwks_uri, upstreams)
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
    ("metadata", re.compile(r"invalid client metadata|does not match|collides", re.I)),
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
    "metadata": "the document does not meet the metadata rules",
}
_STATUS = re.compile(r"returned HTTP (\d{3})")
_METADATA = re.compile(r"invalid client metadata: (.*)", re.I | re.S)
_USERINFO = re.compile(r"//[^/@\s]*@")  # a proxy URL's credentials, never logged


@dataclass(frozen=True)
class Diagnosis:
    client_id: str
    host: str
    stage: str  # one of HINTS, or "other"
    detail: str  # DOT's message, bounded; never the document

    @property
    def message(self) -> str:
        """Safe to show a person: the host, the stage, its hint, and only the status code
        or the metadata rule that failed; never the document, the URL's path or query, or
        the raw error (it can name the proxy)."""
        hint = HINTS.get(self.stage, "see the server log")
        if self.stage == "status" and (status := _STATUS.search(self.detail)):
            hint = f"HTTP {status[1]}: {hint}"
        elif self.stage == "metadata" and (rule := _METADATA.search(self.detail)):
            hint = f"{hint}: {rule[1][:160]}"
        verb = "was refused" if self.stage == "metadata" else "could not be fetched"
        return f"the client metadata document at {self.host} {verb} ({self.stage}: {hint})"


def diagnose(client_id: str, error: Exception) -> Diagnosis:
    text = _USERINFO.sub("//***@", str(error)[:300])
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


def explain(client_id: str) -> str | None:
    """The core's ``unknown_client`` explainer (registered in ``ClientsConfig.ready``): why
    this metadata document's client_id was not accepted, if it failed lately."""
    if not client_id.startswith("https://"):
        return None
    diagnosis = last_failure(client_id)
    return diagnosis.message if diagnosis else None


def forget(client_id: str) -> None:
    """A document fetched and accepted: its old failure no longer explains anything."""
    cache.delete(_key(client_id[:255]))


def _check_destination(host: str, port: int) -> None:
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        if not dot_cimd._ip_is_public(str(literal)):
            raise CIMDError(f"client_id host resolves to a non-public address ({literal})")
        return
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror:
        return  # not resolvable here: the proxy resolves it
    for info in infos:
        if not dot_cimd._ip_is_public(info[4][0]):
            raise CIMDError(f"client_id host resolves to a non-public address ({info[4][0]})")


def fetch_via_proxy(client_id: str, proxy: str, read_document) -> tuple[dict, int]:
    parsed = dot_cimd._validate_client_id_url(client_id)
    _check_destination(parsed.hostname, parsed.port or 443)
    timeout = oauth2_settings.CIMD_FETCH_TIMEOUT_SECONDS
    manager = urllib3.ProxyManager(
        proxy,
        timeout=urllib3.Timeout(connect=timeout, read=timeout, total=timeout),
        retries=False,
        ssl_context=ssl.create_default_context(),  # verifies the document host's certificate
    )
    try:
        response = manager.urlopen(
            "GET",
            client_id,
            headers={"Accept": "application/json"},
            redirect=False,
            preload_content=False,
        )
        try:
            return read_document(response)  # status, type, size, max-age (DOT's checks)
        finally:
            response.release_conn()
    except urllib3.exceptions.HTTPError as exc:
        raise CIMDError(f"could not fetch client_id document: {exc}") from None
    finally:
        manager.clear()


def fetch_direct_or_proxied(url: str, fetch, read_document) -> tuple[dict, int]:
    """``fetch(url)`` (DOT's SSRF-hardened direct fetch), or through the egress proxy when
    the environment names one for ``url`` (authserver.egress): metadata documents and
    ``jwks_uri`` alike."""
    proxy = proxy_for(url)
    if proxy:
        return fetch_via_proxy(url, proxy, read_document)
    return fetch(url)


def fetch_or_pinned(client_id: str, fetch, read_document) -> tuple[dict, int]:
    """:func:`fetch_direct_or_proxied`; when it fails, the failure is reported and a pinned
    copy of the document, if there is one, stands in for it (clients/pinned.py)."""
    try:
        return fetch_direct_or_proxied(client_id, fetch, read_document)
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
