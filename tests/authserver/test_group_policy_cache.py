"""The token endpoint caches per process whether a resource has group rules; a rule added or
removed after that takes effect on the very next token request (migration 0010's triggers
renew the cache generation), and an unrestricted resource costs no policy query."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from authserver.models import Scope
from authserver.token_endpoint import hotcache
from tests.factories import MCP, make_client, make_resource
from tests.oauthflow import exchange, get_code, refresh

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_cache():
    hotcache.clear()
    yield
    hotcache.clear()


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


def _refresh_token(signed_in, app) -> str:
    scope = "tools:read tools:write offline_access"
    code, verifier, query = get_code(signed_in, app.client_id, resource=MCP, scope=scope)
    assert code, query
    response = exchange(signed_in, app.client_id, code, verifier)
    assert response.status_code == 200, response.content
    # One refresh with a warm cache: "no group rules here" is now cached in this process.
    response = refresh(signed_in, app.client_id, response.json()["refresh_token"])
    assert response.status_code == 200, response.content
    assert "tools:write" in response.json()["scope"].split()
    return response.json()["refresh_token"]


def test_unrestricted_resource_runs_no_group_policy_query_once_cached(signed_in, app):
    token = _refresh_token(signed_in, app)
    with CaptureQueriesContext(connection) as queries:
        response = refresh(signed_in, app.client_id, token)
    assert response.status_code == 200, response.content
    policy = [q["sql"] for q in queries if "allowed_groups" in q["sql"]]
    assert policy == []


def test_scope_rule_added_after_caching_narrows_the_next_refresh(signed_in, app, resource):
    token = _refresh_token(signed_in, app)
    engineering = Group.objects.create(name="engineering")
    Scope.objects.get(resource=resource, name="tools:write").allowed_groups.add(engineering)
    response = refresh(signed_in, app.client_id, token)
    assert response.status_code == 200, response.content
    assert set(response.json()["scope"].split()) == {"tools:read", "offline_access"}


def test_resource_rule_added_after_caching_refuses_the_next_refresh(signed_in, app, resource):
    token = _refresh_token(signed_in, app)
    engineering = Group.objects.create(name="engineering")
    # A row written straight into the M2M table (no m2m_changed signal, so nothing revokes
    # the live tokens): only the trigger can tell the token endpoint's cache.
    type(resource).allowed_groups.through.objects.create(resource=resource, group=engineering)
    response = refresh(signed_in, app.client_id, token)
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_grant"
