"""One client-authentication path for /token, /revoke and /introspect: the same rules, the
same audit, the same slow-down of repeated failures, and nothing written for a request whose
client did not authenticate."""

from __future__ import annotations

import logging
import threading
import uuid

import pytest
from jwcrypto import jwk

from authserver.models import AuditEvent, DPoPProofJti
from authserver.token_endpoint import client_throttle
from tests.factories import make_client, make_resource
from tests.support.dpop import TOKEN_URL, proof
from tests.support.http import basic

pytestmark = pytest.mark.django_db
ATTACKER = "203.0.113.7"
OWN_ADDRESS = "198.51.100.20"


@pytest.fixture
def machine():
    resource = make_resource()
    return make_client(access={resource: "tools:read"})


def cc(client, client_id, secret, address=OWN_ADDRESS, **extra):
    return client.post(
        "/token",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic(client_id, secret),
        REMOTE_ADDR=address,
        **extra,
    )


def test_revoke_body_over_the_token_endpoint_limit_is_json_413(client, machine, caplog):
    c, secret = machine
    with caplog.at_level(logging.ERROR):
        response = client.post(
            "/revoke",
            "token=x&pad=" + "x" * 70_000,
            content_type="application/x-www-form-urlencoded",
            HTTP_AUTHORIZATION=basic(c.client_id, secret),
        )
    assert response.status_code == 413
    assert response.json()["error"] == "invalid_request"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_dpop_proof_of_an_unauthenticated_token_request_records_no_jti(client, machine):
    """Someone who copied a client's DPoP proof but not its secret cannot spend the proof
    (RFC 9449 §11.1 replay cache): a request whose client failed writes no jti."""
    c, secret = machine
    dpop = proof(jwk.JWK.generate(kty="EC", crv="P-256"), "POST", TOKEN_URL)
    assert cc(client, c.client_id, "wrong secret", HTTP_DPOP=dpop).status_code == 401
    assert DPoPProofJti.objects.count() == 0
    response = cc(client, c.client_id, secret, HTTP_DPOP=dpop)
    assert response.status_code == 200, response.content
    assert response.json()["token_type"] == "DPoP"


def test_failed_client_authentication_at_revoke_is_audited_like_at_token(client, machine):
    c, _secret = machine
    response = client.post(
        "/revoke",
        {"token": "x"},
        HTTP_AUTHORIZATION=basic(c.client_id, "wrong secret"),
        REMOTE_ADDR=ATTACKER,
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    event = AuditEvent.objects.get(kind="client.auth_failed")
    assert (event.client_id, event.ip) == (c.client_id, ATTACKER)


def test_revoke_with_a_body_client_id_naming_another_client_is_invalid_client(client, machine):
    c, secret = machine
    other, _ = make_client(name="other")
    response = client.post(
        "/revoke",
        {"token": "x", "client_id": other.client_id},
        HTTP_AUTHORIZATION=basic(c.client_id, secret),
    )
    assert response.status_code == 401
    assert AuditEvent.objects.filter(kind="client.auth_failed").exists()


def test_private_key_jwt_client_cannot_revoke_with_a_secret(client):
    c, secret = make_client(token_endpoint_auth_method="private_key_jwt")
    response = client.post("/revoke", {"token": "x"}, HTTP_AUTHORIZATION=basic(c.client_id, secret))
    assert response.status_code == 401


def test_secret_guessing_at_token_is_slowed_for_that_address_only(client, machine):
    c, secret = machine
    for _ in range(client_throttle.MAX_FAILURES):
        assert cc(client, c.client_id, "guess", address=ATTACKER).status_code == 401
    slowed = cc(client, c.client_id, secret, address=ATTACKER)
    assert slowed.status_code == 429
    assert 1 <= int(slowed["Retry-After"]) <= client_throttle.WINDOW
    assert "access_token" not in slowed.json()
    # Nobody locks the client out: from its own address it still gets tokens.
    assert cc(client, c.client_id, secret, address=OWN_ADDRESS).status_code == 200


def test_secret_guessing_at_introspect_is_slowed_for_that_address_only(client, machine):
    c, secret = machine
    for _ in range(client_throttle.MAX_FAILURES):
        response = client.post(
            "/introspect",
            {"token": "x"},
            HTTP_AUTHORIZATION=basic(c.client_id, "guess"),
            REMOTE_ADDR=ATTACKER,
        )
        assert response.status_code == 401
    slowed = client.post(
        "/introspect",
        {"token": "x"},
        HTTP_AUTHORIZATION=basic(c.client_id, secret),
        REMOTE_ADDR=ATTACKER,
    )
    assert slowed.status_code == 429
    ok = client.post(
        "/introspect",
        {"token": "x"},
        HTTP_AUTHORIZATION=basic(c.client_id, secret),
        REMOTE_ADDR=OWN_ADDRESS,
    )
    assert ok.status_code == 200


def test_slow_down_ends_when_its_window_ends():
    c = uuid.uuid4().hex  # the cache is shared: a name no other test uses
    for _ in range(client_throttle.MAX_FAILURES):
        client_throttle.record_failure(c, ATTACKER, now=1000.0)
    with pytest.raises(client_throttle.SlowDown):
        client_throttle.refuse_if_slowed(c, ATTACKER, now=1000.0)
    client_throttle.refuse_if_slowed(c, OWN_ADDRESS, now=1000.0)  # another address: free
    client_throttle.refuse_if_slowed(c, ATTACKER, now=1000.0 + client_throttle.WINDOW)


@pytest.mark.parametrize("backend", ["redis", "embedded file cache"])
def test_concurrent_failures_are_all_counted(backend, settings, tmp_path):
    if backend != "redis":
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                "LOCATION": str(tmp_path / "cache"),
            }
        }
    racy = uuid.uuid4().hex
    threads, per_thread = 8, 5
    barrier = threading.Barrier(threads)

    def fail() -> None:
        barrier.wait()
        for _ in range(per_thread):
            client_throttle.record_failure(racy, ATTACKER)

    workers = [threading.Thread(target=fail) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert client_throttle.record_failure(racy, ATTACKER) == threads * per_thread + 1
