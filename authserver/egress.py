"""The operator's egress proxy: one rule for every outbound fetch.

``HTTPS_PROXY``/``https_proxy`` (``HTTP_PROXY`` for a plain-http URL, development only), minus
the hosts ``NO_PROXY`` names, as curl, httpx, requests and urllib read them. Client ID
Metadata Documents (``clients/cimd_fetch.py``), a client's ``jwks_uri``
(``enterprise/jwks.py``) and upstream sign-in providers (``accounts/upstream/adapter.py``:
discovery, token and userinfo requests) and the audit sinks' webhook and OTLP posts
(``authserver/audit_sinks/webhook.py``) all ask :func:`proxy_for`, so an air-gapped server
behind an egress proxy reaches them the same way (docs/configuration.md).
"""

from __future__ import annotations

import urllib.request
from urllib.parse import urlsplit


def proxy_for(url: str) -> str | None:
    """The proxy the environment names for ``url`` (by its scheme), or None: no proxy set,
    or the host is in ``NO_PROXY``."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(parts.scheme or "https")
    if not proxy or urllib.request.proxy_bypass_environment(parts.hostname or "", proxies):
        return None
    return proxy


def requests_proxies(url: str) -> dict[str, str | None]:
    """``proxies=`` for a ``requests`` call to ``url``: this rule, not requests' own reading
    of the environment (an explicit None keeps requests from adding one)."""
    proxy = proxy_for(url)
    return {"http": proxy, "https": proxy}
