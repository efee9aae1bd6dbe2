"""The official MCP conformance suite (npm ``@modelcontextprotocol/conformance``, pinned in
tests/compat/conformance/package-lock.json): its ``authorization`` command's authorization-server
scenarios against our server on a real socket, the browser step done by Debian's Chromium.

The bundle imports ``fs.globSync`` (Node 22); Debian's Node 20 gets it from
tests/compat/conformance/node20-fs-globsync.mjs (a resolve hook, loaded with ``--import``).
The result is recorded in docs/compatibility.md.
"""

from __future__ import annotations

import dataclasses
import json
import os
import queue
import subprocess
import threading
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from tests.factories import make_client, make_resource
from tests.support.http import free_port

CONFORMANCE = Path(__file__).parent / "conformance"
BUNDLE = (
    CONFORMANCE / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
)
CHROMIUM = "/usr/bin/chromium"
SCENARIOS = ("authorization-server-metadata-endpoint", "authorization-code-grant")

pytestmark = pytest.mark.django_db(transaction=True)


def read_lines(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def in_own_thread(function, *args) -> None:
    """Playwright's sync API refuses to start in a thread where an asyncio loop runs, which is
    the main thread once pytest-playwright's browser fixtures ran earlier in the session: the
    browser step gets a thread of its own."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            function(*args)
        except BaseException as exc:  # re-raised in the test's thread
            failures.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive(), "the browser step did not finish in 120 s"
    if failures:
        raise failures[0]


def consent_in_chromium(url: str, issuer: str, session_cookie: str) -> None:
    """The user, signed in, opens the authorization URL and clicks Allow."""
    from playwright.sync_api import sync_playwright

    cookie = django_settings.SESSION_COOKIE_NAME

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        try:
            context = browser.new_context()
            context.add_cookies([{"name": cookie, "value": session_cookie, "url": issuer}])
            page = context.new_page()
            page.goto(url)
            with page.expect_navigation(url="**/callback?**"):
                page.get_by_role("button", name="Allow").click()
        finally:
            browser.close()


def test_official_conformance_suite_authorization_server_scenarios_pass(
    live, client, user, tmp_path, settings
):
    assert BUNDLE.is_file(), "run `make test` (it installs tests/compat/conformance with npm ci)"
    port = free_port()
    settings.CONFIG = dataclasses.replace(settings.CONFIG, allow_http_loopback_resources=True)
    resource = make_resource(f"http://127.0.0.1:{free_port()}/mcp")
    app, _ = make_client(
        confidential=False,
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris=f"http://127.0.0.1:{port}/callback",
        name="MCP conformance suite",
        registration_source="dcr",
    )
    client.force_login(user)
    session_cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop, this thread
    out = tmp_path / "results"
    command = [
        "node", "--import", "./node20-fs-globsync.mjs", str(BUNDLE), "authorization",
        "--url", live, "--client-id", app.client_id, "--resource", resource.identifier,
        "--port", str(port), "--output-dir", str(out),
    ]  # fmt: skip
    node = subprocess.Popen(
        command,
        cwd=CONFORMANCE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=read_lines, args=(node.stdout, lines), daemon=True).start()
    transcript = []
    try:
        while True:
            line = lines.get(timeout=120)
            if line is None:
                break
            transcript.append(line)
            if line.startswith(f"{live}/authorize?"):
                in_own_thread(consent_in_chromium, line.strip(), live, session_cookie)
        assert node.wait(timeout=60) == 0, "".join(transcript)[-4000:]
    finally:
        if node.poll() is None:
            node.kill()
    checks = {}
    for path in out.rglob("checks.json"):
        for check in json.loads(path.read_text()):
            checks[check["id"]] = check
    assert {c["status"] for c in checks.values()} <= {"SUCCESS", "INFO"}, json.dumps(
        checks, indent=1
    )[:4000]
    assert {"authorization-server-metadata", "authorization-server-metadata-cimd"} <= set(checks)
    assert any("authorization-code" in name for name in checks), sorted(checks)
