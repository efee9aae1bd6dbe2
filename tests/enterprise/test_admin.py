"""The admin pages an operator uses to trust IdPs and workloads."""

from __future__ import annotations

import pytest
from django.urls import reverse

from enterprise.models import TrustedIdentityProvider, WorkloadTrustRule
from tests.factories import make_client, make_resource

pytestmark = pytest.mark.django_db
PAGES = ("trustedidentityprovider", "workloadtrustrule", "enterprisesubject")


def test_enterprise_admin_lists_and_add_forms_load(client, admin_user):
    client.force_login(admin_user)
    for model in PAGES:
        assert client.get(reverse(f"admin:enterprise_{model}_changelist")).status_code == 200
        assert client.get(reverse(f"admin:enterprise_{model}_add")).status_code == 200


def test_admin_trusts_an_identity_provider_for_a_client_and_a_resource(client, admin_user):
    client.force_login(admin_user)
    app, _ = make_client()
    resource = make_resource()
    response = client.post(
        reverse("admin:enterprise_trustedidentityprovider_add"),
        {
            "name": "Acme Okta",
            "issuer": "https://acme.okta.example",
            "jwks_uri": "https://acme.okta.example/oauth2/v1/keys",
            "clients": [app.pk],
            "resources": [resource.pk],
            "enabled": "on",
        },
    )
    assert response.status_code == 302, response.content[:500]
    idp = TrustedIdentityProvider.objects.get()
    assert list(idp.clients.all()) == [app]
    assert list(idp.resources.all()) == [resource]
    assert not idp.provision_users


def test_workload_rule_change_page_loads(client, admin_user):
    client.force_login(admin_user)
    app, _ = make_client()
    rule = WorkloadTrustRule.objects.create(
        name="ci",
        issuer="https://token.actions.githubusercontent.com",
        jwks_uri="https://token.actions.githubusercontent.com/.well-known/jwks",
        subject_pattern="repo:acme/x:*",
        audience="https://auth.example",
        client=app,
    )
    url = reverse("admin:enterprise_workloadtrustrule_change", args=[rule.pk])
    assert client.get(url).status_code == 200
