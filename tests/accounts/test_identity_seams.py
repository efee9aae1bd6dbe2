"""The seams between upstream sign-in, SCIM, groups and policies, attacked one by one.

Each test is named after the attack it stops (docs/SECURITY.md, "Seams review"); sign-ins
run through allauth's own login flow with our adapter (tests/accounts/identity_support.py).
"""

from __future__ import annotations

import io
import json

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models import ProtectedError

from accounts.scim.models import ScimIdentity, ScimToken
from authserver.errors import InvalidGrant
from authserver.models import AuditEvent, Resource, Scope, ToolPolicy
from enterprise import idjag
from enterprise.models import EnterpriseSubject, TrustedIdentityProvider
from tests.accounts.identity_support import (
    GROUP_SCHEMA,
    NOTHING,
    PATCH,
    USER_SCHEMA,
    Scim,
    give_holdings,
    live_holdings,
    provider,
    sign_in,
    signed_in_user,
)
from tests.factories import MCP, make_client, make_resource

pytestmark = pytest.mark.django_db
User = get_user_model()
PASSWORD = "a-long-local-password-0123"


def _linking_provider(provider_id="acme-sso", **settings):
    return provider(
        provider_id,
        email_authentication=True,
        email_authoritative_domains=["acme.com"],
        **settings,
    )


# --- 1. email linking ---------------------------------------------------------------------


@pytest.mark.parametrize("email", ["admin@acme.com", "ADMIN@ACME.COM"])
def test_verified_email_from_an_idp_never_takes_over_the_superuser(email):
    admin = User.objects.create_superuser("admin", email="admin@acme.com", password=PASSWORD)
    _linking_provider()
    user = signed_in_user("acme-sso", "attacker-1", email=email, email_verified=True)
    assert user is not None
    assert user.pk != admin.pk
    admin.refresh_from_db()
    assert admin.check_password(PASSWORD)  # the break-glass password survives
    assert not SocialAccount.objects.filter(user=admin).exists()


def test_verified_email_from_an_idp_never_takes_over_staff():
    staff = User.objects.create_user("ops", email="ops@acme.com", password=PASSWORD, is_staff=True)
    _linking_provider()
    user = signed_in_user("acme-sso", "attacker-2", email="ops@acme.com", email_verified=True)
    assert user.pk != staff.pk
    staff.refresh_from_db()
    assert staff.check_password(PASSWORD)


def test_upstream_sign_in_never_wipes_a_local_password():
    local = User.objects.create_user("carol", email="carol@acme.com", password=PASSWORD)
    _linking_provider()
    user = signed_in_user("acme-sso", "00u-carol", email="Carol@Acme.com", email_verified=True)
    assert user.pk == local.pk  # allowed, verified, authoritative: linked
    local.refresh_from_db()
    assert local.check_password(PASSWORD)  # and her password still works (no wipe_password)
    linked = AuditEvent.objects.get(kind="principal.linked")
    assert linked.detail == {"provider": "acme-sso", "subject": "00u-carol", "via": "email"}


def test_email_link_from_a_provider_not_authoritative_for_the_domain_makes_a_new_account():
    local = User.objects.create_user("carol", email="carol@acme.com", password=PASSWORD)
    provider("gmail-sso", email_authentication=True, email_authoritative_domains=["gmail.com"])
    user = signed_in_user("gmail-sso", "c-1", email="carol@acme.com", email_verified=True)
    assert user.pk != local.pk


def test_unverified_email_never_links_even_from_an_authoritative_provider():
    local = User.objects.create_user("carol", email="carol@acme.com", password=PASSWORD)
    _linking_provider()
    for verified in (False, "true", None):
        user = signed_in_user(
            "acme-sso", f"c-{verified}", email="carol@acme.com", email_verified=verified
        )
        assert user.pk != local.pk


def test_account_an_attacker_idp_made_with_a_victims_email_never_receives_the_victim():
    """Pre-hijack: the attacker's IdP (not authoritative for acme.com) creates an account
    carrying the victim's address; the victim's later sign-in at the authoritative provider
    must not land in it (the attacker could still sign in there)."""
    provider("evil", email_authentication=True, email_authoritative_domains=["evil.example"])
    _linking_provider()
    planted = signed_in_user("evil", "m-1", email="vic@acme.com", email_verified=True)
    assert planted.email == "vic@acme.com"
    victim = signed_in_user("acme-sso", "00u-vic", email="vic@acme.com", email_verified=True)
    assert victim.pk != planted.pk


def test_email_linking_stays_off_unless_the_operator_turned_it_on():
    local = User.objects.create_user("carol", email="carol@acme.com", password=PASSWORD)
    provider("acme-sso", email_authoritative_domains=["acme.com"])
    user = signed_in_user("acme-sso", "c-1", email="carol@acme.com", email_verified=True)
    assert user.pk != local.pk


# --- 2. SCIM externalId across providers --------------------------------------------------


def test_scim_external_id_never_links_a_sign_in_by_another_provider(client):
    provider("okta", scim_external_id_claim="sub")
    provider("evil", scim_external_id_claim="sub")
    okta = Scim(client, "okta")
    dave = okta.create_user("dave@acme.com", "okta-dave").json()
    intruder = signed_in_user("evil", "okta-dave", email="x@evil.example", email_verified=True)
    assert intruder is not None
    assert str(intruder.pk) != dave["id"]
    genuine = signed_in_user("okta", "okta-dave")
    assert str(genuine.pk) == dave["id"]  # the same provider's subject links


def test_scim_patch_cannot_set_external_id_on_a_local_user_scim_never_created(client):
    provider("evil", scim_external_id_claim="sub")
    victim = User.objects.create_user("victim", password=PASSWORD)
    evil = Scim(client, "evil")
    response = evil.patch_user(victim.pk, {"op": "replace", "path": "externalId", "value": "x"})
    assert response.status_code == 403, response.content
    assert not ScimIdentity.objects.filter(user=victim).exists()
    assert signed_in_user("evil", "x").pk != victim.pk


def test_scim_token_cannot_touch_users_another_providers_token_provisioned(client):
    dave = Scim(client, "okta").create_user("dave@acme.com", "okta-dave").json()
    evil = Scim(client, "evil")
    assert (
        evil.patch_user(dave["id"], {"op": "replace", "path": "active", "value": False}).status_code
        == 403
    )
    assert evil.call("delete", f"Users/{dave['id']}").status_code == 403
    assert User.objects.get(pk=dave["id"]).is_active


def test_unbound_scim_identity_from_before_the_binding_links_no_sign_in(client):
    provider("okta", scim_external_id_claim="sub")
    legacy = User.objects.create(username="erin")
    ScimIdentity.objects.create(user=legacy, external_id="00u-erin")  # provider "" (migrated)
    assert signed_in_user("okta", "00u-erin").pk != legacy.pk


# --- 4. deleting a group a policy names ---------------------------------------------------


def _name_group_in(kind: str, group: Group) -> None:
    resource = Resource.objects.filter(identifier=MCP).first() or make_resource()
    if kind == "resource":
        resource.allowed_groups.add(group)
    elif kind == "scope":
        Scope.objects.get(resource=resource, name="tools:write").allowed_groups.add(group)
    else:
        ToolPolicy.objects.create(resource=resource, group=group, tools=["*"])


POLICY_KINDS = ("resource", "scope", "tool")


@pytest.mark.parametrize("kind", POLICY_KINDS)
def test_scim_delete_of_a_group_a_policy_names_is_refused_and_opens_nothing(client, kind):
    group = Group.objects.create(name="payers")
    _name_group_in(kind, group)
    response = Scim(client, "okta").call("delete", f"Groups/{group.pk}")
    assert response.status_code == 409, response.content
    assert json.loads(response.content)["status"] == "409"
    assert Group.objects.filter(pk=group.pk).exists()
    assert ToolPolicy.objects.filter(group=group).count() == (kind == "tool")


@pytest.mark.parametrize("kind", POLICY_KINDS)
def test_admin_or_shell_delete_of_a_group_a_policy_names_is_refused(kind):
    group = Group.objects.create(name="payers")
    _name_group_in(kind, group)
    with pytest.raises(ProtectedError), transaction.atomic():
        group.delete()
    with pytest.raises(ProtectedError), transaction.atomic():
        Group.objects.filter(pk=group.pk).delete()  # the admin's bulk action
    assert Group.objects.filter(pk=group.pk).exists()


def test_a_group_no_policy_names_is_deleted(client):
    group = Group.objects.create(name="unused")
    assert Scim(client, "okta").call("delete", f"Groups/{group.pk}").status_code == 204
    assert not Group.objects.filter(pk=group.pk).exists()


# --- 9. reactivation ----------------------------------------------------------------------


@pytest.fixture
def held(client):
    """A provisioned user of okta with a session, consent, tokens and a connection."""
    okta = Scim(client, "okta")
    body = okta.create_user("dave@acme.com", "okta-dave").json()
    user = User.objects.get(pk=body["id"])
    app, _ = make_client(confidential=False, grant_types=("authorization_code",))
    give_holdings(user, app, make_resource())
    return okta, user, app


def test_scim_put_omitting_active_never_reactivates(held):
    okta, user, _ = held
    okta.patch_user(user.pk, {"op": "replace", "path": "active", "value": False})
    body = {"schemas": [USER_SCHEMA], "userName": "dave@acme.com", "externalId": "okta-dave"}
    response = okta.call("put", f"Users/{user.pk}", body)
    assert response.status_code == 200, response.content
    assert response.json()["active"] is False
    user.refresh_from_db()
    assert not user.is_active


def test_deactivation_leaves_no_session_consent_token_family_or_connection(held):
    okta, user, _ = held
    assert live_holdings(user) != NOTHING
    okta.patch_user(user.pk, {"op": "replace", "path": "active", "value": False})
    assert live_holdings(user) == NOTHING


def test_reactivation_starts_clean_without_the_old_session_or_consent(held):
    okta, user, app = held
    okta.patch_user(user.pk, {"op": "replace", "path": "active", "value": False})
    user.refresh_from_db()
    give_holdings(user, app, Resource.objects.get(identifier=MCP))  # rows left from before
    response = okta.patch_user(user.pk, {"op": "replace", "path": "active", "value": True})
    assert response.json()["active"] is True
    user.refresh_from_db()
    assert live_holdings(user) == NOTHING


# --- 10. ID-JAG provisioning --------------------------------------------------------------


def test_idjag_provisioned_user_is_never_linked_by_an_upstream_email():
    enterprise = User.objects.create(username="idjag-1-00u-new", email="new@acme.com")
    EnterpriseSubject.objects.create(
        issuer="https://idp.example", subject="00u-new", user=enterprise
    )
    _linking_provider()
    user = signed_in_user("acme-sso", "s-1", email="new@acme.com", email_verified=True)
    assert user.pk != enterprise.pk


# --- 11. groups from a provider's claim ---------------------------------------------------


def test_attacker_idp_groups_claim_cannot_join_a_policy_group():
    finance = Group.objects.create(name="finance")
    make_resource().allowed_groups.add(finance)
    provider("evil", groups_claim="groups")
    user = signed_in_user("evil", "m-1", groups=["finance"])
    assert not user.groups.filter(pk=finance.pk).exists()
    assert list(user.groups.values_list("name", flat=True)) == ["evil/finance"]


def test_explicitly_mapped_group_is_joined_and_left_by_its_provider():
    provider("okta", groups_claim="groups", groups_map={"Finance-Team": "finance"})
    user = signed_in_user("okta", "00u-1", groups=["Finance-Team", "eng"])
    assert sorted(user.groups.values_list("name", flat=True)) == ["finance", "okta/eng"]
    signed_in_user("okta", "00u-1", groups=[])
    assert not user.groups.exists()


def test_sign_in_without_groups_never_removes_admin_assigned_groups():
    provider("okta", groups_claim="groups")
    user = signed_in_user("okta", "00u-1", groups=["eng"])
    admins_group = Group.objects.create(name="payers")
    user.groups.add(admins_group)
    signed_in_user("okta", "00u-1")  # a claim without groups
    assert list(user.groups.values_list("name", flat=True)) == ["payers"]


# --- 12. SCIM names and staff -------------------------------------------------------------


def test_scim_username_filter_does_not_match_admin_for_dotless_i(client):
    okta = Scim(client, "okta")
    assert okta.create_user("admin").status_code == 201
    found = okta.call("get", 'Users?filter=userName eq "adm\u0131n"').json()
    assert found["totalResults"] == 0
    found = okta.call("get", 'Users?filter=userName eq "ADMIN"').json()
    assert found["totalResults"] == 1  # RFC 7643 §4.1.1: still not case-exact


def test_scim_cannot_add_staff_to_a_policy_group_or_remove_them(client):
    staff = User.objects.create_user("ops", password=PASSWORD, is_staff=True)
    group = Group.objects.create(name="payers")
    okta = Scim(client, "okta")
    add = {"op": "add", "path": "members", "value": [{"value": str(staff.pk)}]}
    response = okta.call("patch", f"Groups/{group.pk}", {"schemas": [PATCH], "Operations": [add]})
    assert response.status_code == 403
    group.user_set.add(staff)
    remove = {"op": "remove", "path": f'members[value eq "{staff.pk}"]'}
    response = okta.call(
        "patch", f"Groups/{group.pk}", {"schemas": [PATCH], "Operations": [remove]}
    )
    assert response.status_code == 403
    replace = {"schemas": [GROUP_SCHEMA], "displayName": "payers", "members": []}
    assert okta.call("put", f"Groups/{group.pk}", replace).status_code == 200
    assert list(group.user_set.all()) == [staff]  # a full replace leaves staff alone


# --- 13. inputs that were 500s ------------------------------------------------------------


def test_deeply_nested_scim_json_is_a_precise_400(client):
    okta = Scim(client, "okta")
    raw = "[" * 100_000 + "]" * 100_000  # 200 kB: under the body limit, deeper than the stack
    response = okta.client.post(
        "/scim/v2/Users",
        data=raw,
        content_type="application/scim+json",
        HTTP_AUTHORIZATION=f"Bearer {okta.token}",
    )
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidSyntax"


@pytest.mark.parametrize("start", ["9" * 30, "99999999999", "\u00b2", "\u0661"])
def test_huge_or_unicode_start_index_is_a_precise_400(client, start):
    response = Scim(client, "okta").call("get", f"Users?startIndex={start}")
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidValue"


@pytest.mark.parametrize("pk", ["\u00b2", "\u0661\u0662", "\uff11"])
def test_unicode_digit_ids_name_no_resource(client, pk):
    okta = Scim(client, "okta")
    assert okta.call("get", f"Users/{pk}").status_code == 404
    assert okta.call("get", f"Groups/{pk}").status_code == 404
    body = {"schemas": [GROUP_SCHEMA], "displayName": "g", "members": [{"value": pk}]}
    response = okta.call("post", "Groups", body)
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidValue"


def test_nul_bytes_in_scim_strings_are_a_precise_400(client):
    okta = Scim(client, "okta")
    assert okta.create_user("nul@acme.com", "a\x00b").json()["scimType"] == "invalidValue"
    response = okta.create_user("nul@acme.com", name={"givenName": "a\x00"})
    assert response.json()["scimType"] == "invalidValue"
    body = {"schemas": [GROUP_SCHEMA], "displayName": "g\x00"}
    assert okta.call("post", "Groups", body).json()["scimType"] == "invalidValue"
    response = okta.call("get", 'Users?filter=externalId eq "a\\u0000b"')
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidFilter"
    assert not User.objects.exists()


def test_idjag_subject_with_a_nul_byte_is_invalid_grant_not_a_500():
    idp = TrustedIdentityProvider.objects.create(
        name="IdP", issuer="https://idp.example", jwks_uri="https://idp.example/jwks",
        provision_users=True,
    )  # fmt: skip
    with pytest.raises(InvalidGrant):
        idjag.local_user(idjag.IdJag(idp, {"sub": "00u\x00admin"}))


def test_sign_in_response_for_a_deactivated_linked_user_is_refused(held):
    okta, user, _ = held
    provider("okta", scim_external_id_claim="sub")
    okta.patch_user(user.pk, {"op": "replace", "path": "active", "value": False})
    response, request = sign_in("okta", "okta-dave")
    assert response.status_code == 403
    assert not request.user.is_authenticated


def test_binding_legacy_scim_identities_to_their_provider_makes_them_linkable(client):
    provider("okta", scim_external_id_claim="sub")
    legacy_token, _ = ScimToken.issue("Okta provisioning")  # from before the binding
    legacy = User.objects.create(username="erin")
    ScimIdentity.objects.create(user=legacy, external_id="00u-erin")
    with pytest.raises(CommandError):
        call_command("bind_scim_provider", "Okta!", token=[legacy_token.pk])
    call_command("bind_scim_provider", "okta", token=[legacy_token.pk], stdout=io.StringIO())
    assert ScimToken.objects.get(pk=legacy_token.pk).provider == "okta"
    assert signed_in_user("okta", "00u-erin").pk == legacy.pk
    assert AuditEvent.objects.get(kind="scim.provider_bound").detail["identities"] == 1


def test_scim_token_cannot_read_staff_local_or_another_providers_users(client):
    staff = User.objects.create_user("ops", password=PASSWORD, is_staff=True)
    local = User.objects.create_user("carol", password=PASSWORD)
    dave = Scim(client, "okta").create_user("dave@acme.com", "okta-dave").json()
    evil = Scim(client, "evil")
    listed = evil.call("get", "Users").json()
    assert listed["totalResults"] == 0
    for pk in (staff.pk, local.pk, dave["id"]):
        assert evil.call("get", f"Users/{pk}").status_code == 404
    found = evil.call("get", 'Users?filter=userName eq "ops"').json()
    assert found["totalResults"] == 0
    okta = Scim(client, "okta")
    assert [u["id"] for u in okta.call("get", "Users").json()["Resources"]] == [dave["id"]]
