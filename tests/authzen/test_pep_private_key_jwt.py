"""A PEP (an MCP server or gateway) authenticating with private_key_jwt (RFC 7523 §2.2):
the assertion as top-level JSON members, on the one client-authentication path."""

from __future__ import annotations

import dataclasses
import json
import time
import uuid

import pytest
from django.conf import settings

from authserver.models import AuditEvent
from enterprise import jwks
from enterprise.client_assertion import ASSERTION_TYPE
from enterprise.models import UsedAssertion
from tests.authzen.conftest import World, ask
from tests.enterprise.support import LoopbackIssuer, new_key, public_jwks, sign
from tests.factories import make_client

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_jwks_cache():
    jwks.clear()
    yield
    jwks.clear()


@pytest.fixture
def key():
    return new_key("EC")


def _protect_with(world: World, **fields):
    pep, _ = make_client(name="jwt gateway", token_endpoint_auth_method="private_key_jwt", **fields)
    world.resource.introspection_client = pep
    world.resource.save()
    return pep


@pytest.fixture
def jwt_pep(world, key):
    return _protect_with(world, jwks=public_jwks(key))


@pytest.fixture
def key_server(settings):
    settings.CONFIG = dataclasses.replace(settings.CONFIG, cimd_allow_loopback=True)
    server = LoopbackIssuer(key=new_key("RSA"))
    yield server
    server.close()


def assertion(pep, key, **over) -> str:
    now = int(time.time())
    claims = {
        "iss": pep.client_id,
        "sub": pep.client_id,
        "aud": settings.ISSUER,
        "iat": now,
        "exp": now + 60,
        "jti": str(uuid.uuid4()),
        **over,
    }
    return sign(claims, key)


def with_assertion(body: dict, jwt: str) -> dict:
    return {**body, "client_assertion_type": ASSERTION_TYPE, "client_assertion": jwt}


def test_private_key_jwt_pep_with_inline_jwks_gets_a_decision(client, world, jwt_pep, key):
    response = ask(client, None, with_assertion(world.question(), assertion(jwt_pep, key)))
    assert response.status_code == 200, response.content
    assert response.json() == {"decision": True}
    assert UsedAssertion.objects.get().issuer == jwt_pep.client_id


def test_private_key_jwt_pep_with_jwks_uri_gets_a_decision(client, world, key_server):
    pep = _protect_with(world, jwks_uri=key_server.jwks_uri)
    body = with_assertion(world.question("rm_rf"), assertion(pep, key_server.key))
    response = ask(client, None, body)
    assert response.status_code == 200, response.content
    assert response.json()["context"]["code"] == "unknown_tool"
    assert key_server.jwks_fetches == 1


def test_private_key_jwt_batch_and_search_authenticate_the_same_way(client, world, jwt_pep, key):
    body = {
        **world.question(),
        "evaluations": [{}, {"action": {"name": "tools/call", "properties": {"tool": "nope"}}}],
    }
    response = ask(
        client, None, with_assertion(body, assertion(jwt_pep, key)), "/access/v1/evaluations"
    )
    assert [e["decision"] for e in response.json()["evaluations"]] == [True, False]
    search = {"subject": world.question()["subject"], "resource": world.question()["resource"]}
    response = ask(
        client, None, with_assertion(search, assertion(jwt_pep, key)), "/access/v1/search/action"
    )
    assert response.status_code == 200, response.content


def test_replayed_pep_assertion_is_refused(client, world, jwt_pep, key):
    """RFC 7523 §3 item 7: a jti is accepted once; the same assertion again is a 401."""
    jwt = assertion(jwt_pep, key)
    assert ask(client, None, with_assertion(world.question(), jwt)).status_code == 200
    replayed = ask(client, None, with_assertion(world.question(), jwt))
    assert replayed.status_code == 401
    assert replayed.json()["error"] == "invalid_client"
    assert AuditEvent.objects.filter(kind="client.auth_failed").count() == 1


def test_pep_assertion_for_another_audience_is_refused(client, world, jwt_pep, key):
    """RFC 7523 §3 item 3: the audience must identify us; an assertion minted for another
    server (or for the MCP server itself) does not authenticate here."""
    for aud in ("https://other-as.example", world.resource.identifier):
        jwt = assertion(jwt_pep, key, aud=aud)
        response = ask(client, None, with_assertion(world.question(), jwt))
        assert response.status_code == 401, aud
    assert not UsedAssertion.objects.exists()


def test_pep_assertion_signed_by_another_key_is_refused(client, world, jwt_pep):
    jwt = assertion(jwt_pep, new_key("EC"))
    assert ask(client, None, with_assertion(world.question(), jwt)).status_code == 401


def test_secret_pep_cannot_switch_to_an_assertion(client, world, key):
    """The registered method is enforced: a client_secret_basic PEP's assertion fails."""
    jwt = assertion(world.pep, key)
    assert ask(client, None, with_assertion(world.question(), jwt)).status_code == 401


def test_assertion_and_basic_together_is_refused(client, world, jwt_pep, key):
    """RFC 6749 §2.3: a request uses exactly one method; two authenticate nobody (401, as
    at /introspect), and the assertion is not spent."""
    body = with_assertion(world.question(), assertion(jwt_pep, key))
    response = ask(client, world.pep_auth, body)
    assert response.status_code == 401
    assert not UsedAssertion.objects.exists()


@pytest.mark.parametrize("value", [123, ["x"], "a\x00b"])
def test_client_assertion_that_is_not_a_string_is_400(client, world, value):
    body = {**world.question(), "client_assertion_type": ASSERTION_TYPE, "client_assertion": value}
    response = client.post(
        "/access/v1/evaluation", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
