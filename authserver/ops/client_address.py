"""The caller's address, one proxy-aware answer for every rule that keys on it.

Login throttling (accounts.throttle), the registration rate limit (clients.policy) and
``/metrics`` access (authserver.ops.metrics) all ask here. With ``TRUSTED_PROXY_COUNT=0`` (no
proxy) it is ``REMOTE_ADDR`` and ``X-Forwarded-For`` is ignored: a client could write
anything there. With N trusted proxies it is the address the outermost trusted proxy saw:
the N-th entry from the right of ``X-Forwarded-For`` (each proxy appends the peer it
talked to, so entries left of that are the client's own claims). django-ipware
(python-ipware) does the parsing: ports, IPv6 brackets and junk entries.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest
from ipware import get_client_ip


def client_ip(request: HttpRequest) -> str:
    """The caller's address as a normalised string, or "" when it cannot be told."""
    proxies = settings.CONFIG.trusted_proxy_count
    remote = request.META.get("REMOTE_ADDR", "")
    if proxies and request.META.get("HTTP_X_FORWARDED_FOR", "").strip():
        # ipware counts the proxies listed in X-Forwarded-For; the last trusted proxy is
        # REMOTE_ADDR itself, so N trusted proxies leave N - 1 in the header. Not strict:
        # a client may prepend its own entries, which are ignored, not an error.
        found, _routable = get_client_ip(
            request,
            proxy_order="left-most",
            proxy_count=proxies - 1,
            request_header_order=["HTTP_X_FORWARDED_FOR"],
            strict=False,
        )
        # Fewer entries than trusted proxies: the chain is not what the operator said it
        # is; fall back to the nearest peer rather than to a client-supplied value.
        remote = str(found) if found is not None else remote
    try:
        return str(ipaddress.ip_address(remote))
    except ValueError:
        return ""


def behind_proxy() -> bool:
    """Whether requests arrive through trusted proxies (every caller then shares the
    proxies' ``REMOTE_ADDR``, so an address allow-list alone proves nothing)."""
    return settings.CONFIG.trusted_proxy_count > 0
