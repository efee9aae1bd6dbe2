"""Workload identity federation: a platform-issued JWT (GitHub Actions, Kubernetes) as the
client assertion of a client-credentials request, accepted by an admin's trust rule."""

from __future__ import annotations

import time
import uuid

import pytest

from authserver.models import AccessToken
from enterprise.client_assertion import ASSERTION_TYPE, subject_matches
from enterprise.models import UsedAssertion, WorkloadTrustRule
from tests.factories import MCP, make_client, make_resource

pytestmark = pytest.mark.django_db
AUDIENCE = "https://auth.example.test/workload"
DEPLOY = "repo:acme/deploy:ref:refs/heads/main"


@pytest.fixture
def platform(make_issuer):
    """The workload platform's issuer (the role of token.actions.githubusercontent.com)."""
    return make_issuer()


@pytest.fixture
def bot():
    resource = make_resource()
    # No secret anywhere: private_key_jwt with no keys of its own, so only the rule works.
    client, _ = make_client(
        access={resource: "tools:read"}, token_endpoint_auth_method="private_key_jwt"
    )
    return client


@pytest.fixture
def rule(platform, bot):
    return WorkloadTrustRule.objects.create(
        name="deploy workflow",
        issuer=platform.url,
        jwks_uri=platform.jwks_uri,
        subject_pattern="repo:acme/deploy:ref:refs/heads/*",
        audience=AUDIENCE,
        client=bot,
    )


def workload_token(platform, *, sub=DEPLOY, aud=AUDIENCE, **over) -> str:
    return platform.sign(platform.claims(sub=sub, aud=aud, **over))


def token(client, jwt: str, **data):
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": jwt,
        "resource": MCP,
        **data,
    }
    return client.post("/token", form)


def refused(response, words: str) -> None:
    assert response.status_code == 401, response.content
    assert response.json()["error"] == "invalid_client"
    assert words in response.json()["error_description"]
    assert not AccessToken.objects.exists()
    assert not UsedAssertion.objects.exists()


def test_workload_token_authenticates_as_the_rules_client(client, platform, bot, rule):
    response = token(client, workload_token(platform))
    assert response.status_code == 200, response.content
    assert AccessToken.objects.get().application == bot
    assert UsedAssertion.objects.get().issuer == platform.url


def test_subject_outside_the_pattern_is_invalid_client(client, platform, rule):
    jwt = workload_token(platform, sub="repo:acme/deploy:pull_request")
    refused(token(client, jwt), "no client or workload trust rule")


def test_wrong_audience_is_invalid_client(client, platform, rule):
    refused(token(client, workload_token(platform, aud="https://other.example")), "aud")


def test_expired_workload_token_is_invalid_client(client, platform, rule):
    refused(token(client, workload_token(platform, now=time.time() - 4000)), "expired")


def test_token_from_another_issuer_is_invalid_client(client, make_issuer, rule):
    impostor = make_issuer()
    jwt = impostor.sign({**impostor.claims(sub=DEPLOY, aud=AUDIENCE), "iss": rule.issuer})
    refused(token(client, jwt), "no acceptable key")


def test_replayed_workload_token_is_invalid_client(client, platform, rule):
    jwt = workload_token(platform)
    assert token(client, jwt).status_code == 200
    response = token(client, jwt)
    assert response.status_code == 401
    assert "already used" in response.json()["error_description"]


def test_kubernetes_rule_without_single_use_accepts_the_rotating_token(client, platform, rule):
    rule.single_use = False
    rule.subject_pattern = "system:serviceaccount:deploy:runner"
    rule.save()
    # A projected service-account token lives an hour and is reused until it rotates.
    jwt = workload_token(platform, sub="system:serviceaccount:deploy:runner", lifetime=3600)
    assert token(client, jwt).status_code == 200
    assert token(client, jwt).status_code == 200
    assert not UsedAssertion.objects.exists()


def test_lifetime_beyond_an_hour_is_invalid_client(client, platform, rule):
    refused(token(client, workload_token(platform, lifetime=7200)), "too far")


def test_disabled_rule_is_invalid_client(client, platform, rule):
    rule.enabled = False
    rule.save()
    refused(token(client, workload_token(platform)), "no client or workload trust rule")


def test_two_clients_matching_need_client_id(client, platform, rule):
    other, _ = make_client(token_endpoint_auth_method="private_key_jwt")
    WorkloadTrustRule.objects.create(
        name="any branch",
        issuer=platform.url,
        jwks_uri=platform.jwks_uri,
        subject_pattern="repo:acme/deploy:*",
        audience=AUDIENCE,
        client=other,
    )
    refused(token(client, workload_token(platform)), "send client_id")
    response = token(client, workload_token(platform), client_id=rule.client.client_id)
    assert response.status_code == 200, response.content


def test_secret_client_cannot_present_a_workload_token_for_another_client(client, platform, rule):
    _, secret = make_client()
    response = token(client, workload_token(platform), client_secret=secret)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"  # one method per request


@pytest.mark.parametrize(
    ("pattern", "subject", "matches"),
    [
        ("repo:acme/deploy:ref:refs/heads/*", DEPLOY, True),
        ("repo:acme/deploy:ref:refs/heads/*", "repo:acme/deploy:environment:prod", False),
        ("repo:acme/a.b:*", "repo:acme/aXb:ref:x", False),  # '.' is literal, not regex
        ("system:serviceaccount:ns:sa", "system:serviceaccount:ns:sa2", False),
        ("system:serviceaccount:ns:sa", "system:serviceaccount:ns:sa", True),
    ],
)
def test_subject_pattern_star_is_the_only_wildcard(pattern, subject, matches):
    assert subject_matches(pattern, subject) is matches


def test_the_unique_jti_marker_is_per_issuer(client, platform, rule):
    jti = str(uuid.uuid4())
    UsedAssertion.objects.create(
        issuer="https://elsewhere.example", jti=jti, expires_at="2099-01-01T00:00:00Z"
    )
    assert token(client, workload_token(platform, jti=jti)).status_code == 200
