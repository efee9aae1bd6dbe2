"""Connected apps: two apps with the same name can be told apart, and a use seconds ago reads
"just now", not "0 minutes ago"."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from authserver.authorization import consent
from authserver.models import AccessToken
from authserver.templatetags.ago import ago
from tests.factories import make_client, make_resource

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_ago_says_just_now_under_a_minute_then_counts():
    assert ago(NOW - timedelta(seconds=59), NOW) == "just now"
    assert ago(NOW - timedelta(minutes=3), NOW) == "3\xa0minutes ago"
    assert ago(None, NOW) == ""


def test_same_named_apps_show_their_client_ids_and_a_recent_use_reads_just_now(client, user):
    resource = make_resource()
    twins = [
        make_client(
            confidential=False,
            grant_types=("authorization_code",),
            redirect_uris="http://127.0.0.1/cb",
            name="Claude Code",
        )[0]
        for _ in range(2)
    ]
    for app in twins:
        consent.record(user, app, resource, ["tools:read"])
    AccessToken.objects.create(
        application=twins[0],
        user=user,
        token=uuid.uuid4().hex,
        expires=NOW + timedelta(days=3650),
        token_family=uuid.uuid4(),
    )
    client.force_login(user)
    page = client.get("/accounts/apps/").content.decode()
    assert page.count("Claude Code") == 2
    for app in twins:
        assert f'title="{app.client_id}"' in page
    assert "just now" in page
    assert "0\xa0minutes" not in page
