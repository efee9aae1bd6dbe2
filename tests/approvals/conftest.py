"""An MCP server with a `transfer` tool, its confidential client allowed CIBA, and helpers that
drive the backchannel endpoint and the token endpoint as the MCP server does."""

from __future__ import annotations

import json

import pytest

from approvals.models import ApprovalClient, Passkey
from authserver.models import Scope
from mcp_token_verifier import approvals as calls
from tests.factories import MCP, make_client, make_resource
from tests.support.http import basic

CIBA = "urn:openid:params:grant-type:ciba"
ARGS = {"amount": 4000, "currency": "EUR", "to": "DE89370400440532013000"}


@pytest.fixture
def bank(db):
    resource = make_resource(MCP, name="Bank", scopes={"payments": "Move money"}, defaults=())
    Scope.objects.filter(resource=resource).update(tools=["transfer", "balance"])
    return resource


@pytest.fixture
def mcp_client(bank):
    client, secret = make_client(grant_types=("client_credentials", CIBA), name="Bank MCP")
    speaks_for(client, bank)
    return client, secret


def speaks_for(client, resource, **fields) -> ApprovalClient:
    cfg, _ = ApprovalClient.objects.update_or_create(client=client, defaults=fields)
    cfg.resources.add(resource)
    return cfg


def details(arguments=ARGS, *, tool="transfer", resource=MCP, summary="Refund €4,000 to X"):
    return json.dumps([calls.approval_request(resource, tool, arguments, summary)])


@pytest.fixture
def ask(client, mcp_client):
    """POST /backchannel-authentication as the MCP server; returns the response."""
    cl, secret = mcp_client

    def post(user=None, *, auth=None, **params):
        form = {"authorization_details": details(), "binding_message": "K7-42"}
        if user is not None:
            form["login_hint"] = str(user.pk)
        form.update(params)
        form = {k: v for k, v in form.items() if v is not None}
        return client.post(
            "/backchannel-authentication",
            form,
            HTTP_AUTHORIZATION=auth or basic(cl.client_id, secret),
        )

    return post


@pytest.fixture
def poll(client, mcp_client):
    cl, secret = mcp_client

    def post(auth_req_id, *, auth=None):
        return client.post(
            "/token",
            {"grant_type": CIBA, "auth_req_id": auth_req_id},
            HTTP_AUTHORIZATION=auth or basic(cl.client_id, secret),
        )

    return post


@pytest.fixture
def passkey(user):
    return Passkey.objects.create(
        user=user, credential_id="cred-1", public_key=b"\x00", sign_count=0
    )
