"""RFC 8693 token exchange for gateways and multi-hop MCP."""

from __future__ import annotations

import pytest
from django.utils import timezone

from authserver.models import AccessToken, AuditEvent
from authserver.revocation import service as revocation
from authserver.token_endpoint.grants.subject_token import GRANT_TYPE
from tests.factories import OTHER_MCP
from tests.oauthflow import claims_of
from tests.support.exchange import ACCESS, THIRD, do_exchange

pytestmark = pytest.mark.django_db


def test_exchange_issues_a_short_lived_token_for_b_acting_for_the_user(client, world, user):
    response = do_exchange(client, world["a"], world["user_token"], OTHER_MCP)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["issued_token_type"] == ACCESS
    assert body["token_type"] == "Bearer"
    claims = claims_of(body["access_token"])
    original = claims_of(world["user_token"])
    assert claims["aud"] == OTHER_MCP
    assert claims["sub"] == str(user.pk)
    assert claims["act"] == {"sub": world["gateway_a"].client_id}
    assert claims["scope"] == "tools:read"  # subject's scope ∩ policy
    assert claims["exp"] <= original["exp"]
    event = AuditEvent.objects.get(kind="token.exchanged")
    assert event.detail["act"] == {"sub": world["gateway_a"].client_id}


def test_exchanged_token_never_outlives_its_subject_token(client, world):
    # The target allows 15 minutes; the subject token (5 minutes) must still cap it, in the
    # JWT, in expires_in and in the stored row, whatever second the exchange lands in.
    target = world["resources"][1]
    target.access_token_lifetime = 900
    target.save()  # save(), not update(): the resource cache is cleared on post_save
    original = claims_of(world["user_token"])
    response = do_exchange(client, world["a"], world["user_token"], OTHER_MCP)
    assert response.status_code == 200, response.content
    body = response.json()
    claims = claims_of(body["access_token"])
    assert claims["exp"] <= original["exp"]
    assert claims["iat"] + body["expires_in"] <= original["exp"]
    row = AccessToken.objects.get(jti=claims["jti"])
    assert row.expires.timestamp() <= original["exp"]


def test_three_hop_chain_carries_nested_act(client, world):
    hop1 = do_exchange(client, world["a"], world["user_token"], OTHER_MCP).json()["access_token"]
    hop2 = do_exchange(client, world["b"], hop1, THIRD)
    assert hop2.status_code == 200, hop2.content
    claims = claims_of(hop2.json()["access_token"])
    assert claims["aud"] == THIRD
    assert claims["act"]["act"] == {"sub": world["gateway_a"].client_id}


def test_exchange_without_a_policy_is_refused(client, world):
    response = do_exchange(client, world["a"], world["user_token"], THIRD)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_target"


def test_subject_token_for_another_audience_is_refused(client, world):
    # Server B cannot exchange a token that was minted for A.
    response = do_exchange(client, world["b"], world["user_token"], THIRD)
    assert response.json()["error"] == "invalid_grant"


def test_widened_scope_is_refused(client, world):
    response = do_exchange(
        client, world["a"], world["user_token"], OTHER_MCP, scope="tools:read tools:write"
    )
    assert response.json()["error"] == "invalid_scope"


def test_public_client_cannot_exchange(client, world):
    response = client.post(
        "/token",
        {
            "grant_type": GRANT_TYPE,
            "subject_token": world["user_token"],
            "subject_token_type": ACCESS,
            "resource": OTHER_MCP,
            "client_id": world["app"].client_id,
        },
    )
    assert response.json()["error"] == "unauthorized_client"


def test_garbage_or_revoked_subject_token_is_invalid_grant(client, world):
    assert (
        do_exchange(client, world["a"], "not.a.token", OTHER_MCP).json()["error"] == "invalid_grant"
    )
    AccessToken.objects.update(revoked_at=timezone.now())
    assert (
        do_exchange(client, world["a"], world["user_token"], OTHER_MCP).json()["error"]
        == "invalid_grant"
    )


def test_revoking_the_users_grant_cuts_off_every_hop(client, world, user):
    hop1 = do_exchange(client, world["a"], world["user_token"], OTHER_MCP).json()["access_token"]
    do_exchange(client, world["b"], hop1, THIRD)
    assert AccessToken.objects.filter(revoked_at__isnull=True).count() == 3
    a, _, _ = world["resources"]
    revocation.revoke_user_client_resource(user, world["app"], a, now=timezone.now())
    assert AccessToken.objects.filter(revoked_at__isnull=True).count() == 0


def test_metadata_advertises_token_exchange(client):
    grants = client.get("/.well-known/oauth-authorization-server").json()["grant_types_supported"]
    assert GRANT_TYPE in grants


def test_audit_admin_shows_the_delegation_chain(client, world, admin_user):
    hop1 = do_exchange(client, world["a"], world["user_token"], OTHER_MCP).json()["access_token"]
    do_exchange(client, world["b"], hop1, THIRD)
    client.force_login(admin_user)
    html = client.get("/admin/authserver/auditevent/?kind=token.exchanged").content.decode()
    assert f"{world['gateway_a'].client_id}" in html
    assert "&lt;-" in html  # the nested chain B <- A


def test_exchange_for_a_user_outside_the_targets_groups_is_refused(client, world, user):
    from django.contrib.auth.models import Group

    world["resources"][1].allowed_groups.add(Group.objects.create(name="finance"))
    response = do_exchange(client, world["a"], world["user_token"], OTHER_MCP)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert "limited to members of: finance" in response.json()["error_description"]
