"""RFC 7523 §2.2 private_key_jwt at the token, revocation and introspection endpoints."""

from __future__ import annotations

import base64
import dataclasses
import time
import uuid

import pytest
from django.conf import settings
from django.db import connection

from authserver.models import AccessToken, AuditEvent
from clients.models import Client
from enterprise.client_assertion import ASSERTION_TYPE
from enterprise.models import UsedAssertion
from tests.enterprise.support import new_key, public_jwks, sign
from tests.factories import MCP, make_client, make_resource

pytestmark = pytest.mark.django_db


@pytest.fixture
def resource():
    return make_resource()


@pytest.fixture
def key():
    return new_key("RSA")


@pytest.fixture
def machine(resource, key):
    client, _ = make_client(
        access={resource: "tools:read"},
        token_endpoint_auth_method="private_key_jwt",
        jwks=public_jwks(key),
    )
    return client


def assertion(client: Client, key, *, now: float | None = None, **over) -> str:
    now = time.time() if now is None else now
    claims = {
        "iss": client.client_id,
        "sub": client.client_id,
        "aud": settings.ISSUER,
        "iat": int(now),
        "exp": int(now) + 300,  # the MCP SDK's SignedJWTParameters default
        "jti": str(uuid.uuid4()),
        **over,
    }
    return sign({k: v for k, v in claims.items() if v is not None}, key)


def token(client, jwt: str, **data):
    return client.post(
        "/token",
        {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": jwt,
            "resource": MCP,
            **data,
        },
    )


def refused(response, error="invalid_client", words: str = "") -> None:
    assert response.status_code == (401 if error == "invalid_client" else 400), response.content
    body = response.json()
    assert body["error"] == error
    assert words in body.get("error_description", "")


def no_writes() -> None:
    assert not AccessToken.objects.exists()
    assert not UsedAssertion.objects.exists()


def test_signed_assertion_authenticates_a_private_key_jwt_client(client, machine, key):
    response = token(client, assertion(machine, key))
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "tools:read"
    assert AccessToken.objects.get().application == machine
    assert UsedAssertion.objects.get().issuer == machine.client_id


def test_token_endpoint_url_is_an_accepted_audience(client, machine, key):
    jwt = assertion(machine, key, aud=[f"{settings.ISSUER}/token", "https://elsewhere.example"])
    assert token(client, jwt).status_code == 200


def test_wrong_audience_is_invalid_client(client, machine, key):
    refused(token(client, assertion(machine, key, aud="https://other-as.example")), words="aud")
    no_writes()


def test_expired_assertion_is_invalid_client(client, machine, key):
    jwt = assertion(machine, key, now=time.time() - 400)
    refused(token(client, jwt), words="expired")
    no_writes()


def test_exp_far_in_the_future_is_invalid_client(client, machine, key):
    jwt = assertion(machine, key, exp=int(time.time()) + 3600)
    refused(token(client, jwt), words="too far")
    no_writes()


def test_missing_jti_is_invalid_client(client, machine, key):
    refused(token(client, assertion(machine, key, jti=None)), words="jti")
    no_writes()


def test_replayed_jti_is_invalid_client(client, machine, key):
    jwt = assertion(machine, key)
    assert token(client, jwt).status_code == 200
    refused(token(client, jwt), words="already used")
    assert AccessToken.objects.count() == 1


def test_subject_other_than_the_client_is_invalid_client(client, machine, key):
    refused(token(client, assertion(machine, key, sub="someone-else")))
    no_writes()


def test_signature_by_another_key_is_invalid_client(client, machine):
    refused(token(client, assertion(machine, new_key("RSA"))), words="key")
    no_writes()


def test_alg_off_the_allow_list_is_invalid_client(client, resource):
    secret_key = new_key("oct")  # HS256: a shared key is not private_key_jwt
    machine, _ = make_client(
        access={resource: "tools:read"},
        token_endpoint_auth_method="private_key_jwt",
        jwks={"keys": [secret_key.export(as_dict=True)]},
    )
    refused(token(client, assertion(machine, secret_key)), words="alg must be one of")
    no_writes()


def test_rsa_key_under_2048_bits_is_invalid_client(client, resource):
    weak = new_key("RSA", size=1024)
    machine, _ = make_client(
        access={resource: "tools:read"},
        token_endpoint_auth_method="private_key_jwt",
        jwks=public_jwks(weak),
    )
    refused(token(client, assertion(machine, weak)), words="unfit")
    no_writes()


def test_secret_of_a_private_key_jwt_client_is_invalid_client(client, resource):
    machine, secret = make_client(access={resource: "tools:read"})
    Client.objects.filter(pk=machine.pk).update(token_endpoint_auth_method="private_key_jwt")
    basic = base64.b64encode(f"{machine.client_id}:{secret}".encode()).decode()
    response = client.post(
        "/token",
        {"grant_type": "client_credentials", "resource": MCP},
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )
    refused(response)
    no_writes()


def test_assertion_from_a_secret_client_is_invalid_client(client, resource, key):
    machine, _ = make_client(access={resource: "tools:read"}, jwks=public_jwks(key))
    refused(token(client, assertion(machine, key)), words="not registered for private_key_jwt")
    no_writes()


def test_assertion_and_secret_together_are_refused(client, machine, key):
    response = token(client, assertion(machine, key), client_secret="x" * 40)
    refused(response, error="invalid_request", words="exactly one")
    no_writes()


def test_failed_assertion_is_audited_without_the_assertion(client, machine, key):
    jwt = assertion(machine, key, aud="https://other-as.example")
    token(client, jwt)
    event = AuditEvent.objects.get(kind="client.auth_failed")
    assert event.client_id == machine.client_id
    assert jwt not in str(event.detail)
    assert jwt.split(".")[2] not in str(event.detail)


def test_keys_from_jwks_uri_are_fetched_once_and_cached(client, resource, make_issuer):
    host = make_issuer(key=new_key("RSA"))  # the client's own key server
    machine, _ = make_client(
        access={resource: "tools:read"},
        token_endpoint_auth_method="private_key_jwt",
        jwks_uri=host.jwks_uri,
    )
    for _ in range(2):
        assert token(client, assertion(machine, host.key)).status_code == 200
    assert host.jwks_fetches == 1  # Cache-Control: max-age=300


def test_unknown_kid_refetches_the_jwks_uri_after_rotation(client, resource, make_issuer):
    host = make_issuer(key=new_key("RSA"))
    machine, _ = make_client(
        access={resource: "tools:read"},
        token_endpoint_auth_method="private_key_jwt",
        jwks_uri=host.jwks_uri,
    )
    assert token(client, assertion(machine, host.key)).status_code == 200
    from enterprise import jwks

    # Rotation: a new key is published; the cache entry is older than the refetch interval.
    rotated = new_key("RSA")
    host.jwks = public_jwks(rotated)
    fetched, expires, keyset = jwks._cache[host.jwks_uri]
    jwks._cache[host.jwks_uri] = (fetched - jwks.REFETCH_INTERVAL, expires, keyset)
    assert token(client, assertion(machine, rotated)).status_code == 200
    assert host.jwks_fetches == 2


def test_loopback_jwks_uri_is_refused_outside_development_mode(client, resource, settings):
    settings.CONFIG = dataclasses.replace(settings.CONFIG, cimd_allow_loopback=False)
    key = new_key("RSA")
    machine, _ = make_client(
        access={resource: "tools:read"},
        token_endpoint_auth_method="private_key_jwt",
        jwks_uri="http://127.0.0.1:9/jwks.json",
    )
    refused(token(client, assertion(machine, key)), words="could not be fetched")
    no_writes()


def test_private_jwks_uri_address_is_refused(client, resource, settings):
    # DOT's SafeMetadataFetcher: a host resolving to a non-public address is never fetched.
    machine, _ = make_client(
        access={resource: "tools:read"},
        token_endpoint_auth_method="private_key_jwt",
        jwks_uri="https://169.254.169.254/latest/jwks.json",
    )
    refused(token(client, assertion(machine, new_key("RSA"))), words="could not be fetched")
    no_writes()


class ReplayStoreDown:
    """The replay table refuses writes as a database that went away does (SQLSTATE 57P03)."""

    def __enter__(self):
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE FUNCTION test_replay_down() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'injected outage' USING ERRCODE = '57P03'; END; $$ "
                "LANGUAGE plpgsql"
            )
            cursor.execute(
                "CREATE TRIGGER test_replay_down BEFORE INSERT ON enterprise_usedassertion "
                "FOR EACH ROW EXECUTE FUNCTION test_replay_down()"
            )

    def __exit__(self, *exc):
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER test_replay_down ON enterprise_usedassertion")
            cursor.execute("DROP FUNCTION test_replay_down()")


@pytest.mark.django_db(transaction=True)
def test_replay_store_outage_is_503_with_retry_after(client, machine, key):
    with ReplayStoreDown():
        response = token(client, assertion(machine, key))
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert response["Retry-After"]
    no_writes()


def test_private_key_jwt_works_at_revocation_and_introspection(client, machine, key, resource):
    issued = token(client, assertion(machine, key)).json()["access_token"]
    resource.introspection_client = machine
    resource.save()
    form = {"client_assertion_type": ASSERTION_TYPE, "token": issued}
    answer = client.post("/introspect", {**form, "client_assertion": assertion(machine, key)})
    assert answer.status_code == 200, answer.content
    assert answer.json()["active"] is True
    refused_reply = client.post("/introspect", {**form, "client_assertion": "not.a.jwt"})
    assert refused_reply.status_code == 401
    revoked = client.post("/revoke", {**form, "client_assertion": assertion(machine, key)})
    assert revoked.status_code == 200, revoked.content
    assert AccessToken.objects.get().revoked_at is not None


def test_metadata_advertises_private_key_jwt_and_its_algorithms(client):
    doc = client.get("/.well-known/oauth-authorization-server").json()
    assert "private_key_jwt" in doc["token_endpoint_auth_methods_supported"]
    assert doc["token_endpoint_auth_signing_alg_values_supported"] == ["ES256", "EdDSA", "RS256"]
    assert "private_key_jwt" in doc["introspection_endpoint_auth_methods_supported"]
    assert "urn:ietf:params:oauth:grant-type:jwt-bearer" in doc["grant_types_supported"]


def test_cleanup_removes_jtis_once_their_assertions_expired(client, machine, key):
    from datetime import UTC, datetime

    from authserver.ops.cleanup import purge_expired

    assert token(client, assertion(machine, key)).status_code == 200
    used = UsedAssertion.objects.get()
    assert purge_expired(now=used.expires_at)["assertion_jtis"] == 0  # not yet past exp
    later = datetime.fromtimestamp(used.expires_at.timestamp() + 1, tz=UTC)
    assert purge_expired(now=later)["assertion_jtis"] == 1
    assert not UsedAssertion.objects.exists()


def test_old_secret_of_a_client_switched_to_private_key_jwt_cannot_revoke(client, resource):
    machine, secret = make_client(access={resource: "tools:read"})
    Client.objects.filter(pk=machine.pk).update(token_endpoint_auth_method="private_key_jwt")
    basic = base64.b64encode(f"{machine.client_id}:{secret}".encode()).decode()
    answer = client.post("/revoke", {"token": "x" * 40}, HTTP_AUTHORIZATION=f"Basic {basic}")
    assert answer.status_code == 401
    introspection = client.post(
        "/introspect", {"token": "x" * 40}, HTTP_AUTHORIZATION=f"Basic {basic}"
    )
    assert introspection.status_code == 401
