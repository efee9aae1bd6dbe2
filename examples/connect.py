"""``bin/mcp-connect MCP_URL``: a real MCP client (the official Python SDK) for the quick start.

It does what Claude Code or Cursor do on first contact: reads the MCP server's 401, discovers
this authorization server, registers itself (RFC 7591), opens your browser to sign in and
allow it (PKCE), receives the code on a loopback port (RFC 8252 §7.3), exchanges it for a token
bound to the MCP server (RFC 8707), then lists the server's tools and calls the first one
that takes no arguments. Tokens are kept in memory only: every run signs in again.

The browser is Python's ``webbrowser`` module, so the ``BROWSER`` environment variable picks it.
"""

from __future__ import annotations

import argparse
import http.server
import queue
import threading
import webbrowser
from urllib.parse import parse_qs, urlsplit

import anyio
import anyio.to_thread
import httpx2
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)

PAGE = b"<!doctype html><title>Connected</title><p>Done: you can close this tab.</p>"


class Memory:
    """The SDK's TokenStorage protocol, in memory (a real client persists these)."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class LoopbackCallback:
    """Receives the authorization response on 127.0.0.1 at a port the OS picks."""

    def __init__(self) -> None:
        received: queue.Queue[dict[str, str]] = queue.Queue()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != "/callback":  # e.g. the browser asking for /favicon.ico
                    self.send_error(404)
                    return
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(PAGE)
                received.put(query)

            def log_message(self, format: str, *args: object) -> None:
                return  # the query holds the code: never print it

        self.received = received
        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self.server.server_port}/callback"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, timeout: float) -> dict[str, str]:
        return self.received.get(timeout=timeout)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def connect(mcp_url: str, *, timeout: float) -> list[str]:
    callback = LoopbackCallback()

    async def open_browser(url: str) -> None:
        print(f"Opening your browser to sign in and allow access:\n  {url}", flush=True)
        # In a thread: a BROWSER command that runs in the foreground must not stall the loop.
        await anyio.to_thread.run_sync(webbrowser.open, url)

    async def wait_for_redirect() -> AuthorizationCodeResult:
        query = await anyio.to_thread.run_sync(callback.wait, timeout)
        if "code" not in query:
            raise SystemExit(f"authorization refused: {query.get('error', 'no code')}")
        return AuthorizationCodeResult(
            code=query["code"], state=query.get("state"), iss=query.get("iss")
        )

    provider = OAuthClientProvider(
        server_url=mcp_url,
        client_metadata=OAuthClientMetadata(
            client_name="mcp-connect (quick start)",
            redirect_uris=[callback.uri],
            token_endpoint_auth_method="none",  # noqa: S106 - a public client
        ),
        storage=Memory(),
        redirect_handler=open_browser,
        callback_handler=wait_for_redirect,
    )
    try:
        async with (
            httpx2.AsyncClient(auth=provider, timeout=30) as http,
            Client(streamable_http_client(mcp_url, http_client=http)) as mcp,
        ):
            tools = (await mcp.list_tools()).tools
            names = [tool.name for tool in tools]
            print(f"Connected to {mcp_url}. Tools: {', '.join(names) or '(none)'}")
            no_arguments = [t for t in tools if not (t.input_schema or {}).get("required")]
            if no_arguments:
                result = await mcp.call_tool(no_arguments[0].name, {})
                print(f"{no_arguments[0].name} -> {'error' if result.is_error else 'ok'}")
            return names
    finally:
        callback.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bin/mcp-connect", description=__doc__.split("\n")[0])
    parser.add_argument("mcp_url", help="the MCP server's URL, e.g. http://127.0.0.1:8001/mcp")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for you")
    args = parser.parse_args(argv)
    anyio.run(lambda: connect(args.mcp_url, timeout=args.timeout))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
