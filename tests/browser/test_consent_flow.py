"""The consent flow as a person sees it, in headless Chromium, against a live server."""

from __future__ import annotations

import httpx
import pytest

from accounts.models import Consent
from authserver.models import AccessToken
from tests.factories import MCP, make_client, make_resource
from tests.oauthflow import claims_of
from tests.support.browser import authorize, exchange, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def app(db):
    make_resource(
        MCP,
        name="Team Notes",
        scopes={"notes:read": "Read your notes", "notes:write": "Create and edit your notes"},
        defaults=("notes:read",),
    )
    client, _ = make_client(
        confidential=False,
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris="http://127.0.0.1/callback",
        name="Notes Agent",
        client_uri="https://agent.example.com",
        registration_source="dcr",
    )
    return client


def test_sign_in_consent_allow_code_at_loopback_and_audience_bound_jwt(
    page, live_server, app, callback, make_user, screenshot
):
    make_user("alice")
    url, verifier = authorize(live_server, app, callback, "notes:read offline_access")
    page.goto(url)
    assert page.title().startswith("Sign in")
    screenshot(page, "login")
    sign_in(page, "alice")

    page.wait_for_selector("text=wants access to")
    body = page.inner_text("main")
    assert "Notes Agent" in body
    assert "Team Notes" in body
    assert MCP in body
    assert "Read your notes" in body
    assert "127.0.0.1:" in body  # where the code goes
    assert "has not been reviewed" in body  # self-registered client
    screenshot(page, "consent")
    page.click("button[name=allow]")

    query = callback.next_query()
    assert query["state"] == "browser-state"
    assert query["iss"] == "http://127.0.0.1:8000"
    tokens = exchange(live_server, app, callback, query["code"], verifier)
    claims = claims_of(tokens["access_token"])
    assert claims["aud"] == MCP
    assert claims["scope"] == "notes:read offline_access"
    assert tokens["refresh_token"]


def test_deny_sends_access_denied_to_the_client(page, live_server, app, callback, make_user):
    make_user("alice")
    url, _ = authorize(live_server, app, callback, "notes:read")
    page.goto(url)
    sign_in(page, "alice")
    page.click("button[name=deny]")
    query = callback.next_query()
    assert query["error"] == "access_denied"
    assert query["state"] == "browser-state"
    assert Consent.objects.count() == 0


def test_step_up_asks_only_for_the_new_scope(page, live_server, app, callback, make_user):
    make_user("alice")
    url, _ = authorize(live_server, app, callback, "notes:read")
    page.goto(url)
    sign_in(page, "alice")
    page.click("button[name=allow]")
    callback.next_query()

    url, verifier = authorize(live_server, app, callback, "notes:read notes:write")
    page.goto(url)
    page.wait_for_selector("text=wants access to")
    assert page.locator(".badge").count() == 1
    assert "already allowed" in page.inner_text("main")
    page.click("button[name=allow]")
    tokens = exchange(live_server, app, callback, callback.next_query()["code"], verifier)
    assert claims_of(tokens["access_token"])["scope"] == "notes:read notes:write"


def test_revoking_from_connected_apps_stops_the_tokens(
    page, live_server, app, callback, make_user, screenshot
):
    make_user("alice")
    url, verifier = authorize(live_server, app, callback, "notes:read offline_access")
    page.goto(url)
    sign_in(page, "alice")
    page.click("button[name=allow]")
    tokens = exchange(live_server, app, callback, callback.next_query()["code"], verifier)

    page.goto(f"{live_server.url}/accounts/apps/")
    assert "Notes Agent" in page.inner_text("main")
    screenshot(page, "connected-apps")
    page.click("button[name=revoke]")
    page.wait_for_selector("text=can no longer reach")

    assert AccessToken.objects.filter(revoked_at__isnull=True).count() == 0
    refreshed = httpx.post(
        f"{live_server.url}/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": app.client_id,
        },
    )
    assert refreshed.status_code == 400
    assert refreshed.json()["error"] == "invalid_grant"
