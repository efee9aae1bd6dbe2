"""``make demo``: our authorization server and a protected demo MCP server, side by side.

1. Prepares the embedded default like ``make run`` (migrate, bootstrap) and registers the demo
   MCP server as a resource (``manage.py add_resource``, idempotent), with a confidential
   client of its own (a new secret each start) as its introspection client, with which it
   asks our AuthZEN decision point about every tool call (docs/AUTHZEN.md).
2. Starts ``manage.py serve`` (http://127.0.0.1:8000) and ``python -m examples.demo_mcp_server``
   (http://127.0.0.1:8001/mcp, or DEMO_PORT; ``ISSUER`` moves our server), waits until both
   answer, and prints what to point an MCP client at.
3. Ctrl-C (or either process exiting) stops both.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# The embedded default's issuer; with ISSUER set (a loopback http URL), `serve` binds its host:port.
ISSUER = os.environ.get("ISSUER", "http://127.0.0.1:8000")
PORT = int(os.environ.get("DEMO_PORT", "8001"))
RESOURCE = f"http://127.0.0.1:{PORT}/mcp"


PEP_NAME = "Demo MCP server (live decisions)"


def manage(*args: str) -> str:
    done = subprocess.run(  # noqa: S603
        [PYTHON, "manage.py", *args], cwd=ROOT, check=True, capture_output=True, text=True
    )
    sys.stderr.write(done.stderr)
    return done.stdout


def register_resource() -> dict[str, str]:
    """The demo MCP server as a resource, and its client for live decisions: the variables
    that make the demo server ask the decision point (DEMO_PDP_CLIENT_ID/SECRET)."""
    pep = json.loads(manage("add_client", "--name", PEP_NAME, "--confidential", "--rotate-secret"))
    manage(
        "add_resource",
        RESOURCE,
        "--name",
        "Demo notes",
        "--scope",
        "notes:read=Read your notes",
        "--scope",
        "notes:write=Create notes",
        "--default-scope",
        "notes:read",
        "--tools",
        "notes:read=list_notes,whoami",
        "--tools",
        "notes:write=add_note",
        "--introspection-client",
        pep["client_id"],
    )
    return {"DEMO_PDP_CLIENT_ID": pep["client_id"], "DEMO_PDP_CLIENT_SECRET": pep["client_secret"]}


def wait_until_up(url: str, procs: list[subprocess.Popen], timeout: float = 60) -> None:
    """Until ``url`` answers any HTTP status (401 counts), or a process dies, or timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(proc.poll() is not None for proc in procs):
            raise SystemExit("a server exited during start-up; see its output above")
        try:
            urllib.request.urlopen(url, timeout=2).close()  # noqa: S310 -- our fixed http URL
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {timeout:.0f} s")


def banner() -> str:
    return f"""
================================================================================
 Authorization server  {ISSUER}   (admin: {ISSUER}/admin/)
 Demo MCP server       {RESOURCE}
   tools: list_notes, whoami (notes:read), add_note (notes:write)

 Point an MCP client at {RESOURCE}, e.g.
   claude mcp add --transport http demo-notes {RESOURCE}
   npx @modelcontextprotocol/inspector   (Streamable HTTP, URL above, Connect)
 Sign in as the admin user (its first password is in var/first-admin-password;
 ADMIN_PASSWORD sets it) or any user created in the admin.

 Live decisions (docs/AUTHZEN.md): every tool call is also asked of this server.
 Call list_notes, then in the admin: Tool policies > Add: MCP server "Demo notes",
 effect deny, a group you are in (or none: everyone), tools ["list_notes"], Save.
 The next list_notes call is refused within a second, with the same token; delete
 the rule and it is allowed again.
 More clients: examples/README.md.       Ctrl-C stops both servers.
================================================================================
"""


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=25)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> int:
    manage("migrate", "--noinput", "--verbosity", "0")
    manage("bootstrap")
    pdp_env = register_resource()

    def interrupt(signum, frame) -> None:
        raise KeyboardInterrupt

    # Explicit handlers: a shell that starts us in the background ignores SIGINT for us.
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    procs = [
        subprocess.Popen(  # noqa: S603
            [PYTHON, "manage.py", "serve", "--bind", urlsplit(ISSUER).netloc], cwd=ROOT
        ),
        subprocess.Popen(  # noqa: S603
            [
                PYTHON,
                "-m",
                "examples.demo_mcp_server",
                "--issuer",
                ISSUER,
                "--port",
                str(PORT),
                "--resource",
                RESOURCE,
            ],
            cwd=ROOT,
            env={**os.environ, **pdp_env},
        ),
    ]
    try:
        wait_until_up(f"{ISSUER}/.well-known/oauth-authorization-server", procs)
        wait_until_up(RESOURCE, procs)
        print(banner(), flush=True)
        while all(proc.poll() is None for proc in procs):
            time.sleep(0.3)
        print("a server exited; stopping the other", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip stop()
        stop(procs)


if __name__ == "__main__":
    sys.exit(main())
