"""authserver.ops.machine: /token, /introspect, /revoke, /register and AuthZEN's decisions
skip the browser-only middleware, and answer exactly as the whole chain would."""

from __future__ import annotations

import pytest
from django.db import OperationalError
from django.test import Client as HttpClient

from authserver.keys import keyring as keys
from authserver.ops import machine
from tests.factories import MCP, make_client, make_resource
from tests.support.http import basic

pytestmark = pytest.mark.django_db

# What varies per request, or what only the whole chain's session middleware may add.
PER_REQUEST = {"x-request-id", "date", "content-length"}
COMPARED = (
    "Content-Security-Policy",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "Referrer-Policy",
    "Access-Control-Allow-Origin",
    "Cache-Control",
)


@pytest.fixture
def machine_client():
    resource = make_resource()
    return make_client(access={resource: "tools:read"})


def requests(machine_client):
    c, secret = machine_client
    auth = basic(c.client_id, secret)
    form = "application/x-www-form-urlencoded"
    return [
        ("/token", f"grant_type=client_credentials&resource={MCP}", form, auth),
        ("/token", "grant_type=password", form, ""),
        ("/introspect", "token=nothing", form, auth),
        ("/revoke", "token=nothing", form, auth),
        ("/register", '{"redirect_uris": ["ftp://x"]}', "application/json", ""),
        ("/access/v1/evaluation", "{}", "application/json", auth),
    ]


def answer(path, body, content_type, auth):
    http = HttpClient(raise_request_exception=False)
    headers = {"HTTP_AUTHORIZATION": auth} if auth else {}
    response = http.post(path, body, content_type=content_type, HTTP_ORIGIN="https://a.example",
                         **headers)  # fmt: skip
    names = {k.lower() for k in response.headers} - PER_REQUEST
    fixed = {k: v for k, v in response.headers.items() if k.lower() in names}
    fixed.pop("Vary", None)
    return response.status_code, names, fixed, response


def test_machine_paths_answer_with_the_same_status_and_headers_as_the_whole_chain(
    settings, machine_client
):
    shortened = [answer(*r)[:3] for r in requests(machine_client)]
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != machine.SELF]
    whole = [answer(*r)[:3] for r in requests(machine_client)]
    assert [s for s, _, _ in shortened] == [s for s, _, _ in whole]
    for (_, names, fixed, *_), (_, whole_names, whole_fixed, *_) in zip(
        shortened, whole, strict=True
    ):
        assert names - {"vary"} == whole_names - {"vary"}
        for header in COMPARED:
            assert fixed.get(header) == whole_fixed.get(header), header


def test_machine_paths_never_open_a_session_or_set_a_cookie(machine_client, client):
    client.cookies["sessionid"] = "a-stolen-or-stale-session"
    client.cookies["csrftoken"] = "x" * 32
    for path, body, content_type, auth in requests(machine_client):
        headers = {"HTTP_AUTHORIZATION": auth} if auth else {}
        response = client.post(path, body, content_type=content_type, **headers)
        assert not response.cookies, path
        assert "Cookie" not in response.get("Vary", ""), path


def test_machine_paths_answer_with_a_content_length(machine_client):
    for request in requests(machine_client):
        response = answer(*request)[3]
        assert int(response["Content-Length"]) == len(response.content)


def test_only_the_exact_machine_paths_take_the_short_chain(rf):
    middleware = machine.MachineEndpointsMiddleware(lambda request: "whole")
    middleware.machine = lambda request: "short"
    for path in machine.MACHINE_PATHS:
        assert middleware(rf.post(path)) == "short"
    for path in ("/token/", "/tokens", "/register/abc", "/authorize", "/admin/", "/x/token",
                 "/introspect/", "/access/v1/search/subject", "/accounts/login/"):  # fmt: skip
        assert middleware(rf.post(path)) == "whole", path


def test_the_short_chain_is_the_whole_chain_without_the_browser_middleware(settings):
    chain = machine.machine_middleware()
    after = settings.MIDDLEWARE[settings.MIDDLEWARE.index(machine.SELF) + 1 :]
    assert chain == [m for m in after if m not in settings.BROWSER_MIDDLEWARE]
    assert not set(chain) & set(settings.BROWSER_MIDDLEWARE)
    for kept in ("authserver.errors.middleware.ErrorMiddleware",
                 "authserver.ops.availability.DependencyUnavailableMiddleware",
                 "django.middleware.security.SecurityMiddleware",
                 "authserver.ops.cors.CorsMiddleware",
                 "authserver.ops.middleware.SecurityHeadersMiddleware"):  # fmt: skip
        assert kept in chain


def test_database_down_during_a_token_request_is_a_503_on_the_short_chain(
    machine_client, monkeypatch
):
    def down(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(keys, "sign", down)
    c, secret = machine_client
    response = HttpClient(raise_request_exception=False).post(
        "/token", {"grant_type": "client_credentials", "resource": MCP},
        HTTP_AUTHORIZATION=basic(c.client_id, secret),
    )  # fmt: skip
    assert response.status_code == 503
    assert response.json() == {"error": "temporarily_unavailable"}
    assert response["Retry-After"] == "5"
