"""mcp_token_verifier.authorize_tool_call: the per-call check of RFC 9396 mcp_tool grants."""

from __future__ import annotations

import pytest

from mcp_token_verifier import Decision, authorize_tool_call
from mcp_token_verifier import tools as tools_module
from mcp_token_verifier.tools import (
    MAX_ACTIONS,
    MAX_CONSTRAINED_ARGUMENTS,
    MAX_MATCHED,
    MAX_PATTERN,
    MalformedDetails,
    grants_of,
    validate_constraint,
)

MCP = "https://mcp.example.com/mcp"


def claims(*details, aud=MCP) -> dict:
    return {"aud": aud, "scope": "notes:read", "authorization_details": list(details)}


def tool(actions, constraints=None, locations=(MCP,)) -> dict:
    detail = {"type": "mcp_tool", "locations": list(locations), "actions": list(actions)}
    if constraints:
        detail["constraints"] = constraints
    return detail


def test_token_without_authorization_details_leaves_the_decision_to_scope():
    decision = authorize_tool_call({"aud": MCP, "scope": "x"}, "anything", {})
    assert decision.allowed
    assert "scope decides" in decision.rule


def test_tool_not_in_actions_is_refused_naming_the_tool():
    decision = authorize_tool_call(claims(tool(["list_notes"])), "whoami", {})
    assert not decision.allowed
    assert decision.rule == "authorization_details: tool 'whoami' not granted"


def test_empty_authorization_details_refuses_every_tool():
    assert not authorize_tool_call(claims(), "list_notes", {})


def test_tool_in_actions_is_allowed():
    assert authorize_tool_call(claims(tool(["list_notes", "whoami"])), "whoami", {})


def test_rfc9396_locations_other_than_the_audience_do_not_apply():
    other = tool(["list_notes"], locations=["https://other.example.com/mcp"])
    assert not authorize_tool_call(claims(other), "list_notes", {})


def test_rfc9396_objects_of_other_types_are_ignored():
    payment = {"type": "payment_initiation", "actions": ["list_notes"]}
    assert not authorize_tool_call(claims(payment), "list_notes", {})


def test_rfc9396_several_objects_add_up():
    granted = claims(
        tool(["add_note"], {"add_note": {"text": {"prefix": "a"}}}), tool(["add_note"])
    )
    assert authorize_tool_call(granted, "add_note", {"text": "zzz"})


@pytest.mark.parametrize(
    ("constraint", "good", "bad"),
    [
        ({"const": "work"}, "work", "home"),
        ({"enum": ["a", "b"]}, "b", "c"),
        ({"prefix": "todo:"}, "todo: milk", "shopping"),
        ({"pattern": "[a-z]+"}, "abc", "abc1"),
        ({"maximum": 10}, 10, 11),
        ({"const": 1}, 1.0, True),
    ],
)
def test_argument_constraint_allows_inside_and_refuses_outside(constraint, good, bad):
    granted = claims(tool(["add_note"], {"add_note": {"text": constraint}}))
    assert authorize_tool_call(granted, "add_note", {"text": good}).allowed
    refused = authorize_tool_call(granted, "add_note", {"text": bad})
    assert not refused.allowed
    assert refused.rule.startswith("authorization_details: add_note.text ")


def test_constrained_argument_left_out_is_refused():
    granted = claims(tool(["add_note"], {"add_note": {"text": {"prefix": "todo:"}}}))
    decision = authorize_tool_call(granted, "add_note", {})
    assert decision.rule == "authorization_details: add_note.text is required by its constraint"


def test_maximum_refuses_a_numeric_string_and_a_boolean():
    granted = claims(tool(["pick"], {"pick": {"n": {"maximum": 5}}}))
    assert not authorize_tool_call(granted, "pick", {"n": "1"})
    assert not authorize_tool_call(granted, "pick", {"n": True})


def test_malformed_details_refuse_instead_of_allowing():
    assert not authorize_tool_call({"aud": MCP, "authorization_details": "all"}, "x", {})
    broken = tool(["add_note"], {"add_note": {"text": {"regex": "x"}}})
    decision = authorize_tool_call(claims(broken), "add_note", {"text": "x"})
    assert not decision.allowed
    assert "malformed" in decision.rule


def test_policy_hook_may_refuse_an_allowed_call():
    def hook(claims, tool, arguments):
        return Decision(False, "cedar: forbid add_note on weekends")

    decision = authorize_tool_call(claims(tool(["add_note"])), "add_note", {}, policy_hook=hook)
    assert decision == Decision(False, "cedar: forbid add_note on weekends")


def test_policy_hook_cannot_allow_what_the_token_refuses():
    def hook(claims, tool, arguments):
        return Decision(True, "cedar: permit everything")

    assert not authorize_tool_call(claims(tool(["a"])), "b", {}, policy_hook=hook)


def test_policy_hook_that_raises_refuses():
    def hook(claims, tool, arguments):
        raise RuntimeError("engine down")

    decision = authorize_tool_call(claims(tool(["a"])), "a", {}, policy_hook=hook)
    assert decision == Decision(False, "policy hook failed: RuntimeError")


@pytest.mark.parametrize(
    "constraint",
    [{}, {"regex": "x"}, {"enum": []}, {"maximum": "9"}, {"pattern": "("}, {"const": [1]}],
)
def test_malformed_constraint_is_refused(constraint):
    with pytest.raises(MalformedDetails):
        validate_constraint(constraint)


def test_constraints_for_a_tool_not_in_actions_are_malformed():
    with pytest.raises(MalformedDetails):
        grants_of({"type": "mcp_tool", "actions": ["a"], "constraints": {"b": {}}})


# --- the optional Cedar hook (mcp_token_verifier.cedar) ----------------------------------

CEDAR = """
permit(principal, action, resource);
forbid(principal, action == Action::"add_note", resource)
  when { context.arguments.text like "*password*" };
"""


def test_cedar_forbid_refuses_a_call_the_token_allows():
    from mcp_token_verifier.cedar import cedar_policy_hook

    hook = cedar_policy_hook(CEDAR)
    granted = claims(tool(["add_note"]))
    granted.update(sub="42", client_id="agent")
    assert authorize_tool_call(granted, "add_note", {"text": "milk"}, policy_hook=hook)
    refused = authorize_tool_call(granted, "add_note", {"text": "my password"}, policy_hook=hook)
    assert not refused.allowed
    assert refused.rule.startswith("cedar: denied (policy1")


def test_cedar_evaluation_error_refuses_instead_of_skipping_the_forbid():
    from mcp_token_verifier.cedar import cedar_policy_hook

    hook = cedar_policy_hook(CEDAR)
    granted = claims(tool(["add_note"]))
    granted.update(sub="42", client_id="agent")
    # No text: Cedar skips the erroring forbid and would permit; we refuse.
    assert not authorize_tool_call(granted, "add_note", {}, policy_hook=hook)
    assert not authorize_tool_call(granted, "add_note", {"text": 1.5}, policy_hook=hook)


# --- ReDoS: a pattern is matched by RE2 in linear time -------------------------------------


def test_redos_pattern_against_a_long_argument_returns_a_decision():
    """(a+)+ against 'aaaa…!' backtracks exponentially in Python's re (1.4 s at 24
    characters, doubling per character); RE2 answers at the longest argument allowed."""
    granted = claims(tool(["add_note"], {"add_note": {"text": {"pattern": "(a+)+"}}}))
    for length in (24, 40, MAX_MATCHED):
        decision = authorize_tool_call(granted, "add_note", {"text": "a" * length + "!"})
        assert not decision.allowed
        assert decision.rule == "authorization_details: add_note.text must match '(a+)+'"
    assert authorize_tool_call(granted, "add_note", {"text": "a" * MAX_MATCHED})


def test_redos_patterns_re2_cannot_run_in_linear_time_are_malformed():
    # Backreferences and lookaround need backtracking: RE2 refuses them, so do we.
    for pattern in [r"(a)\1", "(?=a)a", "(?!b)a", "(?<=a)b"]:
        with pytest.raises(MalformedDetails):
            validate_constraint({"pattern": pattern})
        granted = claims(tool(["add_note"], {"add_note": {"text": {"pattern": pattern}}}))
        assert not authorize_tool_call(granted, "add_note", {"text": "aa"})


def test_redos_without_re2_every_pattern_is_refused(monkeypatch):
    monkeypatch.setattr(tools_module, "re2", None)  # the package not installed: fail closed
    granted = claims(tool(["add_note"], {"add_note": {"text": {"pattern": "[a-z]+"}}}))
    decision = authorize_tool_call(granted, "add_note", {"text": "abc"})
    assert not decision.allowed
    assert "google-re2" in decision.rule


def test_redos_sizes_are_bounded():
    too_many_tools = tool([f"t{i}" for i in range(MAX_ACTIONS + 1)])
    with pytest.raises(MalformedDetails):
        grants_of(too_many_tools)
    many = {f"a{i}": {"const": 1} for i in range(MAX_CONSTRAINED_ARGUMENTS + 1)}
    with pytest.raises(MalformedDetails):
        grants_of(tool(["t"], {"t": many}))
    with pytest.raises(MalformedDetails):
        validate_constraint({"pattern": "a" * (MAX_PATTERN + 1)})
    granted = claims(tool(["add_note"], {"add_note": {"text": {"pattern": "a*"}}}))
    assert not authorize_tool_call(granted, "add_note", {"text": "a" * (MAX_MATCHED + 1)})
