"""The admin home says what to do next on a fresh server, then shows client snippets; the
Overview uses the admin layout and its SVG charts keep their labels apart and inside."""

from __future__ import annotations

import itertools
import json
import re

import pytest
from django.urls import reverse

from authserver import firstrun
from authserver.admin import overview
from tests.factories import make_resource

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


def test_fresh_server_home_offers_to_add_an_mcp_server(staff):
    page = staff.get(reverse("admin:index")).content.decode()
    assert "No MCP server is registered yet" in page
    assert f'href="{reverse("admin:authserver_resource_add")}"' in page
    assert "bin/manage changepassword admin" in page


def test_home_says_how_to_add_an_identity_provider_until_one_exists(staff):
    from allauth.socialaccount.models import SocialApp

    page = staff.get(reverse("admin:index")).content.decode()
    assert "People sign in with local passwords" in page
    assert f'href="{reverse("admin:socialaccount_socialapp_add")}"' in page
    SocialApp.objects.create(provider="openid_connect", provider_id="okta", name="Okta")
    page = staff.get(reverse("admin:index")).content.decode()
    assert "People sign in with local passwords" not in page


def test_home_shows_snippets_for_the_newest_mcp_server(staff):
    make_resource("https://old.example.com/mcp", name="Old one")
    make_resource("https://notes.example.com/mcp", name="Team Notes")
    page = staff.get(reverse("admin:index")).content.decode()
    assert "No MCP server is registered yet" not in page
    assert "claude mcp add --transport http team-notes https://notes.example.com/mcp" in page
    for client in ("Cursor", "VS Code", "Python SDK (mcp 2.x)", "MCP Inspector"):
        assert client in page


def test_snippets_are_valid_config_for_each_client(settings):
    resource = make_resource("https://notes.example.com/mcp", name="Notes: team & co")
    snippets = {s.client: s.text for s in firstrun.client_snippets(resource, issuer="x")}
    assert json.loads(snippets["Cursor"]) == {
        "mcpServers": {"notes-team-co": {"url": "https://notes.example.com/mcp"}}
    }
    assert json.loads(snippets["VS Code"]) == {
        "servers": {"notes-team-co": {"type": "http", "url": "https://notes.example.com/mcp"}}
    }
    compile(snippets["Python SDK (mcp 2.x)"], "snippet", "exec")  # valid Python as shown


def test_overview_is_branded_with_one_title(staff):
    page = staff.get(reverse("admin-overview")).content.decode()
    assert "MCP Authorization Server" in page
    assert "Django administration" not in page
    assert len(re.findall(r"<h1[ >]", page)) == 1


def test_chart_labels_never_overlap_and_stay_inside_the_viewbox():
    series = [(f"{h:02d}:00", h * 7 % 13) for h in range(24)]
    chart = overview.bars(series)
    label_width = 5 * 7  # "HH:00" at 11px: under 7 units a character
    xs = [label["x"] for label in chart["labels"]]
    assert all(b - a >= label_width + 10 for a, b in itertools.pairwise(xs))
    assert xs[-1] + label_width <= chart["width"]
    assert chart["label_y"] <= chart["height"]
    for bar in chart["items"]:
        assert chart["left"] <= bar["x"]
        assert bar["x"] + chart["bar_width"] <= chart["width"]
        assert 0 <= bar["y"] <= chart["plot_height"]
    assert max(b["height"] for b in chart["items"]) == chart["plot_height"]


def test_rotate_keys_now_button_activates_a_new_key_by_post_only(staff):
    from authserver.keys import keyring as keys
    from authserver.models import SigningKey

    first = keys.active_key()
    url = reverse("admin:authserver_signingkey_rotate_now")
    page = staff.get(reverse("admin:authserver_signingkey_changelist")).content.decode()
    assert f'action="{url}"' in page
    assert staff.get(url).status_code == 405  # a state change: POST with CSRF only
    assert staff.post(url).status_code == 302
    active = SigningKey.objects.get(state="active", alg=first.alg)
    assert active.kid != first.kid
    first.refresh_from_db()
    assert first.state == "retiring"  # still published for the tokens it signed


def test_rotate_keys_now_refuses_staff_without_change_permission(client, make_user):
    from authserver.keys import keyring as keys

    keys.active_key()
    viewer = make_user("viewer", staff=True)
    client.force_login(viewer)
    response = client.post(reverse("admin:authserver_signingkey_rotate_now"))
    assert response.status_code == 403


def test_revoke_resource_tokens_action(staff, user):
    import uuid
    from datetime import timedelta

    from django.utils import timezone

    from authserver.models import AccessToken
    from tests.factories import make_client

    resource = make_resource("https://notes.example.com/mcp")
    app, _ = make_client()
    token = AccessToken.objects.create(
        application=app,
        user=user,
        token=uuid.uuid4().hex,
        expires=timezone.now() + timedelta(minutes=5),
        resource=[resource.identifier],
    )
    staff.post(
        reverse("admin:authserver_resource_changelist"),
        {"action": "revoke_resource_tokens", "_selected_action": [resource.pk]},
    )
    token.refresh_from_db()
    assert token.revoked_at is not None
