"""mcp_token_verifier with a scope hierarchy (MCP 2026-07-28, SEP-2350): a broader scope
satisfies the narrower one; a challenge names the scopes that would satisfy the call."""

from __future__ import annotations

import pytest

from mcp_token_verifier import TokenError
from tests.verifier.support import make_claims, make_verifier, sign

HIERARCHY = {"notes:admin": ["notes:write"], "notes:write": ["notes:read"]}


@pytest.mark.parametrize("held", ["notes:write", "notes:admin"])
def test_broader_scope_satisfies_a_narrower_requirement(held):
    verifier = make_verifier(scope_implies=HIERARCHY)
    claims = make_claims(scope=held)
    assert verifier.verify(sign(claims), required_scopes=["notes:read"]) == claims


def test_narrower_scope_gets_insufficient_scope_naming_what_satisfies_the_call():
    verifier = make_verifier(scope_implies=HIERARCHY)
    with pytest.raises(TokenError) as info:
        verifier.verify(sign(make_claims(scope="notes:read")), required_scopes=["notes:write"])
    assert (info.value.error, info.value.status) == ("insufficient_scope", 403)
    assert info.value.scope == "notes:write"


def test_without_a_hierarchy_nothing_is_implied():
    with pytest.raises(TokenError):
        make_verifier().verify(
            sign(make_claims(scope="notes:write")), required_scopes=["notes:read"]
        )


def test_a_cycle_in_the_hierarchy_ends():
    verifier = make_verifier(scope_implies={"a": ["b"], "b": ["a"]})
    with pytest.raises(TokenError):
        verifier.verify(sign(make_claims(scope="a")), required_scopes=["c"])
