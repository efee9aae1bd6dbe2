"""Sign-in through a real upstream OpenID Connect provider (node-oidc-provider on loopback),
driven by headless Chromium, then the official MCP Python SDK against the demo MCP server.

First sign-in provisions the user (linked by issuer + subject, groups from the claim); the
token the SDK gets carries that user as ``sub``; SCIM deactivation makes the demo MCP server
refuse it through the signed revocation list (it has no database) and the next refresh fail.
A user from a refused domain gets a refusal page and nothing is created; a resource limited
to a group refuses a user outside it with ``access_denied``.
"""

from __future__ import annotations

import anyio
import anyio.to_thread
import httpx2
import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientMetadata
from playwright.async_api import async_playwright

from accounts.scim.models import ScimToken
from authserver.models import AuditEvent
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.support.mcp_sdk import MemoryStorage, run_in_thread, sole_error
from tests.support.upstream import Person
from tests.upstream.conftest import PROVIDER_ID

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
User = get_user_model()


def sdk_provider(person: Person, url: str, storage: MemoryStorage) -> OAuthClientProvider:
    return OAuthClientProvider(
        server_url=url,
        client_metadata=OAuthClientMetadata(
            client_name="Upstream e2e agent",
            redirect_uris=[person.callback.uri],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=person.redirect_handler,
        callback_handler=person.callback_handler,
    )


def test_first_upstream_signin_provisions_user_and_scim_deactivation_cuts_off_the_agent(
    upstream_idp, issuer, demo_server, callback
):
    person = Person("alice", upstream_idp, callback)
    storage = MemoryStorage()
    scim_token = ScimToken.issue("test provisioning", provider=PROVIDER_ID)[1]
    seen: dict = {}

    async def scenario() -> None:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            person.page = await browser.new_page()
            http = httpx2.AsyncClient(
                auth=sdk_provider(person, demo_server.url, storage), timeout=30
            )
            try:
                async with (
                    http,
                    Client(streamable_http_client(demo_server.url, http_client=http)) as mcp,
                ):
                    result = await mcp.call_tool("whoami", {})
                    assert not result.is_error, result
                    seen["whoami"] = result.structured_content
            finally:
                await browser.close()
        await deprovision_and_check_refusals()

    async def deprovision_and_check_refusals() -> None:
        tokens = storage.tokens[-1]
        async with httpx2.AsyncClient(timeout=10) as plain:
            user_id = seen["whoami"]["sub"]
            patch = await plain.patch(
                f"{issuer}/scim/v2/Users/{user_id}",
                headers={
                    "Authorization": f"Bearer {scim_token}",
                    "Content-Type": "application/scim+json",
                },
                json={
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "active", "value": False}],
                },
            )
            assert patch.status_code == 200, patch.text
            # The demo MCP server polls our signed revocation list (every second here); it
            # has no database. Bounded wait for its next poll.
            body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
            headers = {
                "Authorization": f"Bearer {tokens.access_token}",
                "Accept": "application/json, text/event-stream",
            }
            for _ in range(50):
                refused = await plain.post(demo_server.url, json=body, headers=headers)
                if refused.status_code == 401:
                    break
                await anyio.sleep(0.1)
            seen["mcp_after"] = (refused.status_code, refused.json().get("error_description"))
            renewal = await plain.post(
                f"{issuer}/token",
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": tokens.refresh_token,
                    "client_id": storage.client_info.client_id,
                    "resource": demo_server.url,
                },
            )
            seen["refresh_after"] = (renewal.status_code, renewal.json().get("error"))

    run_in_thread(scenario, timeout=120)

    user = User.objects.get(socialaccount__provider=PROVIDER_ID, socialaccount__uid="alice")
    assert seen["whoami"]["sub"] == str(user.pk)  # the token's subject is the provisioned user
    assert user.email == "alice@corp.example"
    assert not user.has_usable_password()
    assert list(user.groups.values_list("name", flat=True)) == ["engineering"]  # from the claim
    assert not user.is_active  # SCIM
    assert seen["mcp_after"] == (401, "token revoked")  # via the revocation list
    assert seen["refresh_after"] == (400, "invalid_grant")
    kinds = set(AuditEvent.objects.filter(user_id=str(user.pk)).values_list("kind", flat=True))
    assert {"user.provisioned", "signin.admitted", "scim.user.deactivated"} <= kinds


def test_user_from_a_refused_domain_is_refused_and_nothing_is_created(upstream_idp, issuer):
    person = Person("mallory", upstream_idp)
    seen: dict = {}

    async def scenario() -> None:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            person.page = await browser.new_page()
            try:
                await person.page.goto(f"{issuer}/accounts/login/?next=/")
                await person.sign_in_upstream()
                await person.page.wait_for_selector("h1:has-text('You cannot sign in here')")
                seen["text"] = await person.page.inner_text("main")
                seen["url"] = person.page.url
            finally:
                await browser.close()

    run_in_thread(scenario, timeout=90)

    assert "email domain not allowed here (corp.example only)" in seen["text"]
    assert "Nothing was created" in seen["text"]
    assert not User.objects.exists()
    assert not SocialAccount.objects.exists()
    refused = AuditEvent.objects.get(kind="signin.refused")
    assert refused.detail["provider"] == PROVIDER_ID
    assert refused.detail["subject"] == "mallory"
    assert "email domain" in refused.detail["reason"]


def test_group_restricted_resource_is_refused_to_a_user_outside_the_group(
    upstream_idp, issuer, demo_server, callback
):
    finance = Group.objects.create(name="finance")
    demo_server.resource.allowed_groups.add(finance)
    person = Person("alice", upstream_idp, callback)
    storage = MemoryStorage()

    async def scenario() -> None:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            person.page = await browser.new_page()
            http = httpx2.AsyncClient(
                auth=sdk_provider(person, demo_server.url, storage), timeout=30
            )
            try:
                async with (
                    http,
                    Client(streamable_http_client(demo_server.url, http_client=http)) as mcp,
                ):
                    await mcp.call_tool("whoami", {})
                raise AssertionError("a user outside the group reached the MCP server")
            except BaseExceptionGroup as group:
                sole_error(group, PermissionError)
            finally:
                await browser.close()

    run_in_thread(scenario, timeout=90)

    assert "access_denied" in person.denied_reason
    assert "limited to members of: finance" in person.denied_reason
    assert storage.tokens == []
    user = User.objects.get(socialaccount__uid="alice")
    assert list(user.groups.values_list("name", flat=True)) == ["engineering"]
