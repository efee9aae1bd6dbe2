"""After an upstream sign-in, ``next`` leads only to this server's own pages."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from allauth.account.utils import get_next_redirect_url
from allauth.core import context
from django.conf import settings
from django.test import RequestFactory


def next_after_signin(url: str) -> str | None:
    """What allauth redirects to after the upstream sign-in, given ``?next=url``."""
    host = urlsplit(settings.ISSUER).netloc
    request = RequestFactory().get("/accounts/oidc/corp/login/callback/", {"next": url})
    request.META["HTTP_HOST"] = host
    with context.request_context(request):
        return get_next_redirect_url(request)


@pytest.mark.parametrize(
    "target",
    [
        "https://localhost/x",  # localhost is in the default ALLOWED_HOSTS
        "http://localhost:8000/steal",
        "https://127.0.0.1/x",
        "//localhost/x",
        "https://evil.example/x",
    ],
)
def test_open_redirect_after_upstream_signin_to_an_allowed_host_is_refused(settings, target):
    settings.ALLOWED_HOSTS = ["auth.example.com", "localhost", "127.0.0.1"]
    settings.ISSUER = "https://auth.example.com"
    assert next_after_signin(target) is None


@pytest.mark.parametrize(
    "target", ["/authorize?client_id=x&state=y", "/accounts/apps/", "https://auth.example.com/a"]
)
def test_next_after_upstream_signin_to_our_own_page_is_kept(settings, target):
    settings.ALLOWED_HOSTS = ["auth.example.com", "localhost"]
    settings.ISSUER = "https://auth.example.com"
    assert next_after_signin(target) == target
