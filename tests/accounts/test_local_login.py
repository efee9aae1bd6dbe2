"""LOCAL_LOGIN=false: passwords only for staff (break-glass); the page offers the providers."""

from __future__ import annotations

import re

import pytest
from allauth.socialaccount.models import SocialApp

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def providers():
    SocialApp.objects.create(
        provider="openid_connect",
        provider_id="okta",
        name="Okta",
        client_id="c",
        secret="s",
        settings={"server_url": "https://acme.okta.com"},
    )
    SocialApp.objects.create(provider="github", name="GitHub", client_id="g", secret="t")


def test_signin_page_offers_continue_with_each_provider(client, providers):
    html = client.get("/accounts/login/?next=/authorize%3Fx%3D1").content.decode()
    assert "Continue with Okta" in html
    assert "Continue with GitHub" in html
    assert 'action="/accounts/oidc/okta/login/"' in html
    assert 'action="/accounts/github/login/"' in html
    assert 'name="next" value="/authorize?x=1"' in html


def test_local_login_off_refuses_a_password_for_non_staff(client, settings, make_user):
    settings.LOCAL_LOGIN = False
    make_user("bob")
    response = client.post("/accounts/login/", {"username": "bob", "password": PASSWORD})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_password_oracle_with_local_login_off_gets_the_wrong_passwords_answer(
    client, settings, make_user
):
    """A non-staff user's right password used to get "Sign in with your organisation's
    identity provider", a wrong one "Please enter a correct ...": a password oracle."""
    settings.LOCAL_LOGIN = False
    make_user("bob")

    def answer(password: str) -> str:
        html = client.post("/accounts/login/", {"username": "bob", "password": password})
        html = html.content.decode()
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html)

    assert answer(PASSWORD) == answer("wrong password")


def test_local_login_off_keeps_the_break_glass_path_for_staff(client, settings, make_user):
    settings.LOCAL_LOGIN = False
    make_user("ops", staff=True)
    response = client.post("/accounts/login/", {"username": "ops", "password": PASSWORD})
    assert response.status_code == 302
    assert "_auth_user_id" in client.session


def test_local_login_off_hides_the_password_form_behind_administrator_sign_in(
    client, settings, providers
):
    settings.LOCAL_LOGIN = False
    html = client.get("/accounts/login/").content.decode()
    assert '<details class="break-glass">' in html
    assert "Administrator sign-in" in html


def test_local_login_on_accepts_any_users_password(client, make_user):
    make_user("bob")
    response = client.post("/accounts/login/", {"username": "bob", "password": PASSWORD})
    assert response.status_code == 302


def test_allauth_signup_and_password_views_are_not_exposed(client):
    for path in ("/accounts/signup/", "/accounts/password/reset/", "/accounts/email/"):
        assert client.get(path).status_code == 404


def test_providers_from_the_environment_are_offered_with_the_admins(client, settings, providers):
    import json

    from accounts.upstream import config

    env = {
        "UPSTREAM_PROVIDERS": json.dumps(
            [
                {
                    "provider": "openid_connect",
                    "id": "entra",
                    "name": "Microsoft Entra ID",
                    "client_id": "c",
                    "secret": "s",
                    "server_url": "https://login.microsoftonline.com/t/v2.0",
                    "tenant_id": "t",
                }
            ]
        )
    }
    settings.SOCIALACCOUNT_PROVIDERS = config.load(env).providers
    html = client.get("/accounts/login/").content.decode()
    assert "Continue with Microsoft Entra ID" in html
    assert 'action="/accounts/oidc/entra/login/"' in html
    assert "Continue with Okta" in html  # the admin-configured ones too


def test_connecting_more_logins_is_not_offered(client, make_user):
    client.force_login(make_user("bob"))
    assert client.get("/accounts/3rdparty/").status_code == 404
