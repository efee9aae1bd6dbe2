"""docs/SECURITY.md, "What the review found", items 4, 6 and 7: trust that survived a
takeover, misleading consent, and the smaller findings of the outside review; each test is
named after the attack it refuses."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from authserver.keys import keyring as keys
from authserver.models import AuditEvent, SigningKey
from clients.models import Client
from clients.registration import validate_redirect_uri
from tests.clients.conftest import MCP_PYTHON_SDK_BODY
from tests.factories import MCP, make_client, make_resource
from tests.oauthflow import REDIRECT, authorize_url, pkce_pair, query_of

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.clients.urls")]


def register(client, body):
    return client.post("/register", data=json.dumps(body), content_type="application/json")


def put(client, info, body, token):
    return client.put(
        f"/register/{info['client_id']}",
        data=json.dumps({**body, "client_id": info["client_id"]}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


@pytest.fixture
def trusted(client):
    """A self-registered client an admin then verified and marked skip-consent."""
    info = register(client, MCP_PYTHON_SDK_BODY).json()
    Client.objects.filter(client_id=info["client_id"]).update(
        verified=True, skip_authorization=True
    )
    return info


# --- item 4: RFC 7592 update after a registration token leaks ----------------------------------


def test_leaked_registration_token_cannot_redirect_a_trusted_client_and_keep_its_trust(
    client, trusted
):
    body = {**MCP_PYTHON_SDK_BODY, "redirect_uris": ["https://new-owner.example/cb"]}
    response = put(client, trusted, body, trusted["registration_access_token"])
    assert response.status_code == 200, response.content
    stored = Client.objects.get(client_id=trusted["client_id"])
    assert stored.redirect_uris == "https://new-owner.example/cb"
    assert not stored.verified
    assert not stored.skip_authorization
    event = AuditEvent.objects.get(kind="client.identity_changed", client_id=stored.client_id)
    assert event.detail == {"fields": ["redirect_uris"], "trust_cleared": True, "consents": 0}


def test_leaked_registration_token_cannot_reuse_users_remembered_consent(client, trusted, user):
    """Users who consented to the old redirect URI must be asked again for the new one."""
    from accounts.models import Consent
    from authserver.models import AccessToken

    resource = make_resource()
    app = Client.objects.get(client_id=trusted["client_id"])
    Consent.objects.create(user=user, client=app, resource=resource, scope="tools:read")
    token = AccessToken.objects.create(
        application=app,
        user=user,
        token="t-1",
        resource=[MCP],
        expires=timezone.now() + timedelta(minutes=5),
    )
    body = {**MCP_PYTHON_SDK_BODY, "redirect_uris": ["http://127.0.0.1:9999/new-owner"]}
    assert put(client, trusted, body, trusted["registration_access_token"]).status_code == 200
    assert not Consent.objects.filter(client=app).exists()
    token.refresh_from_db()
    assert token.revoked_at is not None
    client.force_login(user)
    _, challenge = pkce_pair()
    page = client.get(
        authorize_url(
            app.client_id,
            resource=MCP,
            scope="tools:read",
            redirect_uri="http://127.0.0.1:9999/new-owner",
            code_challenge=challenge,
            code_challenge_method="S256",
        )
    )
    assert page.status_code == 200  # the consent screen, not a code for the new owner
    assert b'name="request_id"' in page.content


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("client_name", "Official Admin Tool"),
        ("logo_uri", "https://new-owner.example/logo.png"),
        ("client_uri", "https://new-owner.example"),
    ],
)
def test_renaming_a_trusted_client_clears_its_trust(client, trusted, member, value):
    response = put(
        client,
        trusted,
        {**MCP_PYTHON_SDK_BODY, member: value},
        trusted["registration_access_token"],
    )
    assert response.status_code == 200
    stored = Client.objects.get(client_id=trusted["client_id"])
    assert (stored.verified, stored.skip_authorization) == (False, False)


def test_update_without_identity_change_keeps_the_admins_decision(client, trusted):
    body = {**MCP_PYTHON_SDK_BODY, "software_version": "2.0"}
    assert put(client, trusted, body, trusted["registration_access_token"]).status_code == 200
    stored = Client.objects.get(client_id=trusted["client_id"])
    assert (stored.verified, stored.skip_authorization) == (True, True)
    assert not AuditEvent.objects.filter(kind="client.identity_changed").exists()


def test_registration_token_replay_after_an_update_is_refused(client, trusted):
    old = trusted["registration_access_token"]
    response = put(client, trusted, MCP_PYTHON_SDK_BODY, old)
    new = response.json()["registration_access_token"]  # RFC 7592 §3: a new one
    assert new
    assert new != old
    replay = put(client, trusted, MCP_PYTHON_SDK_BODY, old)
    assert replay.status_code == 401
    assert replay.json()["error"] == "invalid_token"
    read = client.get(f"/register/{trusted['client_id']}", HTTP_AUTHORIZATION=f"Bearer {new}")
    assert read.status_code == 200


def test_refused_update_does_not_rotate_the_registration_token(client, trusted):
    token = trusted["registration_access_token"]
    bad = {**MCP_PYTHON_SDK_BODY, "redirect_uris": ["javascript:alert(1)"]}
    assert put(client, trusted, bad, token).status_code == 400
    assert put(client, trusted, MCP_PYTHON_SDK_BODY, token).status_code == 200


# --- item 6: consent that misleads ---------------------------------------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        "https-evil://accounts.example.com/cb",
        "ws://127.0.0.1/cb",
        "wss://agent.example.com/cb",
        "ftp://agent.example.com/cb",
        "madeup://agent.example.com/cb",
        "mailto:/victim@example.com",
        "https.evil://accounts.example.com/cb",
    ],
)
def test_registering_a_redirect_with_a_scheme_that_is_no_app_is_refused(client, uri):
    response = register(client, {**MCP_PYTHON_SDK_BODY, "redirect_uris": [uri]})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_redirect_uri"


@pytest.mark.parametrize(
    "uri",
    [
        "com.example.app:/callback",  # RFC 8252 §7.1's own form
        "cursor://anysphere.cursor-mcp/oauth/callback",
        "vscode://vscode.github-authentication/did-authenticate",
        "https://claude.ai/api/mcp/auth_callback",
        "http://127.0.0.1:33418/",
    ],
)
def test_redirects_real_mcp_clients_use_are_still_accepted(uri):
    assert validate_redirect_uri(uri) == uri


@pytest.mark.parametrize(
    "name",
    [
        "Safe App \u202egpj.exe",  # RIGHT-TO-LEFT OVERRIDE
        "Git\u2066Hub\u2069",  # isolates
        "Goo\u200bgle",  # ZERO WIDTH SPACE
        "Admin\u00ad",  # SOFT HYPHEN
        "\u3164Blank",  # HANGUL FILLER
        "Trusted\ufeffApp",
    ],
)
def test_client_name_with_bidi_or_invisible_characters_is_refused(client, name):
    response = register(client, {**MCP_PYTHON_SDK_BODY, "client_name": name})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"


def test_client_name_in_other_scripts_is_accepted(client):
    for name in ("Agent \u65e5\u672c\u8a9e", "\u0639\u0645\u064a\u0644", "Caf\u00e9 \U0001f916"):
        assert register(client, {**MCP_PYTHON_SDK_BODY, "client_name": name}).status_code == 201


def test_consent_shows_the_scheme_of_a_private_use_redirect(client, user):
    make_resource()
    uri = "com.evil.accounts://accounts.example.com/cb"
    app, _ = make_client(
        confidential=False,
        grant_types=("authorization_code",),
        redirect_uris=uri,
        name="Looks Fine",
    )
    client.force_login(user)
    _, challenge = pkce_pair()
    page = client.get(
        authorize_url(
            app.client_id,
            resource=MCP,
            redirect_uri=uri,
            code_challenge=challenge,
            code_challenge_method="S256",
        )
    )
    assert page.status_code == 200
    assert b"<code>com.evil.accounts://accounts.example.com</code>" in page.content


# --- item 7: smaller findings -------------------------------------------------------------


@pytest.fixture
def app():
    make_resource()
    client, _ = make_client(
        confidential=False,
        grant_types=("authorization_code",),
        redirect_uris=REDIRECT,
        skip_authorization=True,
    )
    return client


def start(client, app, **extra):
    _, challenge = pkce_pair()
    return client.get(
        authorize_url(
            app.client_id,
            resource=MCP,
            code_challenge=challenge,
            code_challenge_method="S256",
            **extra,
        )
    )


def test_prompt_login_with_a_live_session_forces_a_fresh_sign_in(client, user, app):
    client.force_login(user)
    response = start(client, app, prompt="login")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert "prompt%3Dlogin" not in response["Location"]  # no loop after signing in
    assert "_auth_user_id" not in client.session  # the old session no longer counts


def test_max_age_older_than_the_last_sign_in_forces_a_fresh_sign_in(client, user, app):
    from datetime import timedelta

    from django.utils import timezone

    client.force_login(user)
    type(user).objects.filter(pk=user.pk).update(last_login=timezone.now() - timedelta(hours=2))
    response = start(client, app, max_age="3600")
    assert response["Location"].startswith("/accounts/login/")
    assert "max_age" not in response["Location"]


def test_max_age_within_the_session_needs_no_new_sign_in(client, user, app):
    client.force_login(user)  # sets last_login to now
    response = start(client, app, max_age="3600")
    assert "code" in query_of(response["Location"])


def test_malformed_max_age_is_invalid_request(client, user, app):
    client.force_login(user)
    response = start(client, app, max_age="-5")
    assert query_of(response["Location"])["error"] == "invalid_request"


def test_response_mode_fragment_is_refused_not_honoured(client, user, app):
    client.force_login(user)
    response = start(client, app, response_mode="fragment")
    location = response["Location"]
    assert "#" not in location
    assert query_of(location)["error"] == "invalid_request"
    assert "code" not in query_of(location)


def test_fresh_server_without_bootstrap_serves_a_key_in_its_jwks(client):
    SigningKey.objects.all().delete()
    document = client.get("/.well-known/jwks.json").json()
    assert len(document["keys"]) == 1
    assert document["keys"][0]["kid"] == keys.active_key().kid


def test_admin_view_on_site_for_a_client_is_not_a_500(client, admin_user):
    app, _ = make_client()
    client.force_login(admin_user)
    content_type = ContentType.objects.get_for_model(Client)
    page = client.get(f"/admin/clients/client/{app.pk}/change/")
    assert page.status_code == 200
    assert b"View on site" not in page.content
    assert client.get(f"/admin/r/{content_type.pk}/{app.pk}/").status_code == 404
