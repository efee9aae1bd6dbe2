"""Every admin action declares the permission it needs; a view-only staff user runs none.

The attack: a staff user holding only *view* permissions posts ``action=mark_compromised``
(or ``rotate_now``, the SCIM token ``revoke``, ``disconnect_selected``, a token revoke) on a
list page. Django runs an action whose ``allowed_permissions`` is empty for anyone who can see
the list, so the active signing key was destroyed and every token revoked.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from authserver.keys import keyring as keys
from authserver.models import AccessToken, AuditEvent, SigningKey

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(client, make_user):
    """Staff with every ``view_*`` permission and nothing else."""
    user = make_user("viewer", staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    client.force_login(user)
    return user


def _post_action(client, model, action: str, pks) -> int:
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    data = {"action": action, admin.helpers.ACTION_CHECKBOX_NAME: [str(pk) for pk in pks]}
    return client.post(url, data).status_code


def test_every_admin_action_declares_the_permission_it_needs():
    for model, model_admin in admin.site._registry.items():
        for action in model_admin.actions or ():
            func = action if callable(action) else getattr(model_admin, action, None)
            func = func or admin.site.get_action(action)
            assert getattr(func, "allowed_permissions", ()), (model._meta.label, action)


def test_view_only_staff_is_offered_no_action_on_any_admin_page(viewer):
    request = RequestFactory().get("/admin/")
    request.user = viewer
    for model, model_admin in admin.site._registry.items():
        assert model_admin.get_actions(request) == {}, model._meta.label


def test_view_only_staff_cannot_mark_the_signing_key_compromised(client, viewer):
    key = keys.active_key()
    _post_action(client, SigningKey, "mark_compromised", [key.pk])
    key.refresh_from_db()
    assert key.state == "active"
    assert not AuditEvent.objects.filter(kind="key.compromised").exists()


def test_view_only_staff_cannot_rotate_keys_by_the_list_action(client, viewer):
    key = keys.active_key()
    _post_action(client, SigningKey, "rotate_now", [key.pk])
    assert SigningKey.objects.filter(state="active").get().kid == key.kid


def test_view_only_staff_cannot_revoke_a_scim_token(client, viewer):
    from accounts.scim.models import ScimToken

    token, _plaintext = ScimToken.issue("okta")
    _post_action(client, ScimToken, "revoke", [token.pk])
    token.refresh_from_db()
    assert token.revoked_at is None


def test_view_only_staff_cannot_disconnect_a_connection(client, viewer, user):
    from connections.models import Connection, UpstreamProvider

    provider = UpstreamProvider.objects.create(
        slug="gh",
        name="GitHub",
        authorization_endpoint="https://gh.example/authorize",
        token_endpoint="https://gh.example/token",
        client_id="c",
    )
    conn = Connection.objects.create(user=user, provider=provider, status="active")
    _post_action(client, Connection, "disconnect_selected", [conn.pk])
    conn.refresh_from_db()
    assert conn.status == "active"


def test_view_only_staff_cannot_revoke_access_tokens(client, viewer, user):
    from tests.factories import make_client

    app, _ = make_client()
    token = AccessToken.objects.create(
        user=user,
        application=app,
        token=uuid.uuid4().hex,
        jti=uuid.uuid4().hex,
        expires=timezone.now() + timedelta(minutes=5),
        scope="read",
    )
    _post_action(client, AccessToken, "revoke_tokens", [token.pk])
    token.refresh_from_db()
    assert token.revoked_at is None


def test_staff_without_permissions_do_not_see_key_ids_or_counts_on_the_overview(client, make_user):
    key = keys.active_key()
    client.force_login(make_user("bare", staff=True))
    page = client.get(reverse("admin-overview")).content.decode()
    assert key.kid[:12] not in page
    assert "Live access tokens" not in page
    assert "Tokens issued" not in page


def test_staff_with_view_permissions_see_the_overview_panels(client, viewer):
    key = keys.active_key()
    page = client.get(reverse("admin-overview")).content.decode()
    assert key.kid[:12] in page
    assert "Live access tokens" in page
