"""mcp_token_verifier.approvals without a server: RFC 8785, the rule language, the check of
an approval token's claims and its single use."""

from __future__ import annotations

import contextlib
import json
import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcp_token_verifier import approvals as calls
from mcp_token_verifier import authorize_tool_call

# RFC 8785 Appendix B: IEEE 754 bit patterns and their canonical text.
NUMBERS = {
    "0000000000000000": "0",
    "8000000000000000": "0",
    "0000000000000001": "5e-324",
    "8000000000000001": "-5e-324",
    "7fefffffffffffff": "1.7976931348623157e+308",
    "ffefffffffffffff": "-1.7976931348623157e+308",
    "4340000000000000": "9007199254740992",
    "c340000000000000": "-9007199254740992",
    "4430000000000000": "295147905179352830000",
    "44b52d02c7e14af5": "9.999999999999997e+22",
    "44b52d02c7e14af6": "1e+23",
    "44b52d02c7e14af7": "1.0000000000000001e+23",
    "444b1ae4d6e2ef4e": "999999999999999700000",
    "444b1ae4d6e2ef4f": "999999999999999900000",
    "444b1ae4d6e2ef50": "1e+21",
    "3eb0c6f7a0b5ed8c": "9.999999999999997e-7",
    "3eb0c6f7a0b5ed8d": "0.000001",
    "41b3de4355555553": "333333333.3333332",
    "41b3de4355555554": "333333333.33333325",
    "41b3de4355555555": "333333333.3333333",
    "41b3de4355555556": "333333333.3333334",
    "41b3de4355555557": "333333333.33333343",
    "becbf647612f3696": "-0.0000033333333333333333",
    "43143ff3c1cb0959": "1424953923781206.2",
}


@pytest.mark.parametrize(("bits", "text"), NUMBERS.items())
def test_jcs_numbers_match_rfc8785_appendix_b(bits, text):
    assert calls.canonical_json(struct.unpack(">d", bytes.fromhex(bits))[0]) == text


def test_jcs_sorts_keys_by_utf16_code_units_and_escapes_like_json_stringify():
    value = {"\U0001f600": 1, "\ufb33": 2, "b": ["\u20ac\n\x1f", True, None], "a": {"z": 1.5}}
    assert (
        calls.canonical_json(value)
        == '{"a":{"z":1.5},"b":["\u20ac\\n\\u001f",true,null],"\U0001f600":1,"\ufb33":2}'
    )


@pytest.mark.parametrize("bad", [math.nan, math.inf, 2**53 + 1, "\ud800", {1: 2}, b"x"])
def test_jcs_refuses_what_it_cannot_represent(bad):
    with pytest.raises(calls.NotCanonicalizable):
        calls.canonical_json(bad)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_jcs_round_trips_and_is_a_fixed_point(value):
    text = calls.canonical_json(value)
    parsed = json.loads(text)
    assert calls.canonical_json(parsed) == text  # canonical of canonical is itself
    assert calls.arguments_digest(parsed) == calls.arguments_digest(value)


@given(st.dictionaries(st.text(), st.integers(-(2**53), 2**53), min_size=2, max_size=6))
def test_digest_ignores_key_order(value):
    reordered = dict(reversed(list(value.items())))
    assert calls.arguments_digest(reordered) == calls.arguments_digest(value)


@pytest.mark.parametrize(
    ("rule", "arguments", "needed"),
    [
        ("amount > 1000", {"amount": 4000}, True),
        ("amount > 1000", {"amount": 1000}, False),
        ("amount > 1000", {"amount": "4000"}, True),  # wrong type: fail closed
        ("amount > 1000", {}, True),  # missing: fail closed
        ('payee.country != "FR"', {"payee": {"country": "DE"}}, True),
        ('payee.country != "FR"', {"payee": {"country": "FR"}}, False),
        ("urgent == true", {"urgent": 1}, False),  # true is not 1
        ("amount >= 10.5", {"amount": 10.5}, True),
    ],
)
def test_rules_compare_one_path_with_one_literal(rule, arguments, needed):
    assert calls.needs_approval({"transfer": rule}, "transfer", arguments) is needed


@pytest.mark.parametrize(
    "rule", ["", "amount", "amount ~ 1", 'amount > "x"', "a..b > 1", "amount > [1]", "x" * 300]
)
def test_malformed_rules_are_refused(rule):
    with pytest.raises(calls.InvalidRule):
        calls.parse_rule(rule)


@given(st.text(max_size=300))
def test_parse_rule_raises_only_invalid_rule(text):
    with contextlib.suppress(calls.InvalidRule):
        calls.parse_rule(text)


def test_authorize_tool_call_says_approval_required_above_the_threshold():
    claims = {"aud": "https://mcp.example.com/mcp"}
    rules = {"transfer": "amount > 1000"}
    big = authorize_tool_call(claims, "transfer", {"amount": 4000}, approval_rules=rules)
    assert not big.allowed
    assert big.approval_required
    assert big.rule == "approval required"
    small = authorize_tool_call(claims, "transfer", {"amount": 10}, approval_rules=rules)
    assert small.allowed
    assert not small.approval_required


def approval_claims(arguments, *, jti="j1", tool="transfer", resource="https://m/mcp"):
    detail = {
        "type": "mcp_tool",
        "locations": [resource],
        "actions": [tool],
        "arguments_digest": calls.arguments_digest(arguments),
        "approval": "a-1",
    }
    return {"jti": jti, "exp": 2_000_000_000, "authorization_details": [detail]}


def test_approval_token_is_checked_against_the_actual_arguments():
    checker = calls.ApprovalChecker("https://m/mcp", clock=lambda: 1_999_999_990)
    claims = approval_claims({"amount": 4000, "to": "X"})
    with pytest.raises(calls.ApprovalError, match="differ"):
        checker.check(claims, "transfer", {"amount": 40000, "to": "X"})
    with pytest.raises(calls.ApprovalError, match="another tool"):
        checker.check(claims, "refund", {"amount": 4000, "to": "X"})
    assert checker.check(claims, "transfer", {"to": "X", "amount": 4000.0}) == "a-1"


def test_approval_token_second_use_is_refused():
    checker = calls.ApprovalChecker("https://m/mcp", clock=lambda: 1_999_999_990)
    claims = approval_claims({"amount": 4000})
    checker.check(claims, "transfer", {"amount": 4000})
    with pytest.raises(calls.ApprovalError, match="already used"):
        checker.check(claims, "transfer", {"amount": 4000})


def test_approval_token_for_another_mcp_server_is_refused():
    checker = calls.ApprovalChecker("https://m/mcp")
    with pytest.raises(calls.ApprovalError, match="another MCP server"):
        checker.check(approval_claims({}, resource="https://x/mcp"), "transfer", {})
