"""One error writer (authserver/errors/; docs/ERRORS.md). Every endpoint's errors are written
there, metrics read the code it records (never the body or Location), and an unexpected
exception is a bare ``server_error`` with the detail in the log only."""

from __future__ import annotations

import json
import logging
from urllib.parse import parse_qs, urlsplit

import pytest
from django.http import JsonResponse
from django.test import Client as HttpClient
from django.test import RequestFactory
from oauthlib.oauth2.rfc6749 import errors as oauthlib_errors
from prometheus_client import REGISTRY

from authserver.authorization import endpoint as authorize_module
from authserver.discovery import views as discovery_views
from authserver.errors import (
    InvalidClient,
    InvalidGrant,
    OAuthError,
    ServerError,
    TemporarilyUnavailable,
    from_oauthlib,
    writer,
)
from authserver.introspection import service as introspection
from authserver.keys import keyring as keys
from authserver.keys import secretbox
from authserver.ops.metrics import MetricsMiddleware
from clients.errors import InvalidToken
from tests.factories import MCP, make_client, make_resource
from tests.oauthflow import authorize_url
from tests.support.http import basic

pytestmark = pytest.mark.django_db
SECRET_DETAIL = "detail-only-for-the-log-7f3a"


@pytest.fixture
def machine():
    resource = make_resource()
    return make_client(access={resource: "tools:read"})


def client_credentials(client, machine, **data):
    c, secret = machine
    return client.post(
        "/token",
        {"grant_type": "client_credentials", "resource": MCP, **data},
        HTTP_AUTHORIZATION=basic(c.client_id, secret),
    )


def errors_counted(endpoint: str, error: str) -> float:
    value = REGISTRY.get_sample_value(
        "authserver_oauth_errors_total", {"endpoint": endpoint, "error": error}
    )
    return value or 0.0


def explode(*args, **kwargs):
    raise RuntimeError(SECRET_DETAIL)


# --- the writer itself -------------------------------------------------------------------


def test_a_5xx_body_is_only_its_error_code():
    response = writer.json_error(ServerError("database said: " + SECRET_DETAIL))
    assert response.status_code == 500
    assert response.content == b'{"error": "server_error"}'
    assert response["Cache-Control"] == "no-store"


def test_temporarily_unavailable_carries_retry_after_and_no_description():
    response = writer.json_error(TemporarilyUnavailable("the keyring is rotating"))
    assert response.status_code == 503
    assert json.loads(response.content) == {"error": "temporarily_unavailable"}
    assert response["Retry-After"] == "5"


def test_invalid_client_challenges_with_basic_and_invalid_token_with_bearer(settings):
    basic_401 = writer.json_error(InvalidClient("client authentication failed"))
    bearer_401 = writer.json_error(InvalidToken("unknown registration access token"))
    assert basic_401["WWW-Authenticate"] == f'Basic realm="{settings.ISSUER}", charset="UTF-8"'
    assert bearer_401["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_the_writer_records_the_error_code_on_the_response_it_builds():
    rf = RequestFactory()
    assert writer.error_code_of(writer.json_error(InvalidGrant("expired"))) == "invalid_grant"
    page = writer.error_page(rf.get("/authorize"), OAuthError())
    assert writer.error_code_of(page) == "server_error"
    assert writer.error_code_of(JsonResponse({"error": "invalid_grant"}, status=400)) == ""


def test_authorization_error_redirect_carries_state_and_iss_and_never_a_5xx_description(
    settings,
):
    response = writer.error_redirect(
        "https://app.example/cb?x=1",
        ServerError("boom: " + SECRET_DETAIL),
        state="s-1",
        schemes=["https"],
    )
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query == {
        "x": ["1"],
        "error": ["server_error"],
        "state": ["s-1"],
        "iss": [settings.ISSUER],
    }
    assert writer.error_code_of(response) == "server_error"


def test_an_oauthlib_error_keeps_its_code_and_status_and_gets_our_challenge():
    exc = from_oauthlib(oauthlib_errors.InvalidClientError(description="unknown client"))
    assert (exc.error, exc.status, exc.description) == ("invalid_client", 401, "unknown client")
    assert exc.challenge().startswith("Basic ")
    unsupported = from_oauthlib(oauthlib_errors.UnsupportedTokenTypeError())
    assert (unsupported.error, unsupported.status) == ("unsupported_token_type", 400)


# --- metrics read the exception's code, not the response ---------------------------------


def test_metrics_count_error_code_without_reading_the_body():
    def view_with_a_rewritten_body(request):
        response = writer.json_error(InvalidGrant("expired"))
        response.content = b'{"error": "not_what_was_raised"}'
        return response

    before = errors_counted("token", "invalid_grant")
    MetricsMiddleware(view_with_a_rewritten_body)(RequestFactory().post("/token"))
    assert errors_counted("token", "invalid_grant") == before + 1
    assert errors_counted("token", "not_what_was_raised") == 0


def test_metrics_do_not_count_an_error_body_the_writer_did_not_write():
    def hand_made(request):
        return JsonResponse({"error": "hand_made_error"}, status=400)

    MetricsMiddleware(hand_made)(RequestFactory().post("/token"))
    assert errors_counted("token", "hand_made_error") == 0


def test_metrics_count_an_authorization_redirect_error_without_reading_location():
    def redirect_with_a_rewritten_location(request):
        response = writer.error_redirect(
            "https://app.example/cb", InvalidGrant(), state=None, schemes=["https"]
        )
        response["Location"] = "https://app.example/cb?error=not_what_was_raised"
        return response

    before = errors_counted("authorize", "invalid_grant")
    MetricsMiddleware(redirect_with_a_rewritten_location)(RequestFactory().get("/authorize"))
    assert errors_counted("authorize", "invalid_grant") == before + 1
    assert errors_counted("authorize", "not_what_was_raised") == 0


# --- every endpoint's errors come from the writer ----------------------------------------


def test_token_endpoint_errors_are_written_by_the_writer(client, machine):
    wrong = client.post(
        "/token",
        {"grant_type": "client_credentials", "resource": MCP},
        HTTP_AUTHORIZATION=basic(machine[0].client_id, "wrong"),
    )
    assert wrong.status_code == 401
    assert writer.error_code_of(wrong) == "invalid_client"
    assert wrong["WWW-Authenticate"].startswith("Basic ")
    assert writer.error_code_of(client.get("/token")) == "invalid_request"


def test_revocation_errors_are_written_by_the_writer_with_the_basic_challenge(client, machine):
    response = client.post(
        "/revoke", {"token": "x"}, HTTP_AUTHORIZATION=basic(machine[0].client_id, "wrong")
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert writer.error_code_of(response) == "invalid_client"
    assert response["WWW-Authenticate"].startswith("Basic ")
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/revoke", "/introspect", "/register"])
def test_get_on_a_post_endpoint_is_json_405_with_allow(client, path):
    response = client.get(path)
    assert response.status_code == 405
    assert response.json() == {"error": "invalid_request", "error_description": "use POST"}
    assert "POST" in response["Allow"]


def test_unknown_well_known_document_is_a_json_404_from_the_writer(client):
    response = client.get("/.well-known/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found"}
    assert writer.error_code_of(response) == "not_found"


def test_authorization_error_page_is_written_by_the_writer(client):
    response = client.get(authorize_url("no-such-client", resource=MCP))
    assert response.status_code == 400
    assert "text/html" in response["Content-Type"]
    assert writer.error_code_of(response)  # counted by metrics from the error, not the page


# --- unexpected exceptions ---------------------------------------------------------------


def test_unexpected_exception_on_token_endpoint_is_bare_server_error(
    client, machine, monkeypatch, caplog
):
    monkeypatch.setattr(keys, "sign", explode)
    with caplog.at_level(logging.ERROR, logger="authserver.errors"):
        response = client_credentials(client, machine)
    assert response.status_code == 500
    assert response.json() == {"error": "server_error"}
    assert SECRET_DETAIL not in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    assert any(r.exc_info and SECRET_DETAIL in str(r.exc_info[1]) for r in caplog.records)


def test_unexpected_exception_on_introspection_is_bare_server_error_with_detail_in_log(
    client, machine, monkeypatch, caplog
):
    monkeypatch.setattr(introspection, "lookup", explode)
    c, secret = machine
    with caplog.at_level(logging.ERROR, logger="authserver.errors"):
        response = client.post(
            "/introspect", {"token": "t"}, HTTP_AUTHORIZATION=basic(c.client_id, secret)
        )
    assert response.status_code == 500
    assert response.json() == {"error": "server_error"}
    assert SECRET_DETAIL not in response.content.decode()
    assert any(r.exc_info and SECRET_DETAIL in str(r.exc_info[1]) for r in caplog.records)


def test_unexpected_exception_on_a_page_is_an_html_500_without_detail(monkeypatch):
    monkeypatch.setattr(authorize_module, "refuse_malformed_authorization_parameters", explode)
    browser = HttpClient(raise_request_exception=False)
    response = browser.get("/authorize?client_id=x", HTTP_ACCEPT="text/html")
    assert response.status_code == 500
    assert "json" not in response["Content-Type"]
    assert SECRET_DETAIL not in response.content.decode()


def test_no_signing_key_on_the_jwks_is_503_temporarily_unavailable(client, monkeypatch):
    def no_key():
        raise keys.NoSigningKey("injected")

    monkeypatch.setattr(discovery_views.keys, "jwks_document", no_key)
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 503
    assert response.json() == {"error": "temporarily_unavailable"}
    assert response["Retry-After"] == "5"


def test_undecryptable_signing_key_on_token_endpoint_is_503_with_retry_after(
    client, machine, monkeypatch
):
    def undecryptable(*args, **kwargs):
        raise secretbox.DecryptionError("injected")

    monkeypatch.setattr(keys, "sign", undecryptable)
    response = client_credentials(client, machine)
    assert response.status_code == 503
    assert response.json() == {"error": "temporarily_unavailable"}
    assert response["Retry-After"] == "5"


class ExplodingMiddleware:
    """Raises outside any view, for requests that ask it to (handler500's territory)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.headers.get("X-Explode"):
            raise RuntimeError(SECRET_DETAIL)
        return self.get_response(request)


@pytest.fixture
def exploding(settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, f"{__name__}.ExplodingMiddleware"]


def test_exception_outside_a_view_on_a_machine_endpoint_is_bare_server_error(exploding):
    http = HttpClient(raise_request_exception=False)
    response = http.post("/token", {"grant_type": "client_credentials"}, HTTP_X_EXPLODE="1")
    assert response.status_code == 500
    assert response.json() == {"error": "server_error"}
    assert writer.error_code_of(response) == "server_error"


def test_exception_outside_a_view_on_a_page_is_an_html_500_without_detail(exploding):
    http = HttpClient(raise_request_exception=False)
    response = http.get("/accounts/login/", HTTP_X_EXPLODE="1", HTTP_ACCEPT="text/html")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert SECRET_DETAIL not in response.content.decode()
