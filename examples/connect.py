"""``bin/mcp-connect MCP_URL``: a real MCP client (the official Python SDK) for the quick start.

It does what Claude Code or Cursor do on first contact: reads the MCP server's 401, discovers
this authorization server, registers itself (RFC 7591), opens your browser to sign in and
allow it (PKCE), receives the code on a loopback port (RFC 8252 §7.3), exchanges it for a token
bound to the MCP server (RFC 8707), then lists the server's tools and calls the first one
that takes no arguments. Tokens are kept in memory only: every run signs in again.

Its registration is kept, as real clients keep theirs: per MCP server in
``~/.config/mcp-connect/clients.json`` (``$XDG_CONFIG_HOME``; the file 0600, its folder 0700),
so the next run reuses it instead of registering another client (the loopback port may change:
RFC 8252 §7.3 lets it). ``--register-again`` forgets it first.

The browser is Python's ``webbrowser`` module, so the ``BROWSER`` environment variable picks it.
Where none can be opened (no ``DISPLAY`` and no ``BROWSER``, or the browser fails), it says so
and you open the printed URL yourself.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import queue
import sys
import threading
import webbrowser
from pathlib import Path
from typing import TextIO
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


def registrations_file() -> Path:
    """Where registrations are kept: ``$XDG_CONFIG_HOME/mcp-connect/clients.json``."""
    config = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(config) / "mcp-connect" / "clients.json"


class Storage:
    """The SDK's TokenStorage protocol: tokens in memory, the registration per MCP server in
    :func:`registrations_file` (it holds no secret: a public client, but private anyway)."""

    def __init__(self, mcp_url: str, path: Path) -> None:
        self.mcp_url, self.path = mcp_url, path
        self.tokens: OAuthToken | None = None
        self.saved = self._load().get(mcp_url)

    def _load(self) -> dict[str, dict]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def forget(self) -> None:
        self.saved = None
        kept = self._load()
        if kept.pop(self.mcp_url, None) is not None:
            self._write(kept)

    def _write(self, data: dict[str, dict]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.path.parent.chmod(0o700)
        partial = self.path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(data, out, indent=2)
        os.replace(partial, self.path)  # readers see the old file or the new, never half

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        if self.saved is None:
            return None
        try:
            return OAuthClientInformationFull.model_validate(self.saved)
        except ValueError:
            return None

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.saved = client_info.model_dump(mode="json", exclude_none=True)
        self._write({**self._load(), self.mcp_url: self.saved})


def can_open_a_browser() -> bool:
    """False where ``webbrowser`` could only start a text browser in this terminal or nothing:
    Linux/BSD without a display and without ``BROWSER``."""
    if os.environ.get("BROWSER") or sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def open_in_browser(url: str) -> bool:
    try:
        return can_open_a_browser() and webbrowser.open(url)
    except webbrowser.Error:
        return False


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


async def connect(
    mcp_url: str,
    *,
    timeout: float,
    register_again: bool = False,
    out: TextIO = sys.stdout,
) -> list[str]:
    callback = LoopbackCallback()
    storage = Storage(mcp_url, registrations_file())
    if register_again:
        storage.forget()
    if storage.saved is not None:
        print(
            f"Using the client registered earlier ({storage.saved.get('client_id')}), "
            f"saved in {storage.path}",
            file=out,
            flush=True,
        )

    def say(text: str) -> None:
        print(text, file=out, flush=True)

    async def open_browser(url: str) -> None:
        say(f"Sign in and allow access at:\n  {url}")
        # In a thread: a BROWSER command that runs in the foreground must not stall the loop.
        if await anyio.to_thread.run_sync(open_in_browser, url):
            say("(opened in your browser)")
        else:
            say(
                "No browser could be opened here (no DISPLAY or BROWSER, or it failed): open "
                "the URL above in a browser on this machine; it answers to "
                f"{callback.uri}. Waiting up to {timeout:.0f} s."
            )

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
        storage=storage,
        redirect_handler=open_browser,
        callback_handler=wait_for_redirect,
    )
    reused = storage.saved is not None
    try:
        async with (
            httpx2.AsyncClient(auth=provider, timeout=30) as http,
            Client(streamable_http_client(mcp_url, http_client=http)) as mcp,
        ):
            tools = (await mcp.list_tools()).tools
            names = [tool.name for tool in tools]
            say(f"Connected to {mcp_url}. Tools: {', '.join(names) or '(none)'}")
            no_arguments = [t for t in tools if not (t.input_schema or {}).get("required")]
            if no_arguments:
                result = await mcp.call_tool(no_arguments[0].name, {})
                say(f"{no_arguments[0].name} -> {'error' if result.is_error else 'ok'}")
            return names
    except Exception:
        if reused:  # e.g. the client was deleted on the server since
            say("The saved registration may be gone: run again with --register-again.")
        raise
    finally:
        callback.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bin/mcp-connect", description=__doc__.split("\n")[0])
    parser.add_argument("mcp_url", help="the MCP server's URL, e.g. http://127.0.0.1:8001/mcp")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for you")
    parser.add_argument(
        "--register-again",
        action="store_true",
        help=f"forget this MCP server's saved registration ({registrations_file()}) first",
    )
    args = parser.parse_args(argv)
    anyio.run(
        lambda: connect(args.mcp_url, timeout=args.timeout, register_again=args.register_again)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
