"""A new client keeps the cache generation (authserver 0019); every change to an existing
client still renews it, and nothing about a client is cached before it exists."""

from __future__ import annotations

import pytest

from authserver.models import CacheGeneration
from authserver.token_endpoint import client_auth, hotcache
from clients.models import Client
from tests.factories import MCP, make_client, make_resource
from tests.support.http import basic

pytestmark = pytest.mark.django_db

REGISTRATION = {
    "client_name": "agent",
    "redirect_uris": ["http://127.0.0.1:3000/callback"],
    "token_endpoint_auth_method": "none",
}


@pytest.fixture
def generation():
    CacheGeneration.objects.get_or_create(id=1)
    hotcache.clear()
    return lambda: hotcache.current_generation()


def test_a_registration_does_not_renew_the_cache_generation(client, generation):
    before = generation()
    response = client.post("/register", REGISTRATION, content_type="application/json")
    assert response.status_code == 201, response.content
    assert generation() == before


@pytest.mark.parametrize(
    "change",
    [
        lambda c: Client.objects.filter(pk=c.pk).update(name="renamed"),
        lambda c: Client.objects.filter(pk=c.pk).update(is_active=False),
        lambda c: Client.objects.filter(pk=c.pk).update(client_secret="x"),
        lambda c: c.delete(),
    ],
    ids=["rename", "disable", "new-secret", "delete"],
)
def test_every_change_to_an_existing_client_still_renews_it(generation, change):
    existing, _ = make_client()
    before = generation()
    change(existing)
    assert generation() != before


def test_an_unknown_client_id_is_not_remembered_so_a_new_client_is_found_at_once(generation):
    snap = hotcache.snapshot()
    assert client_auth.load_client(snap, "registered-in-a-moment") is None
    created, _ = make_client(client_id="registered-in-a-moment")
    assert hotcache.is_current(snap)  # the insert renewed nothing ...
    assert client_auth.load_client(snap, "registered-in-a-moment").pk == created.pk  # ... and
    # the lookup that found nothing left nothing behind


def test_a_client_disabled_after_another_registered_gets_no_token(client, generation):
    resource = make_resource(MCP)
    machine, secret = make_client(access={resource: "tools:read"})
    form = {"grant_type": "client_credentials", "resource": MCP}
    auth = basic(machine.client_id, secret)
    assert client.post("/token", form, HTTP_AUTHORIZATION=auth).status_code == 200  # cached
    make_client(name="a registration meanwhile")
    Client.objects.filter(pk=machine.pk).update(is_active=False)
    assert client.post("/token", form, HTTP_AUTHORIZATION=auth).status_code == 401
