import pytest
from django.contrib import admin
from django.urls import reverse

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

SWAPPED = [
    "clients.Client",
    "authserver.Grant",
    "authserver.AccessToken",
    "authserver.RefreshToken",
    "authserver.IDToken",
]


def test_swapped_models_are_registered_in_admin():
    registered = {m._meta.label for m in admin.site._registry}
    assert set(SWAPPED) <= registered


def test_admin_loads_every_swapped_model_for_a_superuser(client, admin_user):
    client.force_login(admin_user)
    assert client.get("/admin/").status_code == 200
    for label in SWAPPED:
        app, model = label.lower().split(".")
        response = client.get(reverse(f"admin:{app}_{model}_changelist"))
        assert response.status_code == 200, label


def test_admin_refuses_signed_in_non_staff_user(client, user):
    client.force_login(user)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_admin_refuses_anonymous_visitors(client):
    response = client.get(reverse("admin:clients_client_changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_admin_login_works_for_staff(client, admin_user):
    response = client.post("/admin/login/?next=/admin/", {"username": "root", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_admin_is_organised_by_task_with_one_title_per_section(client, admin_user):
    from authserver.admin_site import OperatorsSite

    client.force_login(admin_user)
    response = client.get("/admin/")
    sections = [app["name"] for app in response.context["app_list"]]
    assert sections[:3] == ["People and agents", "MCP servers and policies", "Sign-in providers"]
    assert len(sections) == len(set(sections))
    assert "Other" not in sections  # every registered model has its place
    assert isinstance(admin.site, OperatorsSite)


def test_admin_uses_operator_names_and_no_raw_markdown(client, admin_user):
    from tests.factories import make_resource

    client.force_login(admin_user)
    home = client.get("/admin/").content.decode()
    for name in ("SCIM identities", "ID tokens", "MCP servers", "Access review"):
        assert name in home, name
    assert "Scim identitys" not in home
    assert "Id tokens" not in home
    scim = client.get(reverse("admin:accounts_scimidentity_changelist")).content.decode()
    assert "Scim identitys" not in scim
    assert "SCIM identities" in scim
    resource = make_resource()
    form = client.get(reverse("admin:authserver_resource_change", args=[resource.pk]))
    page = form.content.decode()
    assert "Require DPoP" in page
    assert "`resource`" not in page  # help text backticks render as <code>
    assert "<code>resource</code>" in page


def test_admin_pages_carry_the_admin_csp_and_other_pages_the_strict_one(client, admin_user):
    client.force_login(admin_user)
    admin_csp = client.get("/admin/")["Content-Security-Policy"]
    assert "'unsafe-eval'" in admin_csp
    assert "frame-ancestors 'none'" in admin_csp
    assert "'unsafe-inline'" not in admin_csp.split("script-src")[1].split(";")[0]
    assert "'unsafe-eval'" not in client.get("/accounts/login/")["Content-Security-Policy"]


def test_sign_in_provider_form_never_renders_the_secret(client, admin_user):
    from allauth.socialaccount.models import SocialApp

    app = SocialApp.objects.create(
        provider="openid_connect",
        provider_id="okta",
        name="Okta",
        client_id="0oa-client",
        secret="do-not-show-this-secret",
        settings={"server_url": "https://acme.okta.com", "groups_claim": "groups"},
    )
    client.force_login(admin_user)
    page = client.get(reverse("admin:socialaccount_socialapp_change", args=[app.pk]))
    text = page.content.decode()
    assert "do-not-show-this-secret" not in text
    assert "https://acme.okta.com" in text  # the guided field, not a JSON box
    data = {
        "name": "Okta",
        "provider": "openid_connect",
        "provider_id": "okta",
        "client_id": "0oa-client",
        "secret": "",
        "server_url": "https://acme.okta.com",
        "groups_claim": "groups",
        "allowed_email_domains": "acme.com",
        "other_settings": "",
    }
    response = client.post(reverse("admin:socialaccount_socialapp_change", args=[app.pk]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    app.refresh_from_db()
    assert app.secret == "do-not-show-this-secret"  # empty keeps the current one
    assert app.settings["allowed_email_domains"] == ["acme.com"]
    assert app.settings["oauth_pkce_enabled"] is True


def test_footer_shows_the_server_version_when_the_release_adds_one(client, admin_user, monkeypatch):
    import sys
    import types

    client.force_login(admin_user)
    monkeypatch.delitem(sys.modules, "authserver.version", raising=False)
    page = client.get("/admin/").content.decode()
    assert 'id="admin-footer"' in page
    assert 'id="server-version"' not in page or "authserver.version" in sys.modules
    release = types.SimpleNamespace(current=lambda: "1.2.3")  # authserver.version's API
    monkeypatch.setitem(sys.modules, "authserver.version", release)
    assert '<span id="server-version">1.2.3</span>' in client.get("/admin/").content.decode()


def test_a_person_with_consents_can_still_be_deleted_in_the_admin(client, admin_user, user):
    from accounts.models import Consent
    from tests.factories import make_client, make_resource

    app, _ = make_client()
    Consent.objects.create(user=user, client=app, resource=make_resource(), scope="tools:read")
    client.force_login(admin_user)
    url = reverse("admin:auth_user_delete", args=[user.pk])
    assert "permission to delete" not in client.get(url).content.decode()
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not Consent.objects.exists()
