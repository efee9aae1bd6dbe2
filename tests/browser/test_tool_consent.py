"""Consent for individual tools, in headless Chromium: tools grouped by scope, the policy's
constraints in plain words, one tool unticked, and the grant and consent recording it."""

from __future__ import annotations

import pytest

from accounts.models import Consent
from authserver.models import Scope, ToolPolicy
from tests.factories import MCP, make_client, make_resource
from tests.oauthflow import claims_of
from tests.support.browser import authorize, exchange, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def app(db):
    resource = make_resource(
        MCP,
        name="Team Notes",
        scopes={"notes:read": "Read your notes", "notes:write": "Create and edit your notes"},
        defaults=("notes:read",),
    )
    tools = {"notes:read": ["list_notes", "search_notes"], "notes:write": ["add_note"]}
    for name, names in tools.items():
        Scope.objects.filter(resource=resource, name=name).update(tools=names)
    ToolPolicy.objects.create(
        resource=resource, tools=["add_note"], constraints={"text": {"prefix": "todo:"}}
    )
    ToolPolicy.objects.create(resource=resource, effect="deny", tools=["search_notes"])
    client, _ = make_client(
        confidential=False,
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris="http://127.0.0.1/callback",
        name="Notes Agent",
        registration_source="dcr",
    )
    return client


def test_consent_with_a_tool_unticked_leaves_it_out_of_the_token_and_remembers(
    page, live_server, app, callback, make_user, screenshot
):
    make_user("alice")
    url, verifier = authorize(live_server, app, callback, "notes:read notes:write")
    page.goto(url)
    sign_in(page, "alice")
    page.wait_for_selector("text=wants access to")

    # Grouped by scope, each offered tool a ticked checkbox, constraints in plain words.
    read = page.locator("ul.scopes > li", has_text="notes:read")
    write = page.locator("ul.scopes > li", has_text="notes:write")
    assert read.locator("input[name=tool]").evaluate_all("els => els.map(e => e.value)") == [
        "list_notes"
    ]
    assert write.locator("input[name=tool]").evaluate_all("els => els.map(e => e.value)") == [
        "add_note"
    ]
    assert "only with text: starting with 'todo:'" in write.inner_text()
    assert page.locator("input[name=tool]:checked").count() == 2
    # What the policy removed is said too.
    assert "search_notes" in page.inner_text("main").split("Not available to this application")[1]

    page.uncheck("input[name=tool][value=add_note]")
    screenshot(page, "consent-tools")
    page.click("button[name=allow]")

    query = callback.next_query()
    tokens = exchange(live_server, app, callback, query["code"], verifier)
    details = claims_of(tokens["access_token"])["authorization_details"]
    assert details == [{"type": "mcp_tool", "locations": [MCP], "actions": ["list_notes"]}]
    assert claims_of(tokens["access_token"])["scope"] == "notes:read notes:write"
    assert Consent.objects.get().declined_tools == ["add_note"]

    # Asked again (prompt=consent), the unticked tool is shown unticked.
    url, _ = authorize(live_server, app, callback, "notes:read notes:write")
    page.goto(url + "&prompt=consent")
    page.wait_for_selector("text=wants access to")
    assert not page.is_checked("input[name=tool][value=add_note]")
    assert page.is_checked("input[name=tool][value=list_notes]")
