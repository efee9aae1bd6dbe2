"""Redirect URIs (RFC 7591 §2, RFC 6749 §3.1.2, RFC 8252 §7 and §8): exact, https or
loopback http, or a native app's private-use scheme; the same rules for registration,
RFC 7592 updates and Client ID Metadata Documents."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from authserver.errors import InvalidRedirectUri
from authserver.loopback import is_loopback_host
from authserver.token_endpoint.grant_types import AUTHORIZATION_CODE
from clients.models import FORBIDDEN_REDIRECT_SCHEMES

MAX_REDIRECT_URIS = 10
MAX_REDIRECT_URI_LENGTH = 2000
# RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*$")
# Printable ASCII only: a URI is never IRI text, spaces or control characters.
URI_CHARS = re.compile(r"^[\x21-\x7E]+$")


def validate_redirect_uri(uri: Any) -> str:
    """One redirection URI (RFC 7591 §2 ``redirect_uris``; RFC 6749 §3.1.2; RFC 8252 §7).

    Accepted: ``https`` with a host; ``http`` only on a loopback host (RFC 8252 §7.3:
    127.0.0.1, [::1], and localhost, which MCP clients use); a private-use scheme for a
    native app (RFC 8252 §7.1, e.g. ``cursor://anysphere.cursor-mcp/oauth/callback`` or
    ``com.example.app:/callback``). Refused: no scheme, ``javascript:``, ``data:``,
    ``file:`` and similar, fragments, wildcards, user information, spaces and non-ASCII.
    """
    if not isinstance(uri, str) or not uri:
        raise InvalidRedirectUri("each redirect URI must be a non-empty string")
    if len(uri) > MAX_REDIRECT_URI_LENGTH:
        raise InvalidRedirectUri(f"redirect URIs are limited to {MAX_REDIRECT_URI_LENGTH} chars")
    if not URI_CHARS.fullmatch(uri):
        raise InvalidRedirectUri("redirect URI must be ASCII without spaces or control chars")
    # RFC 6749 §3.1.2: "The endpoint URI MUST NOT include a fragment component", even "#".
    if "#" in uri:
        raise InvalidRedirectUri("redirect URI must not include a fragment")
    # RFC 9700 §4.1.3 / OAuth 2.1 §2.3.1: exact matching, so no wildcard patterns.
    if "*" in uri:
        raise InvalidRedirectUri("redirect URI must not contain wildcards")
    scheme, sep, _rest = uri.partition(":")
    if not sep or not _SCHEME.fullmatch(scheme):
        raise InvalidRedirectUri("redirect URI must be an absolute URI with a scheme")
    try:
        parts = urlsplit(uri)
        _ = parts.port  # an out-of-range or non-numeric port raises here
    except ValueError:
        raise InvalidRedirectUri("redirect URI is not a valid URI") from None
    scheme = parts.scheme.lower()
    # RFC 6749 §10.15 / RFC 8252 §8.1: nothing that runs code or reads local files.
    if scheme in FORBIDDEN_REDIRECT_SCHEMES:
        raise InvalidRedirectUri(f"redirect URI scheme {scheme!r} is not allowed")
    # RFC 3986 §3.2.1 user information in a redirect URI only serves phishing.
    if "@" in parts.netloc:
        raise InvalidRedirectUri("redirect URI must not include user information")
    if scheme in ("http", "https"):
        if not parts.hostname:
            raise InvalidRedirectUri("redirect URI must include a host")
        # RFC 8252 §8.3 / OAuth 2.1 §2.3.1: plain http only for loopback redirects.
        if scheme == "http" and not is_loopback_host(parts.hostname):
            raise InvalidRedirectUri("http redirect URIs are allowed only on loopback hosts")
        return uri
    check_private_use_scheme(scheme)
    # RFC 8252 §7.1: a private-use scheme, ``scheme:/path`` or ``scheme://authority/path``.
    if not (parts.netloc or parts.path.strip("/")):
        raise InvalidRedirectUri("a private-use redirect URI needs a path")
    return uri


def validate_redirect_uris(value: Any, grant_types: list[str]) -> list[str]:
    """RFC 7591 §2: "Array of redirection URI strings for use in redirect-based flows"."""
    if value is None:
        value = []
    if not isinstance(value, list):
        raise InvalidRedirectUri("redirect_uris must be an array of strings")
    if len(value) > MAX_REDIRECT_URIS:
        raise InvalidRedirectUri(f"at most {MAX_REDIRECT_URIS} redirect URIs")
    uris = list(dict.fromkeys(validate_redirect_uri(u) for u in value))
    # RFC 7591 §2.1: the authorization code grant is redirect-based; it needs one.
    if AUTHORIZATION_CODE in grant_types and not uris:
        raise InvalidRedirectUri("redirect_uris is required for the authorization_code grant")
    return uris


def port_free(uri: str) -> str:
    """Loopback redirect URIs match on any port (RFC 8252 §7.3): the port is noise."""
    parts = urlsplit(uri)
    if parts.scheme == "http" and is_loopback_host(parts.hostname):
        host = parts.hostname or ""
        netloc = f"[{host}]" if ":" in host else host
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    return uri


# Single-label private-use schemes that widely used MCP clients register (they predate the
# reverse-domain rule): Cursor (cursor://anysphere.cursor-mcp/...), VS Code and Windsurf.
KNOWN_APP_SCHEMES = frozenset({"cursor", "vscode", "vscode-insiders", "windsurf"})
# Network and messaging schemes that are never an app's redirect target, whatever their form.
NON_REDIRECT_SCHEMES = frozenset(
    {"ws", "wss", "ftp", "ftps", "sftp", "ssh", "telnet", "gopher", "ldap", "ldaps",
     "mailto", "tel", "sms", "irc", "news", "nntp", "smb", "nfs", "rtsp", "git", "intent",
     "chrome", "chrome-extension", "moz-extension", "http", "https"}
)  # fmt: skip
_REVERSE_DOMAIN = re.compile(r"^[a-z][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)+$")


def check_private_use_scheme(scheme: str) -> None:
    """RFC 8252 §7.1: "apps MUST use a URI scheme based on a domain name under their
    control, expressed in reverse order" (``com.example.app``). Refused: network schemes
    (``ws:``, ``ftp:``), look-alikes of the web schemes (``https-evil:``) and made-up single
    words, except the few app schemes real MCP clients use (``KNOWN_APP_SCHEMES``)."""
    scheme = scheme.lower()
    if scheme in NON_REDIRECT_SCHEMES:
        raise InvalidRedirectUri(f"redirect URI scheme {scheme!r} is not allowed")
    if scheme in KNOWN_APP_SCHEMES:
        return
    labels = scheme.split(".")
    if not _REVERSE_DOMAIN.fullmatch(scheme) or labels[0] in NON_REDIRECT_SCHEMES:
        raise InvalidRedirectUri(
            "a private-use redirect URI scheme must be a reverse domain name such as "
            "com.example.app (RFC 8252 §7.1)"
        )
