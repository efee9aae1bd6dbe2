"""A connect link from a vending error acts for the user it names only: forwarded to someone
else (an elicitation URL shown in another person's client), it connects nothing."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing

from authserver.models import AuditEvent
from connections import intended
from connections.models import Connection
from connections.views import PENDING
from tests.connections.conftest import connect, vend

pytestmark = pytest.mark.django_db
CONNECT_PATH = "/accounts/connections/upstream/connect"


def link_from_vend(client, world) -> str:
    response = vend(client, world["auth"], world["user_token"])
    assert response.json()["error"] == "invalid_grant"
    return response.json()["error_uri"]


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_connect_link_names_the_user_and_provider_signed_without_secrets(client, world, user):
    url = link_from_vend(client, world)
    assert urlsplit(url).path == CONNECT_PATH
    value = parse_qs(urlsplit(url).query)["for"][0]
    assert intended.intended_user_id(value, "upstream") == user.pk
    assert world["user_token"] not in url
    assert "secret" not in url


def test_forwarded_connect_link_cannot_connect_another_signed_in_persons_account(
    client, world, make_user, upstream
):
    url = link_from_vend(client, world)
    mallory = make_user("mallory")
    client.force_login(mallory)
    page = client.get(path_of(url))
    assert page.status_code == 403
    text = page.content.decode()
    assert "another account" in text
    assert "a…" in text  # whom to sign in as, masked
    assert "alice" not in text
    start = client.post(path_of(url))
    assert start.status_code == 403  # no redirect to the provider, no flow started
    assert PENDING not in client.session
    assert not Connection.objects.filter(user=mallory).exists()
    events = AuditEvent.objects.filter(kind="connection.connect_refused")
    assert events.count() == 2
    assert events.first().user_id == str(mallory.pk)
    assert events.first().detail == {"provider": "upstream", "reason": "another person"}


def test_connect_link_connects_the_user_it_names(client, world, user, upstream, provider):
    url = link_from_vend(client, world)
    client.force_login(user)
    assert b"Connect Upstream Test API" in client.get(path_of(url)).content
    start = client.post(path_of(url))
    assert start.status_code == 302
    client.get("/accounts/connections/callback", upstream.sign_in(start["Location"]))
    assert Connection.objects.get(user=user, provider=provider).status == "active"
    assert vend(client, world["auth"], world["user_token"]).status_code == 200


def test_altered_connect_link_naming_another_user_is_refused(client, world, user, make_user):
    mallory = make_user("mallory")
    value = parse_qs(urlsplit(link_from_vend(client, world)).query)["for"][0]
    forged = signing.b64_encode(f'{{"u":{mallory.pk},"p":"upstream"}}'.encode()).decode()
    altered = forged + value[value.index(":") :]
    client.force_login(mallory)
    response = client.get(f"{CONNECT_PATH}?for={altered}")
    assert response.status_code == 403
    assert "expired or was altered" in response.content.decode()
    assert AuditEvent.objects.get(kind="connection.connect_refused").detail["reason"] == "altered"


def test_connect_link_for_one_provider_cannot_be_moved_to_another(client, user):
    client.force_login(user)
    value = intended.sign(user.pk, "github")
    with pytest.raises(intended.LinkRefused):
        intended.intended_user_id(value, "upstream")


def test_expired_connect_link_is_refused(client, world, user, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(time, "time", lambda: 1_000_000.0)  # long ago
        value = intended.sign(user.pk, "upstream")
    client.force_login(user)
    response = client.post(f"{CONNECT_PATH}?for={value}")
    assert response.status_code == 403
    assert PENDING not in client.session
    assert AuditEvent.objects.get(kind="connection.connect_refused").detail["reason"] == "expired"


def test_own_connections_page_link_still_connects(client, user, upstream, provider):
    client.force_login(user)
    connect(client, upstream)
    assert Connection.objects.filter(user=user, provider=provider).exists()
