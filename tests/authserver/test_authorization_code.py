"""The PKCE-only authorization code flow (OAuth 2.1 §4.1), at the protocol level."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from django.test import Client as HttpClient
from django.utils import timezone

from accounts.models import Consent
from authserver.models import AccessToken, Grant, RefreshToken
from tests.factories import MCP, OTHER_MCP, make_client, make_resource
from tests.oauthflow import (
    REDIRECT,
    authorize_url,
    claims_of,
    consent_request_id,
    exchange,
    get_code,
    pkce_pair,
    query_of,
    refresh,
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
        redirect_uris="http://127.0.0.1/callback",
        name="Notes Agent",
        registration_source="dcr",
    )
    return client


def start(client, app, **overrides):
    _, challenge = pkce_pair()
    params = {"code_challenge": challenge, "code_challenge_method": "S256", "scope": "tools:read"}
    params.update(overrides)
    resource = params.pop("resource", MCP)
    scope = params.pop("scope")
    return client.get(authorize_url(app.client_id, resource=resource, scope=scope, **params))


# --- the authorization request ---------------------------------------------------------


def test_unauthenticated_user_is_sent_to_sign_in_first(client, app):
    response = start(client, app)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/authorize")


def test_missing_code_challenge_is_invalid_request_redirected_with_state_and_iss(signed_in, app):
    response = signed_in.get(authorize_url(app.client_id, resource=MCP, state="xyz"))
    assert response.status_code == 302
    q = query_of(response["Location"])
    assert q["error"] == "invalid_request"
    assert q["state"] == "xyz"
    assert q["iss"] == "http://127.0.0.1:8000"  # RFC 9207 on errors too
    assert response["Location"].startswith("http://127.0.0.1:45678/callback?")


@pytest.mark.parametrize(
    "pkce",
    [
        {"code_challenge_method": "plain"},
        {"code_challenge_method": None},  # defaults to plain (RFC 7636 §4.3)
        {"code_challenge_method": "S512"},
        {"code_challenge": "too-short"},
    ],
)
def test_pkce_other_than_s256_is_invalid_request(signed_in, app, pkce):
    overrides = {k: v for k, v in pkce.items() if v is not None}
    if pkce.get("code_challenge_method", "x") is None:
        _, challenge = pkce_pair()
        response = signed_in.get(
            authorize_url(app.client_id, resource=MCP, code_challenge=challenge)
        )
    else:
        response = start(signed_in, app, **overrides)
    assert response.status_code == 302
    assert query_of(response["Location"])["error"] == "invalid_request"
    assert Grant.objects.count() == 0


def test_response_type_token_is_unsupported(signed_in, app):
    response = start(signed_in, app, response_type="token")
    assert query_of(response["Location"])["error"] == "unsupported_response_type"


def test_unknown_client_is_shown_an_error_and_never_redirected(signed_in, app):
    response = signed_in.get(authorize_url("no-such-client", resource=MCP))
    assert response.status_code == 400
    assert b"Invalid client_id" in response.content
    assert "Location" not in response


def test_unregistered_redirect_uri_is_shown_an_error_and_never_redirected(signed_in, app):
    response = start(signed_in, app, redirect_uri="https://evil.example/callback")
    assert response.status_code == 400
    assert "Location" not in response


@pytest.mark.parametrize(
    "redirect",
    ["http://127.0.0.1:54321/callback", "http://127.0.0.1/callback", "http://127.0.0.1:1/callback"],
)
def test_loopback_redirect_may_use_any_port(signed_in, app, redirect):
    response = start(signed_in, app, redirect_uri=redirect)
    assert response.status_code == 200  # consent screen, not an error


@pytest.mark.parametrize(
    "redirect",
    [
        "http://127.0.0.1:54321/other",  # path is exact (RFC 8252 §7.3 frees only the port)
        "http://127.0.0.1:54321/callback?x=1",
        "https://127.0.0.1/callback",
        "http://127.0.0.2/callback",
    ],
)
def test_loopback_path_query_scheme_and_host_stay_exact(signed_in, app, redirect):
    assert start(signed_in, app, redirect_uri=redirect).status_code == 400


def test_unknown_resource_is_invalid_target_redirected(signed_in, app):
    response = start(signed_in, app, resource="https://unknown.example/mcp")
    assert query_of(response["Location"])["error"] == "invalid_target"


def test_missing_resource_is_invalid_target(signed_in, app):
    _, challenge = pkce_pair()
    response = signed_in.get(
        authorize_url(
            app.client_id, resource=None, code_challenge=challenge, code_challenge_method="S256"
        )
    )
    assert query_of(response["Location"])["error"] == "invalid_target"


# --- consent ----------------------------------------------------------------------------


def test_consent_screen_shows_client_resource_scopes_tools_and_redirect_host(signed_in, app):
    response = start(signed_in, app, scope="tools:read tools:write")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Notes Agent" in html
    assert MCP in html
    assert "Read your notes" in html
    assert "Change your notes" in html
    assert "read_note" in html  # the MCP tools a scope unlocks
    assert "127.0.0.1:45678" in html
    assert "has not been reviewed" in html  # self-registered: unverified warning
    assert 'name="allow"' in html
    assert 'name="deny"' in html
    assert response["X-Frame-Options"] == "DENY"


def test_unknown_scopes_are_dropped_and_the_grant_reports_what_was_granted(signed_in, app):
    code, verifier, _ = get_code(signed_in, app.client_id, resource=MCP, scope="tools:read email")
    body = exchange(signed_in, app.client_id, code, verifier, resource=MCP).json()
    assert body["scope"] == "tools:read"


def test_deny_redirects_with_access_denied_state_and_iss(signed_in, app):
    code, _, query = get_code(signed_in, app.client_id, resource=MCP, allow=False)
    assert code is None
    assert query["error"] == "access_denied"
    assert query["state"].startswith("st-")
    assert query["iss"] == "http://127.0.0.1:8000"
    assert Consent.objects.count() == 0


def test_consent_post_needs_csrf(user, app):
    strict = HttpClient(enforce_csrf_checks=True)
    strict.force_login(user)
    response = start(strict, app)
    post = strict.post("/authorize", {"request_id": consent_request_id(response), "allow": "1"})
    assert post.status_code == 403


def test_consent_answer_cannot_be_replayed_or_used_by_another_user(signed_in, app, make_user):
    request_id = consent_request_id(start(signed_in, app))
    assert signed_in.post("/authorize", {"request_id": request_id, "allow": "1"}).status_code == 302
    assert signed_in.post("/authorize", {"request_id": request_id, "allow": "1"}).status_code == 400


def test_remembered_consent_skips_the_screen_for_same_or_fewer_scopes(signed_in, app):
    get_code(signed_in, app.client_id, resource=MCP, scope="tools:read tools:write")
    again = start(signed_in, app, scope="tools:read")
    assert again.status_code == 302
    assert "code" in query_of(again["Location"])


def test_step_up_asks_only_for_the_new_scope(signed_in, app):
    get_code(signed_in, app.client_id, resource=MCP, scope="tools:read")
    response = start(signed_in, app, scope="tools:read tools:write")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('class="badge">new<') == 1
    assert "already allowed" in html


def test_prompt_consent_always_shows_the_screen(signed_in, app):
    get_code(signed_in, app.client_id, resource=MCP, scope="tools:read")
    assert start(signed_in, app, prompt="consent").status_code == 200


def test_prompt_none_without_consent_is_consent_required(signed_in, app):
    response = start(signed_in, app, prompt="none")
    assert query_of(response["Location"])["error"] == "consent_required"


def test_trusted_client_skips_consent(signed_in, app):
    app.skip_authorization = True
    app.save()
    response = start(signed_in, app)
    assert response.status_code == 302
    assert "code" in query_of(response["Location"])


# --- the token request --------------------------------------------------------------------


def test_code_exchange_issues_audience_bound_jwt_for_the_user(signed_in, app, user):
    code, verifier, query = get_code(signed_in, app.client_id, resource=MCP, scope="tools:read")
    assert query["iss"] == "http://127.0.0.1:8000"
    response = exchange(signed_in, app.client_id, code, verifier, resource=MCP)
    assert response.status_code == 200
    body = response.json()
    claims = claims_of(body["access_token"])
    assert claims["aud"] == MCP
    assert claims["sub"] == str(user.pk)
    assert claims["client_id"] == app.client_id
    assert "auth_time" in claims
    assert body["refresh_token"]  # registered for refresh_token


def test_wrong_code_verifier_is_invalid_grant(signed_in, app):
    code, _, _ = get_code(signed_in, app.client_id, resource=MCP)
    wrong, _ = pkce_pair()
    response = exchange(signed_in, app.client_id, code, wrong)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert AccessToken.objects.count() == 0


def test_missing_code_verifier_is_refused(signed_in, app):
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
    assert response.json()["error"] in ("invalid_request", "invalid_grant")


def test_second_use_of_a_code_fails_and_revokes_what_the_first_issued(signed_in, app):
    code, verifier, _ = get_code(signed_in, app.client_id, resource=MCP)
    first = exchange(signed_in, app.client_id, code, verifier)
    assert first.status_code == 200
    second = exchange(signed_in, app.client_id, code, verifier)
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"
    assert AccessToken.objects.filter(revoked_at__isnull=True).count() == 0
    assert RefreshToken.objects.filter(revoked__isnull=True).count() == 0


def test_expired_code_is_invalid_grant(signed_in, app):
    code, verifier, _ = get_code(signed_in, app.client_id, resource=MCP)
    Grant.objects.update(expires=timezone.now() - timedelta(seconds=1))
    assert exchange(signed_in, app.client_id, code, verifier).json()["error"] == "invalid_grant"


def test_code_is_bound_to_its_client(signed_in, app):
    code, verifier, _ = get_code(signed_in, app.client_id, resource=MCP)
    other, _ = make_client(
        confidential=False,
        grant_types=("authorization_code",),
        redirect_uris="http://127.0.0.1/callback",
    )
    response = exchange(signed_in, other.client_id, code, verifier)
    assert response.json()["error"] == "invalid_grant"


def test_code_is_bound_to_its_redirect_uri(signed_in, app):
    code, verifier, _ = get_code(signed_in, app.client_id, resource=MCP)
    response = exchange(
        signed_in, app.client_id, code, verifier, redirect_uri="http://127.0.0.1:9/callback"
    )
    assert response.status_code == 400


def test_token_request_for_another_resource_is_invalid_target(signed_in, app):
    make_resource(OTHER_MCP)
    code, verifier, _ = get_code(signed_in, app.client_id, resource=MCP)
    response = exchange(signed_in, app.client_id, code, verifier, resource=OTHER_MCP)
    assert response.json()["error"] == "invalid_target"


def test_token_request_may_narrow_but_not_widen_scope(signed_in, app):
    code, verifier, _ = get_code(signed_in, app.client_id, resource=MCP, scope="tools:read")
    response = exchange(signed_in, app.client_id, code, verifier, scope="tools:read tools:write")
    assert response.json()["error"] == "invalid_scope"


# --- refresh tokens -----------------------------------------------------------------------


@pytest.fixture
def tokens(signed_in, app):
    code, verifier, _ = get_code(
        signed_in, app.client_id, resource=MCP, scope="tools:read tools:write offline_access"
    )
    return exchange(signed_in, app.client_id, code, verifier).json()


def test_refresh_rotates_and_keeps_audience_and_scope(signed_in, app, tokens):
    response = refresh(signed_in, app.client_id, tokens["refresh_token"], resource=MCP)
    assert response.status_code == 200
    body = response.json()
    assert body["refresh_token"] != tokens["refresh_token"]
    assert claims_of(body["access_token"])["aud"] == MCP
    assert body["scope"] == tokens["scope"]


def test_refresh_may_narrow_scope(signed_in, app, tokens):
    body = refresh(signed_in, app.client_id, tokens["refresh_token"], scope="tools:read").json()
    assert body["scope"] == "tools:read"


def test_refresh_may_not_widen_scope_or_change_resource(signed_in, app, tokens):
    make_resource(OTHER_MCP)
    narrowed = refresh(signed_in, app.client_id, tokens["refresh_token"], scope="tools:read")
    rt = narrowed.json()["refresh_token"]
    wider = refresh(signed_in, app.client_id, rt, scope="tools:read tools:write")
    assert wider.json()["error"] == "invalid_scope"
    other = refresh(signed_in, app.client_id, rt, resource=OTHER_MCP)
    assert other.json()["error"] == "invalid_target"


def test_reusing_a_rotated_refresh_token_revokes_the_family(signed_in, app, tokens, settings):
    settings.CONFIG = dataclasses.replace(settings.CONFIG, refresh_token_grace=0)
    rotated = refresh(signed_in, app.client_id, tokens["refresh_token"]).json()
    replay = refresh(signed_in, app.client_id, tokens["refresh_token"])
    assert replay.json()["error"] == "invalid_grant"
    # The family is gone: even the newest refresh token no longer works.
    assert refresh(signed_in, app.client_id, rotated["refresh_token"]).status_code == 400
    assert AccessToken.objects.filter(revoked_at__isnull=True).count() == 0


def test_re_presenting_within_the_grace_window_gets_a_sibling_without_revoking(
    signed_in, app, tokens
):
    rotated = refresh(signed_in, app.client_id, tokens["refresh_token"]).json()
    retry = refresh(signed_in, app.client_id, tokens["refresh_token"])
    assert retry.status_code == 200  # tests/authserver/test_refresh_grace.py has the rest
    assert refresh(signed_in, app.client_id, rotated["refresh_token"]).status_code == 200


def test_refresh_token_past_its_absolute_lifetime_is_refused(signed_in, app, tokens):
    RefreshToken.objects.update(absolute_expires=timezone.now() - timedelta(seconds=1))
    assert refresh(signed_in, app.client_id, tokens["refresh_token"]).status_code == 400


def test_no_refresh_token_without_offline_access_or_refresh_grant(signed_in, resource):
    app, _ = make_client(
        confidential=False,
        grant_types=("authorization_code",),
        redirect_uris="http://127.0.0.1/callback",
    )
    code, verifier, _ = get_code(signed_in, app.client_id, resource=MCP)
    assert "refresh_token" not in exchange(signed_in, app.client_id, code, verifier).json()


# --- connected apps -------------------------------------------------------------------------


def test_connected_apps_lists_the_grant_and_revoke_stops_every_token(signed_in, app, tokens):
    page = signed_in.get("/accounts/apps/")
    assert b"Notes Agent" in page.content
    consent = Consent.objects.get()
    response = signed_in.post(f"/accounts/apps/{consent.pk}/revoke")
    assert response.status_code == 302
    assert Consent.objects.count() == 0
    assert AccessToken.objects.filter(revoked_at__isnull=True).count() == 0
    assert refresh(signed_in, app.client_id, tokens["refresh_token"]).status_code == 400


def test_users_cannot_revoke_each_others_apps(client, make_user, app, signed_in, tokens):
    consent = Consent.objects.get()
    other = make_user("bob")
    client.force_login(other)
    assert client.post(f"/accounts/apps/{consent.pk}/revoke").status_code == 404
    assert Consent.objects.count() == 1
