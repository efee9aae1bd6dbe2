"""The token endpoint pipeline: atomic issuance under injected faults, JSON for every failure,
one value per parameter, and hot-path caches that follow every change at once."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.utils import timezone
from jwcrypto import jwk

from authserver.keys import keyring as keys
from authserver.models import (
    AccessToken,
    AuditEvent,
    CacheGeneration,
    Grant,
    RefreshToken,
    ResourceAccess,
    TokenExchangePolicy,
)
from authserver.token_endpoint import issue as issue_module
from authserver.token_endpoint import view as view_module
from authserver.token_endpoint.grants import GRANTS
from authserver.token_endpoint.grants import Grant as GrantBase
from authserver.token_endpoint.grants.subject_token import GRANT_TYPE
from clients.models import Client
from tests.factories import MCP, OTHER_MCP, make_client, make_resource
from tests.oauthflow import authorize_url, exchange, get_code, pkce_pair, refresh
from tests.support.dpop import TOKEN_URL, proof
from tests.support.exchange import ACCESS, do_exchange
from tests.support.http import basic
from tests.support.jwt import claims_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True, params=["one statement", "orm transaction"])
def write_path(request, monkeypatch):
    """Every test runs with both writers: PostgreSQL's single statement, and the ORM
    transaction used where writable CTEs do not exist."""
    if request.param == "orm transaction":
        monkeypatch.setattr(issue_module, "single_statement", lambda: False)
    return request.param


@pytest.fixture
def resource():
    return make_resource()


@pytest.fixture
def app(resource):
    client, _ = make_client(
        confidential=False,
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris="http://127.0.0.1/callback",
        skip_authorization=True,
    )
    return client


@pytest.fixture
def machine(resource):
    return make_client(access={resource: "tools:read"})


def cc(client, machine, **data):
    c, secret = machine
    return client.post(
        "/token",
        {"grant_type": "client_credentials", "resource": MCP, **data},
        HTTP_AUTHORIZATION=basic(c.client_id, secret),
    )


def failing_signature(*args, **kwargs):
    raise keys.NoSigningKey("injected: no usable signing key")


class TokenInsertFault:
    """A real PostgreSQL trigger that makes every access token INSERT fail while on."""

    def on(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE FUNCTION test_refuse_insert() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'injected insert failure'; END; $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                "CREATE TRIGGER test_refuse_token_insert BEFORE INSERT "
                "ON authserver_accesstoken FOR EACH ROW EXECUTE FUNCTION test_refuse_insert()"
            )

    def off(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER test_refuse_token_insert ON authserver_accesstoken")
            cursor.execute("DROP FUNCTION test_refuse_insert()")


@pytest.fixture
def token_insert_fault():
    return TokenInsertFault()


def kid_of(token: str) -> str:
    return json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))["kid"]


@pytest.fixture
def cached():
    """Caching on (a flush by an earlier transactional test may have removed the row)."""
    CacheGeneration.objects.get_or_create(id=1)


# --- atomic issuance, proven by fault injection -----------------------------------------


def test_signing_failure_after_validation_leaves_the_code_redeemable(signed_in, app, monkeypatch):
    code, verifier, _ = get_code(signed_in, app.client_id, resource=MCP, scope="tools:read")
    monkeypatch.setattr(keys, "sign", failing_signature)
    failed = exchange(signed_in, app.client_id, code, verifier)
    assert failed.status_code == 503
    assert failed["Content-Type"] == "application/json"
    assert failed.json()["error"] == "temporarily_unavailable"
    assert failed["Retry-After"]
    assert Grant.objects.get().consumed_at is None
    assert not AccessToken.objects.exists()
    assert not AuditEvent.objects.filter(kind="token.issued").exists()
    monkeypatch.undo()
    retried = exchange(signed_in, app.client_id, code, verifier)
    assert retried.status_code == 200, retried.content
    assert AuditEvent.objects.filter(kind="token.issued").count() == 1


def test_token_insert_failure_during_refresh_keeps_the_refresh_token_and_family(
    signed_in, app, token_insert_fault, settings
):
    code, verifier, _ = get_code(
        signed_in, app.client_id, resource=MCP, scope="tools:read offline_access"
    )
    tokens = exchange(signed_in, app.client_id, code, verifier).json()
    token_insert_fault.on()
    failed = refresh(signed_in, app.client_id, tokens["refresh_token"])
    assert failed.status_code == 500
    assert failed.json() == {"error": "server_error"}
    token_insert_fault.off()
    # Retried after the grace window: still not treated as reuse.
    settings.CONFIG = dataclasses.replace(settings.CONFIG, refresh_token_grace=0)
    retried = refresh(signed_in, app.client_id, tokens["refresh_token"])
    assert retried.status_code == 200, retried.content
    assert not AccessToken.objects.filter(revoked_at__isnull=False).exists()
    assert RefreshToken.objects.filter(revoked__isnull=True).count() == 1
    assert not AuditEvent.objects.filter(kind="tokens.revoked").exists()


def test_token_insert_failure_writes_nothing_for_client_credentials(
    client, machine, token_insert_fault
):
    before = AuditEvent.objects.count()
    token_insert_fault.on()
    failed = cc(client, machine)
    assert failed.status_code == 500
    assert failed.json() == {"error": "server_error"}
    assert AuditEvent.objects.count() == before
    token_insert_fault.off()
    assert cc(client, machine).status_code == 200


def test_unexpected_failure_is_a_bare_json_server_error(client, machine, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("injected")

    monkeypatch.setattr(issue_module, "write_params", explode)
    monkeypatch.setattr(issue_module, "record_issued", explode)
    response = cc(client, machine)
    assert response.status_code == 500
    assert response.json() == {"error": "server_error"}
    assert response["Cache-Control"] == "no-store"
    assert not AccessToken.objects.exists()


def test_every_grant_plugs_in_through_the_registry():
    assert set(GRANTS) == {
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:token-exchange",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",  # RFC 7523 §2.1 ID-JAG (docs/ENTERPRISE.md)
        "urn:openid:params:grant-type:ciba",  # CIBA Core §10.1 (approvals/)
    }
    assert all(issubclass(g, GrantBase) for g in GRANTS.values())


# --- RFC 6749 §3.1, §3.2 and request shape -------------------------------------------------


@pytest.mark.parametrize("name", ["scope", "grant_type", "client_id"])
def test_repeated_parameter_at_token_is_invalid_request(client, machine, name):
    c, secret = machine
    values = {"scope": "tools:read", "grant_type": "client_credentials", "client_id": c.client_id}
    body = f"grant_type=client_credentials&resource={MCP}&{name}={values[name]}"
    if name != "grant_type":
        body += f"&{name}={values[name]}"
    else:
        body += "&grant_type=client_credentials"
    response = client.post(
        "/token",
        body,
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=basic(c.client_id, secret),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_repeated_code_verifier_is_invalid_request(signed_in, app):
    code, verifier, _ = get_code(signed_in, app.client_id, resource=MCP, scope="tools:read")
    body = (
        f"grant_type=authorization_code&code={code}&client_id={app.client_id}"
        f"&redirect_uri=http%3A%2F%2F127.0.0.1%3A45678%2Fcallback"
        f"&code_verifier={verifier}&code_verifier={verifier}"
    )
    response = signed_in.post("/token", body, content_type="application/x-www-form-urlencoded")
    assert response.json()["error"] == "invalid_request"
    assert Grant.objects.get().consumed_at is None


def test_repeated_resource_naming_one_resource_is_allowed(client, machine):
    # RFC 8707 §2: resource may be repeated; the same resource twice is one audience.
    c, secret = machine
    response = client.post(
        "/token",
        f"grant_type=client_credentials&resource={MCP}&resource={MCP}",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=basic(c.client_id, secret),
    )
    assert response.status_code == 200


def test_repeated_parameter_at_authorize_is_invalid_request(signed_in, app):
    _, challenge = pkce_pair()
    url = authorize_url(
        app.client_id,
        resource=MCP,
        scope="tools:read",
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    response = signed_in.get(url + "&scope=tools:write")
    assert response.status_code == 400
    assert b"invalid_request" in response.content
    assert not Grant.objects.exists()


def test_missing_grant_type_is_invalid_request(client, machine):
    c, secret = machine
    response = client.post(
        "/token", {"resource": MCP}, HTTP_AUTHORIZATION=basic(c.client_id, secret)
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_get_on_token_is_json_405_with_allow(client):
    response = client.get("/token")
    assert response.status_code == 405
    assert response["Allow"] == "POST, OPTIONS"
    assert response.json()["error"] == "invalid_request"


def test_oversized_body_is_json_413(client, machine):
    c, secret = machine
    response = client.post(
        "/token",
        "grant_type=client_credentials&pad=" + "x" * 70_000,
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=basic(c.client_id, secret),
    )
    assert response.status_code == 413
    assert response.json()["error"] == "invalid_request"


def test_authorization_code_is_stored_only_as_its_hash(signed_in, app):
    code, _verifier, _ = get_code(signed_in, app.client_id, resource=MCP, scope="tools:read")
    stored = Grant.objects.get().code
    assert stored != code
    assert stored == hashlib.sha256(code.encode()).hexdigest()


# --- hot-path caches: a change takes effect on the very next request ----------------------


def test_disabling_a_client_takes_effect_on_the_next_request(client, machine, cached):
    assert cc(client, machine).status_code == 200  # cached now
    Client.objects.filter(pk=machine[0].pk).update(is_active=False)  # no signals
    assert cc(client, machine).status_code == 401


def test_removing_resource_access_takes_effect_on_the_next_request(client, machine, cached):
    assert cc(client, machine).status_code == 200
    ResourceAccess.objects.filter(client=machine[0]).delete()
    assert cc(client, machine).json()["error"] == "invalid_target"


def test_rotating_the_key_out_takes_effect_on_the_next_request(client, machine, cached):
    first = cc(client, machine).json()["access_token"]
    keys.rotate(now=timezone.now(), force=True)
    second = cc(client, machine).json()["access_token"]
    assert kid_of(first) != kid_of(second)
    assert kid_of(second) == keys.active_key().kid


# --- DPoP for every grant, introspection of bound tokens ----------------------------------


@pytest.fixture
def key():
    return jwk.JWK.generate(kty="EC", crv="P-256")


@pytest.fixture
def gateway(signed_in, app, resource):
    """A user token for MCP and a gateway client allowed to exchange it for OTHER_MCP."""
    target = make_resource(OTHER_MCP, require_dpop=True)
    gateway, secret = make_client(name="gateway", grant_types=(GRANT_TYPE,))
    TokenExchangePolicy.objects.create(
        client=gateway, source=resource, target=target, scope="tools:read"
    )
    code, verifier, _ = get_code(signed_in, app.client_id, resource=MCP, scope="tools:read")
    token = exchange(signed_in, app.client_id, code, verifier).json()["access_token"]
    return {"auth": basic(gateway.client_id, secret), "user_token": token}


def test_exchange_for_a_dpop_only_resource_needs_a_proof(signed_in, gateway, key):
    """RFC 9449 §7.1: the resource's DPoP requirement applies to token exchange too."""
    client, world = signed_in, {"a": gateway["auth"], "user_token": gateway["user_token"]}
    bearer = do_exchange(client, world["a"], world["user_token"], OTHER_MCP)
    assert bearer.status_code == 400
    assert bearer.json()["error"] == "invalid_dpop_proof"
    bound = client.post(
        "/token",
        {
            "grant_type": GRANT_TYPE,
            "subject_token": world["user_token"],
            "subject_token_type": ACCESS,
            "resource": OTHER_MCP,
        },
        HTTP_AUTHORIZATION=world["a"],
        HTTP_DPOP=proof(key, "POST", TOKEN_URL),
    )
    assert bound.status_code == 200, bound.content
    assert bound.json()["token_type"] == "DPoP"
    assert claims_of(bound.json()["access_token"])["cnf"] == {"jkt": key.thumbprint()}


def test_introspection_reports_dpop_binding_and_only_claims_the_jwt_carries(
    client, resource, machine, key
):
    rs, rs_secret = make_client(name="mcp server", access={})
    resource.introspection_client = rs
    resource.save()
    c, secret = machine
    issued = client.post(
        "/token",
        {"grant_type": "client_credentials", "resource": MCP},
        HTTP_AUTHORIZATION=basic(c.client_id, secret),
        HTTP_DPOP=proof(key, "POST", TOKEN_URL),
    ).json()["access_token"]
    body = client.post(
        "/introspect", {"token": issued}, HTTP_AUTHORIZATION=basic(rs.client_id, rs_secret)
    ).json()
    assert body["active"] is True
    assert body["token_type"] == "DPoP"  # RFC 9449 §6.2
    assert body["cnf"] == {"jkt": key.thumbprint()}
    jwt = claims_of(issued)
    assert set(body) - {"active", "token_type"} <= set(jwt)  # RFC 7662 §2.2
    assert all(body[k] == jwt[k] for k in body if k in jwt)


def test_introspection_of_a_user_token_has_no_username(signed_in, app, resource):
    rs, rs_secret = make_client(name="mcp server", access={})
    resource.introspection_client = rs
    resource.save()
    code, verifier, _ = get_code(signed_in, app.client_id, resource=MCP, scope="tools:read")
    token = exchange(signed_in, app.client_id, code, verifier).json()["access_token"]
    body = signed_in.post(
        "/introspect", {"token": token}, HTTP_AUTHORIZATION=basic(rs.client_id, rs_secret)
    ).json()
    assert body["active"] is True
    assert "username" not in body
    assert body["token_type"] == "Bearer"
    assert set(body) - {"active", "token_type"} <= set(claims_of(token))


def test_introspected_iat_is_the_tokens_own_when_the_write_lags_the_signature(
    client, resource, machine, monkeypatch
):
    """RFC 7662 §2.2: introspection answers the token's own ``iat``. The request's clock is
    moved 5 s behind the database insert (as a slow write on a loaded server crosses second
    boundaries): the ORM writer used to store the insert's own time as ``created``."""
    lagging = SimpleNamespace(now=lambda: timezone.now() - timedelta(seconds=5))
    monkeypatch.setattr(view_module, "timezone", lagging)
    rs, rs_secret = make_client(name="mcp server", access={})
    resource.introspection_client = rs
    resource.save()
    c, secret = machine
    issued = client.post(
        "/token",
        {"grant_type": "client_credentials", "resource": MCP},
        HTTP_AUTHORIZATION=basic(c.client_id, secret),
    ).json()["access_token"]
    body = client.post(
        "/introspect", {"token": issued}, HTTP_AUTHORIZATION=basic(rs.client_id, rs_secret)
    ).json()
    assert body["active"] is True
    assert body["iat"] == claims_of(issued)["iat"]
