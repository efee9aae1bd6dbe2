"""Per-tool grants (RFC 9396 ``authorization_details``, type ``mcp_tool``): what a token may
call, computed as the tools of its scopes ∩ the admin's policy ∩ what was granted before ∩
what the request asks for. The token endpoint's grants call :func:`compute`."""

from __future__ import annotations

import json

from authserver.errors import InvalidAuthorizationDetails
from authserver.tool_grants.consent import declined_tools
from authserver.tool_grants.decision import permitted_tools
from authserver.tool_grants.details import (
    grants_from_details,
    intersect,
    parse_request,
    registered_tools,
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


def exchange_ceiling(subject_claims: dict, *, source, target, user, subject_client):
    """RFC 8693 with RFC 9396: the most an exchanged token's tools may be (``compute``'s
    ``ceiling``), None for no limit beyond scopes and policy. An exchange only narrows:

    * at the subject token's own resource, the tools the subject token carries;
    * at any resource, never a tool the user unticked at consent (``Consent.declined_tools``
      of the user, the subject token's client and the target).

    A tool outside the ceiling is not granted, and asking for it by name is
    ``invalid_authorization_details`` (RFC 9396 §6.1, as at refresh).
    """
    if not uses_tool_grants(target):
        return None
    grants = None
    if target.pk == source.pk and subject_claims.get("authorization_details") is not None:
        grants = grants_from_details(subject_claims["authorization_details"], target)
    declined = set()
    if user is not None and subject_client is not None:
        declined = set(declined_tools(user, subject_client, target))
    if declined:
        base = grants if grants is not None else {t: {} for t in registered_tools(target)}
        grants = {tool: c for tool, c in base.items() if tool not in declined}
    return None if grants is None else to_details(grants, target)


def stored_ceiling(stored: list | None, resource) -> list | None:
    """The most a code or refresh token may carry at ``resource`` (``compute``'s ceiling).

    A grant stores the tools it was approved with. One made while the MCP server registered
    no tools stores none (None), and once the server registers tools it carries none of
    them: a refresh never adds a tool its grant did not hold; the client authorizes again,
    and the consent screen asks about the tools not yet consented to.
    """
    if stored is None and uses_tool_grants(resource):
        return []
    return stored


def check_request(requested: str | list | None, resource) -> list | None:
    """Validate an authorization request's details for ``resource`` (RFC 9396 §5)."""
    details = parse_request(requested)
    if details is not None:
        requested_grants(details, resource)
    return details


__all__ = ["PARAMETER", "check_request", "compute", "exchange_ceiling", "stored_ceiling"]
