"""The embedded default as ``make run`` starts it: ``manage.py serve`` (gunicorn plus a Celery
worker on the file broker), SQLite, no Redis. docs/SECURITY.md, review items 1 and 5, on
the real processes."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from mcp_token_verifier import TokenError, TokenVerifier
from tests.conftest import PASSWORD
from tests.deploy.test_production_stack import sign_in_and_authorize

ROOT = Path(__file__).resolve().parents[2]
MCP = "https://mcp.example.com/mcp"
REVOCATION_DEADLINE = 5.0  # seconds: the README's "within seconds", as the review measured it


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Embedded:
    """One embedded server in a temporary VAR_DIR, with its combined output in a file."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.env = {
            **env,
            "VAR_DIR": str(tmp / "var"),
            "ISSUER": self.issuer,
            "ADMIN_USERNAME": "alice",  # what tests.deploy's sign-in helper uses
            "ADMIN_PASSWORD": PASSWORD,
        }
        self.log = tmp / "serve.log"
        self.proc: subprocess.Popen | None = None

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        return result.stdout

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--bind", f"127.0.0.1:{self.port}"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )
        wait_for(lambda: self.get("/readyz").status_code == 200, "web never became ready")
        wait_for(lambda: "ready." in self.log.read_text(), "worker never became ready")

    def get(self, path: str, **kw) -> httpx.Response:
        try:
            return httpx.get(self.issuer + path, timeout=5, **kw)
        except httpx.HTTPError:
            return httpx.Response(599)

    def stop(self) -> str:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.log.read_text(errors="replace")


def wait_for(check, message: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(message)


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    server = Embedded(tmp_path_factory.mktemp("embedded"))
    server.manage("migrate", "--noinput")  # what `make run` does, in its order
    server.manage("bootstrap")
    server.manage("add_resource", MCP, "--name", "Demo", "--scope", "tools:read=Read tools")
    server.client = json.loads(
        server.manage(
            "add_client",
            "--name",
            "svc",
            "--confidential",
            "--grant",
            "client_credentials",
            "--resource",
            MCP,
            "--scope",
            "tools:read",
        )
    )
    server.start()
    yield server
    server.stop()


def basic(client: dict) -> dict:
    pair = f"{client['client_id']}:{client['client_secret']}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


def issue_token(embedded: Embedded) -> str:
    response = httpx.post(
        embedded.issuer + "/token",
        data={"grant_type": "client_credentials", "resource": MCP, "scope": "tools:read"},
        headers=basic(embedded.client),
        timeout=5,
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def test_revocation_reaches_the_verifier_within_seconds_in_the_embedded_default(embedded):
    token = issue_token(embedded)
    verifier = TokenVerifier(
        issuer=embedded.issuer,
        resource=MCP,
        revocation_list_uri=f"{embedded.issuer}/revocations",
        revocation_poll_interval=0.5,
    )
    assert verifier.verify(token)["aud"] == MCP  # the verifier holds a current list now
    revoked = httpx.post(
        embedded.issuer + "/revoke", data={"token": token}, headers=basic(embedded.client)
    )
    assert revoked.status_code == 200
    started = time.monotonic()
    while time.monotonic() - started < REVOCATION_DEADLINE:
        try:
            verifier.verify(token)
        except TokenError:
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"revoked token still accepted after {REVOCATION_DEADLINE} s")


def test_secrets_in_query_strings_never_reach_the_embedded_servers_logs(embedded):
    """A full authorization code flow and a registration, then their real secrets sent
    again in query strings (as careless clients do): none may reach the output."""
    web = httpx.Client(base_url=embedded.issuer, timeout=5)
    registered = web.post(
        "/register",
        json={
            "client_name": "log test",
            "redirect_uris": ["http://127.0.0.1/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "none",
        },
    ).json()
    client_id = registered["client_id"]
    redirect = "http://127.0.0.1:50999/callback"
    with httpx.Client(base_url=embedded.issuer, timeout=5) as browser:
        code, verifier = sign_in_and_authorize(browser, embedded.issuer, client_id, redirect)
    secrets = {
        "code": code,
        "code_verifier": verifier,
        "registration_access_token": registered["registration_access_token"],
        "client_secret": embedded.client["client_secret"],
    }
    for name, value in list(secrets.items()):
        web.get(f"/token?grant_type=authorization_code&{name}={value}")
        web.get(f"/register/{client_id}?{name}={value}")
    tokens = web.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": redirect,
            "client_id": client_id,
            "resource": MCP,
        },
    ).json()
    secrets["access_token"] = tokens["access_token"]
    secrets["refresh_token"] = tokens["refresh_token"]
    for name in ("access_token", "refresh_token"):
        web.get(f"/revocations?x=1&{name}={secrets[name]}")
    wait_for(
        lambda: embedded.log.read_text().count("/revocations?x=1") >= 2,
        "the access log never showed the requests",
    )
    log = embedded.log.read_text(errors="replace")
    assert "[redacted]" in log  # the access lines are there, scrubbed
    for name, value in secrets.items():
        assert value not in log, f"{name} leaked into the embedded server's output"
