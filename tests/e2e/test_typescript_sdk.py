"""The official MCP TypeScript SDK's own OAuth client (npm ``@modelcontextprotocol/sdk``, driven
by Node: tests/compat/ts_sdk/sdk_flow.mjs) against the demo MCP server and our server.

It registers as TypeScript SDK apps commonly do, with no ``grant_types`` (RFC 7591 §2's default
is the authorization code grant alone) and never asks for ``offline_access``. We still issue it a
refresh token (the registration response says so), so its user is not sent back to the browser
each time an access token expires; the refresh token rotates on every use.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from authserver.models import RefreshToken
from clients.models import Client
from tests.conftest import PASSWORD
from tests.oauthflow import claims_of

pytestmark = pytest.mark.django_db(transaction=True)

SDK_DIR = Path(__file__).resolve().parents[1] / "compat" / "ts_sdk"
REDIRECT = "http://127.0.0.1:45991/callback"


def sign_in_and_consent(issuer: str, authorization_url: str, username: str) -> str:
    """The user's browser: sign in, allow on the consent screen; returns the code."""
    with httpx.Client(base_url=issuer, follow_redirects=False, timeout=30) as browser:
        login = browser.get("/accounts/login/")
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
        signed_in = browser.post(
            "/accounts/login/",
            data={"csrfmiddlewaretoken": csrf, "username": username, "password": PASSWORD},
            headers={"Referer": issuer + "/accounts/login/"},
        )
        assert signed_in.status_code == 302, signed_in.text[:300]
        consent = browser.get(authorization_url)
        assert consent.status_code == 200, consent.text[:300]
        form = dict(
            re.findall(r'name="(csrfmiddlewaretoken|request_id)" value="([^"]+)"', consent.text)
        )
        answer = browser.post(
            "/authorize", data={**form, "allow": "1"}, headers={"Referer": authorization_url}
        )
        assert answer.status_code == 302, answer.text[:300]
        query = parse_qs(urlsplit(answer.headers["location"]).query)
        assert query["iss"] == [issuer]  # RFC 9207 §2
        return query["code"][0]


def test_typescript_sdk_client_registered_without_refresh_grant_gets_and_rotates_refresh_token(
    issuer, demo_server, user
):
    assert (SDK_DIR / "node_modules" / "@modelcontextprotocol" / "sdk").is_dir(), (
        "run `make test` (it installs tests/compat/ts_sdk with npm ci)"
    )
    node = subprocess.Popen(
        ["node", "sdk_flow.mjs", demo_server.url, REDIRECT],
        cwd=SDK_DIR,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        step = json.loads(node.stdout.readline() or "{}")
        assert step.get("event") == "authorize", node.stderr.read()[-2000:]
        code = sign_in_and_consent(issuer, step["url"], user.username)
        node.stdin.write(json.dumps({"code": code}) + "\n")
        node.stdin.flush()
        done = json.loads(node.stdout.readline() or "{}")
        assert done.get("event") == "done", node.stderr.read()[-2000:]
    finally:
        node.kill()
        node.wait(10)

    registered = done["registered"]
    # RFC 7591 §3.2.1: the response says what was registered, refresh_token included.
    assert registered["grant_types"] == ["authorization_code", "refresh_token"]
    assert registered["token_endpoint_auth_method"] == "client_secret_basic"
    client = Client.objects.get(client_id=registered["client_id"])
    assert client.grant_types == ["authorization_code", "refresh_token"]

    issued, refreshed = done["issued"], done["refreshed"]
    assert "offline_access" not in issued["scope"].split()
    assert issued["refresh_token"]
    assert claims_of(issued["access_token"])["sub"] == str(user.pk)
    assert claims_of(issued["access_token"])["aud"] == demo_server.url
    # The SDK's transport used the token on a real tool call of the demo MCP server.
    assert not done["whoami"].get("isError"), done["whoami"]
    assert json.loads(done["whoami"]["content"][0]["text"])["sub"] == str(user.pk)
    # The refresh happened with the SDK's own refreshAuthorization, and rotated the token.
    assert refreshed
    assert refreshed["access_token"] != issued["access_token"]
    assert refreshed["refresh_token"] != issued["refresh_token"]
    assert RefreshToken.objects.filter(application=client).count() == 2
    assert RefreshToken.objects.filter(application=client, revoked__isnull=True).count() == 1
