"""Upstream secrets at rest: AES-GCM under KEY_ENCRYPTION_KEY, bound to row and field,
re-encrypted by ``reencrypt_keys``, never shown in admin."""

from __future__ import annotations

import dataclasses
import io
import json
import uuid

import pytest
from django.core.management import call_command

from authserver.keys import secretbox
from connections import vault
from connections.models import Connection, UpstreamProvider

pytestmark = pytest.mark.django_db
SECRET = "upstream-client-secret-0123456789"


def make_row(**fields) -> UpstreamProvider:
    provider = UpstreamProvider(
        slug=fields.pop("slug", "gh"),
        name="GitHub",
        authorization_endpoint="https://github.com/login/oauth/authorize",
        token_endpoint="https://github.com/login/oauth/access_token",
        client_id="Iv1.abc",
        **fields,
    )
    vault.seal(provider, "client_secret_encrypted", SECRET)
    provider.save()
    return provider


def test_client_secret_is_stored_encrypted():
    provider = make_row()
    stored = UpstreamProvider.objects.values_list("client_secret_encrypted", flat=True).get()
    assert SECRET not in stored
    assert stored.startswith("v1.")
    assert vault.open_(UpstreamProvider.objects.get(), "client_secret_encrypted") == SECRET
    assert provider.client_secret_encrypted == stored


def test_a_ciphertext_moved_to_another_row_does_not_open():
    first, second = make_row(slug="a"), make_row(slug="b")
    second.client_secret_encrypted = first.client_secret_encrypted
    with pytest.raises(secretbox.DecryptionError):
        vault.open_(second, "client_secret_encrypted")


def test_a_ciphertext_moved_to_another_field_does_not_open(user):
    conn = Connection(user=user, provider=make_row())
    vault.seal(conn, "access_token_encrypted", "tok")
    conn.refresh_token_encrypted = conn.access_token_encrypted
    with pytest.raises(secretbox.DecryptionError):
        vault.open_(conn, "refresh_token_encrypted")


def test_reencrypt_keys_reseals_upstream_secrets_and_tokens(settings, user):
    provider = make_row()
    conn = Connection(user=user, provider=provider, uid=uuid.uuid4())
    vault.seal(conn, "access_token_encrypted", "upstream-access")
    vault.seal(conn, "refresh_token_encrypted", "upstream-refresh")
    conn.save()
    old = settings.CONFIG.key_encryption_keys[0]
    new = "a-brand-new-key-encryption-key-0123456789"
    settings.CONFIG = dataclasses.replace(settings.CONFIG, key_encryption_keys=(new, old))
    out = io.StringIO()
    call_command("reencrypt_keys", stdout=out)
    assert json.loads(out.getvalue())["upstream_secrets"] == 3
    settings.CONFIG = dataclasses.replace(settings.CONFIG, key_encryption_keys=(new,))
    assert vault.open_(UpstreamProvider.objects.get(), "client_secret_encrypted") == SECRET
    conn = Connection.objects.get()
    assert vault.open_(conn, "access_token_encrypted") == "upstream-access"
    assert vault.open_(conn, "refresh_token_encrypted") == "upstream-refresh"


def test_admin_never_shows_the_client_secret_or_tokens(admin_client, user):
    provider = make_row()
    conn = Connection(user=user, provider=provider)
    vault.seal(conn, "access_token_encrypted", "upstream-access-token-value")
    conn.save()
    page = admin_client.get(f"/admin/connections/upstreamprovider/{provider.pk}/change/")
    assert page.status_code == 200
    assert SECRET not in page.content.decode()
    assert provider.client_secret_encrypted not in page.content.decode()
    page = admin_client.get(f"/admin/connections/connection/{conn.pk}/change/")
    assert page.status_code == 200
    assert conn.access_token_encrypted not in page.content.decode()


def test_admin_sets_the_secret_write_only(admin_client):
    response = admin_client.post(
        "/admin/connections/upstreamprovider/add/",
        {
            "slug": "google",
            "name": "Google",
            "authorization_endpoint": "https://accounts.google.com/o/oauth2/v2/auth",
            "token_endpoint": "https://oauth2.googleapis.com/token",
            "client_id": "123.apps.googleusercontent.com",
            "client_secret": SECRET,
            "token_endpoint_auth_method": "client_secret_post",
            "scopes": "openid email",
            "extra_authorize_params": '{"access_type": "offline"}',
            "use_pkce": "on",
            "default_access_lifetime": "3600",
            "enabled": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    provider = UpstreamProvider.objects.get(slug="google")
    assert vault.open_(provider, "client_secret_encrypted") == SECRET


def test_add_upstream_provider_command_uses_the_github_preset(monkeypatch):
    monkeypatch.setenv("UPSTREAM_CLIENT_SECRET", SECRET)
    call_command(
        "add_upstream_provider", "github", preset="github", client_id="Iv1.x", stdout=io.StringIO()
    )
    provider = UpstreamProvider.objects.get(slug="github")
    assert provider.token_endpoint == "https://github.com/login/oauth/access_token"
    assert provider.rotates_refresh_tokens
    assert vault.open_(provider, "client_secret_encrypted") == SECRET
