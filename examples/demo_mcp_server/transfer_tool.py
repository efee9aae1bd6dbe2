"""``transfer``: a tool that needs a person's approval above a threshold (docs/APPROVALS.md).

Above ``threshold`` the call asks the authorization server for approval (CIBA). A client
that declared URL-mode elicitation (MCP 2025-11-25) gets an ``elicitation/create`` with
``mode: "url"`` carrying the approval page, and the call waits, polling the token endpoint
at the interval the server set, until the person decides; it then runs once and the server
sends ``notifications/elicitation/complete``. Any other client gets a tool error naming the
page, and the same call repeated after the approval collects the token. Either way the
one-time token must name exactly these arguments (``ApprovalChecker``: RFC 8785 digest,
single-use jti). Changed arguments need a new approval.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

import anyio
import anyio.to_thread
from mcp import types
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from examples.demo_mcp_server.url_elicitation import send_to_page
from mcp_token_verifier import approvals
from mcp_token_verifier.approval_requests import ApprovalAsker, Pending, Refused

SLOW_DOWN_STEP = 5  # CIBA Core §11: after slow_down, poll at least 5 seconds later
MAX_WAIT = 600  # seconds a call waits for a decision (CIBA caps a request at 10 minutes)


class ApprovalRequired(Exception):
    """Not run: the person must approve at ``uri`` (or is deciding there)."""

    def __init__(self, uri: str, *, pending: bool, binding: str = "", interval: int = 5) -> None:
        state = "waiting for your approval" if pending else "approval required"
        super().__init__(f"{state}: open {uri}")
        self.uri = uri
        self.binding = binding
        self.interval = interval


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
        self._pending: dict[tuple[str, str], tuple[str, str, int]] = {}
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
                self._pending[key] = (asked.auth_req_id, asked.approval_uri, asked.interval)
            raise ApprovalRequired(
                asked.approval_uri, pending=False, binding=key[1][:6], interval=asked.interval
            )
        auth_req_id, uri, interval = waiting
        try:
            token = self.asker.collect(auth_req_id)
        except Pending as exc:
            if str(exc) == "slow_down":
                interval += SLOW_DOWN_STEP
                with self._lock:
                    self._pending[key] = (auth_req_id, uri, interval)
            raise ApprovalRequired(uri, pending=True, interval=interval) from None
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

    async def wait_and_run(
        self, sub: str, arguments: dict, interval: int, *, max_wait: float = MAX_WAIT
    ) -> str:
        """After the person was sent to the page: poll (CIBA §7.3 ``interval``, longer after
        ``slow_down``) until approved, then run once; Refused when denied or expired."""
        with anyio.fail_after(max_wait):
            while True:
                try:
                    return await anyio.to_thread.run_sync(self.transfer, sub, arguments)
                except ApprovalRequired as exc:
                    interval = exc.interval
                await anyio.sleep(interval)


def register_transfer_tool(mcp, transfers: Transfers, principal) -> None:
    """Adds ``transfer`` to the demo's MCPServer; ``principal(ctx)`` is the caller's token."""

    @mcp.tool(description="Transfer money; above the threshold a person approves each call.")
    async def transfer(amount: float, to: str, ctx: Context) -> str | types.InputRequiredResult:
        sub, arguments = principal(ctx).subject, {"amount": amount, "to": to}
        try:
            return await anyio.to_thread.run_sync(transfers.transfer, sub, arguments)
        except ApprovalRequired as exc:
            required = exc
        except (Refused, approvals.ApprovalError) as exc:
            raise ToolError(f"not approved: {exc}") from None
        message = f"Approve the transfer of {amount} to {to}"
        if required.binding:
            message += f" (the page shows the code {required.binding})"
        try:
            return await send_to_page(
                ctx,
                message=message,
                url=required.uri,
                wait=lambda: transfers.wait_and_run(sub, arguments, required.interval),
                fallback=str(required),
            )
        except (Refused, approvals.ApprovalError, TimeoutError) as exc:
            raise ToolError(f"not approved: {exc or 'no decision in time'}") from None


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
