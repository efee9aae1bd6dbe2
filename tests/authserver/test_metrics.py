"""/metrics is private; it counts tokens and OAuth errors; the admin overview shows them."""

from __future__ import annotations

import base64
import dataclasses

import pytest

from tests.factories import MCP, make_client, make_resource

pytestmark = pytest.mark.django_db


@pytest.fixture
def machine():
    resource = make_resource()
    return make_client(access={resource: "tools:read"})


def issue(client, machine, **data):
    c, secret = machine
    auth = "Basic " + base64.b64encode(f"{c.client_id}:{secret}".encode()).decode()
    return client.post(
        "/token", {"grant_type": "client_credentials", **data}, HTTP_AUTHORIZATION=auth
    )


def test_metrics_are_refused_from_outside_the_allowed_networks(client):
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 404


def test_metrics_with_the_bearer_secret_from_anywhere(client, settings):
    settings.CONFIG = dataclasses.replace(settings.CONFIG, metrics_token="m-secret")
    assert (
        client.get(
            "/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer m-secret"
        ).status_code
        == 200
    )
    assert (
        client.get(
            "/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer wrong"
        ).status_code
        == 404
    )


def test_metrics_count_tokens_errors_and_report_key_and_list_age(
    client, machine, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # counted once committed
        assert issue(client, machine, resource=MCP).status_code == 200
    assert issue(client, machine, resource="https://nope.example/mcp").status_code == 400
    client.get("/revocations")
    body = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert (
        f'authserver_tokens_issued_total{{grant_type="client_credentials",resource="{MCP}"}}'
        in body
    )
    assert 'authserver_oauth_errors_total{endpoint="token",error="invalid_target"}' in body
    assert "authserver_active_key_age_seconds" in body
    assert "authserver_revocation_list_age_seconds" in body
    assert 'authserver_request_seconds_bucket{endpoint="token"' in body


def test_admin_overview_shows_charts_to_staff_only(client, machine, admin_user, user):
    issue(client, machine, resource=MCP)
    client.force_login(user)
    assert client.get("/admin/overview/").status_code == 302
    client.force_login(admin_user)
    page = client.get("/admin/overview/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html
    assert "Tokens issued, last 24 hours (1)" in html
    assert MCP in html
