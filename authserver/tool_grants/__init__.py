"""Per-tool grants (RFC 9396 ``authorization_details``, type ``mcp_tool``): what a token may
call, computed as the tools of its scopes ∩ the admin's policy ∩ what was granted before ∩
what the request asks for. The token endpoint's grants call :func:`compute`."""

from __future__ import annotations

import json

from authserver.errors import InvalidAuthorizationDetails
from authserver.tool_grants.decision import permitted_tools
from authserver.tool_grants.details import (
    grants_from_details,
    intersect,
    parse_request,
    requested_grants,
    to_details,
    uses_tool_grants,
)
from authserver.tool_grants.policy import load_rules

PARAMETER = "authorization_details"


def compute(
    resource,
    scopes,
    *,
    client,
    user,
    requested: str | list | None = None,
    ceiling: list | None = None,
    snap=None,
) -> str:
    """The ``authorization_details`` a token will carry, as compact JSON ("" for none).

    ``requested`` is the request's parameter (JSON text or parsed); ``ceiling`` what an
    earlier grant holds (a code, the token being refreshed): never widened. A resource that
    registered no tools gets no ``authorization_details`` and refuses a request for them.
    ``snap``: the token endpoint's per-request cache snapshot, which holds policy rules as long
    as no rule changed (a trigger renews the generation, migration 0008).
    """
    details = parse_request(requested)
    if not uses_tool_grants(resource):
        if details is not None:
            raise InvalidAuthorizationDetails("this resource registered no tools")
        return ""
    wanted = requested_grants(details, resource) if details is not None else None
    before = grants_from_details(ceiling, resource)
    if wanted is not None and before is not None:
        beyond = sorted(set(wanted) - set(before))
        if beyond:
            # RFC 9396 §6.1: a token request may only ask for a subset of the grant.
            raise InvalidAuthorizationDetails(
                f"authorization_details exceed the grant: {', '.join(beyond)[:200]}"
            )
    rules = None
    if snap is not None:
        rules = snap.get(("tool-policy", resource.pk), lambda: load_rules(resource))
    # The rule live decisions share (decision.py): a token never holds what a PDP refuses.
    permitted, _ = permitted_tools(resource, scopes, client=client, user=user, rules=rules)
    granted = intersect(intersect(permitted, before), wanted)
    return json.dumps(to_details(granted, resource), separators=(",", ":"), sort_keys=True)


def check_request(requested: str | list | None, resource) -> list | None:
    """Validate an authorization request's details for ``resource`` (RFC 9396 §5)."""
    details = parse_request(requested)
    if details is not None:
        requested_grants(details, resource)
    return details


__all__ = ["PARAMETER", "check_request", "compute"]
