"""The first hour: where the first admin password is, what the admin's home tells an operator
to do next, and client snippets for an MCP server.

``make run``'s first start creates the admin user with a generated password, kept in a file
only the account running the server can read (``var/first-admin-password``, 0600 in a 0700
``var/``) and never printed, so no terminal scroll-back or log collector holds it; after
"Serving", :func:`admin_box` shows the admin URL, the user and that file's path.

A fresh server has no MCP server registered, so no client can do anything yet: the home page
says so with a button to add one. Once one exists, it shows copy-paste configuration for the
common MCP clients, pointed at the most recently added MCP server.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from allauth.socialaccount.models import SocialApp
from django.conf import settings
from django.contrib.auth import get_user_model

from authserver.models import Resource

PASSWORD_FILE = "first-admin-password"  # noqa: S105 - a file name, not a password


def save_first_password(var_dir: Path, password: str) -> Path:
    """Write the generated first password to ``var_dir/first-admin-password``: the directory
    0700, the file created 0600 (a fresh inode: a link or an older file there is replaced,
    never written through)."""
    var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    var_dir.chmod(0o700)
    path = var_dir / PASSWORD_FILE
    path.unlink(missing_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, f"{password}\n".encode())
    finally:
        os.close(fd)
    return path


def first_password_file(var_dir: Path, username: str) -> Path | None:
    """The saved first password's file while it still signs ``username`` in; a file whose
    password was changed since is removed (it opens nothing and need not linger)."""
    path = var_dir / PASSWORD_FILE
    try:
        password = path.read_text().strip()
    except OSError:
        return None
    user = get_user_model().objects.filter(username=username, is_superuser=True).first()
    if user is not None and user.check_password(password):
        return path
    path.unlink(missing_ok=True)
    return None


def admin_box(*, issuer: str, username: str, password_file: Path | None) -> str:
    """The block ``make run`` prints after "Serving": admin URL, user, where the password is."""
    if password_file is not None:
        where = f"in {display_path(password_file)} (only you can read it)"
    else:
        where = f"the one you set (lost it? bin/manage changepassword {username})"
    lines = [
        f"Admin:    {issuer.rstrip('/')}/admin/",
        f"User:     {username}",
        f"Password: {where}",
    ]
    width = max(len(line) for line in lines)
    rule = "+" + "-" * (width + 2) + "+"
    return "\n".join([rule, *(f"| {line.ljust(width)} |" for line in lines), rule])


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when it is inside it (``var/...``)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


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
