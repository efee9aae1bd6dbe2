"""The upstream sign-in provider's client secret (allauth SocialApp.secret): encrypted at rest,
never rendered by the admin."""

from __future__ import annotations

import dataclasses
import io

import pytest
from allauth.socialaccount.models import SocialApp
from django.apps import apps
from django.contrib.auth.models import Permission
from django.core.management import call_command

from accounts.upstream import app_secret

pytestmark = pytest.mark.django_db
SECRET = "test-only-upstream-signin-secret-7f3a9c"


@pytest.fixture
def app():
    return SocialApp.objects.create(
        provider="openid_connect",
        provider_id="okta",
        name="Okta",
        client_id="c",
        secret=SECRET,
        settings={"server_url": "https://acme.okta.com"},
    )


def stored(app) -> str:
    return SocialApp.objects.filter(pk=app.pk).values_list("secret", flat=True).get()


def test_upstream_signin_secret_read_from_the_database_is_ciphertext(app):
    raw = stored(app)
    assert SECRET not in raw
    assert raw.startswith("v1.")
    assert app.secret == SECRET  # the instance allauth holds stays usable
    assert SocialApp.objects.get(pk=app.pk).secret == SECRET  # opened on load


def test_staff_with_view_permission_cannot_read_the_upstream_signin_secret(client, make_user, app):
    viewer = make_user("viewer", staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_socialapp"))
    client.force_login(viewer)
    page = client.get(f"/admin/socialaccount/socialapp/{app.pk}/change/")
    assert page.status_code == 200
    assert SECRET not in page.content.decode()
    assert stored(app) not in page.content.decode()


def test_admin_change_form_never_renders_the_secret_and_empty_keeps_it(client, admin_user, app):
    client.force_login(admin_user)
    url = f"/admin/socialaccount/socialapp/{app.pk}/change/"
    page = client.get(url).content.decode()
    assert SECRET not in page
    assert stored(app) not in page
    form = {
        "provider": "openid_connect",
        "provider_id": "okta",
        "name": "Okta renamed",
        "client_id": "c",
        "secret": "",
        "server_url": "https://acme.okta.com",  # the admin's guided form (accounts/admin.py)
    }
    assert client.post(url, form).status_code == 302
    assert SocialApp.objects.get(pk=app.pk).secret == SECRET  # left empty: kept
    assert client.post(url, {**form, "secret": "a-new-secret-0123"}).status_code == 302
    assert SocialApp.objects.get(pk=app.pk).secret == "a-new-secret-0123"
    assert "a-new-secret-0123" not in stored(app)


def test_data_migration_encrypts_secrets_stored_in_clear(app):
    SocialApp.objects.filter(pk=app.pk).update(secret=SECRET)  # as before this release
    assert app_secret.seal_all(apps) == 1
    assert stored(app).startswith("v1.")
    assert SocialApp.objects.get(pk=app.pk).secret == SECRET
    assert app_secret.seal_all(apps) == 0  # idempotent


def test_rotated_key_encryption_key_reseals_the_upstream_signin_secret(app, settings):
    old = settings.CONFIG.key_encryption_keys
    new = "test-only-rotated-key-encryption-key-0123456789"
    settings.CONFIG = dataclasses.replace(settings.CONFIG, key_encryption_keys=(new, *old))
    call_command("reencrypt_keys", stdout=io.StringIO())
    settings.CONFIG = dataclasses.replace(settings.CONFIG, key_encryption_keys=(new,))
    assert SocialApp.objects.get(pk=app.pk).secret == SECRET  # the old key is gone
