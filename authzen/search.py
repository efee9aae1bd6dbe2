"""AuthZEN 1.0 §8 search, where it is cheap: which tools a subject may call on a server
(action search), which of the caller's servers let it call a tool (resource search), which
users or clients may call a tool through an agent (subject search, paginated).

Each result is what an evaluation without arguments would permit (§8.1: a result, used in an
evaluation, SHOULD be permitted); a tool with argument constraints is listed with them in
``properties.constraints``, since its evaluation needs the arguments.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model

from authserver.models import Resource
from authserver.models.external import client_model
from authserver.tool_grants.details import registered_tools
from authzen import services
from authzen.mapping import BadRequest, Question, question_of

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def _allowed(caller, q: Question, *, now: datetime):
    """The decision without arguments: permitted, or permitted once constraints hold."""
    decision = services.decide(caller, q, now=now, record=False)  # a search is not a call
    if decision or decision.code == "arguments_required":
        return decision
    return None


def _tool_entity(tool: str, constraints: dict) -> dict[str, Any]:
    entity: dict[str, Any] = {"name": tool}
    if constraints:
        entity["properties"] = {"constraints": constraints}
    return entity


def search_actions(caller, body: Mapping[str, Any], *, now: datetime) -> dict:
    """§8.5: the tools ``subject`` may call at ``resource``."""
    probe = question_of({**body, "action": {"name": "tools/call", "properties": {"tool": "-"}}})
    if probe.server not in caller.servers:
        raise services.NotYours(probe.server)
    resource = Resource.objects.filter(identifier=probe.server).first()
    results = []
    for tool in sorted(registered_tools(resource)) if resource else []:
        q = Question(**{**probe.__dict__, "tool": tool, "arguments": None})
        decision = _allowed(caller, q, now=now)
        if decision is not None:
            results.append(_tool_entity(tool, decision.constraints))
    return {"results": results}


def search_resources(caller, body: Mapping[str, Any], *, now: datetime) -> dict:
    """§8.4: the caller's MCP servers at which ``subject`` may perform ``action``."""
    results = []
    for server in sorted(caller.servers):
        merged = {**body, "resource": {"type": "mcp_server", "id": server}}
        q = question_of(merged)
        if _allowed(caller, Question(**{**q.__dict__, "arguments": None}), now=now):
            results.append({"type": "mcp_server", "id": server})
    return {"results": results}


def search_subjects(caller, body: Mapping[str, Any], *, now: datetime) -> dict:
    """§8.3: the users (or clients) that may perform ``action`` at ``resource``; a user
    search names the agent in ``subject.properties.client_id``. Paginated by an opaque token
    (§8.2), users in id order."""
    subject = body.get("subject")
    if not isinstance(subject, Mapping):
        raise BadRequest("subject must be an object")
    page = body.get("page") or {}
    if not isinstance(page, Mapping):
        raise BadRequest("page must be an object")
    limit = page.get("limit", DEFAULT_LIMIT)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 0 <= limit <= MAX_LIMIT:
        raise BadRequest(f"page.limit is an integer from 0 to {MAX_LIMIT}")
    after = _after(page.get("token"))
    cap = MAX_LIMIT * 5  # candidates read per page, whatever the policy filters out
    kind = subject.get("type")
    if kind == "client":
        candidates = client_model().objects.filter(is_active=True, pk__gt=after).order_by("pk")
        ids = [(c.pk, c.client_id) for c in candidates[:cap]]
    elif kind == "user":
        users = get_user_model().objects.filter(is_active=True, pk__gt=after).order_by("pk")
        ids = [(pk, str(pk)) for pk in users.values_list("pk", flat=True)[:cap]]
    else:
        raise BadRequest("subject.type is one of user, client")
    results: list[dict] = []
    last = after
    for pk, subject_id in ids:
        if len(results) >= limit:
            break
        last = pk
        probe = {**body, "subject": {**subject, "id": subject_id}}
        q = question_of(probe)
        if _allowed(caller, Question(**{**q.__dict__, "arguments": None}), now=now):
            results.append({"type": kind, "id": subject_id})
    more = bool(ids) and limit > 0 and (last != ids[-1][0] or len(ids) == cap)
    token = base64.urlsafe_b64encode(f"after:{last}".encode()).decode() if more else ""
    return {"page": {"next_token": token, "count": len(results)}, "results": results}


def _after(token: object) -> int:
    if token in (None, ""):
        return 0
    try:
        text = base64.urlsafe_b64decode(str(token).encode()).decode()
        kind, _, value = text.partition(":")
        if kind != "after" or not value.isdigit():
            raise ValueError
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadRequest("page.token is not one this PDP issued") from None
