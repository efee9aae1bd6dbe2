"""ID-JAG (RFC 7523 §2.1 jwt-bearer, MCP SEP-990): the enterprise IdP decides, no consent;
each rule of the assertion refused precisely, none of the refusals writing anything."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from authserver.models import AccessToken, AuditEvent
from enterprise.idjag import GRANT_TYPE
from enterprise.models import EnterpriseSubject, TrustedIdentityProvider, UsedAssertion
from tests.enterprise.support import new_key, sign
from tests.factories import MCP, OTHER_MCP, make_client, make_resource
from tests.support.jwt import claims_of

pytestmark = pytest.mark.django_db
SUBJECT = "00u-employee-1"


@pytest.fixture
def resource():
    return make_resource(scopes={"tools:read": "Read", "tools:write": "Write"})


@pytest.fixture
def app():
    """The MCP client the enterprise provisioned, confidential (SDK: client_secret_post)."""
    return make_client(grant_types=("authorization_code",), redirect_uris="https://app/cb")


@pytest.fixture
def trust(idp, app, resource):
    provider = TrustedIdentityProvider.objects.create(
        name="Acme Okta", issuer=idp.url, jwks_uri=idp.jwks_uri
    )
    provider.clients.add(app[0])
    provider.resources.add(resource)
    return provider


@pytest.fixture
def employee(make_user, trust):
    user = make_user("employee")
    EnterpriseSubject.objects.create(issuer=trust.issuer, subject=SUBJECT, user=user)
    return user


def jag(idp, app, **over) -> str:
    fields = {
        "subject": SUBJECT,
        "audience": settings.ISSUER,
        "client_id": app[0].client_id,
        "resource": MCP,
        "scope": "tools:read tools:write",
        **over,
    }
    return idp.id_jag(**fields)


def grant(client, app, assertion: str, **data):
    form = {
        "grant_type": GRANT_TYPE,
        "assertion": assertion,
        "client_id": app[0].client_id,
        "client_secret": app[1],
        **data,
    }
    return client.post("/token", form)


def refused(response, error: str, words: str, issuer: str) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == error
    assert words in body["error_description"]
    # Every refusal is audited, naming the enterprise issuer; nothing else was written.
    event = AuditEvent.objects.filter(kind="idjag.refused").latest("pk")
    assert event.detail["issuer"] == issuer
    assert event.detail["error"] == error
    assert not AccessToken.objects.exists()
    assert not UsedAssertion.objects.exists()


def test_id_jag_gets_a_token_for_the_linked_user_without_consent(client, idp, app, employee):
    response = grant(client, app, jag(idp, app))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["scope"] == "tools:read tools:write"
    assert "refresh_token" not in body  # the enterprise re-decides with a fresh ID-JAG
    claims = claims_of(body["access_token"])
    assert claims["sub"] == str(employee.pk)
    assert claims["aud"] == MCP
    assert claims["client_id"] == app[0].client_id
    event = AuditEvent.objects.get(kind="token.issued")
    assert event.detail["enterprise_issuer"] == idp.url
    assert event.detail["grant_type"] == GRANT_TYPE
    assert UsedAssertion.objects.get().issuer == idp.url


def test_scope_is_requested_and_assertion_and_resource(client, idp, app, employee):
    assertion = jag(idp, app, scope="tools:read tools:write admin:all")
    response = grant(client, app, assertion, scope="tools:write admin:all files:read")
    assert response.status_code == 200, response.content
    # admin:all is in the assertion but not defined by the resource; files:read in neither.
    assert response.json()["scope"] == "tools:write"


def test_no_scope_in_common_is_invalid_scope(client, idp, app, employee):
    response = grant(client, app, jag(idp, app, scope="tools:read"), scope="tools:write")
    refused(response, "invalid_scope", "none of the requested scopes", idp.url)


def test_wrong_typ_is_invalid_grant(client, idp, app, employee):
    claims = idp.claims(sub=SUBJECT, aud=settings.ISSUER, client_id=app[0].client_id, resource=MCP)
    response = grant(client, app, idp.sign(claims, typ="JWT"))
    refused(response, "invalid_grant", "typ must be oauth-id-jag+jwt", idp.url)


def test_audience_other_than_our_issuer_is_invalid_grant(client, idp, app, employee):
    response = grant(client, app, jag(idp, app, audience=f"{settings.ISSUER}/token"))
    refused(response, "invalid_grant", "aud", idp.url)


def test_expired_id_jag_is_invalid_grant(client, idp, app, employee):
    assertion = jag(idp, app, now=time.time() - 600)
    refused(grant(client, app, assertion), "invalid_grant", "expired", idp.url)


def test_replayed_id_jag_is_invalid_grant(client, idp, app, employee):
    assertion = jag(idp, app)
    assert grant(client, app, assertion).status_code == 200
    response = grant(client, app, assertion)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert "already used" in response.json()["error_description"]
    assert AccessToken.objects.count() == 1


def test_id_jag_issued_to_another_client_is_invalid_grant(client, idp, app, trust, employee):
    other = make_client(grant_types=("authorization_code",), redirect_uris="https://o/cb")
    trust.clients.add(other[0])
    response = grant(client, other, jag(idp, app))  # carries app's client_id
    refused(response, "invalid_grant", "issued to another client", idp.url)


def test_unknown_issuer_is_invalid_grant(client, make_issuer, idp, app, employee):
    stranger = make_issuer()
    response = grant(client, app, jag(stranger, app))
    refused(response, "invalid_grant", "not a trusted identity provider", stranger.url)


def test_key_not_published_by_the_issuer_is_invalid_grant(client, idp, app, employee):
    claims = idp.claims(sub=SUBJECT, aud=settings.ISSUER, client_id=app[0].client_id, resource=MCP)
    forged = sign(claims, new_key(), typ="oauth-id-jag+jwt")
    refused(grant(client, app, forged), "invalid_grant", "no acceptable key", idp.url)


def test_resource_not_allowed_to_that_issuer_is_invalid_target(client, idp, app, employee):
    make_resource(OTHER_MCP)
    response = grant(client, app, jag(idp, app, resource=OTHER_MCP))
    refused(response, "invalid_target", "may not grant access to this resource", idp.url)


def test_unregistered_resource_is_invalid_target(client, idp, app, employee):
    response = grant(client, app, jag(idp, app, resource="https://unknown.example/mcp"))
    refused(response, "invalid_target", "unknown resource", idp.url)


def test_request_resource_other_than_the_assertions_is_invalid_target(client, idp, app, employee):
    make_resource(OTHER_MCP)
    response = grant(client, app, jag(idp, app), resource=OTHER_MCP)
    refused(response, "invalid_target", "differs", idp.url)


def test_unlinked_subject_is_invalid_grant_when_provisioning_is_off(client, idp, app, trust):
    users = get_user_model().objects.count()
    response = grant(client, app, jag(idp, app, subject="00u-new"))
    refused(response, "invalid_grant", "not linked", idp.url)
    assert get_user_model().objects.count() == users
    assert not EnterpriseSubject.objects.exists()


def test_unlinked_subject_is_provisioned_when_the_admin_allowed(client, idp, app, trust):
    trust.provision_users = True
    trust.save()
    response = grant(client, app, jag(idp, app, subject="00u-new", email="new@acme.example"))
    assert response.status_code == 200, response.content
    link = EnterpriseSubject.objects.get(subject="00u-new")
    assert link.issuer == idp.url
    # The assertion's unchecked email is not kept: it would be a key to link other sign-ins by.
    assert link.user.email == ""
    assert not link.user.has_usable_password()
    assert claims_of(response.json()["access_token"])["sub"] == str(link.user.pk)
    assert AuditEvent.objects.get(kind="token.issued").detail["provisioned"] is True


def test_disabled_user_is_invalid_grant(client, idp, app, employee):
    employee.is_active = False
    employee.save()
    refused(grant(client, app, jag(idp, app)), "invalid_grant", "disabled", idp.url)


def test_client_no_idp_speaks_for_is_unauthorized_client(client, idp, app, employee):
    stranger = make_client(grant_types=("authorization_code",), redirect_uris="https://s/cb")
    response = grant(client, stranger, jag(idp, stranger))
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"
    assert not AccessToken.objects.exists()


def test_public_client_cannot_use_id_jag(client, idp, trust, employee):
    public, _ = make_client(
        confidential=False, grant_types=("authorization_code",), redirect_uris="https://p/cb"
    )
    trust.clients.add(public)
    response = client.post(
        "/token",
        {"grant_type": GRANT_TYPE, "assertion": "x.y.z", "client_id": public.client_id},
    )
    assert response.json()["error"] == "unauthorized_client"


def test_group_policy_narrows_and_refuses_enterprise_grants_too(
    client, idp, app, employee, resource
):
    from django.contrib.auth.models import Group

    from authserver.models import Scope

    writers = Group.objects.create(name="writers")
    Scope.objects.get(resource=resource, name="tools:write").allowed_groups.add(writers)
    response = grant(client, app, jag(idp, app))
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "tools:read"  # tools:write is for writers only

    staff = Group.objects.create(name="staff")
    resource.allowed_groups.add(staff)
    response = grant(client, app, jag(idp, app))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert "limited to members of: staff" in response.json()["error_description"]


def test_tool_policy_binds_enterprise_managed_tokens_too(client, idp, app, employee, resource):
    # RFC 9396: a deny rule of the admin's tool policy is not bypassed by an ID-JAG.
    from authserver.models import Scope
    from authserver.tool_grants.models import ToolPolicy

    Scope.objects.filter(resource=resource, name="tools:read").update(
        tools=["list_notes", "whoami"]
    )
    ToolPolicy.objects.create(resource=resource, effect="deny", tools=["whoami"])
    response = grant(client, app, jag(idp, app, scope="tools:read"))
    assert response.status_code == 200, response.content
    details = claims_of(response.json()["access_token"])["authorization_details"]
    assert [d["actions"] for d in details] == [["list_notes"]]


@pytest.mark.parametrize("subject", ["00u\x00admin", "\x00", "00u\nx", "00u\u2028x"])
def test_control_character_in_sub_is_invalid_grant_not_500(client, idp, app, trust, subject):
    """An unauthenticated NUL in the assertion's sub reached PostgreSQL (500); it is a
    malformed grant (RFC 6749 §5.2 invalid_grant), refused before any lookup or write."""
    trust.provision_users = True
    trust.save()
    users = get_user_model().objects.count()
    response = grant(client, app, jag(idp, app, subject=subject))
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_grant"
    assert "sub" in response.json()["error_description"]
    assert not AccessToken.objects.exists()
    assert not UsedAssertion.objects.exists()
    assert get_user_model().objects.count() == users
    assert not EnterpriseSubject.objects.exists()
