"""``call_upstream``: the demo calls an upstream API (GitHub, Google... or the test API) for
the user, with the user's upstream token vended by the authorization server (docs/CONNECTIONS.md).

The MCP token the client sent is exchanged (RFC 8693, ``audience`` = the provider's slug)
with ``mcp_token_verifier.upstream``; the upstream token is used for this one call and never
returned to the client. A user without the connection is sent to the connect page by URL-mode
elicitation (``url_elicitation``; the link names the user, so nobody else can use it) and the
call waits until the connection works; a client without URL mode gets the URL in a tool error.
"""

from __future__ import annotations

from typing import Any

import anyio
import anyio.to_thread
import httpx2
from mcp import types
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from examples.demo_mcp_server.url_elicitation import send_to_page
from mcp_token_verifier.upstream import ConnectionRequired, VendError, vend_upstream_token

RETRY_EVERY = 2  # seconds between vend attempts while the person connects
MAX_WAIT = 600  # seconds a call waits for the connection (the link lives 30 minutes)


def register_upstream_tool(mcp, settings, verifier, principal) -> None:
    """Adds the tool to ``mcp`` (the demo's MCPServer); ``principal(ctx)`` is the verified
    MCP access token of the current request."""

    @mcp.tool(
        description=f"Call {settings.upstream_api_url} as you, with your connected "
        f"{settings.upstream_audience} account (needs notes:read here)."
    )
    async def call_upstream(ctx: Context) -> dict[str, Any] | types.InputRequiredResult:
        endpoint = verifier.token_endpoint
        if endpoint is None:
            raise ToolError("the issuer advertises no token endpoint")

        def vend():
            return vend_upstream_token(
                token_endpoint=endpoint,
                client_id=settings.exchange_client_id,
                client_secret=settings.exchange_client_secret,
                subject_token=principal(ctx).token,
                audience=settings.upstream_audience,
            )

        async def wait_for_connection():
            with anyio.fail_after(MAX_WAIT):
                while True:
                    try:
                        return await anyio.to_thread.run_sync(vend)
                    except ConnectionRequired:
                        await anyio.sleep(RETRY_EVERY)

        try:
            try:
                upstream = await anyio.to_thread.run_sync(vend)
            except ConnectionRequired as exc:
                upstream = await send_to_page(
                    ctx,
                    message=f"Connect your {settings.upstream_audience} account",
                    url=exc.connect_url,
                    wait=wait_for_connection,
                    fallback=f"connect your account first: {exc.connect_url}",
                )
                if isinstance(upstream, types.InputRequiredResult):
                    return upstream
        except VendError as exc:
            raise ToolError(f"no upstream token: {exc.error}") from None
        except TimeoutError:
            raise ToolError("the account was not connected in time") from None
        async with httpx2.AsyncClient(timeout=10) as http:
            response = await http.get(
                settings.upstream_api_url,
                headers={"Authorization": f"Bearer {upstream.access_token}"},
            )
        try:
            body = response.json()
        except ValueError:
            body = {}
        return {"status": response.status_code, "body": body if isinstance(body, dict) else {}}
