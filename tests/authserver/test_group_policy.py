"""Group policy (authserver.resources.grouppolicy): authorize refuses or narrows, token
requests narrow or refuse (refresh included), and membership or policy changes revoke at once."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import ProtectedError

from authserver.errors import InvalidGrant
from authserver.models import AccessToken, AuditEvent, RefreshToken, Scope
from authserver.resources import grouppolicy
from tests.factories import MCP, make_client, make_resource
from tests.oauthflow import authorize_url, exchange, get_code, pkce_pair, refresh

pytestmark = pytest.mark.django_db


@pytest.fixture
def resource():
    return make_resource(defaults=("tools:read",))


@pytest.fixture
def app(resource):
    client, _ = make_client(
        confidential=False,
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris="http://127.0.0.1:45678/callback",
        skip_authorization=True,
    )
    return client


@pytest.fixture
def engineering():
    return Group.objects.create(name="engineering")


def _tokens(signed_in, app, scope="tools:read tools:write offline_access"):
    code, verifier, query = get_code(signed_in, app.client_id, resource=MCP, scope=scope)
    assert code, query
    response = exchange(signed_in, app.client_id, code, verifier)
    assert response.status_code == 200, response.content
    return response.json()


def test_unrestricted_resource_allows_every_requested_scope(user, resource):
    assert grouppolicy.allowed_scopes(user, resource, ["tools:read", "tools:write"]) == {
        "tools:read",
        "tools:write",
    }


def test_resource_limited_to_a_group_refuses_a_user_outside_it(user, resource, engineering):
    resource.allowed_groups.add(engineering)
    with pytest.raises(grouppolicy.PolicyRefused, match="engineering"):
        grouppolicy.allowed_scopes(user, resource, ["tools:read"])
    user.groups.add(engineering)
    assert grouppolicy.allowed_scopes(user, resource, ["tools:read"]) == {"tools:read"}


def test_scope_limited_to_a_group_is_dropped_for_others(user, resource, engineering):
    Scope.objects.get(resource=resource, name="tools:write").allowed_groups.add(engineering)
    allowed = grouppolicy.allowed_scopes(user, resource, ["tools:read", "tools:write"])
    assert allowed == {"tools:read"}


def test_authorize_outside_the_group_shows_access_denied_page_with_reason(
    signed_in, app, resource, engineering
):
    resource.allowed_groups.add(engineering)
    _, challenge = pkce_pair()
    response = signed_in.get(
        authorize_url(
            app.client_id,
            resource=MCP,
            scope="tools:read",
            code_challenge=challenge,
            code_challenge_method="S256",
        )
    )
    assert response.status_code == 403
    html = response.content.decode()
    assert "access_denied" in html
    assert "limited to members of: engineering" in html
    assert "error=access_denied" in html  # the way back to the client
    assert AuditEvent.objects.filter(kind="policy.refused").exists()


def test_authorize_with_prompt_none_outside_the_group_redirects_access_denied(
    signed_in, app, resource, engineering
):
    resource.allowed_groups.add(engineering)
    _, challenge = pkce_pair()
    url = authorize_url(
        app.client_id,
        resource=MCP,
        scope="tools:read",
        code_challenge=challenge,
        code_challenge_method="S256",
        prompt="none",
    )
    response = signed_in.get(url)
    assert response.status_code == 302
    assert "error=access_denied" in response["Location"]


def test_consent_offers_only_scopes_the_groups_allow(client, user, resource, engineering):
    public, _ = make_client(
        confidential=False,
        grant_types=("authorization_code",),
        redirect_uris="http://127.0.0.1:45678/callback",
    )
    Scope.objects.get(resource=resource, name="tools:write").allowed_groups.add(engineering)
    client.force_login(user)
    _, challenge = pkce_pair()
    response = client.get(
        authorize_url(
            public.client_id,
            resource=MCP,
            scope="tools:read tools:write",
            code_challenge=challenge,
            code_challenge_method="S256",
        )
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "<code>tools:read</code>" in html
    assert "tools:write" not in html


def test_refresh_narrows_a_scope_the_user_lost(signed_in, app, user, resource, engineering):
    user.groups.add(engineering)
    write = Scope.objects.get(resource=resource, name="tools:write")
    write.allowed_groups.add(engineering)
    tokens = _tokens(signed_in, app)
    assert "tools:write" in tokens["scope"].split()

    user.groups.remove(engineering)
    # The live token carrying the lost scope is revoked at once (revocation list) ...
    assert not AccessToken.objects.filter(user=user, revoked_at__isnull=True).exists()
    # ... and the refresh narrows: never silently kept.
    response = refresh(signed_in, app.client_id, tokens["refresh_token"])
    assert response.status_code == 200, response.content
    assert set(response.json()["scope"].split()) == {"tools:read", "offline_access"}


def test_refresh_is_refused_once_the_user_may_not_use_the_resource(
    signed_in, app, user, resource, engineering
):
    tokens = _tokens(signed_in, app)
    resource.allowed_groups.add(engineering)  # policy change: revoke what others hold
    assert not RefreshToken.objects.filter(user=user, revoked__isnull=True).exists()
    assert not AccessToken.objects.filter(user=user, revoked_at__isnull=True).exists()
    response = refresh(signed_in, app.client_id, tokens["refresh_token"])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert AuditEvent.objects.filter(kind="policy.changed", resource=resource.identifier).exists()


def test_token_request_refuses_when_every_granted_scope_was_lost(user, resource, engineering):
    for scope in Scope.objects.filter(resource=resource):
        scope.allowed_groups.add(engineering)
    with pytest.raises(InvalidGrant) as raised:
        grouppolicy.scopes_for_token(user, resource, ["tools:read", "offline_access"])
    assert "no longer allowed" in raised.value.description


def test_client_credentials_have_no_user_and_are_not_group_limited(resource, engineering):
    resource.allowed_groups.add(engineering)
    assert grouppolicy.scopes_for_token(None, resource, ["tools:read"]) == ["tools:read"]


def test_a_group_a_policy_names_is_not_deleted_and_leaving_the_policy_enforces_at_once(
    signed_in, app, user, resource, engineering, django_capture_on_commit_callbacks
):
    finance = Group.objects.create(name="finance")
    user.groups.add(finance)
    resource.allowed_groups.add(engineering, finance)
    _tokens(signed_in, app)
    with pytest.raises(ProtectedError), transaction.atomic():
        finance.delete()  # docs/IDENTITY.md, "Groups that policies name"
    assert AccessToken.objects.filter(user=user, revoked_at__isnull=True).exists()
    with django_capture_on_commit_callbacks(execute=True):
        resource.allowed_groups.remove(finance)
        finance.delete()
    assert not AccessToken.objects.filter(user=user, revoked_at__isnull=True).exists()
    assert not RefreshToken.objects.filter(user=user, revoked__isnull=True).exists()


def test_unrestricted_resource_costs_two_queries_on_the_token_path(
    user, resource, django_assert_num_queries
):
    with django_assert_num_queries(2):
        grouppolicy.scopes_for_token(user, resource, ["tools:read", "offline_access"])
