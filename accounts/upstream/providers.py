"""The "Continue with <provider>" choices on the sign-in page (admin- and env-configured)."""

from __future__ import annotations

import logging

from allauth.socialaccount.adapter import get_adapter

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
