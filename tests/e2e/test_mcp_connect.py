"""``bin/mcp-connect`` (examples/connect.py) against our server and the demo MCP server: where
no browser can be opened it says so and prints the URL at once, and a second run reuses the
registration it saved (0600, per MCP server) instead of registering another client."""

from __future__ import annotations

import io
import stat
import threading
import urllib.request
from urllib.parse import urlsplit

import anyio
import pytest
from django.db import connections
from django.test import Client
from oauth2_provider.models import get_application_model

from examples import connect
from tests.oauthflow import consent_request_id

pytestmark = [pytest.mark.django_db(transaction=True)]


class Terminal(io.TextIOBase):
    """What the client prints, with a signal once it printed the authorization URL."""

    def __init__(self) -> None:
        self.text = ""
        self.url_printed = threading.Event()

    def write(self, text: str) -> int:
        self.text += text
        if "/authorize?" in self.text:
            self.url_printed.set()
        return len(text)

    def authorization_url(self) -> str:
        line = next(x for x in self.text.splitlines() if "/authorize?" in x)
        return line.strip()


def person_at_the_printed_url(terminal: Terminal, user) -> threading.Thread:
    """The reader: opens the printed URL signed in, presses Allow (if asked), and their
    browser follows the redirect to the client's loopback port."""

    def act() -> None:
        try:
            assert terminal.url_printed.wait(60), terminal.text
            url = urlsplit(terminal.authorization_url())
            browser = Client()
            browser.force_login(user)
            response = browser.get(f"{url.path}?{url.query}")
            if response.status_code == 200:
                response = browser.post(
                    "/authorize", {"request_id": consent_request_id(response), "allow": "1"}
                )
            assert response.status_code == 302, response.content[:300]
            urllib.request.urlopen(response["Location"], timeout=10).close()  # noqa: S310
        finally:
            connections.close_all()

    thread = threading.Thread(target=act, daemon=True)
    thread.start()
    return thread


def run_client(main):
    """anyio.run(main) in a thread of its own: a browser test earlier in a random order can
    leave an event loop running in the main thread, and anyio.run refuses to start inside one."""
    result: dict = {}

    def client() -> None:
        try:
            result["value"] = anyio.run(main)
        except BaseException as exc:
            result["error"] = exc

    runner = threading.Thread(target=client, daemon=True)
    runner.start()
    runner.join(120)
    if "error" in result:
        raise result["error"]
    return result["value"]


def run_connect(mcp_url: str, user) -> str:
    terminal = Terminal()
    person = person_at_the_printed_url(terminal, user)
    names = run_client(lambda: connect.connect(mcp_url, timeout=60, out=terminal))
    person.join(30)
    assert sorted(names) == ["add_note", "list_notes", "whoami"]
    return terminal.text


@pytest.fixture
def no_display(monkeypatch, tmp_path):
    """A headless machine: no display, no BROWSER; the client's config under tmp_path."""
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config" / "mcp-connect" / "clients.json"


def test_mcp_connect_without_a_display_says_so_and_prints_the_url_at_once(
    issuer, demo_server, make_user, no_display
):
    output = run_connect(demo_server.url, make_user("alice"))
    assert "No browser could be opened here" in output
    assert output.index("/authorize?") < output.index("No browser could be opened")
    assert f"Connected to {demo_server.url}" in output


def test_mcp_connect_says_so_when_the_browser_command_fails(
    issuer, demo_server, make_user, no_display, monkeypatch
):
    monkeypatch.setenv("BROWSER", "false")  # webbrowser.open returns False
    output = run_connect(demo_server.url, make_user("alice"))
    assert "No browser could be opened here" in output


def test_mcp_connect_reuses_its_saved_registration_instead_of_registering_again(
    issuer, demo_server, make_user, no_display
):
    user = make_user("alice")
    clients = get_application_model().objects
    first = run_connect(demo_server.url, user)
    assert "Using the client registered earlier" not in first
    assert clients.count() == 1
    assert stat.S_IMODE(no_display.stat().st_mode) == 0o600
    assert stat.S_IMODE(no_display.parent.stat().st_mode) == 0o700

    second = run_connect(demo_server.url, user)
    assert clients.count() == 1  # the same client, on another loopback port
    assert f"Using the client registered earlier ({clients.get().client_id})" in second


def test_mcp_connect_register_again_forgets_the_saved_registration(
    issuer, demo_server, make_user, no_display
):
    user = make_user("alice")
    run_connect(demo_server.url, user)
    terminal = Terminal()
    person = person_at_the_printed_url(terminal, user)
    run_client(
        lambda: connect.connect(demo_server.url, timeout=60, register_again=True, out=terminal)
    )
    person.join(30)
    assert get_application_model().objects.count() == 2
