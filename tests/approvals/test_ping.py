"""CIBA Core §10.2 ping mode: after the decision, a POST to the client's notification
endpoint (a real loopback HTTP server) with its client_notification_token as Bearer and the
auth_req_id; once, however often the task runs; then the token request succeeds."""

from __future__ import annotations

import json
import queue
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from approvals import services, tasks
from approvals.models import ApprovalClient, ApprovalRequest

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    got: queue.Queue = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.put((self.path, self.headers["Authorization"], json.loads(body)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}/ciba-ping"
    server.got = got
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def ping_client(mcp_client, receiver):
    cl, _ = mcp_client
    ApprovalClient.objects.filter(client=cl).update(
        delivery_mode="ping", notification_endpoint=receiver.url
    )


def test_ping_mode_requires_a_client_notification_token(ask, user, ping_client):
    response = ask(user)
    assert response.json()["error"] == "invalid_request"


def test_ping_reaches_the_client_once_with_its_bearer_token(
    ask, poll, user, passkey, ping_client, receiver, django_capture_on_commit_callbacks
):
    body = ask(user, client_notification_token="ping-secret-123").json()
    approval = ApprovalRequest.objects.get()
    assert "ping-secret-123" not in approval.notification_token_encrypted
    with django_capture_on_commit_callbacks(execute=True):
        services.decide(approval, approve=True, credential=passkey, now=timezone.now())
    path, authorization, sent = receiver.got.get(timeout=10)
    assert path == "/ciba-ping"
    assert authorization == "Bearer ping-secret-123"
    assert sent == {"auth_req_id": body["auth_req_id"]}
    # Rerunning the task (a redelivery) sends nothing more.
    assert tasks.notify_client(str(approval.pk)) is False
    assert receiver.got.empty()
    assert poll(body["auth_req_id"]).status_code == 200


def test_poll_mode_refuses_a_notification_token(ask, user):
    assert ask(user, client_notification_token="x").json()["error"] == "invalid_request"
