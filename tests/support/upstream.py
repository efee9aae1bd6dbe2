"""The person at the browser whose identity lives at the upstream provider (tests/upstream)."""

from __future__ import annotations

import anyio.to_thread
from mcp.shared.auth import AuthorizationCodeResult
from playwright.async_api import Page

from tests.upstream.conftest import PROVIDER_ID, PROVIDER_NAME


class Person:
    """Someone at the browser whose identity lives at the upstream provider."""

    def __init__(self, login: str, idp, callback=None) -> None:
        self.login, self.idp, self.callback = login, idp, callback
        self.page: Page | None = None
        self.denied_reason = ""

    async def sign_in_upstream(self) -> None:
        """On our sign-in page: Continue with the provider, sign in there, consent there."""
        page = self.page
        button = page.locator(f"button[data-provider={PROVIDER_ID}]")
        assert await button.inner_text() == f"Continue with {PROVIDER_NAME}"
        await button.click()
        await page.wait_for_selector("input[name=login]")
        assert page.url.startswith(self.idp.issuer)  # really at the upstream provider
        await page.fill("input[name=login]", self.login)
        await page.fill("input[name=password]", "any password the test IdP accepts")
        await page.click("button[type=submit]")
        await page.wait_for_selector("button:has-text('Continue')")  # the IdP's consent
        await page.click("button:has-text('Continue')")
        await page.wait_for_url(lambda url: not url.startswith(self.idp.issuer))

    async def redirect_handler(self, url: str) -> None:
        await self.page.goto(url)
        if (await self.page.title()).startswith("Sign in"):
            await self.sign_in_upstream()
        denied = self.page.locator("h1:has-text('Access denied')")
        await self.page.locator("text=wants access to").or_(denied).wait_for()
        if await denied.count():
            self.denied_reason = await self.page.inner_text("p[role=alert]")
            await self.page.click("a.back")  # back to the client with error=access_denied
            return
        await self.page.click("button[name=allow]")

    async def callback_handler(self) -> AuthorizationCodeResult:
        query = await anyio.to_thread.run_sync(self.callback.next_query)
        if "code" not in query:
            raise PermissionError(f"authorization refused: {query.get('error')}")
        return AuthorizationCodeResult(code=query["code"], state=query["state"], iss=query["iss"])
