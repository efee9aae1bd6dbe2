"""An optional ``policy_hook`` for ``authorize_tool_call``: Cedar policies (``cedarpy``), for
rules beyond the token's own tool grants. Needs ``pip install cedarpy``.

Each call is a Cedar request: principal ``User::"<sub>"`` (or ``Client::"<client_id>"`` for a
token without a user), action ``Action::"<tool>"``, resource ``McpServer::"<aud>"``, context
``{"arguments": ..., "client_id": ..., "scope": [...]}``. Cedar denies by default, so the
policy set needs a ``permit``; a ``forbid`` then refuses. A request Cedar cannot build or a
policy that errors (an argument missing, a float) refuses too: fail closed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from mcp_token_verifier.tools import Decision, PolicyHook


def cedar_policy_hook(policies: str, entities: list[dict] | None = None) -> PolicyHook:
    """A hook evaluating ``policies`` (Cedar source text), parsed once."""
    import cedarpy  # optional dependency

    policy_set = cedarpy.PolicySet.from_str(policies)
    known = cedarpy.Entities.from_json_str(json.dumps(entities or []))

    def hook(claims: Mapping[str, Any], tool: str, arguments: Mapping[str, Any]) -> Decision | None:
        aud = claims.get("aud")
        principal = (
            {"type": "User", "id": str(claims["sub"])}
            if claims.get("sub") != claims.get("client_id")
            else {"type": "Client", "id": str(claims.get("client_id"))}
        )
        request = {
            "principal": principal,
            "action": {"type": "Action", "id": tool},
            "resource": {"type": "McpServer", "id": aud if isinstance(aud, str) else ""},
            "context": {
                "arguments": dict(arguments),
                "client_id": str(claims.get("client_id", "")),
                "scope": str(claims.get("scope", "")).split(),
            },
        }
        result = cedarpy.is_authorized(request, policy_set, known)
        if result.diagnostics.errors:
            return Decision(False, f"cedar: error ({result.diagnostics.errors[0][:200]})")
        if result.decision != cedarpy.Decision.Allow:
            reasons = ", ".join(result.diagnostics.reasons) or "no permit matched"
            return Decision(False, f"cedar: denied ({reasons})")
        return None  # permitted: the token's own decision stands

    return hook
