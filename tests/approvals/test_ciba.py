"""CIBA Core 1.0 at the backchannel endpoint and /token: requests, errors (§11, §13),
polling, the one-time token and its claims, and the audit trail."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connections
from django.utils import timezone
from oauth2_provider.models import set_token_value

from approvals import services
from approvals.models import ApprovalRequest
from authserver.models import AccessToken, AuditEvent
from authserver.ops import localcache
from authserver.token_hash import token_hash
from mcp_token_verifier import approvals as calls
from tests.approvals.conftest import ARGS, CIBA, MCP, details
from tests.factories import make_client
from tests.oauthflow import claims_of
from tests.support.http import basic

pytestmark = pytest.mark.django_db

Status = ApprovalRequest.Status


def approve(auth_req_id, passkey):
    approval = ApprovalRequest.objects.get(auth_req_hash=token_hash(auth_req_id))
    services.decide(approval, approve=True, credential=passkey, now=timezone.now())
    return approval


def test_backchannel_request_answers_auth_req_id_stored_hashed(ask, user):
    response = ask(user)
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"auth_req_id", "expires_in", "interval", "approval_uri"}
    assert 295 <= body["expires_in"] <= 300
    assert body["interval"] == 5
    row = ApprovalRequest.objects.get()
    assert row.auth_req_hash == token_hash(body["auth_req_id"])
    assert body["auth_req_id"] not in json.dumps(
        list(ApprovalRequest.objects.values_list("auth_req_hash", "authorization_details"))
    )
    assert body["approval_uri"].endswith(f"/approvals/{row.pk}")
    assert (row.tool, row.arguments, row.status) == ("transfer", ARGS, Status.PENDING)
    assert AuditEvent.objects.filter(kind="approval.requested").count() == 1


def test_metadata_advertises_backchannel_endpoint_modes_and_grant(client):
    doc = client.get("/.well-known/oauth-authorization-server").json()
    assert doc["backchannel_authentication_endpoint"].endswith("/backchannel-authentication")
    assert doc["backchannel_token_delivery_modes_supported"] == ["poll", "ping"]
    assert CIBA in doc["grant_types_supported"]


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"login_hint": "999999"}, "unknown_user_id"),
        ({"login_hint": "not-a-number"}, "unknown_user_id"),
        ({"login_hint_token": "no-such-token", "login_hint": None}, "unknown_user_id"),
        ({"binding_message": "K7\u202e42"}, "invalid_binding_message"),
        ({"binding_message": "x" * 101}, "invalid_binding_message"),
        ({"authorization_details": None}, "invalid_request"),
        ({"id_token_hint": "x"}, "invalid_request"),
    ],
)
def test_backchannel_refusals_use_ciba_error_codes(ask, user, params, error):
    response = ask(user, **params)
    assert response.status_code == 400, response.content
    assert response.json()["error"] == error
    assert not ApprovalRequest.objects.exists()


def test_both_hints_are_invalid_request(ask, user):
    response = ask(user, login_hint_token="abc")
    assert response.json()["error"] == "invalid_request"


def test_altered_arguments_with_the_old_digest_are_refused(ask, user):
    detail = json.loads(details())
    detail[0]["arguments"]["amount"] = 40000  # the digest still names 4000
    response = ask(user, authorization_details=json.dumps(detail))
    assert response.json()["error"] == "invalid_request"
    assert "arguments_digest" in response.json()["error_description"]


def test_unregistered_tool_is_refused(ask, user):
    response = ask(user, authorization_details=details(tool="drop_tables"))
    assert response.json()["error"] == "invalid_request"


def test_client_without_the_ciba_grant_is_unauthorized_client(client, bank, user):
    other, secret = make_client(grant_types=("client_credentials",))
    response = client.post(
        "/backchannel-authentication",
        {"login_hint": str(user.pk), "authorization_details": details()},
        HTTP_AUTHORIZATION=basic(other.client_id, secret),
    )
    assert response.json()["error"] == "unauthorized_client"


def test_a_client_cannot_ask_approvals_for_an_mcp_server_it_does_not_speak_for(client, bank, user):
    other, secret = make_client(grant_types=("client_credentials", CIBA))  # CIBA, no server
    response = client.post(
        "/backchannel-authentication",
        {"login_hint": str(user.pk), "authorization_details": details()},
        HTTP_AUTHORIZATION=basic(other.client_id, secret),
    )
    assert response.json()["error"] == "unauthorized_client"
    assert not ApprovalRequest.objects.exists()


def test_wrong_client_secret_is_invalid_client_through_the_one_path(ask, user, mcp_client):
    cl, _ = mcp_client
    response = ask(user, auth=basic(cl.client_id, "wrong"))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert AuditEvent.objects.filter(kind="client.auth_failed").exists()
    assert not ApprovalRequest.objects.exists()


def test_pending_then_slow_down_when_polling_faster_than_interval(ask, poll, user):
    auth_req_id = ask(user).json()["auth_req_id"]
    assert poll(auth_req_id).json()["error"] == "authorization_pending"
    second = poll(auth_req_id)
    assert second.json()["error"] == "slow_down"
    assert ApprovalRequest.objects.get().interval == 10  # CIBA §11: at least 5 s more
    # Waiting the interval out (moved back instead of sleeping): pending again.
    ApprovalRequest.objects.update(last_polled_at=timezone.now() - timedelta(seconds=11))
    assert poll(auth_req_id).json()["error"] == "authorization_pending"


def test_denied_request_is_access_denied(ask, poll, user):
    auth_req_id = ask(user).json()["auth_req_id"]
    approval = ApprovalRequest.objects.get()
    services.decide(approval, approve=False, credential=None, now=timezone.now())
    assert poll(auth_req_id).json()["error"] == "access_denied"
    assert AuditEvent.objects.filter(kind="approval.denied").count() == 1


def test_expired_request_is_expired_token_and_cannot_be_approved(ask, poll, user, passkey):
    auth_req_id = ask(user).json()["auth_req_id"]
    ApprovalRequest.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    approval = ApprovalRequest.objects.get()
    with pytest.raises(services.NotPending):
        services.decide(approval, approve=True, credential=passkey, now=timezone.now())
    assert poll(auth_req_id).json()["error"] == "expired_token"
    assert ApprovalRequest.objects.get().status == Status.EXPIRED
    assert AuditEvent.objects.filter(kind="approval.expired").count() == 1


def test_approved_request_yields_one_short_token_bound_to_the_call(ask, poll, user, passkey):
    auth_req_id = ask(user).json()["auth_req_id"]
    approval = approve(auth_req_id, passkey)
    response = poll(auth_req_id)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["expires_in"] <= 60
    claims = claims_of(body["access_token"])
    assert claims["sub"] == str(user.pk)
    assert claims["aud"] == MCP
    assert claims["authorization_details"] == [
        {
            "type": "mcp_tool",
            "locations": [MCP],
            "actions": ["transfer"],
            "arguments_digest": calls.arguments_digest(ARGS),
            "approval": str(approval.pk),
        }
    ]
    # Issued through the core's writer: a stored, revocable row, and the "used" audit event.
    assert AccessToken.objects.filter(jti=claims["jti"]).exists()
    used = AuditEvent.objects.get(kind="approval.used")
    assert used.detail["credential_id"] == "cred-1"
    assert used.jti == claims["jti"]
    assert ApprovalRequest.objects.get().status == Status.USED


def test_second_poll_after_issuance_is_invalid_grant(ask, poll, user, passkey):
    auth_req_id = ask(user).json()["auth_req_id"]
    approve(auth_req_id, passkey)
    assert poll(auth_req_id).status_code == 200
    again = poll(auth_req_id)
    assert again.json()["error"] == "invalid_grant"
    assert AccessToken.objects.count() == 1


def test_another_clients_auth_req_id_is_invalid_grant(ask, poll, user, passkey, bank):
    auth_req_id = ask(user).json()["auth_req_id"]
    approve(auth_req_id, passkey)
    thief, secret = make_client(grant_types=("client_credentials", CIBA))
    response = poll(auth_req_id, auth=basic(thief.client_id, secret))
    assert response.json()["error"] == "invalid_grant"
    assert ApprovalRequest.objects.get().status == Status.APPROVED


def test_approval_without_a_passkey_is_impossible(ask, user):
    ask(user)
    with pytest.raises(services.NotAllowed):
        services.decide(
            ApprovalRequest.objects.get(), approve=True, credential=None, now=timezone.now()
        )


def test_mcp_server_checks_the_approval_token_against_the_call_once(ask, poll, user, passkey):
    auth_req_id = ask(user).json()["auth_req_id"]
    approval = approve(auth_req_id, passkey)
    claims = claims_of(poll(auth_req_id).json()["access_token"])
    checker = calls.ApprovalChecker(MCP)
    with pytest.raises(calls.ApprovalError, match="differ"):
        checker.check(claims, "transfer", {**ARGS, "amount": 40000})
    assert checker.check(claims, "transfer", dict(reversed(ARGS.items()))) == str(approval.pk)
    with pytest.raises(calls.ApprovalError, match="already used"):
        checker.check(claims, "transfer", ARGS)


def test_login_hint_token_names_the_user_of_a_live_token_for_this_mcp_server(ask, user, mcp_client):
    cl, _ = mcp_client
    row = AccessToken(
        user=user, application=cl, resource=[MCP], expires=timezone.now() + timedelta(minutes=5)
    )
    set_token_value(row, "the-agents-access-token")
    row.save()
    response = ask(None, login_hint_token="the-agents-access-token")
    assert response.status_code == 200, response.content
    assert ApprovalRequest.objects.get().user == user
    AccessToken.objects.update(revoked_at=timezone.now())
    assert ask(None, login_hint_token="the-agents-access-token").json()["error"] == (
        "unknown_user_id"
    )


@pytest.mark.parametrize("hint", ["0{pk}", "{pk}0000000000000000000", " {pk}", "+{pk}"])
def test_login_hint_is_exactly_the_sub(ask, user, hint):
    response = ask(None, login_hint=hint.format(pk=user.pk))
    assert response.json()["error"] == "unknown_user_id"


def test_a_client_cannot_flood_a_persons_pending_list(ask, user):
    for _ in range(services.MAX_PENDING):
        assert ask(user).status_code == 200
    assert ask(user).json()["error"] == "invalid_request"


@pytest.mark.django_db(transaction=True)
def test_approvals_are_stored_not_remembered_by_the_process(ask, poll, user, passkey):
    """What a restart keeps: every fact of a request is in PostgreSQL. Drop the connections
    and every per-process cache, and the request still answers as before."""
    auth_req_id = ask(user).json()["auth_req_id"]
    approve(auth_req_id, passkey)
    connections.close_all()
    cache.clear()
    localcache.clear()
    assert poll(auth_req_id).status_code == 200


def test_requests_a_week_past_expiry_are_purged_and_their_events_stay(ask, user):
    ask(user)
    ask(user)
    ApprovalRequest.objects.filter(
        pk=ApprovalRequest.objects.order_by("created_at").first().pk
    ).update(expires_at=timezone.now() - timedelta(days=8))
    assert services.purge_old_requests(now=timezone.now()) == 1
    assert ApprovalRequest.objects.count() == 1
    assert AuditEvent.objects.filter(kind="approval.requested").count() == 2
