"""Admission rules per upstream provider (accounts.upstream.admission) and their config."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ImproperlyConfigured

from accounts.upstream import admission, config


def _oidc(**claims) -> dict:
    return {"id_token": {"sub": "u1", **claims}, "userinfo": {"sub": "u1", **claims}}


def test_allowed_domain_with_verified_email_is_admitted():
    rules = {"allowed_email_domains": ["corp.example"]}
    data = _oidc(email="a@corp.example", email_verified=True)
    assert admission.admit(rules, data).admitted


def test_allowed_domain_with_unverified_email_is_refused():
    rules = {"allowed_email_domains": ["corp.example"]}
    for verified in (False, "true", None):
        verdict = admission.admit(rules, _oidc(email="a@corp.example", email_verified=verified))
        assert not verdict.admitted
        assert "no verified email" in verdict.reason


def test_other_domain_is_refused_with_the_reason():
    rules = {"allowed_email_domains": ["corp.example"]}
    verdict = admission.admit(rules, _oidc(email="m@corp.example.evil", email_verified=True))
    assert not verdict.admitted
    assert "email domain not allowed" in verdict.reason


def test_entra_tenant_must_match():
    rules = {"tenant_id": "72F988BF-0000-0000-0000-000000000000"}
    good = _oidc(tid="72f988bf-0000-0000-0000-000000000000")
    assert admission.admit(rules, good).admitted
    assert not admission.admit(rules, _oidc(tid="another")).admitted
    assert not admission.admit(rules, _oidc()).admitted


def test_github_org_membership_unknown_fails_closed():
    rules = {"github_org": "acme"}

    def broken(org):
        raise ConnectionError("api down")

    assert not admission.admit(rules, {"id": 1}, github_member=broken).admitted
    assert not admission.admit(rules, {"id": 1}, github_member=None).admitted
    assert admission.admit(rules, {"id": 1}, github_member=lambda org: org == "acme").admitted


def test_github_verified_email_from_the_api_counts_for_domains():
    rules = {"allowed_email_domains": ["corp.example"]}
    verdict = admission.admit(rules, {"id": 1}, provider_emails=[("x@corp.example", True)])
    assert verdict.admitted
    assert not admission.admit(
        rules, {"id": 1}, provider_emails=[("x@corp.example", False)]
    ).admitted


def test_userinfo_subject_differing_from_id_token_is_refused():
    data = {"id_token": {"sub": "a"}, "userinfo": {"sub": "b"}}
    assert not admission.admit({}, data).admitted


def test_groups_come_from_the_configured_claim_only():
    data = _oidc(groups=["eng", " ops ", 3], roles=["admin"])
    assert admission.groups_from_claims({"groups_claim": "groups"}, data) == ["eng", "ops"]
    assert admission.groups_from_claims({}, data) is None
    assert admission.groups_from_claims({"groups_claim": "missing"}, data) == []


def test_upstream_providers_env_becomes_allauth_apps():
    env = {
        "LOCAL_LOGIN": "false",
        "UPSTREAM_PROVIDERS": json.dumps(
            [
                {
                    "provider": "openid_connect",
                    "id": "okta",
                    "name": "Okta",
                    "client_id": "c",
                    "secret": "s",
                    "server_url": "https://acme.okta.com",
                    "allowed_email_domains": ["acme.com"],
                },
                {"provider": "github", "name": "GitHub", "client_id": "g", "secret": "t"},
            ]
        ),
    }
    loaded = config.load(env)
    assert loaded.local_login is False
    okta = loaded.providers["openid_connect"]["APPS"][0]
    assert okta["provider_id"] == "okta"
    assert okta["settings"]["allowed_email_domains"] == ["acme.com"]
    assert okta["settings"]["oauth_pkce_enabled"] is True
    assert loaded.providers["github"]["APPS"][0]["provider_id"] == "github"


@pytest.mark.parametrize(
    "providers",
    [
        "not json",
        '{"provider": "github"}',
        '[{"provider": "saml", "name": "x", "client_id": "c", "secret": "s"}]',
        '[{"provider": "openid_connect", "name": "x", "client_id": "c", "secret": "s",'
        ' "server_url": "http://idp.example"}]',
        '[{"provider": "github", "name": "x", "client_id": "c"}]',
    ],
)
def test_unsafe_or_malformed_upstream_providers_stop_startup(providers):
    with pytest.raises(ImproperlyConfigured):
        config.load({"UPSTREAM_PROVIDERS": providers})
