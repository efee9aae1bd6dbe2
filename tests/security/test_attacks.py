"""A security regression suite, one test per attack, named after it."""

from __future__ import annotations

import hmac
import re
from unittest import mock

import pytest
from django.test import Client as HttpClient

from accounts import throttle
from authserver import client_secrets as secrets
from authserver.models import AccessToken, Grant
from authserver.protocol import pkce
from tests.conftest import PASSWORD
from tests.factories import MCP, make_client, make_resource
from tests.oauthflow import (
    REDIRECT,
    authorize_url,
    consent_request_id,
    exchange,
    get_code,
    pkce_pair,
    query_of,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def resource():
    return make_resource()


@pytest.fixture
def app(resource):
    client, _ = make_client(
        confidential=False,
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris="http://127.0.0.1/callback https://agent.example.com/cb",
        name="Agent",
    )
    return client


def start(client, app, **params):
    _, challenge = pkce_pair()
    base = {"code_challenge": challenge, "code_challenge_method": "S256"}
    base.update(params)
    return client.get(authorize_url(app.client_id, resource=MCP, **base))


# --- redirects ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "evil",
    [
        "https://evil.example/cb",
        "https://agent.example.com.evil.example/cb",
        "https://agent.example.com/cb/../../evil",
        "https://agent.example.com/cb?next=https://evil.example",
        "https://evil@agent.example.com/cb",
        "https://agent.example.com/cb#frag",
        "javascript:alert(1)",
        "//evil.example/cb",
    ],
)
def test_open_redirect_through_redirect_uri_is_never_followed(signed_in, app, evil):
    response = start(signed_in, app, redirect_uri=evil)
    assert response.status_code == 400
    assert "Location" not in response


def test_error_redirects_only_go_to_a_registered_redirect_uri(signed_in, app):
    response = start(
        signed_in,
        app,
        redirect_uri="https://agent.example.com/cb",
        scope="x",
        code_challenge_method="plain",
    )
    assert response.status_code == 302
    assert response["Location"].startswith("https://agent.example.com/cb?")
    assert query_of(response["Location"])["error"] == "invalid_request"


# --- code injection and mix-up -----------------------------------------------------------------


def test_authorization_code_injection_into_another_client_fails(signed_in, app):
    code, verifier, _ = get_code(signed_in, app.client_id, resource=MCP)
    attacker, _ = make_client(
        confidential=False,
        grant_types=("authorization_code",),
        redirect_uris="http://127.0.0.1/callback",
    )
    response = exchange(signed_in, attacker.client_id, code, verifier)
    assert response.json()["error"] == "invalid_grant"
    assert AccessToken.objects.count() == 0


def test_stolen_code_without_the_verifier_is_useless(signed_in, app):
    code, _, _ = get_code(signed_in, app.client_id, resource=MCP)
    guess, _ = pkce_pair()
    assert exchange(signed_in, app.client_id, code, guess).json()["error"] == "invalid_grant"


def test_mix_up_defence_every_authorization_response_names_the_issuer(signed_in, app):
    _, _, success = get_code(signed_in, app.client_id, resource=MCP)
    error = query_of(start(signed_in, app, response_type="token")["Location"])
    denied = get_code(signed_in, app.client_id, resource=MCP, scope="tools:write", allow=False)[2]
    for query in (success, error, denied):
        assert query["iss"] == "http://127.0.0.1:8000"


# --- CSRF, clickjacking, session ----------------------------------------------------------------


def test_csrf_on_consent(user, app):
    browser = HttpClient(enforce_csrf_checks=True)
    browser.force_login(user)
    request_id = consent_request_id(start(browser, app))
    assert browser.post("/authorize", {"request_id": request_id, "allow": "1"}).status_code == 403
    assert Grant.objects.count() == 0


def test_csrf_on_login(user):
    browser = HttpClient(enforce_csrf_checks=True)
    assert (
        browser.post("/accounts/login/", {"username": "alice", "password": PASSWORD}).status_code
        == 403
    )


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/", "/accounts/apps/"])
def test_clickjacking_headers_on_every_page(client, user, path):
    client.force_login(user)
    response = client.get(path)
    assert response["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_consent_page_cannot_be_framed(signed_in, app):
    response = start(signed_in, app)
    assert response["X-Frame-Options"] == "DENY"


def test_session_fixation_login_issues_a_new_session(client, user):
    client.get("/accounts/login/")
    client.cookies["sessionid"] = "attacker-chosen-session-id"
    client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert client.cookies["sessionid"].value != "attacker-chosen-session-id"


# --- PKCE downgrade ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [{"code_challenge_method": "plain"}, {"code_challenge": "", "code_challenge_method": "S256"}],
)
def test_pkce_downgrade_is_refused(signed_in, app, params):
    response = start(signed_in, app, **params)
    assert query_of(response["Location"])["error"] == "invalid_request"


def test_pkce_verifier_cannot_be_omitted_at_the_token_endpoint(signed_in, app):
    code, _, _ = get_code(signed_in, app.client_id, resource=MCP)
    response = signed_in.post(
        "/token",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": app.client_id,
        },
    )
    assert response.status_code == 400


# --- SSRF --------------------------------------------------------------------------------------


def test_ssrf_through_logo_uri_is_impossible(client, signed_in, resource):
    registered = client.post(
        "/register",
        {
            "client_name": "x",
            "redirect_uris": ["http://127.0.0.1/cb"],
            "token_endpoint_auth_method": "none",
            "logo_uri": "http://169.254.169.254/latest",
        },
        content_type="application/json",
    )
    assert registered.status_code == 400
    assert registered.json()["error"] == "invalid_client_metadata"


def test_non_https_logo_is_never_rendered(signed_in, app):
    app.logo_uri = "http://internal.example/logo.png"
    app.save()
    assert b"internal.example" not in start(signed_in, app).content


# --- brute force and enumeration ---------------------------------------------------------------


def test_login_brute_force_is_locked_out(client, user):
    for _ in range(throttle.MAX_PER_USERNAME):
        client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
    locked = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert locked.status_code == 200
    assert not locked.context["user"].is_authenticated
    assert b"Too many failed sign-in attempts" in locked.content


def test_admin_login_brute_force_is_locked_out(client, admin_user):
    for _ in range(throttle.MAX_PER_USERNAME):
        client.post("/admin/login/", {"username": "root", "password": "wrong"})
    locked = client.post("/admin/login/?next=/admin/", {"username": "root", "password": PASSWORD})
    assert locked.status_code == 200
    assert b"Too many failed sign-in attempts" in locked.content


def test_lockout_does_not_reveal_whether_a_user_exists(client, user):
    for name in ("alice", "nobody"):
        for _ in range(throttle.MAX_PER_USERNAME):
            client.post("/accounts/login/", {"username": name, "password": "wrong"})

    def page(name: str) -> str:
        html = client.post("/accounts/login/", {"username": name, "password": "x"}).content
        return re.sub(r'value="[^"]*"', "", html.decode())

    assert page("alice") == page("nobody")


# --- constant time ---------------------------------------------------------------------------


def test_client_secrets_are_compared_in_constant_time():
    stored = secrets.hash_secret("s3cret")
    with mock.patch(
        "authserver.client_secrets.hmac.compare_digest", wraps=hmac.compare_digest
    ) as cmp:
        assert secrets.check_secret("s3cret", stored)
        assert not secrets.check_secret("wrong", stored)
    assert cmp.call_count >= 2


def test_pkce_verifiers_are_compared_in_constant_time():
    verifier, challenge = pkce_pair()
    with mock.patch(
        "authserver.protocol.pkce.hmac.compare_digest", wraps=hmac.compare_digest
    ) as cmp:
        assert pkce.verify_s256(verifier, challenge)
    assert cmp.called


# --- nothing secret where it should not be --------------------------------------------------------


def test_admin_list_views_never_show_a_token_code_or_secret(signed_in, app, admin_user):
    code, verifier, _ = get_code(signed_in, app.client_id, resource=MCP, scope="offline_access")
    pending_code, _, _ = get_code(signed_in, app.client_id, resource=MCP)
    tokens = exchange(signed_in, app.client_id, code, verifier).json()
    machine, machine_secret = make_client(name="machine")
    admin = HttpClient()
    admin.force_login(admin_user)
    pages = [
        "/admin/authserver/accesstoken/",
        "/admin/authserver/refreshtoken/",
        "/admin/authserver/grant/",
        "/admin/clients/client/",
        f"/admin/clients/client/{machine.pk}/change/",
        "/admin/authserver/auditevent/",
    ]
    for page in pages:
        html = admin.get(page).content.decode()
        for secret in (
            tokens["access_token"],
            tokens["refresh_token"],
            pending_code,
            machine_secret,
        ):
            assert secret not in html, (page, secret[:6])


def test_error_pages_reveal_nothing(client, settings):
    settings.DEBUG = False
    response = client.get("/definitely-not-here")
    assert response.status_code == 404
    assert b"Traceback" not in response.content
    assert b"SECRET" not in response.content
