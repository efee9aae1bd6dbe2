"""Property tests: narrowing tool grants (request ∩ policy ∩ earlier grant) never widens them."""

from __future__ import annotations

import contextlib
import json
import re
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from authserver.errors import InvalidAuthorizationDetails
from authserver.tool_grants import check_request
from authserver.tool_grants.details import IMPOSSIBLE, intersect, merge_constraint
from mcp_token_verifier.tools import Decision, authorize_tool_call, check_call, validate_constraint

MCP = "https://mcp.example.com/mcp"

TOOLS = ["list_notes", "add_note", "whoami"]
ARGS = ["text", "n"]
scalars = st.one_of(
    st.sampled_from(["", "a", "ab", "abc", "todo:", "todo: milk", "b", "x"]),
    st.integers(-3, 12),
    st.floats(-3, 12, allow_nan=False),
    st.booleans(),
    st.none(),
)
constraints = st.fixed_dictionaries(
    {},
    optional={
        "const": scalars,
        "enum": st.lists(scalars, min_size=1, max_size=3),
        "prefix": st.sampled_from(["", "a", "ab", "todo:", "todo: "]),
        "pattern": st.sampled_from(["a.*", "[a-z]*", "todo:.*", ".*x", "ab?c?", "(a|b)+"]),
        "maximum": st.integers(-2, 10),
    },
).filter(bool)
arguments = st.dictionaries(st.sampled_from(ARGS), constraints, max_size=2)
grants = st.dictionaries(st.sampled_from(TOOLS), arguments, max_size=3)
calls = st.tuples(st.sampled_from(TOOLS), st.dictionaries(st.sampled_from(ARGS), scalars))


def allowed(granted, call) -> bool:
    tool, args = call
    return tool in granted and check_call(args, granted[tool]) == ""


@settings(max_examples=400, deadline=None)
@given(grants, grants, calls)
def test_intersection_allows_no_call_either_side_refuses(a, b, call):
    narrowed = intersect(a, b)
    if allowed(narrowed, call):
        assert allowed(a, call)
        assert allowed(b, call)


@settings(max_examples=400, deadline=None)
@given(grants, grants, grants, calls)
def test_repeated_narrowing_never_widens(a, b, c, call):
    """Refresh after refresh: each step intersects with what came before."""
    once = intersect(a, b)
    twice = intersect(once, c)
    assert set(twice) <= set(once) <= set(a)
    if allowed(twice, call):
        assert allowed(once, call)


@settings(max_examples=300, deadline=None)
@given(constraints, constraints, scalars)
def test_merged_constraint_holds_only_where_both_hold(a, b, value):
    merged = merge_constraint(a, b)
    if merged is IMPOSSIBLE:
        return
    validate_constraint(merged, max_pattern=1024)  # still a well-formed constraint
    re.compile(merged.get("pattern", ""))
    if check_call({"v": value}, {"v": merged}) == "":
        assert check_call({"v": value}, {"v": a}) == ""
        assert check_call({"v": value}, {"v": b}) == ""


@given(grants, calls)
def test_intersecting_with_no_ceiling_changes_nothing(a, call):
    assert allowed(intersect(a, None), call) == allowed(a, call)


# --- parsers: any input is either accepted or refused with the RFC 9396 error -----------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
mcp_tool_like = st.fixed_dictionaries(
    {"type": st.just("mcp_tool")},
    optional={
        "locations": st.one_of(st.just([MCP]), json_values),
        "actions": st.one_of(st.lists(st.sampled_from([*TOOLS, "rm_rf"]), max_size=3), json_values),
        "constraints": st.one_of(
            st.dictionaries(
                st.sampled_from(TOOLS), st.dictionaries(st.sampled_from(ARGS), json_values)
            ),
            json_values,
        ),
    },
)


class StubResource:
    """What the parser reads of a resource: identifier, canonical form, scopes with tools."""

    identifier = canonical = MCP

    class scopes:  # mimics the related manager
        @staticmethod
        def all():
            return [SimpleNamespace(name="notes:read", tools=list(TOOLS))]


@settings(max_examples=300, deadline=None)
@given(st.one_of(json_values, st.lists(mcp_tool_like, max_size=3)))
def test_request_parser_raises_only_invalid_authorization_details(value):
    with contextlib.suppress(InvalidAuthorizationDetails):
        check_request(json.dumps(value), StubResource())


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(json_values, st.lists(mcp_tool_like, max_size=3)),
    st.sampled_from([*TOOLS, "rm_rf"]),
    json_values,
)
def test_authorize_tool_call_answers_any_claims_without_raising(details, tool, arguments):
    claims = {"aud": MCP, "authorization_details": details}
    args = arguments if isinstance(arguments, dict) else {}
    assert isinstance(authorize_tool_call(claims, tool, args), Decision)
