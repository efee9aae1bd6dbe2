"""The official MCP Python SDK client, unmodified, against the demo MCP server and our server.

One user's story, in order: discovery (401, RFC 9728, RFC 8414), dynamic registration, PKCE
authorization with a real sign-in and Allow in headless Chromium, the token exchange with
``resource``, tool calls, a refresh after expiry, step-up to ``notes:write``, and refusal once
the user revokes the app under Connected apps. Then a machine client with client credentials.

The SDK and Playwright (async API) share one event loop, run in a worker thread: the
session-wide sync Playwright of tests/browser may own the test thread's loop.
"""

from __future__ import annotations

import io
import json
import time
from urllib.parse import parse_qs, urlsplit

import anyio
import anyio.to_thread
import httpx2
import pytest
from django.core.management import call_command
from mcp import Client
from mcp.client.auth import OAuthClientProvider, OAuthTokenError
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    OAuthClientMetadata,
)
from playwright.async_api import async_playwright

from authserver.models import AccessToken, RefreshToken
from clients.models import Client as OAuthClient
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.support.mcp_sdk import (
    MemoryStorage,
    Traffic,
    User,
    run_in_thread,
    sole_error,
    structured,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.browser
def test_sdk_client_discovers_registers_consents_refreshes_steps_up_and_is_revoked(
    issuer, demo_server, callback, make_user
):
    make_user("alice")
    resource = demo_server.resource
    resource.access_token_lifetime = 3  # so that a refresh comes due within the test
    resource.save()
    storage, traffic = MemoryStorage(), Traffic()
    user = User("alice", callback)

    async def scenario() -> None:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            user.page = await browser.new_page()
            provider = OAuthClientProvider(
                server_url=demo_server.url,
                client_metadata=OAuthClientMetadata(
                    client_name="SDK e2e client",
                    redirect_uris=[callback.uri],
                    token_endpoint_auth_method="none",  # a public native client
                ),
                storage=storage,
                redirect_handler=user.redirect_handler,
                callback_handler=user.callback_handler,
            )
            http = httpx2.AsyncClient(
                auth=provider, timeout=30, event_hooks={"response": [traffic.on_response]}
            )
            transport = streamable_http_client(demo_server.url, http_client=http)
            try:
                async with http, Client(transport) as mcp:
                    await first_connection_and_tool_call(mcp)
                    await refresh_after_expiry(mcp)
                    await step_up_to_notes_write(mcp)
                    await revoke_from_connected_apps()
                    await mcp.call_tool("list_notes", {})
                raise AssertionError("a tool call succeeded after the user revoked the app")
            except BaseExceptionGroup as group:
                sole_error(group, PermissionError)  # the user said no
            finally:
                await browser.close()

    async def first_connection_and_tool_call(mcp) -> None:
        # Connecting already ran discovery, registration and the browser flow.
        assert len(user.authorization_urls) == 1
        steps = [(e["method"], urlsplit(e["url"]).path, e["status"]) for e in traffic.exchanges]
        prm_path = "/.well-known/oauth-protected-resource/mcp"
        assert steps[:5] == [
            ("POST", "/mcp", 401),
            ("GET", prm_path, 200),
            ("GET", "/.well-known/oauth-authorization-server", 200),
            ("POST", "/register", 201),
            ("POST", "/token", 200),
        ]
        assert traffic.exchanges[0]["challenge"] == (
            f'Bearer resource_metadata="{demo_server.url.replace("/mcp", prm_path)}", '
            'scope="notes:read"'
        )
        authorize = parse_qs(urlsplit(user.authorization_urls[0]).query)
        assert urlsplit(user.authorization_urls[0]).netloc == urlsplit(issuer).netloc
        assert authorize["resource"] == [demo_server.url]
        assert authorize["code_challenge_method"] == ["S256"]
        assert authorize["scope"] == ["notes:read offline_access"]
        assert user.new_scopes[0] == ["notes:read", "offline_access"]
        exchange = Traffic.token_requests(traffic.exchanges)[0]
        assert exchange["grant_type"] == "authorization_code"
        assert exchange["resource"] == demo_server.url
        assert "code_verifier" in exchange

        tools = sorted(t.name for t in (await mcp.list_tools()).tools)
        assert tools == ["add_note", "list_notes", "whoami"]
        assert structured(await mcp.call_tool("list_notes", {})) == []

    async def refresh_after_expiry(mcp) -> None:
        before = storage.tokens[-1]
        # The SDK refreshes once its own clock says the token expired (expires_in = 3 s).
        await anyio.sleep(max(0.0, storage.stored_at + before.expires_in + 0.2 - time.time()))
        mark = traffic.mark()
        assert structured(await mcp.call_tool("list_notes", {})) == []
        refreshes = Traffic.token_requests(traffic.since(mark))
        assert [r["grant_type"] for r in refreshes] == ["refresh_token"]
        assert refreshes[0]["resource"] == demo_server.url
        assert storage.tokens[-1].access_token != before.access_token
        assert storage.tokens[-1].refresh_token != before.refresh_token  # rotated
        assert len(user.authorization_urls) == 1  # no browser

    async def step_up_to_notes_write(mcp) -> None:
        # Tokens from now on outlive the rest of the test, so the revocation below is what
        # stops them, not their expiry.
        resource.access_token_lifetime = 300
        resource.save()
        mark = traffic.mark()
        result = await mcp.call_tool("add_note", {"text": "hello from the SDK"})
        assert not result.is_error, result
        denied = Traffic.first_mcp(traffic.since(mark))
        assert denied["status"] == 403
        assert denied["challenge"].startswith('Bearer error="insufficient_scope"')
        assert 'scope="notes:write"' in denied["challenge"]
        assert len(user.authorization_urls) == 2
        scope = parse_qs(urlsplit(user.authorization_urls[1]).query)["scope"][0]
        assert set(scope.split()) == {"notes:read", "notes:write", "offline_access"}
        assert user.new_scopes[1] == ["notes:write"]  # only what is new is asked for
        assert set(storage.tokens[-1].scope.split()) == {
            "notes:read",
            "notes:write",
            "offline_access",
        }
        assert structured(await mcp.call_tool("list_notes", {})) == ["hello from the SDK"]

    async def revoke_from_connected_apps() -> None:
        page = user.page
        await page.goto(f"{issuer}/accounts/apps/")
        assert "SDK e2e client" in await page.inner_text("main")
        await page.click("button[name=revoke]")
        await page.wait_for_selector("text=can no longer reach")
        await anyio.sleep(1.2)  # the demo server polls the revocation list every second
        user.answer = "deny"  # asked again, the user says no
        traffic.revoked_at = traffic.mark()

    run_in_thread(scenario)

    # Refused after the revocation: the demo server found the token in the revocation list ...
    refused = Traffic.first_mcp(traffic.since(traffic.revoked_at))
    assert (refused["status"], refused["error"]) == (401, "token revoked")
    assert refused["challenge"].startswith('Bearer error="invalid_token"')
    # ... and the SDK had to ask the user again, from scratch: the consent is gone.
    assert len(user.authorization_urls) == 3
    assert user.new_scopes[2] == ["notes:read", "offline_access"]

    client = OAuthClient.objects.get(name="SDK e2e client")
    assert client.registration_source == "dcr"
    assert not AccessToken.objects.filter(application=client, revoked_at__isnull=True).exists()
    assert not RefreshToken.objects.filter(application=client, revoked__isnull=True).exists()


def test_machine_client_with_client_credentials_calls_a_tool(issuer, demo_server):
    out = io.StringIO()
    call_command(
        "add_client",
        "--name=notes-bot",
        "--confidential",
        "--grant=client_credentials",
        f"--resource={demo_server.url}",
        "--scope=notes:read",
        stdout=out,
    )
    credentials = json.loads(out.getvalue())
    storage, traffic = MemoryStorage(), Traffic()

    async def scenario() -> None:
        provider = ClientCredentialsOAuthProvider(
            server_url=demo_server.url,
            storage=storage,
            client_id=credentials["client_id"],
            client_secret=credentials["client_secret"],
            scope="notes:read",
            issuer=issuer,
        )
        http = httpx2.AsyncClient(
            auth=provider, timeout=30, event_hooks={"response": [traffic.on_response]}
        )
        transport = streamable_http_client(demo_server.url, http_client=http)
        try:
            async with http, Client(transport) as mcp:
                assert structured(await mcp.call_tool("list_notes", {})) == []
                await mcp.call_tool("add_note", {"text": "beep"})
            raise AssertionError("add_note succeeded without notes:write")
        except BaseExceptionGroup as group:
            errors.append(sole_error(group, OAuthTokenError))

    errors: list[Exception] = []
    run_in_thread(scenario)

    grants = Traffic.token_requests(traffic.exchanges)
    assert [g["grant_type"] for g in grants] == ["client_credentials", "client_credentials"]
    assert {g["resource"] for g in grants} == {demo_server.url}
    assert not any("client_secret" in g for g in grants)  # client_secret_basic
    assert [t.scope for t in storage.tokens] == ["notes:read"]
    # add_note: 403 insufficient_scope; the SDK asks for notes:write too; we refuse, since an
    # admin allowed this client notes:read only.
    denied = next(e for e in traffic.exchanges if e["status"] == 403)  # add_note
    assert 'scope="notes:write"' in denied["challenge"]
    assert set(grants[1]["scope"].split()) == {"notes:read", "notes:write"}
    assert "invalid_scope" in str(errors[0])
