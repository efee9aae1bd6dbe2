"""Hot-path caches across processes: two gunicorn workers (one thread each) with Redis, on the
real PostgreSQL. Each worker caches the client, its resource access and the signing key; a
change made elsewhere must be seen by every worker on the very next request."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from django.db import connection
from django.utils import timezone

from authserver.keys import keyring as keys
from authserver.models import CacheGeneration, ResourceAccess
from clients.models import Client
from tests.factories import MCP, make_client, make_resource
from tests.support.deploy import wait_for
from tests.support.http import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)
ROUNDS = 24  # requests per check, 8 at a time, so both workers answer some


@pytest.fixture
def web(tmp_path):
    port = free_port()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "ISSUER": f"http://127.0.0.1:{port}",
        "LOG_FORMAT": "json",
        "VAR_DIR": str(tmp_path / "var"),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "2",
        "GUNICORN_THREADS": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    assert env.get("REDIS_URL"), "make test provides Redis"
    (tmp_path / "metrics").mkdir()
    log = (tmp_path / "web.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "authserver.wsgi",
            "--config",
            "deploy/gunicorn.conf.py",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = env["ISSUER"]

    def ready() -> bool:
        try:
            return httpx.get(base + "/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(ready, "gunicorn never became ready")
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def many_token_requests(base: str, client_id: str, secret: str) -> list[httpx.Response]:
    auth = "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()

    def one(_: int) -> httpx.Response:
        # A new connection each time, so the kernel hands requests to either worker.
        return httpx.post(
            base + "/token",
            data={"grant_type": "client_credentials", "resource": MCP},
            headers={"Authorization": auth, "Connection": "close"},
            timeout=10,
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, range(ROUNDS)))


def kid_of(token: str) -> str:
    return json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))["kid"]


def test_client_access_and_key_changes_reach_every_worker_on_the_next_request(web):
    CacheGeneration.objects.get_or_create(id=1)
    resource = make_resource(MCP)
    machine, secret = make_client(access={resource: "tools:read"})
    keys.active_key(now=timezone.now())

    warm = many_token_requests(web, machine.client_id, secret)
    assert [r.status_code for r in warm] == [200] * ROUNDS
    first_kid = kid_of(warm[0].json()["access_token"])

    # Rotated out: every worker signs with the new key at once.
    keys.rotate(now=timezone.now(), force=True)
    rotated = many_token_requests(web, machine.client_id, secret)
    assert {kid_of(r.json()["access_token"]) for r in rotated} == {keys.active_key().kid}
    assert keys.active_key().kid != first_kid

    # Access removed: a queryset delete, no signal reaches the workers.
    ResourceAccess.objects.filter(client=machine).delete()
    refused = many_token_requests(web, machine.client_id, secret)
    assert {r.json()["error"] for r in refused} == {"invalid_target"}

    # Disabled with a queryset update (as clients.services does): 401 everywhere.
    ResourceAccess.objects.create(client=machine, resource=resource, scope="tools:read")
    assert {r.status_code for r in many_token_requests(web, machine.client_id, secret)} == {200}
    Client.objects.filter(pk=machine.pk).update(is_active=False)
    disabled = many_token_requests(web, machine.client_id, secret)
    assert {r.status_code for r in disabled} == {401}
