"""Helpers for driving the official MCP Python SDK client in tests: the SDK and Playwright
(async API) in one event loop on a worker thread, in-memory token storage, the HTTP traffic it
made, the person at the browser, and unwrapping its errors and results."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, urlsplit

import anyio
import anyio.to_thread
import httpx2
from django.db import connections
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthToken
from playwright.async_api import Page

from tests.conftest import PASSWORD


def run_in_thread(scenario: Callable[[], Awaitable[None]], timeout: float = 90) -> None:
    """``anyio.run(scenario)`` in a worker thread; re-raises its exception here."""
    errors: list[BaseException] = []

    async def scenario_then_close() -> None:
        try:
            await scenario()
        finally:
            # In an event loop Django keeps connections per context, not per thread.
            connections.close_all()

    def target() -> None:
        try:
            anyio.run(scenario_then_close)
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"the scenario did not finish within {timeout} s"
    if errors:
        raise errors[0]


class MemoryStorage:
    """The SDK's ``TokenStorage`` protocol, in memory, keeping every token it was given."""

    def __init__(self) -> None:
        self.tokens: list[OAuthToken] = []
        self.stored_at = 0.0
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens[-1] if self.tokens else None

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens.append(tokens)
        self.stored_at = time.time()

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class Traffic:
    """Every HTTP exchange the SDK makes (httpx2 event hooks see the auth flow's requests too)."""

    def __init__(self) -> None:
        self.exchanges: list[dict] = []
        self.revoked_at = 0  # index of the first exchange after the revocation

    async def on_response(self, response: httpx2.Response) -> None:
        request = response.request
        entry = {
            "method": request.method,
            "url": str(request.url),
            "status": response.status_code,
            "challenge": response.headers.get("www-authenticate", ""),
        }
        if urlsplit(entry["url"]).path in ("/token", "/register"):
            entry["body"] = request.content.decode()
        if response.status_code in (401, 403):
            entry["error"] = json.loads(await response.aread()).get("error_description")
        self.exchanges.append(entry)

    def mark(self) -> int:
        return len(self.exchanges)

    def since(self, mark: int) -> list[dict]:
        return self.exchanges[mark:]

    @staticmethod
    def first_mcp(exchanges: list[dict]) -> dict:
        """The first request to the MCP server (a due refresh may go to /token before it)."""
        return next(e for e in exchanges if urlsplit(e["url"]).path == "/mcp")

    @staticmethod
    def token_requests(exchanges: list[dict]) -> list[dict[str, str]]:
        return [
            {k: v[0] for k, v in parse_qs(e["body"]).items()}
            for e in exchanges
            if urlsplit(e["url"]).path == "/token"
        ]


class User:
    """The person at the browser: signs in once, then answers each consent screen."""

    def __init__(self, username: str, callback) -> None:
        self.page: Page | None = None  # set once the browser runs
        self.username = username
        self.callback = callback
        self.answer = "allow"
        self.authorization_urls: list[str] = []
        self.new_scopes: list[list[str]] = []  # per consent screen, the scopes marked "new"

    async def redirect_handler(self, url: str) -> None:
        """What the SDK calls with the authorization URL: the user's browser goes there."""
        self.authorization_urls.append(url)
        await self.page.goto(url)
        if (await self.page.title()).startswith("Sign in"):
            await self.page.fill("input[name=username]", self.username)
            await self.page.fill("input[name=password]", PASSWORD)
            await self.page.click("button[type=submit]")
        await self.page.wait_for_selector("text=wants access to")
        self.new_scopes.append(
            await self.page.locator("ul.scopes li:has(.badge) > code").all_inner_texts()
        )
        await self.page.click(f"button[name={self.answer}]")

    async def callback_handler(self) -> AuthorizationCodeResult:
        """What the SDK awaits next: the redirect, received at the loopback callback."""
        query = await anyio.to_thread.run_sync(self.callback.next_query)
        if "code" not in query:
            raise PermissionError(f"authorization refused: {query.get('error')}")
        return AuthorizationCodeResult(code=query["code"], state=query["state"], iss=query["iss"])


def sole_error(group: BaseExceptionGroup, kind: type[Exception]) -> Exception:
    """The one ``kind`` error in ``group`` (nested); else re-raises the group.

    An error in the SDK's auth flow ends the connection: it surfaces from the transport's task
    group when the ``Client`` exits, not from ``call_tool``.
    """
    matched, others = group.split(kind)
    if matched is None or others is not None:
        raise group
    while isinstance(matched, BaseExceptionGroup):
        matched = matched.exceptions[0]
    return matched


def structured(result) -> object:
    assert not result.is_error, result
    return result.structured_content["result"]
