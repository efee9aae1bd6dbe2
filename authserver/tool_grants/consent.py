"""The consent screen's part of tool grants: what is offered, in plain words, grouped by
scope; what the policy removed; what the user unticked (remembered with the consent)."""

from __future__ import annotations

from django.apps import apps
from django.db import transaction

from authserver.tool_grants.details import (
    intersect,
    parse_request,
    registered_tools,
    requested_grants,
    to_details,
    uses_tool_grants,
)
from authserver.tool_grants.policy import evaluate


def describe_constraint(argument: str, constraint: dict) -> str:
    """One argument constraint in plain words, for people."""
    words = []
    if "const" in constraint:
        words.append(f"exactly {constraint['const']!r}")
    if "enum" in constraint:
        words.append("one of " + ", ".join(repr(v) for v in constraint["enum"]))
    if "prefix" in constraint:
        words.append(f"starting with {constraint['prefix']!r}")
    if "pattern" in constraint:
        words.append(f"matching the pattern {constraint['pattern']!r}")
    if "maximum" in constraint:
        words.append(f"at most {constraint['maximum']!r}")
    return f"{argument}: " + " and ".join(words)


def offer(
    resource,
    scopes: list[str],
    *,
    client,
    user,
    requested,
    declined=(),
    covered: list[str] | None = None,
) -> dict | None:
    """What the user is asked about: tools per scope (with constraints in words, ticked
    unless declined before), and the tools the policy removed. None when the resource
    registered no tools. JSON-serialisable: it waits in the session with the request.

    ``covered``: the tools the remembered consent covers (``Consent.consented_tools``), None
    when there is none to compare with (a first consent, a trusted client). A tool outside
    it was added to a scope since the user agreed: marked new, and the screen is shown
    again. A tool the admin marked high-risk that would be granted shows the screen too,
    every time (Enterprise-Managed Authorization: re-authorization when a scope grows).
    """
    if not uses_tool_grants(resource):
        return None
    by_scope = registered_tools(resource, set(scopes))
    base = {tool: {} for tool in by_scope}
    policy = evaluate(resource, list(base), client=client, user=user)
    wanted = None
    if requested is not None:
        wanted = requested_grants(parse_request(requested), resource)
    grants = intersect(intersect(base, policy.grants), wanted)
    risky = set(resource.high_risk_tools or [])
    new = [] if covered is None else [t for t in grants if t not in set(covered)]
    marks = {"declined": set(declined), "new": set(new), "high_risk": risky}
    groups = [{"scope": scope, "tools": _rows(scope, by_scope, grants, marks)} for scope in scopes]
    checked = [t for t in grants if t not in declined]
    # A request naming a tool the user unticked before asks again (a step-up).
    asks_declined = bool(wanted and set(wanted) & set(declined))
    high_risk = sorted(t for t in checked if t in risky)
    return {
        "grants": grants,
        "checked": checked,
        "groups": groups,
        "removed": [{"name": t, "why": why} for t, why in sorted(policy.removed.items())],
        "asks_declined": asks_declined,
        "new_tools": new,
        "high_risk": high_risk,
        # Remembered consent covers none of these silently: the screen is shown.
        "asks_again": asks_declined or bool(new) or bool(high_risk),
    }


def _rows(scope: str, by_scope: dict, grants: dict, marks: dict) -> list[dict]:
    """The checkboxes under one scope: each tool once, under its first scope."""
    return [
        {
            "name": tool,
            "constraints": [describe_constraint(a, c) for a, c in grants[tool].items()],
            "checked": tool not in marks["declined"],
            "new": tool in marks["new"],
            "high_risk": tool in marks["high_risk"],
        }
        for tool, owners in by_scope.items()
        if tool in grants and owners[0] == scope
    ]


def approved_details(offered: dict | None, resource, ticked: list[str] | None) -> list | None:
    """The details the code will carry: the offer, less the tools not ticked (with no form
    answer, less the tools the user unticked before)."""
    if offered is None:
        return None
    ticked = offered["checked"] if ticked is None else ticked
    return to_details({t: c for t, c in offered["grants"].items() if t in ticked}, resource)


def declined_tools(user, client, resource) -> list[str]:
    return remembered_tools(user, client, resource)[0]


def remembered_tools(user, client, resource) -> tuple[list[str], list[str] | None]:
    """(tools the user unticked, tools the remembered consent covers; None without one)."""
    consents = apps.get_model("accounts", "Consent").objects
    row = consents.filter(user=user, client=client, resource=resource).first()
    if row is None:
        return [], None
    return list(row.declined_tools), list(row.consented_tools)


def remember_choice(user, client, resource, offered: dict | None, ticked: list[str] | None):
    """Record which offered tools the user unticked (and which they now allow again), and
    that every tool shown is now covered by the consent (ticked or not: an unticked one is
    remembered as declined, and asking for it by name is a step-up)."""
    if offered is None:
        return
    shown = set(offered["grants"])
    with transaction.atomic():
        row = (
            apps.get_model("accounts", "Consent")
            .objects.select_for_update()
            .filter(user=user, client=client, resource=resource)
        )
        row = row.first()
        if row is None:
            return
        row.consented_tools = sorted(set(row.consented_tools) | shown)
        if ticked is not None:
            declined = [t for t in row.declined_tools if t not in shown or t not in ticked]
            declined += sorted(t for t in shown if t not in ticked and t not in declined)
            row.declined_tools = declined
        row.save(update_fields=["declined_tools", "consented_tools", "updated_at"])
