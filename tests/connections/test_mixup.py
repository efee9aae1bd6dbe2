"""RFC 9207 ``iss`` and the OpenID Connect ``nonce`` on the Connections leg, against the real
upstream (node-oidc-provider, which sends ``iss`` and says so in its metadata)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
from django.contrib.messages import get_messages

from connections.models import Connection
from connections.views import callback_url
from tests.connections.conftest import make_provider
from tests.upstream.harness import Upstream

pytestmark = pytest.mark.django_db


@pytest.fixture
def other_upstream(db):
    server = Upstream([callback_url()])
    yield server
    server.stop()


def start(client, slug: str = "upstream") -> str:
    response = client.post(f"/accounts/connections/{slug}/connect")
    assert response.status_code == 302
    return response["Location"]


def finish(client, back: dict) -> list[str]:
    response = client.get("/accounts/connections/callback", back)
    return [str(m) for m in get_messages(response.wsgi_request)]


def with_query(url: str, **changes) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return urlunsplit(parts._replace(query=urlencode({**query, **changes})))


def test_mix_up_code_from_another_issuer_is_refused_before_it_is_redeemed(
    client, user, upstream, other_upstream
):
    """The user starts at provider A; the response comes back from issuer B (a mix-up): the
    code must not be sent to A's token endpoint."""
    make_provider(upstream, discovery_url=f"{upstream.issuer}/.well-known/openid-configuration")
    client.force_login(user)
    url = start(client)
    # The same request, answered by the other provider (same client id, state, challenge).
    back = other_upstream.sign_in(url.replace(upstream.issuer, other_upstream.issuer))
    assert back["iss"] == other_upstream.issuer
    said = finish(client, back)
    assert not Connection.objects.filter(user=user).exists()
    assert any("issuer_mismatch" in m for m in said), said


def test_response_without_iss_from_a_provider_that_promises_it_is_refused(client, user, upstream):
    make_provider(upstream, discovery_url=f"{upstream.issuer}/.well-known/openid-configuration")
    client.force_login(user)
    back = upstream.sign_in(start(client))
    del back["iss"]  # stripped on the way (authorization_response_iss_parameter_supported)
    said = finish(client, back)
    assert not Connection.objects.filter(user=user).exists()
    assert any("issuer_missing" in m for m in said), said


def test_response_with_a_forged_iss_is_refused_without_discovery_url(client, user, upstream):
    make_provider(upstream)
    client.force_login(user)
    back = upstream.sign_in(start(client))
    back["iss"] = "https://attacker.example"
    finish(client, back)
    assert not Connection.objects.filter(user=user).exists()


def test_response_with_the_right_iss_connects(client, user, upstream):
    make_provider(upstream)  # no discovery_url: iss checked against the metadata it names
    client.force_login(user)
    back = upstream.sign_in(start(client))
    assert back["iss"] == upstream.issuer
    finish(client, back)
    assert Connection.objects.get(user=user).status == Connection.Status.ACTIVE


def test_id_token_for_another_authorization_request_is_refused_by_its_nonce(client, user, upstream):
    """An OIDC leg sends a nonce; a code whose ID token carries another nonce (an injected
    response) connects nothing."""
    make_provider(upstream, scopes="openid api:read")
    client.force_login(user)
    url = start(client)
    assert len(parse_qs(urlsplit(url).query)["nonce"][0]) >= 32
    back = upstream.sign_in(with_query(url, nonce="the-attackers-own-nonce"))
    said = finish(client, back)
    assert not Connection.objects.filter(user=user).exists()
    assert any("nonce_mismatch" in m for m in said), said


def test_oidc_leg_with_the_right_nonce_connects(client, user, upstream):
    make_provider(upstream, scopes="openid api:read")
    client.force_login(user)
    finish(client, upstream.sign_in(start(client)))
    assert Connection.objects.get(user=user).status == Connection.Status.ACTIVE
