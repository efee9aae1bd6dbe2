"""Linking an upstream identity to an existing account: by issuer + subject always; by email
only when the provider marks it verified, the admin allowed it and named the provider
authoritative for the domain; by the (provider, SCIM externalId) pair for users that
provider's provisioning client created first. Real IdP, real browser."""

from __future__ import annotations

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from playwright.async_api import async_playwright

from accounts.scim.models import ScimIdentity
from authserver.models import AuditEvent
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.support.mcp_sdk import run_in_thread
from tests.support.upstream import Person
from tests.upstream.conftest import PROVIDER_ID

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
User = get_user_model()


def sign_in(issuer: str, idp, login: str) -> str:
    """Sign in through the upstream provider; returns the title of the page we land on."""
    person = Person(login, idp)
    seen: dict = {}

    async def scenario() -> None:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            person.page = await browser.new_page()
            try:
                await person.page.goto(f"{issuer}/accounts/login/?next=/accounts/apps/")
                await person.sign_in_upstream()
                seen["title"] = await person.page.title()
            finally:
                await browser.close()

    run_in_thread(scenario, timeout=90)
    return seen["title"]


def _allow_email_linking(idp, **extra) -> None:
    idp.app.settings = {**idp.app.settings, "email_authentication": True, **extra}
    idp.app.save()


def test_same_email_does_not_link_unless_the_admin_allowed_it(upstream_idp, issuer, make_user):
    existing = make_user("carol")
    User.objects.filter(pk=existing.pk).update(email="carol@corp.example")
    assert sign_in(issuer, upstream_idp, "carol").startswith("Connected apps")
    account = SocialAccount.objects.get(provider=PROVIDER_ID, uid="carol")
    assert account.user_id != existing.pk  # a new account: an email alone never links
    assert User.objects.count() == 2


def test_verified_email_links_when_the_admin_allowed_it(upstream_idp, issuer, make_user):
    _allow_email_linking(upstream_idp, email_authoritative_domains=["corp.example"])
    existing = make_user("carol")
    User.objects.filter(pk=existing.pk).update(email="carol@corp.example")
    assert sign_in(issuer, upstream_idp, "carol").startswith("Connected apps")
    assert SocialAccount.objects.get(provider=PROVIDER_ID, uid="carol").user_id == existing.pk
    assert User.objects.count() == 1


def test_unverified_email_never_links_even_when_allowed(upstream_idp, issuer, make_user):
    _allow_email_linking(
        upstream_idp, allowed_email_domains=[], email_authoritative_domains=["corp.example"]
    )
    existing = make_user("dave")
    User.objects.filter(pk=existing.pk).update(email="dave@corp.example")
    assert sign_in(issuer, upstream_idp, "dave").startswith("Connected apps")
    assert SocialAccount.objects.get(provider=PROVIDER_ID, uid="dave").user_id != existing.pk


def test_scim_provisioned_user_is_linked_by_external_id_on_first_signin(upstream_idp, issuer):
    provisioned = User.objects.create(username="erin@corp.example", email="erin@corp.example")
    ScimIdentity.objects.create(  # Okta's user id, from Okta's SCIM token
        user=provisioned, provider=PROVIDER_ID, external_id="00u-erin"
    )
    assert sign_in(issuer, upstream_idp, "00u-erin").startswith("Connected apps")
    account = SocialAccount.objects.get(provider=PROVIDER_ID, uid="00u-erin")
    assert account.user_id == provisioned.pk
    assert User.objects.count() == 1


def test_scim_deactivated_user_cannot_sign_in(upstream_idp, issuer):
    provisioned = User.objects.create(username="erin@corp.example", is_active=False)
    ScimIdentity.objects.create(user=provisioned, provider=PROVIDER_ID, external_id="00u-erin")
    assert sign_in(issuer, upstream_idp, "00u-erin").startswith("Sign-in refused")
    assert User.objects.count() == 1
    assert not SocialAccount.objects.exists()  # not linked either
    refused = AuditEvent.objects.get(kind="signin.refused")
    assert refused.detail["reason"] == "your account here is deactivated"
