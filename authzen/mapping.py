"""AuthZEN Authorization API 1.0 payloads to MCP questions (pure: no database, no Django).

The information model (AuthZEN 1.0 §5) mapped onto MCP (docs/AUTHZEN.md):

- subject: ``{"type": "user", "id": "<sub>"}`` (the ``sub`` our tokens carry), with
  ``properties.client_id`` = the agent (the OAuth client acting for the user) and optionally
  ``properties.act`` (RFC 8693 §4.1, the delegation chain); or ``{"type": "client",
  "id": "<client_id>"}`` for a client acting for itself (client credentials).
- action: ``{"name": "tools/call", "properties": {"tool": "<tool>"}}`` (the MCP method), or
  the tool name itself as ``name``.
- resource: ``{"type": "mcp_server", "id": "<registered identifier>"}``, the tool optionally
  in ``properties.tool``.
- context: ``arguments`` (the call's arguments) or ``arguments_digest``, ``access_token``
  (then the token itself must be live), ``time`` (informative: decisions use the server's).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from authserver.errors import InvalidRequest
from mcp_token_verifier.tools import MAX_TOOL_NAME

TOOLS_CALL = "tools/call"
MAX_ID = 512
MAX_EVALUATIONS = 64  # bound what one caller may make us compute in one request
MAX_ARGUMENTS = 16_384  # characters of the arguments, as JSON
SEMANTICS = ("execute_all", "deny_on_first_deny", "permit_on_first_permit")
SUBJECT_TYPES = ("user", "client")
RESOURCE_TYPE = "mcp_server"


class BadRequest(InvalidRequest):
    """AuthZEN 1.0 §11.1.2: a required attribute omitted or malformed is 400 Bad Request."""


@dataclass(frozen=True)
class Question:
    """One access evaluation, as MCP: who (user and agent), which tool of which server."""

    subject_type: str
    subject_id: str
    agent: str  # the client_id acting (for a "client" subject: itself)
    server: str
    tool: str
    arguments: Mapping[str, Any] | None = None
    arguments_digest: str = ""
    access_token: str = field(default="", repr=False)
    act: Mapping[str, Any] | None = None


def _object(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise BadRequest(f"{what} must be an object")
    return value


def _string(entity: Mapping, key: str, what: str, *, limit: int = MAX_ID) -> str:
    value = entity.get(key)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise BadRequest(f"{what}.{key} must be a non-empty string of at most {limit} characters")
    return value


def _properties(entity: Mapping, what: str) -> Mapping[str, Any]:
    props = entity.get("properties", {})
    return _object(props, f"{what}.properties")


def question_of(item: Mapping[str, Any]) -> Question:
    """One evaluation (AuthZEN 1.0 §6.1: subject, action, resource REQUIRED; context OPTIONAL)."""
    subject = _object(item.get("subject"), "subject")
    action = _object(item.get("action"), "action")
    resource = _object(item.get("resource"), "resource")
    context = _object(item.get("context") or {}, "context")
    subject_type = _string(subject, "type", "subject")
    subject_id = _string(subject, "id", "subject")
    if subject_type not in SUBJECT_TYPES:
        raise BadRequest(f"subject.type is one of {', '.join(SUBJECT_TYPES)}")
    subject_props = _properties(subject, "subject")
    if subject_type == "client":
        agent = subject_id
    else:
        agent = _string(subject_props, "client_id", "subject.properties")
    act = subject_props.get("act")
    if act is not None:
        act = _object(act, "subject.properties.act")
    if _string(resource, "type", "resource") != RESOURCE_TYPE:
        raise BadRequest(f"resource.type is {RESOURCE_TYPE}")
    server = _string(resource, "id", "resource")
    tool = _tool(action, _properties(resource, "resource"))
    arguments, digest = _arguments(context)
    token = context.get("access_token", "")
    if not isinstance(token, str) or len(token) > 8192:
        raise BadRequest("context.access_token must be a string")
    return Question(
        subject_type=subject_type,
        subject_id=subject_id,
        agent=agent,
        server=server,
        tool=tool,
        arguments=arguments,
        arguments_digest=digest,
        access_token=token,
        act=act,
    )


def _tool(action: Mapping, resource_props: Mapping) -> str:
    name = _string(action, "name", "action", limit=MAX_TOOL_NAME)
    named = _properties(action, "action").get("tool", resource_props.get("tool"))
    if name != TOOLS_CALL:
        if named is not None and named != name:
            raise BadRequest("action.name and the tool it names disagree")
        return name  # the tool name itself as the action
    if not isinstance(named, str) or not named or len(named) > MAX_TOOL_NAME:
        raise BadRequest("tools/call needs the tool in action.properties.tool")
    return named


def _arguments(context: Mapping) -> tuple[Mapping[str, Any] | None, str]:
    arguments = context.get("arguments")
    digest = context.get("arguments_digest", "")
    if not isinstance(digest, str) or len(digest) > 128:
        raise BadRequest("context.arguments_digest must be a string")
    if arguments is None:
        return None, digest
    arguments = _object(arguments, "context.arguments")
    if len(json.dumps(arguments, default=str)) > MAX_ARGUMENTS:
        raise BadRequest(f"context.arguments is larger than {MAX_ARGUMENTS} characters")
    return arguments, digest


def evaluations_of(body: Mapping[str, Any]) -> tuple[list[Mapping[str, Any]] | None, str]:
    """AuthZEN 1.0 §7.1: the boxcarred evaluations with the top-level defaults applied, and
    the semantic (§7.1.2.1). None when ``evaluations`` is absent or empty: a single request."""
    items = body.get("evaluations")
    options = _object(body.get("options") or {}, "options")
    semantic = options.get("evaluations_semantic", "execute_all")
    if semantic not in SEMANTICS:
        raise BadRequest(f"options.evaluations_semantic is one of {', '.join(SEMANTICS)}")
    if items is None or items == []:
        return None, semantic
    if not isinstance(items, list) or len(items) > MAX_EVALUATIONS:
        raise BadRequest(f"evaluations is an array of at most {MAX_EVALUATIONS} objects")
    merged = []
    for item in items:
        item = _object(item, "each evaluation")
        # §7.1.1: top-level keys are defaults; a key in the evaluation overrides.
        merged.append(
            {
                key: item[key] if key in item else body.get(key)
                for key in ("subject", "action", "resource", "context")
            }
        )
    return merged, semantic
