"""The admin marks a tool as requiring approval (optionally with a rule); the MCP server's
CIBA client reads the marks and the verifier applies them."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from approvals.models import ToolApprovalRule
from mcp_token_verifier import authorize_tool_call
from tests.approvals.conftest import MCP
from tests.factories import make_client
from tests.support.http import basic

pytestmark = pytest.mark.django_db


def test_rules_reach_the_mcp_servers_client_and_decide_calls(client, bank, mcp_client):
    ToolApprovalRule.objects.create(resource=bank, tool="transfer", rule="amount > 1000")
    ToolApprovalRule.objects.create(resource=bank, tool="close_account")
    cl, secret = mcp_client
    response = client.post(
        "/approvals/rules", {"resource": MCP}, HTTP_AUTHORIZATION=basic(cl.client_id, secret)
    )
    assert response.status_code == 200, response.content
    rules = response.json()["rules"]
    assert rules == {"close_account": "", "transfer": "amount > 1000"}
    claims = {"aud": MCP}
    assert authorize_tool_call(
        claims, "transfer", {"amount": 5000}, approval_rules=rules
    ).approval_required
    assert authorize_tool_call(claims, "transfer", {"amount": 5}, approval_rules=rules).allowed
    assert authorize_tool_call(claims, "close_account", {}, approval_rules=rules).approval_required


def test_rules_need_a_ciba_client(client, bank):
    other, secret = make_client()
    response = client.post(
        "/approvals/rules", {"resource": MCP}, HTTP_AUTHORIZATION=basic(other.client_id, secret)
    )
    assert response.json()["error"] == "unauthorized_client"


def test_a_malformed_rule_cannot_be_saved(bank):
    rule = ToolApprovalRule(resource=bank, tool="transfer", rule="amount ~= 5")
    with pytest.raises(ValidationError):
        rule.full_clean()
