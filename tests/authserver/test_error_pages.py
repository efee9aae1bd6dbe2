"""The 400, 403, 404 and 500 pages people see: in the sign-in screens' look, with DEBUG off,
and never echoing the request (a token in a path or query string stays out of the page) nor
any exception detail."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.test import Client
from django.urls import include, path

from authserver.errors.middleware import server_error

SECRET = "eyJhbGciOiJFUzI1NiJ9.c2VjcmV0LXRva2Vu.c2lnbmF0dXJl"


def refuse(request):
    raise PermissionDenied(f"detail for the log only {SECRET}")


def garble(request):
    raise SuspiciousOperation(f"detail for the log only {SECRET}")


def explode(request):
    raise RuntimeError(f"detail for the log only {SECRET}")


# This module is the URLconf of these tests: the project's URLs plus three views that fail.
urlpatterns = [
    path("test-errors/refuse", refuse),
    path("test-errors/garble", garble),
    path("test-errors/explode", explode),
    path("", include("authserver.urls")),
]
handler500 = server_error

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def visitor(settings):
    settings.DEBUG = False
    settings.ROOT_URLCONF = __name__
    return Client(raise_request_exception=False)


def assert_styled_and_silent(response, status: int, heading: str) -> None:
    page = response.content.decode()
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    assert "authserver/site.css" in page  # the sign-in screens' stylesheet and header
    assert 'class="brand"' in page
    assert heading in page
    assert SECRET not in page
    assert "detail for the log only" not in page
    assert "Traceback" not in page
    assert "test-errors" not in page


def test_404_page_is_styled_and_does_not_echo_a_token_in_the_path_or_query(visitor):
    response = visitor.get(f"/no/such/page/{SECRET}", {"access_token": SECRET, "code": SECRET})
    assert_styled_and_silent(response, 404, "Page not found")
    assert "/no/such/page" not in response.content.decode()


def test_403_page_is_styled_and_shows_no_exception_detail(visitor):
    assert_styled_and_silent(visitor.get("/test-errors/refuse"), 403, "You cannot open this page")


def test_400_page_is_styled_and_shows_no_exception_detail(visitor):
    response = visitor.get("/test-errors/garble", {"state": SECRET})
    assert_styled_and_silent(response, 400, "This request cannot be answered")


def test_500_page_is_styled_and_shows_no_exception_detail(visitor):
    response = visitor.get("/test-errors/explode", {"code": SECRET})
    assert_styled_and_silent(response, 500, "Something went wrong")


def test_csrf_failure_page_is_styled(settings):
    settings.DEBUG = False
    response = Client(enforce_csrf_checks=True).post("/accounts/login/", {"username": "a"})
    assert_styled_and_silent(response, 403, "This form has expired")


def test_500_page_falls_back_to_a_bare_page_when_its_template_fails(visitor, settings):
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [], "APP_DIRS": False, "OPTIONS": {}},
    ]
    response = visitor.get("/test-errors/explode")
    assert response.status_code == 500
    assert b"Something went wrong" in response.content
    assert SECRET.encode() not in response.content
