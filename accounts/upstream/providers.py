"""The "Continue with <provider>" choices on the sign-in page (admin- and env-configured),
and where a sign-in may land afterwards."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from allauth.socialaccount.adapter import get_adapter
from django.conf import settings
from django.utils.http import url_has_allowed_host_and_scheme

log = logging.getLogger("accounts.upstream")


def sign_in_choices(request) -> list[dict]:
    try:
        providers = get_adapter(request).list_providers(request)
    except Exception:  # a broken app row must not take the password break-glass down with it
        log.exception("upstream providers could not be listed")
        return []
    choices = []
    for provider in providers:
        if provider.app is None or provider.app.settings.get("hidden"):
            continue
        choices.append(
            {
                "id": provider.app.provider_id or provider.id,
                "name": provider.app.name or provider.name,
                "login_url": provider.get_login_url(request),
            }
        )
    return sorted(choices, key=lambda c: c["name"].lower())


def is_own_page(url: str) -> bool:
    """Whether ``next`` after an upstream sign-in is one of this server's own pages: a path,
    or an absolute URL on the issuer's own host and scheme. Not every ALLOWED_HOSTS entry
    (allauth's default): ``localhost`` is in the default list, and ``https://localhost/x``
    is the user's own machine, not this server."""
    issuer = urlsplit(settings.ISSUER)
    return url_has_allowed_host_and_scheme(
        url, allowed_hosts={issuer.netloc}, require_https=issuer.scheme == "https"
    )
