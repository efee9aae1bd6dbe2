"""``REGISTRATION_MODE``: which ways of self-registration are on, and what a client that
tries a way that is off is told to do instead.

* ``dcr+cimd`` (default; formerly ``open``): dynamic registration (RFC 7591) and Client ID
  Metadata Documents.
* ``initial_access_token``: dynamic registration with an RFC 7591 §3 initial access token;
  documents stay on.
* ``cimd-only``: MCP 2026-07-28 deprecates dynamic registration in favour of CIMD; the
  metadata drops ``registration_endpoint`` and ``POST /register`` answers ``403``.
* ``closed``: only clients an administrator creates; neither way is on.

``CIMD_ENABLED=false`` turns documents off in any mode (cimd-only refuses to start so).
The discovery metadata reads ``settings.CONFIG.dcr_on`` / ``cimd_on`` (authserver/config.py).
"""

from __future__ import annotations

from django.conf import settings

from authserver.errors import AccessDenied

CIMD_INSTEAD = (
    "dynamic client registration is off on this server (REGISTRATION_MODE=cimd-only): use a "
    "Client ID Metadata Document, an https URL of your client's metadata as client_id "
    "(draft-ietf-oauth-client-id-metadata-document; MCP 2026-07-28 client registration)"
)
CLOSED = (
    "client registration is closed on this server (REGISTRATION_MODE=closed): ask its "
    "administrator for a client_id"
)


def require_dynamic_registration() -> None:
    """``POST /register`` only while dynamic registration is on: else ``403`` saying what to do
    (a JSON error from the one writer, never an HTML page)."""
    config = settings.CONFIG
    if config.dcr_on:
        return
    raise AccessDenied(CIMD_INSTEAD if config.cimd_on else CLOSED)


def describe() -> str:
    """One read-only line for the admin: what is on."""
    config = settings.CONFIG
    mode = "dcr+cimd" if config.registration_mode == "open" else config.registration_mode
    dcr = "on" if config.dcr_on else "off"
    if config.registration_mode == "initial_access_token":
        dcr = "on with an initial access token"
    cimd = "on" if config.cimd_on else "off"
    return (
        f"REGISTRATION_MODE={mode}: dynamic registration (RFC 7591) {dcr}; "
        f"Client ID Metadata Documents {cimd}"
    )
