"""The token lifecycle as a state machine, through ``/authorize``, ``/token``, ``/revoke`` and
``/introspect`` (Django's test client), with what admins and users do in between.

hypothesis drives: authorize and redeem, replay a code, refresh (any token ever issued, so
rotated, superseded and revoked ones too), let the reuse grace window pass, revoke a token
(RFC 7009), revoke a family, revoke or disable the client, rotate its secret and use the old
one, restrict the resource to a group the user is not in (and let them in), deactivate the
user. After every step it checks:

* nothing is issued to a disabled client, an old secret, an inactive user or outside the
  group policy;
* no token of a revoked family is active at introspection, and the revocation state says so
  (the family's cut-off, its access and refresh tokens marked);
* every issued access token has its audit event.

Runs on PostgreSQL with the suite and on the embedded SQLite default through
tests/authserver/test_embedded_refresh.py. Vending (token exchange for an upstream
connection) is left out: it needs the upstream provider and is being reshaped elsewhere.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.test import Client as HttpClient
from django.utils import timezone
from hypothesis import HealthCheck, event
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from authserver.models import AccessToken, AuditEvent, RefreshToken
from authserver.models.tokens import TokenFamily
from authserver.revocation import service as revocation
from authserver.token_hash import token_hash
from clients import services as client_services
from clients.models import Client
from tests.conftest import PASSWORD
from tests.factories import make_client, make_resource
from tests.oauthflow import REDIRECT, authorize_url, claims_of, pkce_pair, query_of
from tests.oauthflow import refresh as refresh_request
from tests.support.http import basic

pytestmark = pytest.mark.django_db

SCOPE = "tools:read offline_access"
_n = itertools.count(1)


class TokenLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.atomic = transaction.atomic()  # each example rolls back to a clean database
        self.atomic.__enter__()
        n = next(_n)
        self.mcp = f"https://mcp{n}.example.com/mcp"
        self.resource = make_resource(self.mcp)
        rs, rs_secret = make_client(name=f"mcp server {n}")
        self.resource.introspection_client = rs
        self.resource.save()
        self.rs_auth = basic(rs.client_id, rs_secret)
        self.app, self.secret = make_client(
            grant_types=("authorization_code", "refresh_token"),
            redirect_uris="http://127.0.0.1/callback",
            skip_authorization=True,
        )
        self.old_secrets: list[str] = []
        self.user = get_user_model().objects.create_user(f"lifecycle{n}", password=PASSWORD)
        self.group = Group.objects.create(name=f"lifecycle group {n}")
        self.browser = HttpClient()
        self.browser.force_login(self.user)
        self.http = HttpClient()
        self.codes: list[tuple[str, str, object]] = []  # redeemed once: code, verifier, family
        self.refresh_tokens: list[str] = []  # every one ever issued
        self.access_tokens: list[tuple[str, str]] = []  # every one issued: (token, jti)

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    # --- what the machine believes may be issued ------------------------------------------

    def allowed(self) -> bool:
        self.app.refresh_from_db(fields=["is_active"])
        self.user.refresh_from_db(fields=["is_active"])
        restricted = self.resource.allowed_groups.exists()
        member = self.user.groups.filter(pk=self.group.pk).exists()
        return self.app.is_active and self.user.is_active and (member or not restricted)

    def token(self, data: dict, *, secret: str | None = None):
        auth = basic(self.app.client_id, secret or self.secret)
        return self.http.post("/token", data, HTTP_AUTHORIZATION=auth)

    def took(self, response, allowed: bool) -> None:
        """Record what a 200 issued; a 200 where nothing may be issued fails the run."""
        event(f"token request answered {response.status_code}")
        if response.status_code != 200:
            return
        assert allowed, f"issued while it must not be: {response.json().get('scope')}"
        body = response.json()
        self.access_tokens.append((body["access_token"], claims_of(body["access_token"])["jti"]))
        assert set(body["scope"].split()) <= set(SCOPE.split())
        if "refresh_token" in body:
            self.refresh_tokens.append(body["refresh_token"])

    def family_of_jti(self, jti: str):
        return AccessToken.objects.get(jti=jti).token_family

    # --- rules --------------------------------------------------------------------------

    @rule()
    def authorize_and_redeem(self) -> None:
        allowed = self.allowed()
        verifier, challenge = pkce_pair()
        url = authorize_url(
            self.app.client_id,
            resource=self.mcp,
            scope=SCOPE,
            code_challenge=challenge,
            code_challenge_method="S256",
        )
        answer = self.browser.get(url)
        code = query_of(answer["Location"]).get("code") if answer.status_code == 302 else None
        if code is None:
            return  # refused at /authorize (or sent to sign in)
        response = self.token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT,
                "code_verifier": verifier,
            }
        )
        self.took(response, allowed)
        if response.status_code == 200:
            family = self.family_of_jti(self.access_tokens[-1][1])
            self.codes.append((code, verifier, family))

    @precondition(lambda self: self.codes)
    @rule(data=st.data())
    def replay_code(self, data) -> None:
        code, verifier, family = data.draw(st.sampled_from(self.codes))
        response = self.token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT,
                "code_verifier": verifier,
            }
        )
        assert response.status_code in (400, 401)
        # RFC 6749 §4.1.2: what the code gave is revoked (by this replay, or by whatever
        # revoked the client or user before it).
        assert TokenFamily.objects.filter(pk=family, revoked_at__isnull=False).exists()

    @precondition(lambda self: self.refresh_tokens)
    @rule(data=st.data())
    def refresh(self, data) -> None:
        value = data.draw(st.sampled_from(self.refresh_tokens))
        allowed = self.allowed()
        revoked_before = set(
            TokenFamily.objects.filter(revoked_at__isnull=False).values_list("pk", flat=True)
        )
        response = refresh_request(
            self.http, self.app.client_id, value, HTTP_AUTHORIZATION=self.auth()
        )
        self.took(response, allowed)
        if response.status_code == 200:
            family = self.family_of_jti(self.access_tokens[-1][1])
            assert family not in revoked_before, "issued into a revoked family"

    def auth(self) -> str:
        return basic(self.app.client_id, self.secret)

    @precondition(lambda self: self.refresh_tokens)
    @rule()
    def let_the_grace_window_pass(self) -> None:
        past = timezone.now() - timedelta(seconds=settings.CONFIG.refresh_token_grace + 1)
        RefreshToken.objects.filter(application=self.app, revoked__isnull=False).update(
            revoked=past
        )
        TokenFamily.objects.filter(rotated_at__isnull=False).update(rotated_at=past)

    @precondition(lambda self: self.refresh_tokens)
    @rule(data=st.data())
    def revoke_refresh_token(self, data) -> None:
        """RFC 7009 at /revoke, by the client: a refresh token takes its family along."""
        value = data.draw(st.sampled_from(self.refresh_tokens))
        response = self.http.post(
            "/revoke",
            {"token": value, "token_type_hint": "refresh_token"},
            HTTP_AUTHORIZATION=self.auth(),
        )
        if response.status_code == 200:
            for row in RefreshToken.objects.filter(token_checksum=token_hash(value)):
                assert TokenFamily.objects.filter(
                    pk=row.token_family, revoked_at__isnull=False
                ).exists()

    @precondition(lambda self: self.access_tokens)
    @rule(data=st.data())
    def revoke_access_token(self, data) -> None:
        value, _ = data.draw(st.sampled_from(self.access_tokens))
        response = self.http.post("/revoke", {"token": value}, HTTP_AUTHORIZATION=self.auth())
        if response.status_code == 200:
            assert not self.active(value)

    @precondition(lambda self: self.access_tokens)
    @rule(data=st.data())
    def revoke_family(self, data) -> None:
        _, jti = data.draw(st.sampled_from(self.access_tokens))
        revocation.revoke_family(self.family_of_jti(jti), now=timezone.now(), reason="test")

    @rule()
    def revoke_client(self) -> None:
        revocation.revoke_client(self.app, now=timezone.now(), actor="test")

    @rule()
    def disable_client(self) -> None:
        client_services.disable_client(self.app, now=timezone.now(), actor="test")

    @rule()
    def rotate_client_secret(self) -> None:
        client = Client.objects.get(pk=self.app.pk)
        self.old_secrets.append(self.secret)
        self.secret = client.set_new_secret()
        client.save()

    @precondition(lambda self: self.old_secrets and self.refresh_tokens)
    @rule(data=st.data())
    def use_an_old_secret(self, data) -> None:
        old = data.draw(st.sampled_from(self.old_secrets))
        value = data.draw(st.sampled_from(self.refresh_tokens))
        response = refresh_request(
            self.http, self.app.client_id, value, HTTP_AUTHORIZATION=basic(self.app.client_id, old)
        )
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"

    @rule()
    def restrict_the_resource_to_a_group(self) -> None:
        self.resource.allowed_groups.add(self.group)

    @rule()
    def let_the_user_into_the_group(self) -> None:
        self.user.groups.add(self.group)

    @rule()
    def deactivate_user(self) -> None:
        user = get_user_model().objects.get(pk=self.user.pk)
        user.is_active = False
        user.save()

    # --- invariants ---------------------------------------------------------------------

    def active(self, access_token: str) -> bool:
        """What the MCP server is told at /introspect (RFC 7662)."""
        response = self.http.post(
            "/introspect", {"token": access_token}, HTTP_AUTHORIZATION=self.rs_auth
        )
        assert response.status_code == 200
        return response.json()["active"]

    @invariant()
    def no_token_of_a_revoked_family_verifies(self) -> None:
        allowed = self.allowed()
        for value, jti in self.access_tokens:
            row = AccessToken.objects.get(jti=jti)
            revoked = TokenFamily.objects.filter(
                pk=row.token_family, revoked_at__isnull=False
            ).exists()
            active = self.active(value)
            if revoked:
                assert not active, f"a token of revoked family {row.token_family} verifies"
                assert row.revoked_at is not None
                assert not RefreshToken.objects.filter(
                    token_family=row.token_family, revoked__isnull=True
                ).exists()
            if active:
                # Nothing live for a disabled client, an inactive user or outside the policy.
                assert allowed, "a live token the client, user or policy no longer allows"

    @invariant()
    def every_issued_token_is_audited(self) -> None:
        jtis = {jti for _, jti in self.access_tokens}
        audited = set(AuditEvent.objects.filter(jti__in=jtis).values_list("jti", flat=True))
        assert jtis == audited


BUDGET = hsettings(
    max_examples=15,
    stateful_step_count=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    database=None,
)


def test_token_lifecycle_state_machine() -> None:
    run_state_machine_as_test(TokenLifecycle, settings=BUDGET)
