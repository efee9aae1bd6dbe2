"""Drive an upstream sign-in through allauth's own login flow (lookup, our adapter, signals),
with the claims a provider would have sent, and SCIM through its HTTP endpoints."""

from __future__ import annotations

import json

from allauth.core import context
from allauth.socialaccount.internal.flows.login import complete_login
from allauth.socialaccount.models import SocialApp
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.test import RequestFactory

from accounts.scim.models import ScimToken

SCIM = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def provider(provider_id: str, **settings) -> SocialApp:
    """An OpenID Connect provider as an admin configures it ("Social application")."""
    return SocialApp.objects.create(
        provider="openid_connect",
        provider_id=provider_id,
        name=provider_id.title(),
        client_id=f"client-{provider_id}",
        secret="test-only-secret",
        settings={"server_url": f"http://127.0.0.1:9/{provider_id}", **settings},
    )


def sign_in(provider_id: str, sub: str, **claims):
    """(response, request) of a completed upstream sign-in: the ID token and UserInfo carry
    ``sub`` and ``claims``. ``request.user`` is whoever it signed in (or anonymous)."""
    request = RequestFactory().get(f"/accounts/oidc/{provider_id}/login/callback/")
    SessionMiddleware(lambda r: None).process_request(request)
    MessageMiddleware(lambda r: None).process_request(request)
    request.session.save()
    request.user = AnonymousUser()
    app = SocialApp.objects.get(provider_id=provider_id)
    with context.request_context(request):
        upstream = app.get_provider(request)
        data = {"id_token": {"sub": sub, **claims}, "userinfo": {"sub": sub, **claims}}
        login = upstream.sociallogin_from_response(request, data)
        login.state = {"process": "login", "next": "/accounts/apps/"}
        response = complete_login(request, login)
    return response, request


def signed_in_user(provider_id: str, sub: str, **claims):
    _response, request = sign_in(provider_id, sub, **claims)
    user = request.user
    return user if user.is_authenticated else None


class Scim:
    """A provisioning client with its own token, bound to ``provider``."""

    def __init__(self, client, provider_id: str = "") -> None:
        self.client = client
        self.token = ScimToken.issue(
            f"{provider_id or 'unbound'} provisioning", provider=provider_id
        )[1]

    def call(self, method: str, path: str, body=None):
        data = json.dumps(body) if body is not None else ""
        return getattr(self.client, method)(
            f"/scim/v2/{path}",
            data=data,
            content_type=SCIM,
            HTTP_AUTHORIZATION=f"Bearer {self.token}",
        )

    def create_user(self, username: str, external_id: str | None = None, **extra):
        body = {"schemas": [USER_SCHEMA], "userName": username, **extra}
        if external_id is not None:
            body["externalId"] = external_id
        return self.call("post", "Users", body)

    def patch_user(self, pk, *operations):
        return self.call(
            "patch", f"Users/{pk}", {"schemas": [PATCH], "Operations": list(operations)}
        )


def give_holdings(user, client_app, resource) -> None:
    """What a signed-in user accumulates: a browser session, a remembered consent, an access
    token and a refresh-token family, a grant, and a connection to an upstream API."""
    import uuid
    from datetime import timedelta
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.utils import timezone

    from accounts.models import Consent
    from authserver.models import AccessToken, RefreshToken
    from connections.models import Connection, UpstreamProvider

    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    Consent.objects.update_or_create(
        user=user, client=client_app, resource=resource, defaults={"scope": "tools:read"}
    )
    expires = timezone.now() + timedelta(minutes=5)
    access = AccessToken.objects.create(
        application=client_app, user=user, token=uuid.uuid4().hex, expires=expires
    )
    RefreshToken.objects.create(
        application=client_app, user=user, token=uuid.uuid4().hex, access_token=access
    )
    upstream, _ = UpstreamProvider.objects.get_or_create(
        slug="github",
        defaults={
            "name": "GitHub",
            "authorization_endpoint": "https://github.example/authorize",
            "token_endpoint": "https://github.example/token",
            "client_id": "upstream-client",
        },
    )
    Connection.objects.update_or_create(
        user=user, provider=upstream, defaults={"status": Connection.Status.ACTIVE}
    )


def live_holdings(user) -> dict:
    """Everything of ``user`` that still works; all zero once they are cut off."""
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from accounts.models import Consent
    from authserver.models import AccessToken, RefreshToken
    from connections.models import Connection

    sessions = sum(
        1
        for s in Session.objects.filter(expire_date__gt=timezone.now())
        if s.get_decoded().get("_auth_user_id") == str(user.pk)
    )
    return {
        "sessions": sessions,
        "consents": Consent.objects.filter(user_id=user.pk).count(),
        "access_tokens": AccessToken.objects.filter(
            user_id=user.pk, revoked_at__isnull=True
        ).count(),
        "refresh_tokens": RefreshToken.objects.filter(
            user_id=user.pk, revoked__isnull=True
        ).count(),
        "connections": Connection.objects.filter(
            user_id=user.pk, status=Connection.Status.ACTIVE
        ).count(),
    }


NOTHING = {"sessions": 0, "consents": 0, "access_tokens": 0, "refresh_tokens": 0, "connections": 0}
