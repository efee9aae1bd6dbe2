"""Fixtures for end-to-end tests: our server on 127.0.0.1, the demo MCP server, a loopback callback.

Our server runs in pytest-django's ``LiveServerThread``, but on ``127.0.0.1`` and per test: the
session-wide ``live_server`` binds ``localhost``, and MCP clients compare the issuer byte for
byte (it must equal ``settings.ISSUER``, the metadata ``issuer`` and every token's ``iss``).
"""

from __future__ import annotations

import dataclasses
import os
import socket
import threading

import pytest
import uvicorn
from pytest_django.live_server_helper import LiveServer

from authserver.models import RevocationListSnapshot, Scope
from examples.demo_mcp_server import SCOPES, DemoSettings, create_app
from tests.factories import make_resource
from tests.loopback import Callback

# The SDK client and Playwright's async API run in an event loop in the test's worker thread,
# which also reads and writes the database between steps (as tests/browser/conftest.py does).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# The registry lists every tool the demo server offers under the scope it needs (TOOL_SCOPES):
# tokens carry the tools of their scopes, and the server refuses any tool they do not list.
DEMO_TOOLS = {
    "notes:read": ["list_notes", "whoami", "call_downstream", "call_upstream"],
    "notes:write": ["add_note"],
}


@pytest.fixture
def issuer(transactional_db, settings) -> str:
    """Our server on http://127.0.0.1:<free port>, configured as that issuer."""
    server = LiveServer("127.0.0.1:0")
    url = server.url
    settings.ISSUER = url
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "OIDC_ISS_ENDPOINT": url}
    settings.CONFIG = dataclasses.replace(
        settings.CONFIG, issuer=url, allow_http_loopback_resources=True
    )
    # A revocation list signed earlier names the default issuer; verifiers would refuse it.
    from django.core.cache import cache

    cache.clear()
    RevocationListSnapshot.objects.all().delete()
    yield url
    server.stop()


@dataclasses.dataclass
class DemoServer:
    url: str  # the MCP endpoint, which is also the resource identifier
    resource: object  # authserver.models.Resource
    settings: DemoSettings | None = None


@pytest.fixture
def start_demo_server(issuer):
    """Starts examples/demo_mcp_server instances (uvicorn, one thread each), registered as
    resources; ``start(url=None, name=..., **DemoSettings fields)``. ``free_url()`` reserves
    a URL first, for servers that must know each other's (multi-hop)."""
    sockets: dict[str, socket.socket] = {}
    running: list[tuple[uvicorn.Server, threading.Thread, socket.socket]] = []

    def free_url() -> str:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
        sockets[url] = sock
        return url

    def start(url: str | None = None, *, name: str = "Demo notes", **fields) -> DemoServer:
        url = url or free_url()
        sock = sockets.pop(url)
        resource = make_resource(url, name=name, scopes=SCOPES, defaults=("notes:read",))
        for scope_name, tools in DEMO_TOOLS.items():
            Scope.objects.filter(resource=resource, name=scope_name).update(tools=tools)
        fields.setdefault("revocation_poll_interval", 1.0)
        settings = DemoSettings(issuer=issuer, resource=url, **fields)
        server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        running.append((server, thread, sock))
        for _ in range(100):
            if server.started or not thread.is_alive():
                break
            threading.Event().wait(0.05)
        assert server.started, "the demo MCP server did not start"
        return DemoServer(url=url, resource=resource, settings=settings)

    start.free_url = free_url
    yield start
    for server, _, _ in running:
        server.should_exit = True
    for _, thread, sock in running:
        thread.join(10)
        sock.close()
    for sock in sockets.values():
        sock.close()


@pytest.fixture
def demo_server(start_demo_server) -> DemoServer:
    """examples/demo_mcp_server under uvicorn in a thread, registered as a resource."""
    return start_demo_server()


@pytest.fixture
def callback():
    cb = Callback()
    yield cb
    cb.close()
