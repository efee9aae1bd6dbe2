"""The whole flow with real parts: the official MCP Python SDK client calls the demo server's
``transfer``; above the threshold it is refused with the approval page's URL (what a URL-mode
elicitation carries); the person, in Chromium with a WebAuthn virtual authenticator, enrols a
passkey and approves; the same call then runs, exactly once."""

from __future__ import annotations

import re

import httpx2
import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientMetadata
from playwright.async_api import async_playwright

from approvals.models import ApprovalRequest
from authserver.models import Scope
from tests.approvals.conftest import CIBA, speaks_for
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, DEMO_TOOLS
from tests.factories import make_client
from tests.support.mcp_sdk import MemoryStorage, User, run_in_thread

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def text_of(result) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


def test_sdk_transfer_above_threshold_needs_a_passkey_approval_and_runs_once(
    issuer, start_demo_server, callback, make_user
):
    make_user("bob")
    mcp_client, secret = make_client(grant_types=("client_credentials", CIBA), name="Bank MCP")
    demo = start_demo_server(
        name="Bank",
        exchange_client_id=mcp_client.client_id,
        exchange_client_secret=secret,
        transfer_approval_threshold=1000,
    )
    speaks_for(mcp_client, demo.resource)
    Scope.objects.filter(resource=demo.resource, name="notes:write").update(
        tools=[*DEMO_TOOLS["notes:write"], "transfer"]
    )
    user = User("bob", callback)
    seen: dict[str, str] = {}

    async def scenario() -> None:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            user.page = page = await browser.new_page()
            provider = OAuthClientProvider(
                server_url=demo.url,
                client_metadata=OAuthClientMetadata(
                    client_name="SDK transfer client",
                    redirect_uris=[callback.uri],
                    token_endpoint_auth_method="none",
                    scope="notes:read notes:write",
                ),
                storage=MemoryStorage(),
                redirect_handler=user.redirect_handler,
                callback_handler=user.callback_handler,
            )
            http = httpx2.AsyncClient(auth=provider, timeout=30)
            try:
                async with http, Client(streamable_http_client(demo.url, http_client=http)) as mcp:
                    small = await mcp.call_tool("transfer", {"amount": 10, "to": "X"})
                    assert not small.is_error, small
                    first = await mcp.call_tool("transfer", {"amount": 4000, "to": "X"})
                    assert first.is_error
                    seen["refusal"] = text_of(first)
                    uri = re.search(r"open (\S+)", seen["refusal"]).group(1)

                    cdp = await page.context.new_cdp_session(page)
                    await cdp.send("WebAuthn.enable")
                    await cdp.send(
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
                    await page.goto(f"{issuer}/approvals/passkeys")
                    await page.click("#enrol")
                    await page.wait_for_selector("ul.passkeys li")
                    await page.goto(uri)
                    await page.click("#approve")
                    await page.wait_for_selector("#status:has-text('Approved')")

                    ApprovalRequest.objects.update(last_polled_at=None)  # interval passed
                    done = await mcp.call_tool("transfer", {"amount": 4000, "to": "X"})
                    assert not done.is_error, done
                    seen["done"] = text_of(done)
                    again = await mcp.call_tool("transfer", {"amount": 4000, "to": "X"})
                    seen["again"] = text_of(again)
            finally:
                await browser.close()

    run_in_thread(scenario, timeout=120)
    assert "approval required: open " in seen["refusal"]
    assert "transferred 4000" in seen["done"]
    assert "approval required" in seen["again"]  # a new call, a new approval
    statuses = sorted(ApprovalRequest.objects.values_list("status", flat=True))
    assert statuses == ["pending", "used"]
