"""Helpers for the deployment tests (tests/deploy), which run the real processes: waiting for
them, signing in and authorizing over HTTP, and the embedded default (``manage.py serve``)
as a module-scoped ``embedded`` fixture (import it into the test module)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tests.conftest import PASSWORD
from tests.factories import MCP
from tests.oauthflow import pkce_pair
from tests.support.http import basic, free_port

ROOT = Path(__file__).resolve().parents[2]


def wait_for(check, message: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(message)


def sign_in_and_authorize(browser: httpx.Client, issuer: str, client_id: str, redirect: str):
    page = browser.get("/accounts/login/")
    csrf = browser.cookies["csrftoken"]
    browser.post(
        "/accounts/login/",
        data={"username": "alice", "password": PASSWORD, "csrfmiddlewaretoken": csrf},
    )
    verifier, challenge = pkce_pair()
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect,
            "state": "s1",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "resource": MCP,
            "scope": "tools:read offline_access",
        }
    )
    consent = browser.get(f"/authorize?{query}")
    assert consent.status_code == 200, consent.text[:300]
    request_id = re.search(r'name="request_id" value="([^"]+)"', consent.text).group(1)
    answer = browser.post(
        "/authorize",
        data={
            "request_id": request_id,
            "allow": "1",
            "csrfmiddlewaretoken": browser.cookies["csrftoken"],
        },
    )
    assert answer.status_code == 302, answer.text[:300]
    location = answer.headers["Location"]
    assert page.status_code == 200
    return parse_qs(urlsplit(location).query)["code"][0], verifier


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
        wait_for(
            lambda: self.get("/readyz").status_code == 200, "web never became ready", timeout=60
        )
        wait_for(lambda: "ready." in self.log.read_text(), "worker never became ready", timeout=60)

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


def issue_token(embedded: Embedded) -> str:
    response = httpx.post(
        embedded.issuer + "/token",
        data={"grant_type": "client_credentials", "resource": MCP, "scope": "tools:read"},
        headers=basic_header(embedded.client),
        timeout=5,
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def basic_header(client: dict) -> dict:
    """The ``Authorization`` header for a client as ``add_client`` printed it."""
    return {"Authorization": basic(client["client_id"], client["client_secret"])}
