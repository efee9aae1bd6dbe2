"""Every page a person sees fits a laptop (1280x800) and a phone (390x844): no horizontal
overflow (``scrollWidth <= innerWidth``), in headless Chromium against a live server. The
screenshots are the ones the docs use (``UPDATE_SCREENSHOTS=1`` writes them to docs/)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from authserver.keys import keyring as keys
from clients.models import Client
from tests.conftest import PASSWORD
from tests.factories import MCP, make_client, make_resource
from tests.oauthflow import pkce_pair

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORTS = {"desktop": (1280, 800), "phone": (390, 844)}
OVERFLOW = "document.documentElement.scrollWidth - window.innerWidth"
# The box a table scrolls in: its nearest ancestor that clips or scrolls sideways.
SCROLL_BOX = """
(selector) => {
  let box = document.querySelector(selector).parentElement;
  while (box && !["auto", "scroll", "hidden"].includes(getComputedStyle(box).overflowX)) {
    box = box.parentElement;
  }
  const r = (box || document.documentElement).getBoundingClientRect();
  return {left: r.left, right: r.right};
}
"""


@pytest.fixture(params=sorted(VIEWPORTS))
def sized_page(request, browser):
    width, height = VIEWPORTS[request.param]
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.viewport_name = request.param
    yield page
    context.close()


@pytest.fixture
def world(db):
    resource = make_resource(
        MCP,
        name="Team Notes",
        scopes={
            "notes:read": "Read your notes and the titles of shared notebooks",
            "notes:write": "Create, edit and delete notes in every notebook you can open",
        },
        defaults=("notes:read",),
    )
    for scope in resource.scopes.all():
        scope.tools = ["list_notes", "search_notes_by_title_and_body", "add_note"]
        scope.save()
    app, _ = make_client(
        confidential=False,
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris="http://127.0.0.1/callback",
        name="Notes Agent",
        client_uri="https://agent.example.com",
        registration_source="dcr",
    )
    make_client(
        confidential=False,
        grant_types=("authorization_code",),
        redirect_uris="https://app.example.com/cb",
        client_id="https://app.example.com/oauth/a-rather-long-path/client-metadata.json",
        registration_source="cimd",
        name="Claude Code (metadata document)",
    )
    keys.active_key()  # the signing-key page lists one
    return resource, app


def assert_fits(page, screenshot, name: str) -> None:
    overflow = page.evaluate(OVERFLOW)
    screenshot(page, f"{name}-{page.viewport_name}")
    assert overflow <= 0, f"{name} at {page.viewport_name}: {overflow}px of horizontal overflow"


def authorize_url(live_server, app, callback) -> str:
    _verifier, challenge = pkce_pair()
    query = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": callback.uri,
        "state": "s",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "resource": MCP,
        "scope": "notes:read notes:write offline_access",
    }
    return f"{live_server.url}/authorize?{urlencode(query)}"


def sign_in(page, username: str) -> None:
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")


def test_sign_in_consent_connected_apps_and_error_pages_fit(
    sized_page, live_server, world, callback, make_user, screenshot
):
    page = sized_page
    _resource, app = world
    make_user("alice")
    page.goto(authorize_url(live_server, app, callback))
    assert_fits(page, screenshot, "login")
    sign_in(page, "alice")
    page.wait_for_selector("text=wants access to")
    assert_fits(page, screenshot, "consent")
    page.click("button[name=allow]")
    callback.next_query()

    page.goto(f"{live_server.url}/accounts/apps/")
    assert "Notes Agent" in page.inner_text("main")
    assert_fits(page, screenshot, "connected-apps")

    page.goto(f"{live_server.url}/authorize?client_id=unknown&response_type=code")
    assert "cannot continue" in page.inner_text("main")
    assert_fits(page, screenshot, "error")


def test_main_admin_pages_fit(sized_page, live_server, world, make_user, screenshot):
    page = sized_page
    resource, app = world
    make_user("root", superuser=True)
    page.goto(f"{live_server.url}/admin/")
    sign_in(page, "root")
    page.wait_for_selector("#first-run")
    assert_fits(page, screenshot, "admin-home")
    pages = {
        "admin-clients": "/admin/clients/client/",
        "admin-client": f"/admin/clients/client/{app.pk}/change/",
        "admin-resource": f"/admin/authserver/resource/{resource.pk}/change/",
        "admin-overview": "/admin/overview/",
        "admin-keys": "/admin/authserver/signingkey/",
    }
    for name, path in pages.items():
        page.goto(f"{live_server.url}{path}")
        assert_fits(page, screenshot, name)


def test_client_list_key_columns_are_visible_at_1280(page, live_server, world, make_user):
    """Visible means inside the table's own scroll box without scrolling it, not merely left
    of the window's edge (a column scrolled out of a narrower box is hidden)."""
    page.set_viewport_size({"width": 1280, "height": 800})
    make_user("root", superuser=True)
    page.goto(f"{live_server.url}/admin/clients/client/")
    sign_in(page, "root")
    page.wait_for_selector("#result_list")
    box = page.evaluate(SCROLL_BOX, "#result_list")
    for column in ("Verified", "Active", "Grants", "Live tokens", "Copies"):
        header = page.locator("#result_list thead th", has_text=column).first
        cell = header.bounding_box()
        assert cell is not None, column
        assert box["left"] <= cell["x"], f"{column} is scrolled out of the table's box"
        assert cell["x"] + cell["width"] <= box["right"] + 1, f"{column} is hidden in the box"
    assert Client.objects.count() == 2


def connections_of(user, resource, app) -> None:
    """Two upstream accounts with long names: one working, one broken."""
    from connections.models import Connection, ConnectionPolicy, UpstreamProvider

    for slug, name, status in (
        ("github", "GitHub Enterprise (acme-corporation-engineering)", "active"),
        ("google", "Google Workspace for acme-corporation.example", "broken"),
    ):
        provider = UpstreamProvider.objects.create(
            slug=slug,
            name=name,
            authorization_endpoint=f"https://{slug}.example.com/oauth/authorize",
            token_endpoint=f"https://{slug}.example.com/oauth/token",
            client_id="upstream-client",
            scopes="repo read:org user:email workflow",
        )
        Connection.objects.create(
            user=user,
            provider=provider,
            status=status,
            account="alice.with-a-rather-long-login-name@acme-corporation.example",
            scopes="repo read:org user:email workflow admin:repo_hook",
        )
        ConnectionPolicy.objects.create(
            client=app, resource=resource, provider=provider, scopes="repo read:org"
        )


def test_connections_page_fits(sized_page, live_server, world, make_user, screenshot):
    page = sized_page
    resource, app = world
    connections_of(make_user("alice"), resource, app)
    page.goto(f"{live_server.url}/accounts/connections/")
    sign_in(page, "alice")
    page.wait_for_selector("text=GitHub Enterprise")
    assert "broken" in page.inner_text("main").lower()
    assert_fits(page, screenshot, "connections")


def test_connected_apps_and_connections_fit_a_1100_px_window(
    page, live_server, world, callback, make_user
):
    # The width at which Connected apps once spilled out of its card.
    page.set_viewport_size({"width": 1100, "height": 800})
    resource, app = world
    connections_of(make_user("alice"), resource, app)
    page.goto(authorize_url(live_server, app, callback))
    sign_in(page, "alice")
    page.wait_for_selector("text=wants access to")
    page.click("button[name=allow]")
    callback.next_query()
    for path in ("/accounts/apps/", "/accounts/connections/"):
        page.goto(f"{live_server.url}{path}")
        assert page.evaluate(OVERFLOW) <= 0, path
