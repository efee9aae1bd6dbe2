"""A person enrols a passkey and approves one call with it, in headless Chromium with a CDP
WebAuthn virtual authenticator (CTAP2, internal, resident keys, user verification); the MCP
server then gets its one-time token. A replayed assertion and an altered one are refused."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from approvals.models import ApprovalRequest, Passkey
from authserver.models import AuditEvent
from tests.approvals.conftest import CIBA, details
from tests.support.browser import sign_in
from tests.support.http import basic

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def origin(live_server, settings):
    # WebAuthn wants a domain as relying party id: "localhost" (a secure context over HTTP).
    url = live_server.url.replace("127.0.0.1", "localhost")
    settings.ISSUER = url
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]
    return url


def authenticator(page) -> None:
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )


def ask(origin, client, secret, user, amount=4000) -> dict:
    response = httpx.post(
        f"{origin}/backchannel-authentication",
        data={
            "login_hint": str(user.pk),
            "binding_message": "K7-42",
            "authorization_details": details({"amount": amount, "currency": "EUR", "to": "X"}),
        },
        headers={"Authorization": basic(client.client_id, secret)},
    )
    assert response.status_code == 200, response.text
    return response.json()


def poll(origin, client, secret, auth_req_id) -> httpx.Response:
    return httpx.post(
        f"{origin}/token",
        data={"grant_type": CIBA, "auth_req_id": auth_req_id},
        headers={"Authorization": basic(client.client_id, secret)},
    )


def enrol(page, origin) -> None:
    page.goto(f"{origin}/approvals/passkeys")
    sign_in(page, "alice")
    page.wait_for_selector("#enrol")
    page.click("#enrol")
    page.wait_for_selector("ul.passkeys li")


def test_passkey_enrolled_then_one_call_approved_and_token_issued_once(
    page, origin, mcp_client, make_user, screenshot
):
    alice = make_user("alice")
    client, secret = mcp_client
    authenticator(page)
    enrol(page, origin)
    assert Passkey.objects.filter(user=alice).count() == 1

    body = ask(origin, client, secret, alice)
    assert poll(origin, client, secret, body["auth_req_id"]).json()["error"] == (
        "authorization_pending"
    )
    page.goto(body["approval_uri"])
    page.wait_for_selector("#approve")
    assert "Refund €4,000 to X" in page.inner_text("main")
    screenshot(page, "approval-page")
    page.click("#approve")
    page.wait_for_selector("#status:has-text('Approved')")

    approval = ApprovalRequest.objects.get()
    passkey = Passkey.objects.get()
    assert approval.status == "approved"
    assert approval.credential_id == passkey.credential_id
    event = AuditEvent.objects.get(kind="approval.approved")
    assert event.detail["credential_id"] == passkey.credential_id
    token = poll(origin, client, secret, body["auth_req_id"])
    assert token.status_code == 200, token.text
    assert poll(origin, client, secret, body["auth_req_id"]).json()["error"] == "invalid_grant"


def capture_approve(page, *, alter: bool = False) -> list[str]:
    """Record (and optionally corrupt) the assertion the page posts."""
    sent: list[str] = []

    def handle(route):
        data = route.request.post_data
        sent.append(data)
        if alter:
            cred = json.loads(data)
            sig = bytearray(base64.urlsafe_b64decode(cred["response"]["signature"] + "=="))
            sig[-1] ^= 1
            cred["response"]["signature"] = (
                base64.urlsafe_b64encode(bytes(sig)).decode().rstrip("=")
            )
            route.continue_(post_data=json.dumps(cred))
        else:
            route.continue_()

    page.route("**/approve", handle)
    return sent


def test_replayed_assertion_is_refused(page, origin, mcp_client, make_user):
    alice = make_user("alice")
    client, secret = mcp_client
    authenticator(page)
    enrol(page, origin)
    first = ask(origin, client, secret, alice)
    sent = capture_approve(page)
    page.goto(first["approval_uri"])
    page.click("#approve")
    page.wait_for_selector("#status:has-text('Approved')")
    # The same assertion, posted again for a second request: its challenge is spent.
    second = ask(origin, client, secret, alice, amount=9000)
    approval = ApprovalRequest.objects.get(status="pending")
    page.goto(second["approval_uri"])
    csrf = page.input_value("#csrf")
    page.request.post(f"{origin}/approvals/{approval.pk}/options", headers={"X-CSRFToken": csrf})
    replay = page.request.post(
        f"{origin}/approvals/{approval.pk}/approve",
        data=sent[0],
        headers={"X-CSRFToken": csrf, "Content-Type": "application/json"},
    )
    assert replay.status == 400
    assert ApprovalRequest.objects.get(pk=approval.pk).status == "pending"


def test_altered_assertion_is_refused(page, origin, mcp_client, make_user):
    alice = make_user("alice")
    client, secret = mcp_client
    authenticator(page)
    enrol(page, origin)
    body = ask(origin, client, secret, alice)
    capture_approve(page, alter=True)
    page.goto(body["approval_uri"])
    page.click("#approve")
    page.wait_for_selector("#message:has-text('refused')")
    assert ApprovalRequest.objects.get().status == "pending"
    assert poll(origin, client, secret, body["auth_req_id"]).json()["error"] == (
        "authorization_pending"
    )
