"""Secrets never reach the logs: requests that carry tokens, secrets and codes in query
strings, headers and bodies run through the real server, and the output of the configured
log handler (the one every logger reaches, with its filters), in both log formats, is
searched for every secret value."""

from __future__ import annotations

import io
import json
import logging
import secrets

import pytest
from django.conf import settings

from authserver.ops.logs import JsonLogFormatter, RedactionFilter
from tests.factories import make_resource

pytestmark = pytest.mark.django_db

# Values no redaction rule knows by shape (not a JWT, not 64 hex): only a rule that knows the
# *field* can remove them.
REFRESH = "rt-" + secrets.token_urlsafe(24)
CLIENT_SECRET = "cs-" + secrets.token_urlsafe(24)
SCIM_TOKEN = "scim-" + secrets.token_urlsafe(24)
UPSTREAM_CODE = "upcode-" + secrets.token_urlsafe(24)
BEARER = "at-" + secrets.token_urlsafe(24)
BODY_SECRET = "body-" + secrets.token_urlsafe(24)
ASSERTION = "ca-" + secrets.token_urlsafe(24)
DPOP_PROOF = "eyJ0eXAiOiJkcG9wK2p3dCJ9.eyJodG0iOiJQT1NUIn0." + secrets.token_urlsafe(
    32
)  # a JWT's shape
EXC_SECRET = "exc-" + secrets.token_urlsafe(24)


def configured_handler() -> logging.Handler:
    """The console handler settings.LOGGING configured (every logger reaches it)."""
    return next(
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, RedactionFilter) for f in h.filters)
    )


FORMATTERS = {
    "json": JsonLogFormatter,
    "text": lambda: logging.Formatter(settings.LOGGING["formatters"]["text"]["format"]),
}


@pytest.fixture(params=sorted(FORMATTERS))
def captured(request):
    """The configured handler writing to a buffer, in each configured format."""
    handler = configured_handler()
    stream = io.StringIO()
    old_stream = handler.setStream(stream)
    old_formatter = handler.formatter
    handler.setFormatter(FORMATTERS[request.param]())
    try:
        yield stream
    finally:
        handler.setStream(old_stream)
        handler.setFormatter(old_formatter)


def run_flows(client, registration_access_token: str, client_id: str) -> None:
    # 405: Django logs the request object, whose str() holds the query string.
    client.get(f"/token?refresh_token={REFRESH}&client_secret={CLIENT_SECRET}")
    # A SCIM token as a query parameter (RFC 6750 §2.3, which we do not accept): 401.
    client.get(f"/scim/v2/Users?access_token={SCIM_TOKEN}")
    # A registration access token in the query string of the RFC 7592 endpoint.
    client.get(f"/register/{client_id}?access_token={registration_access_token}")
    # An upstream authorization code on a refused callback (unknown provider, bad state).
    client.get(f"/accounts/oidc/nobody/login/callback/?code={UPSTREAM_CODE}&state=x")
    client.get(f"/accounts/connections/callback?code={UPSTREAM_CODE}&state=x")
    # Headers and a body: a refused token request.
    client.post(
        "/token",
        {
            "grant_type": "refresh_token",
            "refresh_token": BODY_SECRET,
            "client_id": client_id,
            "client_assertion": ASSERTION,
        },
        HTTP_AUTHORIZATION=f"Bearer {BEARER}",
        HTTP_DPOP=DPOP_PROOF,
    )
    client.get("/register/" + client_id, HTTP_AUTHORIZATION=f"Bearer {BEARER}")


def test_secrets_in_query_strings_headers_and_bodies_never_reach_the_log(client, captured):
    make_resource()
    registered = client.post(
        "/register",
        data=json.dumps(
            {
                "client_name": "log probe",
                "redirect_uris": ["http://127.0.0.1/cb"],
                "token_endpoint_auth_method": "none",
            }
        ),
        content_type="application/json",
    ).json()
    rat = registered["registration_access_token"]
    run_flows(client, rat, registered["client_id"])
    # Extra fields of every type and a traceback, logged by code that is careless.
    log = logging.getLogger("authserver.probe")
    log.warning(
        "probe",
        extra={
            "payload": {"client_secret": CLIENT_SECRET, "nested": [f"code={UPSTREAM_CODE}"]},
            "headers": {"Authorization": f"Bearer {BEARER}", "DPoP": DPOP_PROOF},
            "raw": f"refresh_token={REFRESH}".encode(),
        },
    )
    try:
        raise ValueError(f"bad client_secret={EXC_SECRET}")
    except ValueError:
        log.exception("failed")
    output = captured.getvalue()
    assert "/token" in output  # the flows were logged...
    assert "[redacted]" in output
    for secret in (
        REFRESH,
        CLIENT_SECRET,
        SCIM_TOKEN,
        rat,
        UPSTREAM_CODE,
        BEARER,
        BODY_SECRET,
        ASSERTION,
        DPOP_PROOF,
        EXC_SECRET,
    ):
        assert secret not in output, (secret[:6], output)  # ...and held no secret
