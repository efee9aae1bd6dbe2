"""URL-mode elicitation with real parts: the official MCP Python SDK client, with an
elicitation callback, calls the demo's ``transfer`` above the threshold; the demo sends the
approval page as a URL-mode elicitation (``elicitation/create`` on 2025-11-25, an
``InputRequiredResult`` on 2026-07-28); the callback opens it in Chromium with a WebAuthn
virtual authenticator and approves; the same call then completes, exactly once."""

from __future__ import annotations

import httpx2
import pytest
from mcp import Client, types
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientMetadata
from playwright.async_api import async_playwright

from approvals.models import ApprovalRequest
from authserver.models import AuditEvent, Scope
from tests.approvals.conftest import CIBA, speaks_for
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, DEMO_TOOLS
from tests.factories import make_client
from tests.support.mcp_sdk import MemoryStorage, User, run_in_thread

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
}


def text_of(result) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


@pytest.mark.parametrize(("mode", "version"), [("legacy", "2025-11-25"), ("auto", "2026-07-28")])
def test_url_elicitation_brings_the_person_to_approve_and_the_call_completes_once(
    issuer, start_demo_server, callback, make_user, mode, version
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
    elicited: list[types.ElicitRequestURLParams] = []
    completed: list[str] = []
    seen: dict[str, object] = {}

    async def scenario() -> None:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            user.page = page = await browser.new_page()

            async def open_the_page(context, params) -> types.ElicitResult:
                """What a client does with a URL-mode elicitation: the person opens it (or,
                for the second transfer, declines to)."""
                assert params.mode == "url"
                elicited.append(params)
                if "5000" in params.message:
                    return types.ElicitResult(action="decline")
                await page.goto(params.url)
                await page.click("#approve")
                await page.wait_for_selector("#status:has-text('Approved')")
                return types.ElicitResult(action="accept")

            provider = OAuthClientProvider(
                server_url=demo.url,
                client_metadata=OAuthClientMetadata(
                    client_name="SDK elicitation client",
                    redirect_uris=[callback.uri],
                    token_endpoint_auth_method="none",
                    scope="notes:read notes:write",
                ),
                storage=MemoryStorage(),
                redirect_handler=user.redirect_handler,
                callback_handler=user.callback_handler,
            )

            async def note(message) -> None:
                if isinstance(message, types.ElicitCompleteNotification):
                    completed.append(message.params.elicitation_id)

            http = httpx2.AsyncClient(auth=provider, timeout=60)
            try:
                transport = streamable_http_client(demo.url, http_client=http)
                async with (
                    http,
                    Client(
                        transport,
                        mode=mode,
                        elicitation_callback=open_the_page,
                        message_handler=note,
                    ) as mcp,
                ):
                    assert not (await mcp.call_tool("transfer", {"amount": 10, "to": "X"})).is_error
                    cdp = await page.context.new_cdp_session(page)
                    await cdp.send("WebAuthn.enable")
                    await cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
                    await page.goto(f"{issuer}/approvals/passkeys")
                    await page.click("#enrol")
                    await page.wait_for_selector("ul.passkeys li")

                    done = await mcp.call_tool("transfer", {"amount": 4000, "to": "X"})
                    seen["done"] = (done.is_error, text_of(done))
                    seen["version"] = mcp.session.protocol_version
                    declined = await mcp.call_tool("transfer", {"amount": 5000, "to": "Y"})
                    seen["declined"] = (declined.is_error, text_of(declined))
            finally:
                await browser.close()

    run_in_thread(scenario, timeout=180)
    assert seen["version"] == version
    assert seen["done"] == (False, "transferred 4000.0 to X")
    assert len(elicited) == 2
    approval = ApprovalRequest.objects.get(status=ApprovalRequest.Status.USED)
    assert elicited[0].url == f"{issuer}/approvals/{approval.pk}"
    assert "Approve the transfer of 4000.0 to X" in elicited[0].message
    assert AuditEvent.objects.filter(kind="approval.used").count() == 1
    # Declined: nothing runs, the request waits for its expiry.
    is_error, message = seen["declined"]
    assert is_error
    assert "declined" in message
    assert ApprovalRequest.objects.filter(status=ApprovalRequest.Status.PENDING).count() == 1
    if version == "2025-11-25":  # the server said the elicitation is over
        assert completed == [elicited[0].elicitation_id]
