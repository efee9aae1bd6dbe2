"""The admin side of the principal model (docs/IDENTITY.md): a SCIM token is created bound to
its provider, and a group a policy names cannot be deleted from the admin either."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from accounts.scim.models import ScimToken
from authserver.models import Resource

pytestmark = pytest.mark.django_db


def test_scim_token_created_in_the_admin_is_bound_to_its_provider(admin_client):
    response = admin_client.post(
        reverse("admin:accounts_scimtoken_add"), {"name": "Okta provisioning", "provider": "okta"}
    )
    assert response.status_code == 200  # the page that shows the token once
    token = ScimToken.objects.get(name="Okta provisioning")
    # Unbound tokens provision users whose first sign-in links nothing (fail closed).
    assert token.provider == "okta"


def test_admin_delete_of_a_group_a_policy_names_lists_the_policy_as_protected(admin_client):
    group = Group.objects.create(name="payers")
    resource = Resource.objects.create(identifier="https://mcp.example.com/pay", name="Pay")
    resource.allowed_groups.add(group)
    page = admin_client.get(reverse("admin:auth_group_delete", args=[group.pk]))
    assert page.status_code == 200
    assert "https://mcp.example.com/pay" in page.content.decode()
    response = admin_client.post(
        reverse("admin:auth_group_delete", args=[group.pk]), {"post": "yes"}
    )
    assert response.status_code in (200, 403)  # refused, never a server error
    assert Group.objects.filter(pk=group.pk).exists()
