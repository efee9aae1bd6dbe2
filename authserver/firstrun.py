"""What the admin's home tells an operator to do next, and client snippets for an MCP server.

A fresh server has no MCP server registered, so no client can do anything yet: the home page
says so with a button to add one. Once one exists, it shows copy-paste configuration for the
common MCP clients, pointed at the most recently added MCP server.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from allauth.socialaccount.models import SocialApp
from django.conf import settings
from django.contrib.auth import get_user_model

from authserver.models import Resource


@dataclass(frozen=True)
class Snippet:
    client: str
    where: str
    text: str


def server_key(name: str) -> str:
    """A short config key for the MCP server: lower-case letters, digits and dashes."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "mcp-server"


def client_snippets(resource: Resource, *, issuer: str) -> list[Snippet]:
    """How each MCP client is pointed at ``resource``; they discover this server themselves."""
    url, key = resource.identifier, server_key(resource.name)
    python = (
        "# pip install 'mcp>=2,<3'; bin/mcp-connect in this repository is a complete client\n"
        "import anyio, httpx2\n"
        "from mcp import Client\n"
        "from mcp.client.auth import OAuthClientProvider\n"
        "from mcp.client.streamable_http import streamable_http_client\n\n"
        f'MCP_URL = "{url}"\n\n\n'
        "async def main(client_metadata, storage, redirect_handler, callback_handler):\n"
        "    auth = OAuthClientProvider(MCP_URL, client_metadata, storage,\n"
        "                               redirect_handler, callback_handler)\n"
        "    async with httpx2.AsyncClient(auth=auth) as http:\n"
        "        async with Client(streamable_http_client(MCP_URL, http_client=http)) as mcp:\n"
        "            print(await mcp.list_tools())"
    )
    return [
        Snippet("Claude Code", "terminal", f"claude mcp add --transport http {key} {url}"),
        Snippet(
            "Cursor",
            "~/.cursor/mcp.json",
            json.dumps({"mcpServers": {key: {"url": url}}}, indent=2),
        ),
        Snippet(
            "VS Code",
            ".vscode/mcp.json",
            json.dumps({"servers": {key: {"type": "http", "url": url}}}, indent=2),
        ),
        Snippet("MCP Inspector", "terminal", f"npx @modelcontextprotocol/inspector  # URL: {url}"),
        Snippet("Python SDK (mcp 2.x)", f"issuer {issuer}", python),
    ]


def next_steps(*, issuer: str) -> dict:
    """The first-run panel: what is missing, and snippets for the newest MCP server."""
    newest = Resource.objects.filter(enabled=True).order_by("-created_at").first()
    users = get_user_model().objects.filter(is_active=True)
    return {
        "has_resource": newest is not None,
        "resource": newest,
        "resource_count": Resource.objects.count(),
        "only_admins": not users.filter(is_staff=False).exists(),
        "has_upstream": has_upstream_sign_in(),
        "snippets": client_snippets(newest, issuer=issuer) if newest else [],
    }


def has_upstream_sign_in() -> bool:
    """An identity provider is configured, in the admin or by UPSTREAM_PROVIDERS."""
    from_env = any(p.get("APPS") for p in settings.SOCIALACCOUNT_PROVIDERS.values())
    return from_env or SocialApp.objects.exists()
