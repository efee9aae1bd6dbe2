"""Sending the person to a page of the authorization server (the approval page, the connect
page) by MCP URL-mode elicitation, in both protocol generations the SDK speaks:

- 2025-11-25 (initialize handshake, a stream back to the client): ``elicitation/create`` with
  ``mode: "url"`` on the call's stream; once the client answers ``accept`` the call waits for
  what the person does there and ends with ``notifications/elicitation/complete``.
- 2026-07-28 (no server-to-client requests): the call answers ``InputRequiredResult`` with the
  same URL-mode elicitation as an input request; the client opens the page and retries the
  call with its answer, and the retried call waits.

A client that declared no URL-mode elicitation gets ``fallback`` (a tool error naming the
page). What the person does on the page is checked by the authorization server; the
client's ``accept`` only means "I opened it", so it decides nothing but how long to wait.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from mcp import types
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

INPUT_KEY = "open_page"


def client_takes_url_elicitation(ctx: Context) -> bool:
    """MCP 2025-11-25: a server sends URL mode only to a client that declared it."""
    wanted = types.ClientCapabilities(
        elicitation=types.ElicitationCapability(url=types.UrlElicitationCapability())
    )
    return ctx.session.check_client_capability(wanted)


def _refused(action: str, url: str) -> ToolError:
    return ToolError(f"not done: the page was {action}d; open {url} to do it later")


async def send_to_page(
    ctx: Context,
    *,
    message: str,
    url: str,
    wait: Callable[[], Awaitable[Any]],
    fallback: str,
) -> Any:
    """``wait()``'s result once the person was sent to ``url``; an ``InputRequiredResult``
    on 2026-07-28 before they were; ToolError(fallback) for a client without URL mode."""
    answer = (ctx.input_responses or {}).get(INPUT_KEY)
    if answer is not None:  # 2026-07-28: the retried call carries the client's answer
        action = getattr(answer, "action", "")
        if action != "accept":
            raise _refused(action or "decline", url)
        return await wait()
    if not client_takes_url_elicitation(ctx):
        raise ToolError(fallback)
    if not ctx.session.can_send_request:  # 2026-07-28: ask in the result, not by request
        params = types.ElicitRequestURLParams(message=message, url=url)
        return types.InputRequiredResult(
            input_requests={INPUT_KEY: types.ElicitRequest(params=params)}
        )
    elicitation_id = secrets.token_urlsafe(16)  # required on the wire at 2025-11-25
    result = await ctx.elicit_url(message=message, url=url, elicitation_id=elicitation_id)
    if result.action != "accept":
        raise _refused(result.action, url)
    try:
        return await wait()
    finally:
        await ctx.session.send_elicit_complete(elicitation_id, related_request_id=ctx.request_id)
