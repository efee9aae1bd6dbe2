"""Every admin list and change page with data in it fits a laptop (1280x900) and a phone
(390x844), as a person sees it in Chromium:

* the page itself never scrolls sideways;
* at 1280 px every column header and cell of a list lies inside the table's own scroll box,
  without scrolling it (a column one has to scroll to is a hidden column);
* at both sizes every cell lies inside its scroll box once scrolled (nothing is clipped);
* no identifier (key id, client id, JWT id) wraps onto more than two lines;
* the MCP server form's scope rows are usable with and without groups.

Screenshots go to tests/artifacts/screenshots/ (``UPDATE_SCREENSHOTS=1``: docs/screenshots/).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.models import Consent
from authserver import audit
from authserver.keys import keyring as keys
from authserver.models import AccessToken, AuditSink, RefreshToken
from authzen.models import CedarPolicy
from tests.conftest import PASSWORD
from tests.factories import MCP, OTHER_MCP, make_client, make_resource

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORTS = {"desktop": (1280, 900), "phone": (390, 844)}

# For each list table: is every header and cell inside the table's scroll box?
MEASURE = """
(selector) => {
  const table = document.querySelector(selector);
  if (!table) return null;
  let box = table.parentElement;
  while (box && box !== document.body) {
    const style = getComputedStyle(box);
    if (["auto", "scroll", "hidden"].includes(style.overflowX)) break;
    box = box.parentElement;
  }
  const frame = box.getBoundingClientRect();
  const cells = [...table.querySelectorAll("th, td")].filter((c) => c.offsetParent !== null);
  const outside = [], clipped = [];
  for (const cell of cells) {
    const r = cell.getBoundingClientRect();
    const name = (cell.innerText || cell.className || "").trim().slice(0, 40);
    if (r.left < frame.left - 1 || r.right > frame.right + 1) outside.push(name);
    if (r.right > frame.left + box.scrollWidth - box.scrollLeft + 1) clipped.push(name);
  }
  const ids = ["kid", "jti", "client_id", "identifier", "short_kid", "short_jti",
               "short_client_id", "short_client", "short_identifier"];
  const idCells = ids.map((f) => `td.field-${f}`).join(", ");
  const tall = [...table.querySelectorAll(`.short-id, ${idCells}`)]
    .filter((c) => {
      const style = getComputedStyle(c);
      const line = parseFloat(style.lineHeight) || 1.5 * parseFloat(style.fontSize);
      const pad = parseFloat(style.paddingTop) + parseFloat(style.paddingBottom);
      return c.getBoundingClientRect().height - pad > 2.2 * line;
    })
    .map((c) => c.innerText.slice(0, 30));
  return {outside, clipped, tall, cells: cells.length, overflow: box.scrollWidth - box.clientWidth};
}
"""
PAGE_OVERFLOW = "document.documentElement.scrollWidth - window.innerWidth"
# What sticks out of the window, for the failure message.
WIDEST = """
() => [...document.querySelectorAll("body *")]
  .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
  .filter((e) => ![...e.children].some(
    (c) => c.getBoundingClientRect().right > window.innerWidth + 1))
  .slice(0, 5)
  .map((e) => `${e.tagName.toLowerCase()}#${e.id}.${[...e.classList].slice(0, 3).join(".")}`)
"""


def assert_no_page_overflow(page, name: str) -> None:
    overflow = page.evaluate(PAGE_OVERFLOW)
    assert overflow <= 0, (
        f"{name}: the page scrolls sideways by {overflow}px: {page.evaluate(WIDEST)}"
    )


@pytest.fixture(params=sorted(VIEWPORTS))
def sized_page(request, browser):
    width, height = VIEWPORTS[request.param]
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.viewport_name = request.param
    yield page
    context.close()


@pytest.fixture
def world(make_user):
    """Data with long values in every list an operator opens."""
    alice = make_user("alice.with-a-long-name")
    notes = make_resource(MCP, name="Team Notes")
    pay = make_resource(
        OTHER_MCP + "/a-rather-long-path/for-the-payments-server",
        name="Payments",
        scopes={"payments": "Refund and list payments"},
    )
    agent, _ = make_client(
        confidential=False,
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris="http://127.0.0.1/callback",
        name="mcp-connect (Claude Code on alice's laptop)",
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
    key = keys.active_key()
    now = timezone.now()
    for resource in (notes, pay):
        Consent.objects.create(user=alice, client=agent, resource=resource, scope="tools:read")
        access = AccessToken.objects.create(
            user=alice,
            application=agent,
            token=uuid.uuid4().hex,
            jti=uuid.uuid4().hex,
            kid=key.kid,
            expires=now + timedelta(minutes=5),
            scope="tools:read offline_access",
            resource=[resource.identifier],
            token_family=uuid.uuid4(),
        )
        RefreshToken.objects.create(
            user=alice,
            application=agent,
            token=uuid.uuid4().hex,
            access_token=access,
            resource=[resource.identifier],
            token_family=access.token_family,
        )
        audit.record(
            "token.issued",
            actor=f"user:{alice.pk}",
            client_id=agent.client_id,
            user_id=alice.pk,
            resource=resource.identifier,
            jti=access.jti,
            scope=access.scope,
            detail={"act": {"sub": "https://gateway.example.com/agents/finance-bot"}},
        )
    sink = AuditSink.objects.create(
        name="Security team SIEM (webhook)",
        kind="webhook",
        url="https://siem.example.com/ingest/mcp-authorization-server/audit",
        last_error="answered HTTP 503",
        failures=2,
    )
    return {
        "alice": alice,
        "notes": notes,
        "pay": pay,
        "agent": agent,
        "key": key,
        "sink": sink,
    }


def sign_in(page, live_server) -> None:
    page.goto(f"{live_server.url}/admin/")
    page.fill("input[name=username]", "root")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_load_state()


def check_list(page, name: str, screenshot) -> None:
    screenshot(page, f"{name}-{page.viewport_name}")
    assert_no_page_overflow(page, name)
    found = page.evaluate(MEASURE, "#result_list")
    if found is None:
        return
    assert found["cells"] > 0, name
    assert found["clipped"] == [], f"{name}: cells beyond the scroll box: {found['clipped']}"
    assert found["tall"] == [], f"{name}: identifiers wrap on 3+ lines: {found['tall']}"
    if page.viewport_name == "desktop":
        assert found["outside"] == [], f"{name}: hidden until scrolled: {found['outside']}"


LISTS = {
    "admin-keys": "/admin/authserver/signingkey/",
    "admin-clients": "/admin/clients/client/",
    "admin-audit": "/admin/authserver/auditevent/",
    "admin-resources": "/admin/authserver/resource/",
    "admin-access-tokens": "/admin/authserver/accesstoken/",
    "admin-refresh-tokens": "/admin/authserver/refreshtoken/",
    "admin-consents": "/admin/accounts/consent/",
    "admin-people": "/admin/auth/user/",
    "admin-audit-sinks": "/admin/authserver/auditsink/",
}


def test_admin_lists_fit_inside_their_scroll_box(
    sized_page, live_server, world, make_user, screenshot
):
    page = sized_page
    make_user("root", superuser=True)
    sign_in(page, live_server)
    for name, path in LISTS.items():
        page.goto(f"{live_server.url}{path}")
        check_list(page, name, screenshot)


def test_admin_change_pages_and_reviews_fit(sized_page, live_server, world, make_user, screenshot):
    page = sized_page
    make_user("root", superuser=True)
    sign_in(page, live_server)
    pages = {
        "admin-home": "/admin/",
        "admin-client": f"/admin/clients/client/{world['agent'].pk}/change/",
        "admin-key": f"/admin/authserver/signingkey/{world['key'].pk}/change/",
        "admin-resource": f"/admin/authserver/resource/{world['notes'].pk}/change/",
        "admin-overview": "/admin/overview/",
        "access-review": f"/admin/review/access/?user={world['alice'].pk}",
        "tool-review": f"/admin/review/tool/?resource={world['notes'].pk}&tool=read_note",
        "audit-stream": "/admin/audit/stream/",
        "admin-audit-sink": f"/admin/authserver/auditsink/{world['sink'].pk}/change/",
        "cedar-test": "/admin/authzen/cedarpolicy/test/",
    }
    for name, path in pages.items():
        page.goto(f"{live_server.url}{path}")
        screenshot(page, f"{name}-{page.viewport_name}")
        assert_no_page_overflow(page, name)
        for table in ("#access-review", "#tool-review"):
            found = page.evaluate(MEASURE, table)
            if found is not None:
                assert found["clipped"] == [], f"{name}: clipped {found['clipped']}"
                if page.viewport_name == "desktop":
                    assert found["outside"] == [], f"{name}: hidden {found['outside']}"


def test_cedar_test_form_answers_and_fits(sized_page, live_server, world, make_user, screenshot):
    """The Cedar policy page's "Test a request": a refusal, the policy that refused, on a
    laptop and a phone without sideways scrolling."""
    CedarPolicy.objects.create(
        name="no notes for agents on a rather long policy name",
        resource=world["notes"],
        source="forbid(principal, action, resource);",
    )
    page = sized_page
    make_user("root", superuser=True)
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/admin/authzen/cedarpolicy/")
    page.get_by_role("link", name="Test a request").click()
    page.fill("#id_user", world["alice"].username)
    page.fill("#id_agent", world["agent"].client_id)
    page.select_option("#id_server", str(world["notes"].pk))
    page.fill("#id_tool", "read_note")
    page.fill("#id_arguments", '{"id": "a-rather-long-note-identifier-0123456789"}')
    page.get_by_role("button", name="Decide").click()
    page.wait_for_load_state()
    result = page.locator("#cedar-test-result")
    assert "Deny" in result.inner_text()
    screenshot(page, f"cedar-test-result-{page.viewport_name}")
    assert_no_page_overflow(page, "cedar-test-result")


def test_access_review_answers_what_a_persons_agents_reach(page, live_server, world, make_user):
    page.set_viewport_size({"width": 1280, "height": 900})
    make_user("root", superuser=True)
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/admin/review/access/?user=alice")
    table = page.locator("#access-review")
    assert table.locator("tbody tr").count() == 2
    assert "Payments" in table.inner_text()
    assert "Team Notes" in table.inner_text()
    page.locator("#access-review tbody tr", has_text="Payments").get_by_role(
        "button", name="Cut off"
    ).click()
    page.wait_for_load_state()
    assert page.locator("#access-review tbody tr").count() == 1
    assert "Payments" not in page.locator("#access-review").inner_text()


def test_client_page_offers_its_actions_as_buttons(page, live_server, world, make_user):
    page.set_viewport_size({"width": 1280, "height": 900})
    make_user("root", superuser=True)
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/admin/clients/client/{world['agent'].pk}/change/")
    for label in ("Verify", "Revoke every token", "Disable and revoke"):
        assert page.get_by_role("button", name=label, exact=True).is_visible(), label
    page.get_by_role("button", name="Verify", exact=True).click()
    page.wait_for_load_state()
    world["agent"].refresh_from_db()
    assert world["agent"].verified


@pytest.mark.parametrize("with_groups", [False, True])
def test_scope_rows_are_usable_with_and_without_groups(
    page, live_server, world, make_user, screenshot, with_groups
):
    page.set_viewport_size({"width": 1280, "height": 900})
    if with_groups:
        Group.objects.create(name="payers")
    make_user("root", superuser=True)
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/admin/authserver/resource/{world['notes'].pk}/change/")
    screenshot(page, f"admin-resource-groups-{with_groups}")
    pickers = page.locator("select[name$='-allowed_groups']")
    if not with_groups:
        assert pickers.count() == 0  # no empty picker when there is nothing to pick
        return
    box = pickers.first.locator("xpath=..").bounding_box()
    assert box is not None
    assert box["width"] >= 120, f"the groups picker is {box['width']} px wide"
    # Saving as shown (the blank extra row untouched) succeeds.
    page.get_by_role("button", name="Save", exact=True).first.click()
    page.wait_for_load_state()
    assert "This field is required" not in page.inner_text("body")
