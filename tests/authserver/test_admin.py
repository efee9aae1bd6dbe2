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
