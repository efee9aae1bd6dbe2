"""The sign-in page with several providers and LOCAL_LOGIN=false, in headless Chromium
(docs/IDENTITY.md's screenshot; refresh it with UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from allauth.socialaccount.models import SocialApp
from playwright.async_api import async_playwright

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.support.mcp_sdk import run_in_thread

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = (
    _ROOT / "docs" / "screenshots"
    if os.environ.get("UPDATE_SCREENSHOTS")
    else _ROOT / "tests" / "artifacts" / "screenshots"
)


def test_signin_page_offers_each_provider_and_keeps_passwords_for_admins(issuer, settings):
    settings.LOCAL_LOGIN = False
    for provider_id, name, url in (
        ("okta", "Okta", "https://acme.okta.com"),
        ("entra", "Microsoft Entra ID", "https://login.microsoftonline.com/TENANT/v2.0"),
        ("google", "Google Workspace", "https://accounts.google.com"),
    ):
        SocialApp.objects.create(
            provider="openid_connect",
            provider_id=provider_id,
            name=name,
            client_id="c",
            secret="s",
            settings={"server_url": url},
        )
    SocialApp.objects.create(provider="github", name="GitHub", client_id="g", secret="t")
    seen: dict = {}

    async def scenario() -> None:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = await browser.new_page(viewport={"width": 1000, "height": 760})
            try:
                await page.goto(f"{issuer}/accounts/login/")
                seen["buttons"] = await page.locator("button.provider").all_inner_texts()
                seen["password_visible"] = await page.locator("#id_password").is_visible()
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(SCREENSHOTS / "login-providers.png"), full_page=True)
                await page.click("summary:has-text('Administrator sign-in')")
                seen["password_after_open"] = await page.locator("#id_password").is_visible()
            finally:
                await browser.close()

    run_in_thread(scenario)

    assert seen["buttons"] == [
        "Continue with GitHub",
        "Continue with Google Workspace",
        "Continue with Microsoft Entra ID",
        "Continue with Okta",
    ]
    assert seen["password_visible"] is False  # LOCAL_LOGIN=false
    assert seen["password_after_open"] is True  # break-glass for administrators
