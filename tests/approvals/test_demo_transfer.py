"""The demo's ``transfer`` against a live authorization server: above the threshold it cannot
run without an approval made with a passkey, runs exactly once with one, and changed
arguments need a new approval. (The passkey ceremony itself is the browser test's.)"""

from __future__ import annotations

import pytest
from django.utils import timezone

from approvals import services
from approvals.models import ApprovalRequest, Passkey
from examples.demo_mcp_server.transfer_tool import ApprovalRequired, Transfers
from mcp_token_verifier import TokenVerifier
from mcp_token_verifier.approval_requests import ApprovalAsker, Refused
from tests.approvals.conftest import MCP

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def transfers(live_server, settings, mcp_client):
    settings.ISSUER = live_server.url
    client, secret = mcp_client
    asker = ApprovalAsker(
        f"{live_server.url}/backchannel-authentication",
        f"{live_server.url}/token",
        client.client_id,
        secret,
    )
    verifier = TokenVerifier(
        issuer=live_server.url,
        resource=MCP,
        jwks_uri=f"{live_server.url}/.well-known/jwks.json",
        revocation_list_uri=f"{live_server.url}/revocations",
    )
    return Transfers(resource=MCP, threshold=1000, asker=asker, verify=verifier.verify)


def approve_pending(user):
    passkey = Passkey.objects.create(user=user, credential_id="c", public_key=b"\x00")
    approval = ApprovalRequest.objects.get(status="pending")
    services.decide(approval, approve=True, credential=passkey, now=timezone.now())


def test_small_transfer_runs_without_approval(transfers, user):
    assert transfers.transfer(str(user.pk), {"amount": 50, "to": "X"}) == "transferred 50 to X"
    assert not ApprovalRequest.objects.exists()


def test_large_transfer_runs_once_after_approval_and_only_as_approved(transfers, user):
    call = {"amount": 4000, "to": "X"}
    with pytest.raises(ApprovalRequired) as asked:
        transfers.transfer(str(user.pk), call)
    assert "/approvals/" in asked.value.uri
    with pytest.raises(ApprovalRequired, match="waiting"):
        transfers.transfer(str(user.pk), call)
    assert transfers.done == []

    approve_pending(user)
    ApprovalRequest.objects.update(last_polled_at=None)  # the interval passed
    assert transfers.transfer(str(user.pk), call) == "transferred 4000 to X"
    assert len(transfers.done) == 1
    assert transfers.done[0]["approval"] == str(ApprovalRequest.objects.get().pk)

    # The same call again is a new call: a new approval, never the spent one.
    with pytest.raises(ApprovalRequired):
        transfers.transfer(str(user.pk), call)
    assert len(transfers.done) == 1
    assert ApprovalRequest.objects.count() == 2


def test_denied_transfer_never_runs(transfers, user):
    call = {"amount": 4000, "to": "X"}
    with pytest.raises(ApprovalRequired):
        transfers.transfer(str(user.pk), call)
    approval = ApprovalRequest.objects.get()
    services.decide(approval, approve=False, credential=None, now=timezone.now())
    with pytest.raises(Refused, match="access_denied"):
        transfers.transfer(str(user.pk), call)
    assert transfers.done == []
