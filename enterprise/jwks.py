"""Fetching the JWK Sets of clients (``jwks_uri``), enterprise IdPs and workload issuers,
with the SSRF rules of Client ID Metadata Documents, cached by the response's headers.

Public hosts go through DOT's ``SafeMetadataFetcher`` (https only, the host resolved once
and every address checked public, no redirects, a time and size cap, ``Cache-Control``
max-age clamped), as clients/cimd.py does, through the operator's egress proxy when one is
set (``HTTPS_PROXY`` minus ``NO_PROXY``: clients/cimd_fetch.py, authserver/egress.py).
Loopback hosts are refused unless ``CIMD_ALLOW_LOOPBACK`` (development and tests) is on; then
http or https to a literal loopback host is allowed, since the bytes never leave the machine.
Failures are not cached.
"""

from __future__ import annotations

import logging
import threading
import time
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from jwcrypto import jwk
from oauth2_provider import cimd as dot_cimd
from oauth2_provider.settings import oauth2_settings

from authserver.loopback import is_loopback_host
from clients import cimd_fetch
from clients.cimd import MetadataFetcher, _loopback_addresses
from enterprise.jose import RefusedAssertion, keyset_from_json

log = logging.getLogger("enterprise.jwks")

# A kid we do not know triggers a re-fetch, at most this often per URI (key rotation).
REFETCH_INTERVAL = 30.0
MAX_ENTRIES = 1000

_cache: dict[str, tuple[float, float, jwk.JWKSet]] = {}  # uri -> (fetched, expires, keys)
_lock = threading.Lock()


class JwksUnavailable(RefusedAssertion):
    """The keys could not be fetched (never cached; the next request tries again)."""


class JwksFetcher(MetadataFetcher):
    """DOT's SSRF-hardened fetch for a JWK Set, plus the loopback development mode."""

    def fetch_jwks(self, uri: str) -> tuple[dict, int]:
        parts = urlsplit(uri)
        if is_loopback_host(parts.hostname):
            if not settings.CONFIG.cimd_allow_loopback:
                raise dot_cimd.CIMDError("jwks_uri host is loopback (CIMD_ALLOW_LOOPBACK is off)")
            if parts.scheme == "https":
                return self._fetch_loopback(parts)
            return self._fetch_loopback_http(parts)
        # https, a path, no userinfo; resolves and refuses non-public addresses. Through
        # the operator's egress proxy when one is set (authserver.egress), as documents are.
        return cimd_fetch.fetch_direct_or_proxied(
            uri, lambda url: dot_cimd.SafeMetadataFetcher.fetch(self, url), self._read_document
        )

    def _fetch_loopback_http(self, parts) -> tuple[dict, int]:
        timeout = oauth2_settings.CIMD_FETCH_TIMEOUT_SECONDS
        port = parts.port or 80
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        for address in _loopback_addresses(parts.hostname, port):
            pool = urllib3.HTTPConnectionPool(
                host=address, port=port, timeout=urllib3.Timeout(total=timeout), retries=False
            )
            try:
                response = pool.urlopen(
                    "GET",
                    path,
                    headers={"Host": parts.netloc, "Accept": "application/json"},
                    redirect=False,
                    preload_content=False,
                )
                try:
                    return self._read_document(response)
                finally:
                    response.release_conn()
            except urllib3.exceptions.HTTPError:
                continue
            finally:
                pool.close()
        raise dot_cimd.CIMDError("could not fetch the JWK Set")


def keys_at(uri: str, *, kid: str | None = None) -> jwk.JWKSet:
    """The JWK Set at ``uri``: cached while fresh; re-fetched when a token names a kid the
    cached set lacks (rotation), at most every REFETCH_INTERVAL seconds."""
    now = time.monotonic()
    entry = _cache.get(uri)
    if entry is not None:
        fetched, expires, keyset = entry
        stale = now >= expires
        unknown_kid = kid is not None and keyset.get_key(kid) is None
        if not stale and not (unknown_kid and now - fetched >= REFETCH_INTERVAL):
            return keyset
    try:
        document, max_age = JwksFetcher().fetch_jwks(uri)
    except dot_cimd.CIMDError as exc:
        # The reason names the address the host resolved to (an internal one, for an SSRF
        # probe): it goes to the log, and the caller, often unauthenticated, learns only
        # that the keys could not be fetched. The log gets the host, not the path or query.
        log.warning("JWKS fetch from host %r failed: %s", urlsplit(uri).hostname, exc)
        raise JwksUnavailable("the keys at the JWKS URI could not be fetched") from None
    keyset = keyset_from_json(document)
    with _lock:
        if len(_cache) >= MAX_ENTRIES:
            _cache.clear()
        _cache[uri] = (now, now + max_age, keyset)
    return keyset


def clear() -> None:
    with _lock:
        _cache.clear()
