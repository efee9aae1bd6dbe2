"""Deciding AuthZEN evaluations: the caller's limits, the subject, the token, the one policy.

Decided on the generation-checked cache (token_endpoint.hotcache) for what the admin
configures, and on current rows for the user (authzen.subjects), so a permission removed in
the admin refuses the next call. The policy itself is ``authserver.policy.decide_tool_call``,
the rule the token endpoint applies too; admin-written Cedar policies can only refuse more.
Every deny, and a sample of permits, is an audit event with its reason; every decision is
counted (authzen.metrics).
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from dataclasses import dataclass, field
from datetime import datetime

import cedarpy
from django.conf import settings
from django.db.models import Q

from authserver import audit
from authserver.introspection import service as introspection
from authserver.models import Resource
from authserver.policy import ToolDecision, decide_tool_call
from authserver.token_endpoint import client_auth
from authserver.token_endpoint.hotcache import Snapshot
from authzen import metrics, subjects
from authzen.mapping import Question
from authzen.models import CedarPolicy

BASE_PERMIT = "permit(principal, action, resource);"


@dataclass(frozen=True)
class Caller:
    """An authenticated PEP (a confidential client of ours) and the MCP servers it protects:
    those whose introspection client it is, the rule /introspect applies (RFC 7662 §2.1).

    ``snap`` is the generation-checked cache this request decides on; ``records`` the
    decisions to audit and count once the view confirmed the cache was current (a request
    decided again on fresh rows records only its final answers); ``generations`` those read
    with the users (authzen.subjects), ``users`` the users this request read."""

    client_id: str
    servers: frozenset[str]
    snap: Snapshot = field(default_factory=lambda: Snapshot(None))
    records: list = field(default_factory=list)
    generations: list = field(default_factory=list)
    users: dict = field(default_factory=dict)

    def confirmed_by_reads(self) -> bool:
        """Whether the generation read with the users shows the cache this request decided
        on was current (then no further read is needed to confirm it)."""
        wanted = self.snap.generation
        return bool(self.generations) and all(g == wanted for g in self.generations)


class NotYours(Exception):
    """The caller asked about an MCP server it does not protect (AuthZEN 1.0 §11.1.3: 403)."""


def servers_protected_by(client, snap: Snapshot) -> frozenset[str]:
    # Disabled servers too: a question about one is answered "deny" (resource_disabled).
    return snap.get(
        ("pdp-protects", client.pk),
        lambda: frozenset(client.introspects_for.values_list("identifier", flat=True)),
    )


def _deny(code: str, reason: str) -> ToolDecision:
    return ToolDecision(False, code, reason)


def _subject(q: Question, caller: Caller):
    """The user (None for a client subject) and the acting client, or a refusal. Users are
    read fresh (no generation watches them): a deactivation refuses the next decision."""
    agent = client_auth.load_client(caller.snap, q.agent)
    if agent is None:
        return None, None, _deny("unknown_client", "no such client (agent)")
    if q.subject_type == "client":
        return None, agent, None
    if not q.subject_id.isdigit() or len(q.subject_id) > 18:
        return None, agent, _deny("unknown_subject", "no such user")
    pk = int(q.subject_id)
    if pk not in caller.users:
        cached = caller.snap.generation is not None
        caller.users[pk], generation = subjects.load_user(pk, cached=cached)
        if generation is not subjects.NO_ROW:
            caller.generations.append(generation)
    user = caller.users[pk]
    if user is None:
        return None, agent, _deny("unknown_subject", "no such user")
    return user, agent, None


def _token_limits(q: Question, resource, *, now: datetime):
    """The scopes and authorization_details of a presented token, after checking it is live
    (not expired, revoked, of a revoked family, nor of a disabled client) and is this
    subject's, through this agent, for this server (introspection's own rule)."""
    _generation, row = introspection.lookup(q.access_token)
    claims = introspection.introspect_row(
        row, audiences=frozenset({resource.identifier}), issuer=settings.ISSUER, now=now
    )
    if not claims.get("active"):
        return _deny("token_inactive", "the access token is not active for this server")
    if claims["sub"] != q.subject_id or claims["client_id"] != q.agent:
        return _deny("token_mismatch", "the access token is not this subject's through this agent")
    return claims["scope"].split(), claims.get("authorization_details")


def principal_entities(q: Question, user) -> list[dict]:
    """The principal as a Cedar entity: a user with ``email`` and ``groups`` (names)."""
    if user is None:
        return []
    groups = sorted(group.name for group in user.groups.all())  # prefetched
    attrs = {"email": user.email or "", "groups": groups}
    return [{"uid": {"type": "User", "id": q.subject_id}, "attrs": attrs, "parents": []}]


def _cedar_sources(resource) -> list[str]:
    rows = CedarPolicy.objects.filter(Q(resource=resource) | Q(resource=None), enabled=True)
    return list(rows.order_by("pk").values_list("source", flat=True))


def cedar_policy_set(resource) -> cedarpy.PolicySet | str | None:
    """The enabled policies for ``resource`` with the base permit, parsed once (parsing is
    most of an evaluation's cost); None when there are none; the parse error's words when
    they do not parse (validated on save, so only if the engine changed its mind)."""
    sources = _cedar_sources(resource)
    if not sources:
        return None
    try:
        return cedarpy.PolicySet.from_str("\n".join([BASE_PERMIT, *sources]))
    except Exception as exc:  # cedarpy raises ValueError subclasses from Rust
        return f"Cedar: {str(exc)[:200]}"


def _cedar(q: Question, resource, user, decision: ToolDecision, snap: Snapshot) -> ToolDecision:
    # Cached under the generation: a trigger renews it on any change (migration 0002).
    policies = snap.get(
        ("pdp-cedar", resource.pk), lambda: cedar_policy_set(resource), cache_none=True
    )
    if policies is None:
        return decision
    if isinstance(policies, str):
        return _deny("cedar_error", policies)
    try:
        result = cedarpy.is_authorized(
            cedar_request(q, resource), policies, principal_entities(q, user)
        )
    except Exception as exc:  # fail closed: a policy engine that breaks refuses
        return _deny("cedar_error", f"Cedar could not decide ({type(exc).__name__})")
    if result.diagnostics.errors:
        return _deny("cedar_error", f"Cedar: {result.diagnostics.errors[0][:200]}")
    if result.decision != cedarpy.Decision.Allow:
        return _deny("cedar_forbid", "forbidden by the administrator's Cedar policy")
    return decision


def cedar_request(q: Question, resource) -> dict:
    """The Cedar request for a question (docs/AUTHZEN.md, "The policy", step 6)."""
    principal = (
        {"type": "Client", "id": q.agent}
        if q.subject_type == "client"
        else {"type": "User", "id": q.subject_id}
    )
    return {
        "principal": principal,
        "action": {"type": "Action", "id": q.tool},
        "resource": {"type": "McpServer", "id": resource.identifier},
        "context": {
            "arguments": dict(q.arguments or {}),
            "client_id": q.agent,
            # RFC 8693 §4.1: the delegation chain, for rules on who acts (`context has act`).
            **({"act": dict(q.act)} if q.act else {}),
        },
    }


def decide(caller: Caller, q: Question, *, now: datetime, record: bool = True) -> ToolDecision:
    """One evaluation. NotYours when the server is not one the caller protects. ``record``:
    audited and counted (searches probe many questions and record none)."""
    started = time.perf_counter()
    if q.server not in caller.servers:
        raise NotYours(q.server)
    snap = caller.snap
    resource = snap.get(
        ("pdp-resource", q.server),
        lambda: Resource.objects.filter(identifier=q.server).prefetch_related("scopes").first(),
    )
    decision = _evaluate(q, resource, caller, now=now)
    if record:
        caller.records.append((q, decision, time.perf_counter() - started))
    return decision


def record(caller: Caller, *, now: datetime) -> None:
    """Audit and count the decisions of a request whose cache was confirmed current."""
    for q, decision, seconds in caller.records:
        metrics.DECISION_SECONDS.observe(seconds)
        metrics.DECISIONS.labels("permit" if decision else "deny", decision.code).inc()
        _audit(caller, q, decision, now=now)
    caller.records.clear()


def _evaluate(q: Question, resource, caller: Caller, *, now: datetime) -> ToolDecision:
    snap = caller.snap
    user, agent, refusal = _subject(q, caller)
    if refusal is not None:
        return refusal
    scopes = ceiling = None
    if q.access_token and resource is not None:
        limits = _token_limits(q, resource, now=now)
        if isinstance(limits, ToolDecision):
            return limits
        scopes, ceiling = limits
    decision = decide_tool_call(
        resource,
        q.tool,
        q.arguments,
        client=agent,
        user=user,
        scopes=scopes,
        ceiling=ceiling,
        snap=snap,
    )
    if not decision:
        return decision
    return _cedar(q, resource, user, decision, snap)


def _audit(caller: Caller, q: Question, decision: ToolDecision, *, now: datetime) -> None:
    sample = settings.AUTHZEN_PERMIT_AUDIT_SAMPLE  # authserver/config.py
    # Sampling permits, not security: the audit trail of denies is complete.
    if decision and not (sample > 0 and random.random() < sample):  # noqa: S311
        return
    arguments = json.dumps(q.arguments, sort_keys=True, default=str) if q.arguments else ""
    audit.record(
        "authzen.permit" if decision else "authzen.deny",
        actor=f"pep:{caller.client_id}",
        client_id=q.agent,
        user_id=q.subject_id if q.subject_type == "user" else "",
        resource=q.server,
        detail={
            "tool": q.tool[:128],
            "code": decision.code,
            "reason": decision.reason[:300],
            # The arguments are the caller's data: only their digest is kept.
            "arguments_sha256": hashlib.sha256(arguments.encode()).hexdigest()
            if arguments
            else q.arguments_digest[:128],
            **({"act": json.dumps(q.act, default=str)[:500]} if q.act else {}),
            **({"with_token": True} if q.access_token else {}),
        },
        at=now,
    )
