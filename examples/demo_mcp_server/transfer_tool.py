"""``transfer``: a tool that needs a person's approval above a threshold (docs/APPROVALS.md).

Above ``threshold`` the first call asks the authorization server for approval (CIBA) and
answers with the page to approve on (what a URL-mode elicitation carries); the same call
repeated after the person approved with their passkey collects the one-time token, checks
it names exactly these arguments (``ApprovalChecker``: RFC 8785 digest, single-use jti) and
runs once. Changed arguments need a new approval.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from mcp_token_verifier import approvals
from mcp_token_verifier.approval_requests import ApprovalAsker, Pending, Refused


class ApprovalRequired(Exception):
    """Not run: the person must approve at ``uri`` (or is deciding there)."""

    def __init__(self, uri: str, *, pending: bool) -> None:
        state = "waiting for your approval" if pending else "approval required"
        super().__init__(f"{state}: open {uri}")
        self.uri = uri


class Transfers:
    """The tool's logic, apart from MCP: ``verify(token)`` returns verified claims."""

    def __init__(
        self,
        *,
        resource: str,
        threshold: float,
        asker: ApprovalAsker,
        verify: Callable[[str], Mapping[str, Any]],
        checker: approvals.ApprovalChecker | None = None,
    ) -> None:
        self.resource = resource
        self.rules = {"transfer": f"amount > {threshold}"}
        self.asker = asker
        self.verify = verify
        self.checker = checker or approvals.ApprovalChecker(resource)
        self.done: list[dict] = []
        self._pending: dict[tuple[str, str], tuple[str, str]] = {}
        self._lock = threading.Lock()

    def transfer(self, sub: str, arguments: dict) -> str:
        if not approvals.needs_approval(self.rules, "transfer", arguments):
            return self._execute(arguments, approval="")
        key = (sub, approvals.arguments_digest(arguments))
        with self._lock:
            waiting = self._pending.get(key)
        if waiting is None:
            asked = self.asker.ask(
                sub=sub,
                resource=self.resource,
                tool="transfer",
                arguments=arguments,
                summary=f"Transfer {arguments.get('amount')} to {arguments.get('to')}",
                binding_message=key[1][:6],
            )
            with self._lock:
                self._pending[key] = (asked.auth_req_id, asked.approval_uri)
            raise ApprovalRequired(asked.approval_uri, pending=False)
        auth_req_id, uri = waiting
        try:
            token = self.asker.collect(auth_req_id)
        except Pending:
            raise ApprovalRequired(uri, pending=True) from None
        except Refused:
            with self._lock:
                self._pending.pop(key, None)
            raise
        with self._lock:
            self._pending.pop(key, None)
        approval = self.checker.check(self.verify(token), "transfer", arguments)
        return self._execute(arguments, approval=approval)

    def _execute(self, arguments: dict, *, approval: str) -> str:
        self.done.append({**arguments, "approval": approval})
        return f"transferred {arguments.get('amount')} to {arguments.get('to')}"


def register_transfer_tool(mcp, transfers: Transfers, principal) -> None:
    """Adds ``transfer`` to the demo's MCPServer; ``principal(ctx)`` is the caller's token."""

    @mcp.tool(description="Transfer money; above the threshold a person approves each call.")
    def transfer(amount: float, to: str, ctx: Context) -> str:
        try:
            return transfers.transfer(principal(ctx).subject, {"amount": amount, "to": to})
        except ApprovalRequired as exc:
            raise ToolError(str(exc)) from None
        except (Refused, approvals.ApprovalError) as exc:
            raise ToolError(f"not approved: {exc}") from None


def transfers_for(settings, verifier) -> Transfers:
    """The demo's wiring: the issuer's endpoints, the exchange client as CIBA client."""
    issuer = settings.issuer.rstrip("/")
    asker = ApprovalAsker(
        f"{issuer}/backchannel-authentication",
        f"{issuer}/token",
        settings.exchange_client_id,
        settings.exchange_client_secret,
    )
    return Transfers(
        resource=settings.resource,
        threshold=settings.transfer_approval_threshold,
        asker=asker,
        verify=lambda token: verifier.get().verify(token),
    )
