"""Helpers for the consent flow in headless Chromium against a live server: the
authorization URL, the code's redemption, and signing in on our page."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx

from tests.conftest import PASSWORD
from tests.factories import MCP
from tests.oauthflow import pkce_pair


def authorize(live_server, app, callback, scope: str) -> tuple[str, str]:
    verifier, challenge = pkce_pair()
    query = urlencode(
        {
            "response_type": "code",
            "client_id": app.client_id,
            "redirect_uri": callback.uri,
            "state": "browser-state",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "resource": MCP,
            "scope": scope,
        }
    )
    return f"{live_server.url}/authorize?{query}", verifier


def exchange(live_server, app, callback, code: str, verifier: str) -> dict:
    response = httpx.post(
        f"{live_server.url}/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": callback.uri,
            "client_id": app.client_id,
            "code_verifier": verifier,
            "resource": MCP,
        },
    )
    assert response.status_code == 200, response.text
    return response.json()


def sign_in(page, username: str) -> None:
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
