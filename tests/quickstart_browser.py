"""The person at the browser in tests/test_quickstart.py: ``BROWSER`` points here, so the
quick start's client opens the authorization URL with this script, which signs in as the
admin (``ADMIN_PASSWORD``) and presses Allow in Debian's headless Chromium, as a reader would.

Usage: python tests/quickstart_browser.py URL
"""

from __future__ import annotations

import os
import sys

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"


def main(url: str) -> int:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page()
        page.goto(url)
        page.fill("input[name=username]", os.environ.get("ADMIN_USERNAME", "admin"))
        page.fill("input[name=password]", os.environ["ADMIN_PASSWORD"])
        page.click("button[type=submit]")
        page.wait_for_selector("text=wants access to")
        page.click("button[name=allow]")
        page.wait_for_selector("text=Done")  # the client's loopback page
        browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
