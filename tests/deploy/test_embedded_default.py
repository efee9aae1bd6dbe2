"""The embedded default as ``make run`` starts it: ``manage.py serve`` (gunicorn plus a Celery
worker on the file broker), SQLite, no Redis. docs/SECURITY.md, review items 1 and 5, on
the real processes."""

from __future__ import annotations

import time

import httpx

from mcp_token_verifier import TokenError, TokenVerifier
from tests.factories import MCP
from tests.support.deploy import basic_header, issue_token, sign_in_and_authorize, wait_for

REVOCATION_DEADLINE = 5.0  # seconds: the README's "within seconds", as the review measured it


def test_revocation_reaches_the_verifier_within_seconds_in_the_embedded_default(embedded):
    token = issue_token(embedded)
    verifier = TokenVerifier(
        issuer=embedded.issuer,
        resource=MCP,
        revocation_list_uri=f"{embedded.issuer}/revocations",
        revocation_poll_interval=0.5,
    )
    assert verifier.verify(token)["aud"] == MCP  # the verifier holds a current list now
    revoked = httpx.post(
        embedded.issuer + "/revoke", data={"token": token}, headers=basic_header(embedded.client)
    )
    assert revoked.status_code == 200
    started = time.monotonic()
    while time.monotonic() - started < REVOCATION_DEADLINE:
        try:
            verifier.verify(token)
        except TokenError:
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"revoked token still accepted after {REVOCATION_DEADLINE} s")


def test_secrets_in_query_strings_never_reach_the_embedded_servers_logs(embedded):
    """A full authorization code flow and a registration, then their real secrets sent
    again in query strings (as careless clients do): none may reach the output."""
    web = httpx.Client(base_url=embedded.issuer, timeout=5)
    registered = web.post(
        "/register",
        json={
            "client_name": "log test",
            "redirect_uris": ["http://127.0.0.1/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "none",
        },
    ).json()
    client_id = registered["client_id"]
    redirect = "http://127.0.0.1:50999/callback"
    with httpx.Client(base_url=embedded.issuer, timeout=5) as browser:
        code, verifier = sign_in_and_authorize(browser, embedded.issuer, client_id, redirect)
    secrets = {
        "code": code,
        "code_verifier": verifier,
        "registration_access_token": registered["registration_access_token"],
        "client_secret": embedded.client["client_secret"],
    }
    for name, value in list(secrets.items()):
        web.get(f"/token?grant_type=authorization_code&{name}={value}")
        web.get(f"/register/{client_id}?{name}={value}")
    tokens = web.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": redirect,
            "client_id": client_id,
            "resource": MCP,
        },
    ).json()
    secrets["access_token"] = tokens["access_token"]
    secrets["refresh_token"] = tokens["refresh_token"]
    for name in ("access_token", "refresh_token"):
        web.get(f"/revocations?x=1&{name}={secrets[name]}")
    wait_for(
        lambda: embedded.log.read_text().count("/revocations?x=1") >= 2,
        "the access log never showed the requests",
        timeout=60,
    )
    log = embedded.log.read_text(errors="replace")
    assert "[redacted]" in log  # the access lines are there, scrubbed
    for name, value in secrets.items():
        assert value not in log, f"{name} leaked into the embedded server's output"
