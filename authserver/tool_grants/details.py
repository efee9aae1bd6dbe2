"""RFC 9396 ``authorization_details`` of type ``mcp_tool``: parsing a request, checking it
against the tools a resource registered, narrowing, and the form tokens carry."""

from __future__ import annotations

import json
from typing import Any

from authserver.errors import InvalidAuthorizationDetails, InvalidGrant
from authserver.protocol.resources import canonicalize
from mcp_token_verifier.tools import (
    MAX_SIGNED_PATTERN,
    TYPE,
    Grants,
    MalformedDetails,
    grants_of,
    same_value,
)

MAX_DETAILS_LENGTH = 16_384
MAX_OBJECTS = 20
IMPOSSIBLE = object()  # two constraints no value satisfies together


def registered_tools(resource, scope_names=None) -> dict[str, list[str]]:
    """Tool name -> the scopes of ``resource`` that unlock it (of ``scope_names`` if given)."""
    # Kept on the instance: it lives as long as its prefetched scopes (the token endpoint's
    # cache replaces the resource object when any scope changes).
    tools = resource.__dict__.get("_mcp_tool_map")
    if tools is None:
        tools = {}
        for scope in resource.scopes.all():
            for tool in scope.tools or []:
                tools.setdefault(tool, []).append(scope.name)
        resource.__dict__["_mcp_tool_map"] = tools
    if scope_names is None:
        return dict(tools)
    return {
        tool: [s for s in owners if s in scope_names]
        for tool, owners in tools.items()
        if any(s in scope_names for s in owners)
    }


def uses_tool_grants(resource) -> bool:
    """Tool grants apply to a resource that registered at least one tool."""
    return bool(registered_tools(resource))


def parse_request(value: str | list | None) -> list[dict] | None:
    """The ``authorization_details`` parameter (RFC 9396 §2: a JSON array of objects), or
    None when absent. Objects of other types are refused: we support only ``mcp_tool``."""
    if value is None:
        return None
    if isinstance(value, str):
        if len(value) > MAX_DETAILS_LENGTH:
            raise InvalidAuthorizationDetails("authorization_details is too long")
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            # RFC 9396 §5: malformed (or nested past the parser's depth) ->
            # invalid_authorization_details.
            raise InvalidAuthorizationDetails("authorization_details is not JSON") from None
    if not isinstance(value, list) or not value or len(value) > MAX_OBJECTS:
        raise InvalidAuthorizationDetails(
            f"authorization_details is a JSON array of 1 to {MAX_OBJECTS} objects"
        )
    for detail in value:
        if not isinstance(detail, dict) or not isinstance(detail.get("type"), str):
            # RFC 9396 §2: every object has a "type".
            raise InvalidAuthorizationDetails("each authorization_details object needs a type")
        if detail["type"] != TYPE:
            # RFC 9396 §5: an unknown type is invalid_authorization_details.
            raise InvalidAuthorizationDetails(f"unsupported authorization_details type; use {TYPE}")
    return value


def requested_grants(details: list[dict], resource) -> Grants:
    """What a parsed request asks for at ``resource``, each tool checked against its registry.

    RFC 9396 §5: an unknown tool, a location other than the token's resource, or a malformed
    constraint is ``invalid_authorization_details``.
    """
    known = registered_tools(resource)
    if not known:
        raise InvalidAuthorizationDetails("this resource registered no tools")
    wanted: Grants = {}
    for detail in details:
        locations = detail.get("locations", [resource.identifier])
        if not isinstance(locations, list) or not locations:
            raise InvalidAuthorizationDetails("locations is a non-empty list of URIs")
        for location in locations:
            try:
                canonical = canonicalize(location)
            except Exception:
                raise InvalidAuthorizationDetails("a location is not a resource URI") from None
            # RFC 9396 §2.2 with RFC 8707: one token, one resource; other locations refused.
            if canonical != resource.canonical:
                raise InvalidAuthorizationDetails("locations must name the requested resource")
        try:
            grants = grants_of(detail)
        except MalformedDetails as exc:
            raise InvalidAuthorizationDetails(str(exc)) from None
        refuse_client_patterns(grants)
        for tool, constraints in grants.items():
            if tool not in known:
                raise InvalidAuthorizationDetails(f"unknown tool {tool[:64]!r}")
            if tool in wanted and wanted[tool] != constraints:
                raise InvalidAuthorizationDetails(f"tool {tool[:64]!r} is named twice")
            wanted[tool] = constraints
    return wanted


def refuse_client_patterns(grants: Grants) -> None:
    """A client may narrow with const, enum, prefix and maximum; a regular expression is the
    administrator's to write (tool policy), never a client's: a client-chosen pattern is work
    every MCP server runs per call. RFC 9396 §5: refused as invalid_authorization_details."""
    for tool, arguments in grants.items():
        for argument, constraint in arguments.items():
            if "pattern" in constraint:
                raise InvalidAuthorizationDetails(
                    f"{tool[:64]}.{argument[:64]}: pattern constraints are set only by the "
                    "administrator's tool policy; use const, enum, prefix or maximum"
                )


def grants_from_details(details: list | None, resource) -> Grants | None:
    """The grants a stored or signed details list holds at ``resource`` (None stays None).

    We write one object per resource; should a tool appear twice, both constraints apply
    (stricter than RFC 9396's union, never wider).
    """
    if details is None:
        return None
    total: dict = {}
    for detail in details:
        if not isinstance(detail, dict) or detail.get("type") != TYPE:
            continue
        try:
            grants = grants_of(detail, max_pattern=MAX_SIGNED_PATTERN)
        except MalformedDetails:
            # A grant stored before the rules tightened (a pattern RE2 cannot run, say):
            # never widened into "no limit", the holder authorizes again (RFC 6749 §5.2).
            raise InvalidGrant(
                "the grant's tools are no longer valid; authorize again",
                detail="stored authorization_details malformed",
            ) from None
        for tool, constraints in grants.items():
            if tool not in total:
                total[tool] = constraints
            elif total[tool] is not IMPOSSIBLE:
                total[tool] = merge_arguments(total[tool], constraints)
    return {t: c for t, c in total.items() if c is not IMPOSSIBLE}


def to_details(grants: Grants, resource) -> list[dict[str, Any]]:
    """The one ``mcp_tool`` object a token carries (tools in a stable order)."""
    actions = sorted(grants)
    detail: dict[str, Any] = {"type": TYPE, "locations": [resource.identifier], "actions": actions}
    constraints = {tool: grants[tool] for tool in actions if grants[tool]}
    if constraints:
        detail["constraints"] = constraints
    return [detail] if actions else []


# --- narrowing: every step may only remove tools or add constraints ----------------------


def intersect(a: Grants, b: Grants | None) -> Grants:
    """Tools in both, each with both sets of constraints (None means "no limit")."""
    if b is None:
        return {tool: dict(c) for tool, c in a.items()}
    result: Grants = {}
    for tool, constraints in a.items():
        if tool not in b:
            continue
        merged = merge_arguments(constraints, b[tool])
        if merged is not IMPOSSIBLE:  # a tool no call could satisfy is simply not granted
            result[tool] = merged
    return result


def merge_arguments(a: dict, b: dict):
    merged = {name: dict(c) for name, c in a.items()}
    for name, constraint in b.items():
        if name not in merged:
            merged[name] = dict(constraint)
            continue
        both = merge_constraint(merged[name], constraint)
        if both is IMPOSSIBLE:
            return IMPOSSIBLE
        merged[name] = both
    return merged


def merge_constraint(a: dict, b: dict):
    """One constraint that holds exactly when both do (or stricter), or IMPOSSIBLE."""
    out = dict(a)
    for key, value in b.items():
        if key not in out:
            out[key] = value
        elif key == "const":
            if not same_value(out[key], value):
                return IMPOSSIBLE
        elif key == "enum":
            out[key] = [v for v in out[key] if any(same_value(v, w) for w in value)]
            if not out[key]:
                return IMPOSSIBLE
        elif key == "maximum":
            out[key] = min(out[key], value)
        elif key == "prefix":
            longer, shorter = sorted((out[key], value), key=len, reverse=True)
            if not longer.startswith(shorter):
                return IMPOSSIBLE
            out[key] = longer
        elif key == "pattern" and out[key] != value:
            # RE2 has no lookahead, so two different patterns have no one-pattern
            # intersection: fail closed, the tool is not granted. Only the administrator's
            # policy writes patterns, so this is two rules (or a rule changed since consent).
            return IMPOSSIBLE
    return out
