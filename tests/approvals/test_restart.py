"""Approvals are stored, not remembered: the server runs as a real process (the embedded
default, ``manage.py serve``: gunicorn and the job worker on SQLite), a CIBA request is made,
the whole process group is killed (SIGKILL, no clean shutdown) and started again; the person
then approves and the MCP server redeems the ``auth_req_id`` for the one-time token, once."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys

import httpx
import pytest

from tests.approvals.conftest import ARGS
from tests.conftest import PASSWORD
from tests.factories import MCP
from tests.support.deploy import ROOT, Embedded, wait_for
from tests.support.http import basic

CIBA = "urn:openid:params:grant-type:ciba"
SETUP = f"""
import json
from django.contrib.auth import get_user_model
from approvals.models import ApprovalClient, ApprovalPolicy
from authserver.models import Scope
from tests.factories import make_client, make_resource
bank = make_resource({MCP!r}, name="Bank", scopes={{"payments": "Move money"}}, defaults=())
Scope.objects.filter(resource=bank).update(tools=["transfer"])
client, secret = make_client(grant_types=("client_credentials", {CIBA!r}), name="Bank MCP")
ApprovalClient.objects.create(client=client).resources.add(bank)
ApprovalPolicy.objects.create(pk=1, require_passkeys=False)  # approve by password over HTTP
alice = get_user_model().objects.get(username="alice")
print(json.dumps({{"client_id": client.client_id, "secret": secret, "sub": str(alice.pk)}}))
"""


class Restartable(Embedded):
    """The embedded server in its own process group, so that a kill takes every process."""

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--bind", f"127.0.0.1:{self.port}"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("a"),
            stderr=subprocess.STDOUT,
            process_group=0,
        )
        wait_for(lambda: self.get("/readyz").status_code == 200, "web never became ready", 60)

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        wait_for(lambda: self.get("/readyz").status_code == 599, "the old server still answers")


@pytest.fixture
def server(tmp_path):
    embedded = Restartable(tmp_path)
    embedded.manage("migrate", "--noinput")
    embedded.manage("bootstrap")  # alice, with PASSWORD
    embedded.setup = json.loads(embedded.manage("shell", "-c", SETUP).strip().splitlines()[-1])
    yield embedded
    if embedded.proc is not None and embedded.proc.poll() is None:
        os.killpg(embedded.proc.pid, signal.SIGKILL)
        embedded.proc.wait()


def approve_by_password(issuer: str, approval_uri: str) -> None:
    with httpx.Client(base_url=issuer, timeout=10) as browser:
        browser.get("/accounts/login/")
        browser.post(
            "/accounts/login/",
            data={
                "username": "alice",
                "password": PASSWORD,
                "csrfmiddlewaretoken": browser.cookies["csrftoken"],
            },
        )
        page = browser.get(approval_uri)
        assert page.status_code == 200, page.text[:300]
        form = re.search(r'action="([^"]*approve-password)"', page.text).group(1)
        answer = browser.post(
            form,
            data={"password": PASSWORD, "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        )
        assert answer.status_code == 302
        assert "Approved" in browser.get(approval_uri).text


def test_a_ciba_request_survives_a_killed_server_and_is_redeemed_once_after_restart(server):
    from mcp_token_verifier import approvals as calls

    setup = server.setup
    auth = {"Authorization": basic(setup["client_id"], setup["secret"])}
    server.start()
    asked = httpx.post(
        f"{server.issuer}/backchannel-authentication",
        data={
            "login_hint": setup["sub"],
            "binding_message": "K7-42",
            "authorization_details": json.dumps(
                [calls.approval_request(MCP, "transfer", ARGS, "Refund €4,000 to X")]
            ),
        },
        headers=auth,
        timeout=10,
    )
    assert asked.status_code == 200, asked.text
    auth_req_id, approval_uri = asked.json()["auth_req_id"], asked.json()["approval_uri"]

    def redeem() -> httpx.Response:
        form = {"grant_type": CIBA, "auth_req_id": auth_req_id}
        return httpx.post(f"{server.issuer}/token", data=form, headers=auth, timeout=10)

    assert redeem().json()["error"] == "authorization_pending"

    server.kill()
    server.start()  # a new process: nothing survives but the database

    approve_by_password(server.issuer, approval_uri)
    # The poll interval passed (the test does not wait it out).
    server.manage(
        "shell",
        "-c",
        "from approvals.models import ApprovalRequest as A; A.objects.update(last_polled_at=None)",
    )
    token = redeem()
    assert token.status_code == 200, token.text
    payload = token.json()["access_token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["sub"] == setup["sub"]
    detail = claims["authorization_details"][0]
    assert detail["actions"] == ["transfer"]
    assert detail["arguments_digest"] == calls.arguments_digest(ARGS)
    assert redeem().json()["error"] == "invalid_grant"  # once
