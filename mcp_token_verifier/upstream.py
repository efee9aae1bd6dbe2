"""For MCP servers: obtain the user's upstream API token from the authorization server.

RFC 8693 token exchange at the issuer's token endpoint: the MCP access token the server
received is the ``subject_token``, ``audience`` names the upstream connection (the
provider's slug, e.g. ``github``), and the MCP server authenticates as its own confidential
client (``client_secret_basic``). Standard library only. Usage::

    from mcp_token_verifier.upstream import ConnectionRequired, vend_upstream_token

    try:
        upstream = vend_upstream_token(
            token_endpoint="https://auth.example.com/token",
            client_id=MY_CLIENT_ID, client_secret=MY_CLIENT_SECRET,
            subject_token=token_the_mcp_client_sent, audience="github")
    except ConnectionRequired as exc:
        ...  # ask the user to open exc.connect_url (e.g. URL-mode elicitation)
    call_github(upstream.access_token)  # valid for upstream.expires_in seconds

Keep the token in memory only, for at most ``expires_in`` seconds; never log it, never pass
it to the MCP client.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode, urlsplit

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105
MAX_BODY_BYTES = 64 * 1024


class VendError(Exception):
    """The authorization server refused (RFC 6749 §5.2 ``error``) or could not be reached."""

    def __init__(self, error: str, description: str = "", *, status: int = 0) -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description
        self.status = status


class ConnectionRequired(VendError):
    """The user has not connected the upstream account (or it broke): send them to
    ``connect_url``, then try again."""

    def __init__(self, description: str, *, connect_url: str, status: int = 400) -> None:
        super().__init__("invalid_grant", description, status=status)
        self.connect_url = connect_url


@dataclass(frozen=True)
class UpstreamToken:
    access_token: str = field(repr=False)
    expires_in: int | None
    scope: str


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a token endpoint answers; it never redirects a POST with a secret


def vend_upstream_token(
    *,
    token_endpoint: str,
    client_id: str,
    client_secret: str,
    subject_token: str,
    audience: str,
    scope: str | None = None,
    timeout: float = 10.0,
) -> UpstreamToken:
    if urlsplit(token_endpoint).scheme not in ("https", "http"):
        raise VendError("invalid_request", "the token endpoint must be an HTTP(S) URL")
    form = {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": subject_token,
        "subject_token_type": ACCESS_TOKEN_TYPE,
        "audience": audience,
    }
    if scope:
        form["scope"] = scope
    # RFC 6749 §2.3.1: each part form-encoded before the Basic encoding.
    basic = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}"
    request = urllib.request.Request(  # noqa: S310 -- scheme checked above
        token_endpoint,
        data=urlencode(form).encode(),
        headers={
            "Authorization": "Basic " + base64.b64encode(basic.encode()).decode(),
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        },
        method="POST",
    )
    status, body = _post(request, timeout)
    if status == 200 and isinstance(body.get("access_token"), str):
        expires_in = body.get("expires_in")
        return UpstreamToken(
            access_token=body["access_token"],
            expires_in=expires_in if isinstance(expires_in, int) else None,
            scope=str(body.get("scope", "")),
        )
    error = str(body.get("error") or "server_error")
    description = str(body.get("error_description", ""))
    if error == "invalid_grant" and isinstance(body.get("error_uri"), str):
        raise ConnectionRequired(description, connect_url=body["error_uri"], status=status)
    raise VendError(error, description, status=status)


def _post(request: urllib.request.Request, timeout: float) -> tuple[int, dict]:
    opener = urllib.request.build_opener(_NoRedirects)
    try:
        try:
            with opener.open(request, timeout=timeout) as response:
                status, raw = response.status, response.read(MAX_BODY_BYTES + 1)
        except urllib.error.HTTPError as exc:
            with exc:
                status, raw = exc.code, exc.read(MAX_BODY_BYTES + 1) if exc.fp else b""
    except (OSError, ValueError) as exc:
        raise VendError("temporarily_unavailable", f"token endpoint unreachable: {exc}") from None
    try:
        body = json.loads(raw) if len(raw) <= MAX_BODY_BYTES else {}
    except ValueError:
        body = {}
    return status, body if isinstance(body, dict) else {}
