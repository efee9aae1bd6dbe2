"""Per-tool authorization in the demo MCP server: every ``tools/call`` goes through
``mcp_token_verifier.authorize_tool_call`` (the token's RFC 9396 ``mcp_tool`` grants)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mcp_token_verifier.tools import PolicyHook, authorize_tool_call

# JSON-RPC error code for a tool call the token does not allow (implementation-defined
# range, JSON-RPC 2.0 §5.1).
TOOL_REFUSED = -32003
PARSE_ERROR = -32700  # JSON-RPC 2.0 §5.1: "Invalid JSON was received by the server"


class NotJson(ValueError):
    """The body is not JSON: malformed, not UTF-8, or nested deeper than the parser goes."""


def parse_message(body: bytes) -> Any:
    """A JSON-RPC message or batch, parsed once for the gate; NotJson otherwise.

    Deeply nested JSON ("[[[[...") makes the parser raise RecursionError, which is no
    ValueError: it is a parse error like any other, never a 500.
    """
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise NotJson("not a JSON-RPC message") from None


def parse_error() -> dict:
    """JSON-RPC 2.0 §5.1's parse error; the id is null, since none could be read."""
    return {"jsonrpc": "2.0", "id": None, "error": {"code": PARSE_ERROR, "message": "Parse error"}}


@dataclass(frozen=True)
class ToolCall:
    id: Any
    name: str
    arguments: dict


@dataclass(frozen=True)
class Refusal:
    call: ToolCall
    rule: str
    scope: str | None  # a scope that would allow it, when the token lacks it; else None

    def jsonrpc_error(self, batch: bool) -> dict:
        """The JSON-RPC error the SDK surfaces to the caller of ``call_tool``."""
        return {
            "jsonrpc": "2.0",
            "id": None if batch else self.call.id,
            "error": {
                "code": TOOL_REFUSED,
                "message": f"tool call refused: {self.rule}",
                "data": {"tool": self.call.name, "rule": self.rule},
            },
        }


def tool_calls(message: Any) -> tuple[list[ToolCall], bool]:
    """The ``tools/call`` requests in a parsed JSON-RPC message or batch, and whether it is a
    batch."""
    batch = isinstance(message, list)
    calls = []
    for item in message if batch else [message]:
        if not isinstance(item, dict) or item.get("method") != "tools/call":
            continue
        params = item.get("params") if isinstance(item.get("params"), dict) else {}
        name = params.get("name")
        arguments = params.get("arguments")
        if isinstance(name, str):
            args = arguments if isinstance(arguments, dict) else {}
            calls.append(ToolCall(item.get("id"), name, args))
    return calls, batch


def first_refusal(
    calls: list[ToolCall],
    claims: dict,
    tool_scopes: dict[str, str],
    policy_hook: PolicyHook | None = None,
) -> Refusal | None:
    """The first call the token may not make, with the rule that refused it."""
    held = set(str(claims.get("scope", "")).split())
    for call in calls:
        decision = authorize_tool_call(claims, call.name, call.arguments, policy_hook=policy_hook)
        if not decision.allowed:
            needed = tool_scopes.get(call.name)
            return Refusal(call, decision.rule, needed if needed not in held else None)
    return None
