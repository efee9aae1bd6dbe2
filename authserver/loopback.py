"""The one loopback rule (RFC 8252 §7.3, §8.3): redirect URIs, resources and dev-mode fetches.

RFC 8252 §7.3 names the loopback IP literals ``127.0.0.1`` and ``[::1]``; §8.3 says
``localhost`` "functions similarly" (NOT RECOMMENDED for clients, yet Claude Code and the MCP
Inspector use it). Exactly these three, as names: other 127.0.0.0/8 addresses and other
spellings of ``::1`` are not loopback hosts here. django-oauth-toolkit's redirect matching
frees the port (RFC 8252 §7.3: "MUST allow any port") for these three only, so accepting
more would register loopback redirect URIs that then match on one port alone.
"""

from __future__ import annotations

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


def is_loopback_host(host: str | None) -> bool:
    """True for a URI's host that is a loopback host (``[::1]`` brackets and case ignored)."""
    return (host or "").strip("[]").lower() in LOOPBACK_HOSTS
