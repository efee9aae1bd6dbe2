"""A production-style stack on this machine, without Docker: gunicorn with 2 workers, a Celery
worker and beat, on the real PostgreSQL and Redis that `make test` starts."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.db import connection
from django.utils import timezone

from authserver.keys import keyring as keys
from authserver.models import SigningKey
from mcp_token_verifier import TokenError, TokenVerifier
from tests.factories import MCP, make_resource
from tests.support.deploy import sign_in_and_authorize, wait_for
from tests.support.http import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)


class Stack:
    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        db = connection.settings_dict
        database_url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "ISSUER": self.issuer,
            "LOG_FORMAT": "json",
            "VAR_DIR": str(tmp / "var"),
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "GUNICORN_WORKERS": "2",
            "GUNICORN_THREADS": "2",
            "PROMETHEUS_MULTIPROC_DIR": str(tmp / "metrics"),
        }
        (tmp / "metrics").mkdir()
        self.logs = {name: tmp / f"{name}.log" for name in ("web", "worker", "beat")}
        self.procs: dict[str, subprocess.Popen] = {}
        self.tmp = tmp

    def start(self, name: str, argv: list[str]) -> None:
        self.procs[name] = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=self.env,
            stdout=self.logs[name].open("w"),
            stderr=subprocess.STDOUT,
        )

    def up(self) -> None:
        py = sys.executable
        self.start(
            "web", [py, "-m", "gunicorn", "authserver.wsgi", "--config", "deploy/gunicorn.conf.py"]
        )
        self.start(
            "worker",
            [
                py,
                "-m",
                "celery",
                "-A",
                "authserver",
                "worker",
                "--concurrency",
                "1",
                "--loglevel",
                "INFO",
                "-n",
                "test@%h",
            ],
        )
        self.start(
            "beat",
            [
                py,
                "-m",
                "celery",
                "-A",
                "authserver",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(self.tmp / "beat-schedule"),
            ],
        )
        wait_for(lambda: self.get("/readyz").status_code == 200, "web never became ready")
        wait_for(lambda: "ready." in self.logs["worker"].read_text(), "worker never started")

    def get(self, path: str, **kw) -> httpx.Response:
        try:
            return httpx.get(self.issuer + path, timeout=5, **kw)
        except httpx.HTTPError:
            return httpx.Response(599)

    def down(self) -> dict[str, int | None]:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes = {}
        for name, proc in self.procs.items():
            try:
                codes[name] = proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                codes[name] = None
        return codes


@pytest.fixture
def stack(tmp_path):
    s = Stack(tmp_path)
    try:
        s.up()
        yield s
    finally:
        s.codes = s.down()


def test_full_flow_across_two_gunicorn_workers_with_real_celery(stack, make_user, settings):
    from django.conf import global_settings

    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS  # what gunicorn checks with
    make_user("alice")
    make_resource(MCP)
    # A key due for rotation, so the real worker has something to do.
    old = keys.active_key(now=timezone.now())
    SigningKey.objects.filter(pk=old.pk).update(
        activated_at=timezone.now() - timedelta(days=29, hours=1)
    )

    fresh = httpx.Client(
        base_url=stack.issuer, timeout=5, limits=httpx.Limits(max_keepalive_connections=0)
    )
    registered = fresh.post(
        "/register",
        json={
            "client_name": "stack test",
            "redirect_uris": ["http://127.0.0.1/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        },
    )
    assert registered.status_code == 201, registered.text
    client_id = registered.json()["client_id"]

    with httpx.Client(
        base_url=stack.issuer, timeout=5, limits=httpx.Limits(max_keepalive_connections=0)
    ) as browser:
        code, verifier = sign_in_and_authorize(
            browser, stack.issuer, client_id, "http://127.0.0.1:50999/callback"
        )
    tokens = fresh.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": "http://127.0.0.1:50999/callback",
            "client_id": client_id,
            "resource": MCP,
        },
    ).json()
    assert tokens["token_type"] == "Bearer"

    mcp_verifier = TokenVerifier(
        issuer=stack.issuer,
        resource=MCP,
        revocation_list_uri=f"{stack.issuer}/revocations",
        revocation_poll_interval=0.5,
    )
    assert mcp_verifier.verify(tokens["access_token"])["aud"] == MCP

    # Requests were spread over both workers.
    for _ in range(200):
        pids = set(re.findall(r"pid=<?(\d+)", stack.logs["web"].read_text()))
        if len(pids) >= 2:
            break
        fresh.get("/healthz")
    assert len(pids) >= 2

    # A revocation is published by the real Celery worker, and the verifier sees it.
    assert (
        fresh.post(
            "/revoke", data={"token": tokens["access_token"], "client_id": client_id}
        ).status_code
        == 200
    )

    def refused() -> bool:
        try:
            mcp_verifier.verify(tokens["access_token"])
        except TokenError:
            return True
        return False

    wait_for(refused, "revoked token still accepted")
    wait_for(
        lambda: (
            "publish_revocation_list" in stack.logs["worker"].read_text()
            and "succeeded" in stack.logs["worker"].read_text()
        ),
        "worker did not publish",
    )

    # Key rotation performed by the real worker.
    from authserver.celery import app

    app.send_task("authserver.tasks.rotate_signing_keys")
    wait_for(lambda: SigningKey.objects.filter(state="pending").exists(), "no rotation")

    # Structured JSON logs, and no token anywhere in them.
    web_log = stack.logs["web"].read_text()
    assert tokens["access_token"] not in web_log
    assert tokens["refresh_token"] not in web_log
    assert '"request_id"' in web_log or '"message"' in web_log


def test_clean_shutdown(tmp_path):
    s = Stack(tmp_path)
    s.up()
    codes = s.down()
    assert codes == {"web": 0, "worker": 0, "beat": 0}
