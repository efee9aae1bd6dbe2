import re

import pytest
from django.test import Client

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_login_page_uses_django_field_names_and_csrf(client):
    response = client.get("/accounts/login/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="username"' in html
    assert 'name="password"' in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_login_with_right_password_signs_in_and_redirects_home(client, user):
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").context["user"].username == "alice"


def test_login_with_wrong_password_is_refused_without_saying_which_part_was_wrong(client, user):
    response = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert not response.context["user"].is_authenticated
    # Same message for an unknown user: no user enumeration.
    unknown = client.post("/accounts/login/", {"username": "mallory", "password": "nope"})
    strip = lambda r: re.sub(r'value="[^"]*"', "", r.content.decode())  # noqa: E731
    assert strip(response) == strip(unknown)


def test_login_next_is_kept_only_for_same_host(client, user):
    ok = client.post(
        "/accounts/login/",
        {"username": "alice", "password": PASSWORD, "next": "/authorize?client_id=x"},
    )
    assert ok["Location"] == "/authorize?client_id=x"
    client.logout()
    evil = client.post(
        "/accounts/login/",
        {"username": "alice", "password": PASSWORD, "next": "https://evil.example/"},
    )
    assert evil["Location"] == "/"


def test_login_without_csrf_token_is_forbidden(user):
    strict = Client(enforce_csrf_checks=True)
    response = strict.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 403


def test_logout_is_post_only_and_ends_the_session(client, user):
    client.force_login(user)
    assert client.get("/accounts/logout/").status_code == 405
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert client.get("/").status_code == 302  # home now asks to sign in again


def test_home_requires_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_login_rotates_the_session_key(client, user):
    client.get("/accounts/login/")
    client.session.save()
    before = client.session.session_key
    client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert client.session.session_key != before
